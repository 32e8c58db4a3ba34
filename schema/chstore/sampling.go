package chstore

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"
)

// SamplingRule is an X-Ray centralized sampling rule (SamplingRule in the
// API; collector/sampling validates and serves it).
type SamplingRule struct {
	RuleName      string
	RuleARN       string
	ResourceARN   string
	Priority      int
	FixedRate     float64
	ReservoirSize int
	ServiceName   string
	ServiceType   string
	Host          string
	HTTPMethod    string
	URLPath       string
	Version       int
	Attributes    map[string]string
	// Boost is the rule's SamplingRateBoost (nil: none).
	Boost *SamplingRateBoost
}

// SamplingRateBoost is X-Ray's adaptive-sampling setting of a rule.
type SamplingRateBoost struct {
	MaxRate               float64
	CooldownWindowMinutes int
}

// SamplingRuleRecord is a rule with its tags and times.
type SamplingRuleRecord struct {
	Rule       SamplingRule
	Tags       []Tag
	CreatedAt  time.Time
	ModifiedAt time.Time
}

const samplingRuleColumns = "name, arn, resource_arn, priority, fixed_rate, reservoir_size, service_name, service_type, host, http_method, url_path, " +
	"rule_version, attributes.key, attributes.value, has_boost, boost_max_rate, boost_cooldown_minutes, tags.key, tags.value, created_us, version, deleted"

// PutSamplingRule stores r as the newest version of rule r.Rule.RuleName
// and returns it with ModifiedAt (and a zero CreatedAt) set to the write
// time.
func (s *Store) PutSamplingRule(ctx context.Context, r SamplingRuleRecord) (SamplingRuleRecord, error) {
	return s.writeSamplingRule(ctx, r, false)
}

// DeleteSamplingRule stores a tombstone for the rule named name.
// SamplingRules no longer returns it, and its deletion time counts as a
// modification (SDKs then drop the rule).
func (s *Store) DeleteSamplingRule(ctx context.Context, name string) error {
	_, err := s.writeSamplingRule(ctx, SamplingRuleRecord{Rule: SamplingRule{RuleName: name}}, true)
	return err
}

func (s *Store) writeSamplingRule(ctx context.Context, r SamplingRuleRecord, deleted bool) (SamplingRuleRecord, error) {
	v := nextVersion(time.Now())
	r.ModifiedAt = time.UnixMicro(int64(v)).UTC()
	if r.CreatedAt.IsZero() {
		r.CreatedAt = r.ModifiedAt
	}
	ru := r.Rule
	attrKeys := make([]string, 0, len(ru.Attributes))
	for k := range ru.Attributes {
		attrKeys = append(attrKeys, k)
	}
	slices.Sort(attrKeys)
	attrVals := make([]string, len(attrKeys))
	for i, k := range attrKeys {
		attrVals[i] = ru.Attributes[k]
	}
	var (
		hasBoost uint8
		maxRate  float64
		cooldown int32
	)
	if ru.Boost != nil {
		hasBoost, maxRate, cooldown = 1, ru.Boost.MaxRate, int32(ru.Boost.CooldownWindowMinutes)
	}
	tagKeys, tagVals := splitTags(r.Tags)
	err := sendColumns(syncInsert(ctx), s.conn, "INSERT INTO "+s.db+".sampling_rules ("+samplingRuleColumns+")",
		[]string{ru.RuleName}, []string{ru.RuleARN}, []string{ru.ResourceARN},
		[]int32{int32(ru.Priority)}, []float64{ru.FixedRate}, []int64{int64(ru.ReservoirSize)},
		[]string{ru.ServiceName}, []string{ru.ServiceType}, []string{ru.Host}, []string{ru.HTTPMethod}, []string{ru.URLPath},
		[]int32{int32(ru.Version)}, [][]string{attrKeys}, [][]string{attrVals},
		[]uint8{hasBoost}, []float64{maxRate}, []int32{cooldown},
		[][]string{tagKeys}, [][]string{tagVals},
		[]uint64{uint64(max(r.CreatedAt.UnixMicro(), 0))}, []uint64{v}, []uint8{b2u(deleted)})
	if err != nil {
		return SamplingRuleRecord{}, fmt.Errorf("write sampling rule %q: %w", ru.RuleName, err)
	}
	return r, nil
}

// SamplingRules returns the current rules, sorted by priority then name,
// and the time of the latest change to any rule, deletions included (zero
// when no rule was ever written): X-Ray's LastRuleModification.
func (s *Store) SamplingRules(ctx context.Context) (rules []SamplingRuleRecord, lastModified time.Time, err error) {
	cols := strings.Fields(strings.ReplaceAll(samplingRuleColumns, ",", ""))
	var sel strings.Builder
	sel.WriteString("SELECT name")
	for _, c := range cols[1:] {
		if c == "version" {
			sel.WriteString(", max(version)")
			continue
		}
		sel.WriteString(", argMax(" + c + ", version)")
	}
	// argMax by version, not FINAL: see groups.go.
	q := sel.String() + " FROM " + s.db + ".sampling_rules GROUP BY name"
	rows, err := s.conn.Query(ctx, q)
	if err != nil {
		return nil, time.Time{}, fmt.Errorf("query sampling rules: %w", err)
	}
	defer rows.Close()
	var last uint64
	for rows.Next() {
		var (
			r                       SamplingRuleRecord
			priority, ver, cooldown int32
			reservoir               int64
			attrKeys, attrVals      []string
			tagKeys, tagVals        []string
			hasBoost, deleted       uint8
			maxRate                 float64
			createdUS, version      uint64
		)
		ru := &r.Rule
		if err := rows.Scan(&ru.RuleName, &ru.RuleARN, &ru.ResourceARN, &priority, &ru.FixedRate, &reservoir,
			&ru.ServiceName, &ru.ServiceType, &ru.Host, &ru.HTTPMethod, &ru.URLPath, &ver, &attrKeys, &attrVals,
			&hasBoost, &maxRate, &cooldown, &tagKeys, &tagVals, &createdUS, &version, &deleted); err != nil {
			return nil, time.Time{}, fmt.Errorf("scan sampling rules: %w", err)
		}
		last = max(last, version)
		if deleted == 1 {
			continue
		}
		ru.Priority, ru.Version, ru.ReservoirSize = int(priority), int(ver), int(reservoir)
		ru.Attributes = make(map[string]string, len(attrKeys))
		for i := range min(len(attrKeys), len(attrVals)) {
			ru.Attributes[attrKeys[i]] = attrVals[i]
		}
		if hasBoost == 1 {
			ru.Boost = &SamplingRateBoost{MaxRate: maxRate, CooldownWindowMinutes: int(cooldown)}
		}
		r.Tags = joinTags(tagKeys, tagVals)
		r.CreatedAt = time.UnixMicro(int64(createdUS)).UTC()
		r.ModifiedAt = time.UnixMicro(int64(version)).UTC()
		rules = append(rules, r)
	}
	if err := rows.Err(); err != nil {
		return nil, time.Time{}, fmt.Errorf("query sampling rules: %w", err)
	}
	slices.SortFunc(rules, func(a, b SamplingRuleRecord) int {
		if a.Rule.Priority != b.Rule.Priority {
			return a.Rule.Priority - b.Rule.Priority
		}
		return strings.Compare(a.Rule.RuleName, b.Rule.RuleName)
	})
	if last > 0 {
		lastModified = time.UnixMicro(int64(last)).UTC()
	}
	return rules, lastModified, nil
}

// SamplingStatistic is one SamplingStatisticsDocument an SDK reported,
// with the time the server received it.
type SamplingStatistic struct {
	RuleName     string
	ClientID     string
	Timestamp    time.Time // as reported by the client
	Received     time.Time
	RequestCount int64
	SampledCount int64
	BorrowCount  int64
}

const samplingStatColumns = "date, rule_name, client_id, timestamp, received_us, request_count, sampled_count, borrow_count"

// WriteSamplingStatistics stores statistics documents (one insert).
func (s *Store) WriteSamplingStatistics(ctx context.Context, stats []SamplingStatistic) error {
	if len(stats) == 0 {
		return nil
	}
	n := len(stats)
	var (
		date              = make([]time.Time, n)
		rule, client      = make([]string, n), make([]string, n)
		ts                = make([]float64, n)
		received          = make([]uint64, n)
		req, sampled, brw = make([]int64, n), make([]int64, n), make([]int64, n)
	)
	for i, st := range stats {
		date[i] = st.Received.UTC().Truncate(day)
		rule[i], client[i] = st.RuleName, st.ClientID
		ts[i] = float64(st.Timestamp.UnixMicro()) / 1e6
		received[i] = uint64(max(st.Received.UnixMicro(), 0))
		req[i], sampled[i], brw[i] = st.RequestCount, st.SampledCount, st.BorrowCount
	}
	err := sendColumns(syncInsert(ctx), s.conn, "INSERT INTO "+s.db+".sampling_stats ("+samplingStatColumns+")",
		date, rule, client, ts, received, req, sampled, brw)
	if err != nil {
		return fmt.Errorf("insert %d sampling statistics: %w", n, err)
	}
	return nil
}

// SamplingStatistics returns, for every rule and client that reported at
// or after since, its latest report.
func (s *Store) SamplingStatistics(ctx context.Context, since time.Time) ([]SamplingStatistic, error) {
	q := "SELECT rule_name, client_id, argMax(timestamp, received_us), max(received_us), argMax(request_count, received_us)," +
		" argMax(sampled_count, received_us), argMax(borrow_count, received_us)" +
		" FROM " + s.db + ".sampling_stats WHERE date >= " + dateLiteral(since) + " AND received_us >= ?" +
		" GROUP BY rule_name, client_id ORDER BY rule_name, client_id"
	rows, err := s.conn.Query(ctx, q, uint64(max(since.UnixMicro(), 0)))
	if err != nil {
		return nil, fmt.Errorf("query sampling statistics: %w", err)
	}
	defer rows.Close()
	var out []SamplingStatistic
	for rows.Next() {
		var (
			st       SamplingStatistic
			ts       float64
			received uint64
		)
		if err := rows.Scan(&st.RuleName, &st.ClientID, &ts, &received, &st.RequestCount, &st.SampledCount, &st.BorrowCount); err != nil {
			return nil, fmt.Errorf("scan sampling statistics: %w", err)
		}
		st.Timestamp = time.UnixMicro(int64(ts * 1e6)).UTC()
		st.Received = time.UnixMicro(int64(received)).UTC()
		out = append(out, st)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("query sampling statistics: %w", err)
	}
	return out, nil
}

// SamplingStatisticSummary is the sum of every client's reports for one
// rule in one window (X-Ray's SamplingStatisticSummary).
type SamplingStatisticSummary struct {
	RuleName     string
	Timestamp    time.Time // start of the window
	RequestCount int64
	BorrowCount  int64
	SampledCount int64
}

// SamplingStatisticSummaries sums the reports received in [since, until)
// per rule and window of the given length (by receive time: clients'
// clocks may be off), newest window first, then by rule name.
func (s *Store) SamplingStatisticSummaries(ctx context.Context, since, until time.Time, window time.Duration) ([]SamplingStatisticSummary, error) {
	w := max(int64(window/time.Second), 1)
	q := fmt.Sprintf("SELECT rule_name, intDiv(received_us, %d) * %d AS w, sum(request_count), sum(borrow_count), sum(sampled_count)"+
		" FROM %s.sampling_stats WHERE date >= %s AND received_us >= ? AND received_us < ?"+
		" GROUP BY rule_name, w ORDER BY w DESC, rule_name", w*1e6, w, s.db, dateLiteral(since))
	rows, err := s.conn.Query(ctx, q, uint64(max(since.UnixMicro(), 0)), uint64(max(until.UnixMicro(), 0)))
	if err != nil {
		return nil, fmt.Errorf("query sampling statistic summaries: %w", err)
	}
	defer rows.Close()
	var out []SamplingStatisticSummary
	for rows.Next() {
		var (
			sum SamplingStatisticSummary
			ws  uint64
		)
		if err := rows.Scan(&sum.RuleName, &ws, &sum.RequestCount, &sum.BorrowCount, &sum.SampledCount); err != nil {
			return nil, fmt.Errorf("scan sampling statistic summaries: %w", err)
		}
		sum.Timestamp = time.Unix(int64(ws), 0).UTC()
		out = append(out, sum)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("query sampling statistic summaries: %w", err)
	}
	return out, nil
}
