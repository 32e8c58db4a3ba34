package sampling

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"slices"
	"time"
)

const (
	// Interval is how often clients should report statistics, in seconds.
	Interval = 10
	// quotaTTL is how long a granted reservoir quota stays valid.
	quotaTTL = 30 * time.Second
	// activeWindow: clients that reported within it share a rule's reservoir.
	activeWindow = 2 * Interval * time.Second
	// maxClientsPerRule bounds memory against misbehaving clients.
	maxClientsPerRule = 10000
	maxStatistics     = 25
	// maxPending bounds the reports waiting for the store.
	maxPending = 100_000
	// flushTimeout bounds one statistics write.
	flushTimeout = 10 * time.Second
)

// StatisticsDocument is one client's report for one rule.
type StatisticsDocument struct {
	RuleName     string
	ClientID     string
	Timestamp    time.Time
	RequestCount int64
	SampledCount int64
	BorrowCount  int64
}

// TargetDocument is the quota granted to a client for one rule.
type TargetDocument struct {
	RuleName          string  `json:"RuleName"`
	FixedRate         float64 `json:"FixedRate"`
	ReservoirQuota    int64   `json:"ReservoirQuota"`
	ReservoirQuotaTTL float64 `json:"ReservoirQuotaTTL"`
	Interval          int     `json:"Interval"`
}

// UnprocessedStatistics reports a statistics document that was not used.
type UnprocessedStatistics struct {
	RuleName  string `json:"RuleName"`
	ErrorCode string `json:"ErrorCode"`
	Message   string `json:"Message"`
}

// TargetsOutput is the GetSamplingTargets result.
type TargetsOutput struct {
	SamplingTargetDocuments []TargetDocument        `json:"SamplingTargetDocuments"`
	LastRuleModification    float64                 `json:"LastRuleModification"`
	UnprocessedStatistics   []UnprocessedStatistics `json:"UnprocessedStatistics"`
}

// clientStat is a client's latest report for a rule.
type clientStat struct {
	requests int64
	seen     time.Time // when the report arrived
}

// Targets records the statistics and computes each reporting client's
// targets (xray.md §7.3): a rule's reservoir (per second, for all clients
// together) is shared among the clients that reported it within the last
// two intervals, in proportion to their request counts, whichever process
// of the deployment they report to (reports go through the Store).
func (s *Service) Targets(ctx context.Context, docs []StatisticsDocument) (TargetsOutput, error) {
	rs, lastMod, err := s.Rules(ctx)
	if err != nil {
		return TargetsOutput{}, err
	}
	byName := make(map[string]Rule, len(rs))
	for _, rr := range rs {
		byName[rr.Rule.RuleName] = rr.Rule
	}
	now := s.now()
	out := TargetsOutput{
		SamplingTargetDocuments: []TargetDocument{},
		UnprocessedStatistics:   []UnprocessedStatistics{},
	}
	if !lastMod.IsZero() {
		out.LastRuleModification = float64(lastMod.UnixMicro()) / 1e6
	}
	known := docs[:0:0]
	s.mu.Lock()
	for _, d := range docs {
		if _, ok := byName[d.RuleName]; !ok {
			out.UnprocessedStatistics = append(out.UnprocessedStatistics, UnprocessedStatistics{
				RuleName: d.RuleName, ErrorCode: "400", Message: fmt.Sprintf("no sampling rule named %q; fetch the rules again", d.RuleName),
			})
			continue
		}
		known = append(known, d)
		cs := s.clients[d.RuleName]
		if cs == nil {
			cs = map[string]clientStat{}
			s.clients[d.RuleName] = cs
		}
		cs[d.ClientID] = clientStat{requests: d.RequestCount, seen: now}
		if len(s.pending) < maxPending {
			s.pending = append(s.pending, Statistic{RuleName: d.RuleName, ClientID: d.ClientID, Timestamp: d.Timestamp,
				Received: now, RequestCount: d.RequestCount, SampledCount: d.SampledCount, BorrowCount: d.BorrowCount})
		}
	}
	// Forget rules that no longer exist and clients gone quiet.
	for name, cs := range s.clients {
		if _, ok := byName[name]; !ok {
			delete(s.clients, name)
			continue
		}
		for id, st := range cs {
			if now.Sub(st.seen) > activeWindow {
				delete(cs, id)
			}
		}
	}
	s.mu.Unlock()

	s.maybeFlush(ctx, now)
	peers := s.peerStats(ctx, now)

	s.mu.Lock()
	defer s.mu.Unlock()
	for _, d := range known {
		rule := byName[d.RuleName]
		active := mergeClients(s.clients[d.RuleName], peers[d.RuleName], now)
		out.SamplingTargetDocuments = append(out.SamplingTargetDocuments, TargetDocument{
			RuleName:          d.RuleName,
			FixedRate:         rule.FixedRate,
			ReservoirQuota:    quotaFor(active, d.ClientID, int64(rule.ReservoirSize)),
			ReservoirQuotaTTL: float64(now.Add(quotaTTL).Unix()),
			Interval:          Interval,
		})
	}
	return out, nil
}

// maybeFlush writes the pending reports to the store unless another call
// is doing so or the last write was less than FlushEvery ago (then a later
// call, or Flush, writes them): at most about one insert per FlushEvery,
// however many clients report.
func (s *Service) maybeFlush(ctx context.Context, now time.Time) {
	s.mu.Lock()
	if s.flushing || len(s.pending) == 0 || (now.Sub(s.lastFlush) < s.o.FlushEvery && !now.Before(s.lastFlush)) {
		s.mu.Unlock()
		return
	}
	s.mu.Unlock()
	if err := s.flush(ctx, now); err != nil {
		s.warn("sampling statistics not stored; reservoir shares across collectors and GetSamplingStatisticSummaries miss them", err)
	}
}

func (s *Service) flush(ctx context.Context, now time.Time) error {
	s.mu.Lock()
	if s.flushing || len(s.pending) == 0 {
		s.mu.Unlock()
		return nil
	}
	batch := s.pending
	s.pending, s.flushing, s.lastFlush = nil, true, now
	s.mu.Unlock()
	// The reports belong to every client, not to the request that happens
	// to carry the write: a client hanging up must not cancel it.
	wctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), flushTimeout)
	defer cancel()
	err := s.store.WriteSamplingStatistics(wctx, batch)
	s.mu.Lock()
	s.flushing = false
	s.mu.Unlock()
	if err != nil {
		return fmt.Errorf("write %d sampling statistics: %w", len(batch), err)
	}
	return nil
}

// Flush writes the reports not yet stored (call it on shutdown).
func (s *Service) Flush(ctx context.Context) error {
	for i := 0; ; i++ {
		s.mu.Lock()
		busy, n := s.flushing, len(s.pending)
		s.mu.Unlock()
		if n == 0 && !busy {
			return nil
		}
		if !busy {
			if err := s.flush(ctx, s.now()); err != nil {
				return err
			}
			continue
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(10 * time.Millisecond):
		}
	}
}

// peerStats returns the recent reports of every process (the store's
// view), cached for CacheTTL. On a store failure it logs and returns the
// last view it had.
func (s *Service) peerStats(ctx context.Context, now time.Time) map[string]map[string]clientStat {
	s.mu.Lock()
	if s.peers != nil && now.Sub(s.peersAt) < s.o.CacheTTL && !now.Before(s.peersAt) {
		p := s.peers
		s.mu.Unlock()
		return p
	}
	s.mu.Unlock()
	stats, err := s.store.SamplingStatistics(ctx, now.Add(-activeWindow))
	if err != nil {
		s.warn("reading other collectors' sampling statistics failed; reservoir shares use this process's clients only", err)
		s.mu.Lock()
		defer s.mu.Unlock()
		return s.peers
	}
	peers := map[string]map[string]clientStat{}
	for _, st := range stats {
		cs := peers[st.RuleName]
		if cs == nil {
			cs = map[string]clientStat{}
			peers[st.RuleName] = cs
		}
		cs[st.ClientID] = clientStat{requests: st.RequestCount, seen: st.Received}
	}
	s.mu.Lock()
	s.peers, s.peersAt = peers, now
	s.mu.Unlock()
	return peers
}

// activeClient is a client sharing a reservoir.
type activeClient struct {
	id  string
	req int64
}

// mergeClients returns the clients of local and peers (the newer report
// wins) active at now, busiest first (ties by id, so every process orders
// them alike), at most maxClientsPerRule.
func mergeClients(local, peers map[string]clientStat, now time.Time) []activeClient {
	all := make(map[string]clientStat, len(local)+len(peers))
	for _, m := range []map[string]clientStat{peers, local} {
		for id, st := range m {
			if prev, ok := all[id]; !ok || !st.seen.Before(prev.seen) {
				all[id] = st
			}
		}
	}
	active := make([]activeClient, 0, len(all))
	for id, st := range all {
		if now.Sub(st.seen) <= activeWindow {
			active = append(active, activeClient{id, st.requests})
		}
	}
	slices.SortFunc(active, func(a, b activeClient) int {
		return cmp.Or(cmp.Compare(b.req, a.req), cmp.Compare(a.id, b.id))
	})
	if len(active) > maxClientsPerRule {
		active = active[:maxClientsPerRule]
	}
	return active
}

// quotaFor shares reservoir among active (busiest first) in proportion to
// their request counts, remainders going to the busiest clients, and
// returns client's share (0 if it is not among them). The shares never sum
// to more than reservoir.
func quotaFor(active []activeClient, client string, reservoir int64) int64 {
	if reservoir <= 0 || len(active) == 0 {
		return 0
	}
	var total int64
	for _, e := range active {
		total += e.req
	}
	shares := make([]int64, len(active))
	var given int64
	for i, e := range active {
		if total > 0 {
			// reservoir*req can overflow int64 only for absurd counts; the
			// float path keeps the share within bounds then.
			if e.req > 0 && reservoir > math.MaxInt64/e.req {
				shares[i] = int64(float64(reservoir) * float64(e.req) / float64(total))
			} else {
				shares[i] = reservoir * e.req / total
			}
		} else {
			shares[i] = reservoir / int64(len(active))
		}
		given += shares[i]
	}
	for i := 0; given < reservoir; i = (i + 1) % len(active) {
		shares[i]++
		given++
	}
	for i, e := range active {
		if e.id == client {
			return shares[i]
		}
	}
	return 0
}

type statisticsJSON struct {
	RuleName     *string  `json:"RuleName"`
	ClientID     *string  `json:"ClientID"`
	Timestamp    *float64 `json:"Timestamp"` // the Go X-Ray SDK sends integers, AWS SDKs floats
	RequestCount *int64   `json:"RequestCount"`
	SampledCount *int64   `json:"SampledCount"`
	BorrowCount  *int64   `json:"BorrowCount"`
}

type targetsInput struct {
	SamplingStatisticsDocuments      *[]statisticsJSON `json:"SamplingStatisticsDocuments"`
	SamplingBoostStatisticsDocuments []json.RawMessage `json:"SamplingBoostStatisticsDocuments"`
}

func (s *Service) targets(ctx context.Context, in *targetsInput) (TargetsOutput, error) {
	docs, err := validateStatistics(in.SamplingStatisticsDocuments)
	if err != nil {
		return TargetsOutput{}, err
	}
	return s.Targets(ctx, docs)
}

// ServeSamplingTargets handles POST /SamplingTargets (GetSamplingTargets).
func (s *Service) ServeSamplingTargets(w http.ResponseWriter, r *http.Request) {
	serve(s, w, r, s.targets)
}

func validateStatistics(in *[]statisticsJSON) ([]StatisticsDocument, error) {
	if in == nil {
		return nil, invalid("SamplingStatisticsDocuments is required (a list of up to %d statistics documents)", maxStatistics)
	}
	if len(*in) > maxStatistics {
		return nil, invalid("SamplingStatisticsDocuments has %d documents; at most %d are allowed per call", len(*in), maxStatistics)
	}
	docs := make([]StatisticsDocument, 0, len(*in))
	for i, d := range *in {
		switch {
		case d.RuleName == nil || len(*d.RuleName) < 1 || len(*d.RuleName) > maxRuleName:
			return nil, invalid("SamplingStatisticsDocuments[%d].RuleName must be 1 to %d characters", i, maxRuleName)
		case d.ClientID == nil || len(*d.ClientID) != 24:
			return nil, invalid("SamplingStatisticsDocuments[%d].ClientID must be 24 characters (a random hex id per process)", i)
		case d.Timestamp == nil || math.IsNaN(*d.Timestamp) || math.IsInf(*d.Timestamp, 0) || *d.Timestamp < 0 || *d.Timestamp > 1e11:
			return nil, invalid("SamplingStatisticsDocuments[%d].Timestamp must be epoch seconds", i)
		case negative(d.RequestCount) || negative(d.SampledCount) || negative(d.BorrowCount):
			return nil, invalid("SamplingStatisticsDocuments[%d]: RequestCount, SampledCount and BorrowCount must be >= 0", i)
		}
		sec, frac := math.Modf(*d.Timestamp)
		docs = append(docs, StatisticsDocument{
			RuleName:     *d.RuleName,
			ClientID:     *d.ClientID,
			Timestamp:    time.Unix(int64(sec), int64(frac*1e9)),
			RequestCount: deref(d.RequestCount),
			SampledCount: deref(d.SampledCount),
			BorrowCount:  deref(d.BorrowCount),
		})
	}
	return docs, nil
}

// Counts are optional: aws-sdk-go-v2 omits a zero BorrowCount.
func negative(p *int64) bool { return p != nil && *p < 0 }

func deref(p *int64) int64 {
	if p == nil {
		return 0
	}
	return *p
}

type summaryOut struct {
	RuleName     string  `json:"RuleName"`
	Timestamp    float64 `json:"Timestamp"`
	RequestCount int64   `json:"RequestCount"`
	BorrowCount  int64   `json:"BorrowCount"`
	SampledCount int64   `json:"SampledCount"`
}

type summariesOutput struct {
	SamplingStatisticSummaries []summaryOut `json:"SamplingStatisticSummaries"`
	NextToken                  *string      `json:"NextToken,omitempty"`
}

// summaries answers GetSamplingStatisticSummaries: every rule's reports
// summed per SummaryWindow over the last SummaryHistory, newest first. A
// NextToken pins the period of its first page, so pages do not shift.
func (s *Service) summaries(ctx context.Context, in *listInput) (summariesOutput, error) {
	tok, paged, err := decodeToken(in.NextToken)
	if err != nil {
		return summariesOutput{}, err
	}
	if err := s.Flush(ctx); err != nil {
		s.warn("sampling statistics not stored before GetSamplingStatisticSummaries", err)
	}
	now := s.now()
	since, until := now.Add(-s.o.SummaryHistory), now.Add(time.Microsecond)
	if paged {
		if tok.Until <= tok.Since || tok.Offset < 0 {
			return summariesOutput{}, invalid("NextToken %.40q is not a token this server issued; repeat the request without NextToken", *in.NextToken)
		}
		since, until = time.UnixMicro(tok.Since), time.UnixMicro(tok.Until)
	}
	sums, err := s.store.SamplingStatisticSummaries(ctx, since, until, s.o.SummaryWindow)
	if err != nil {
		return summariesOutput{}, fmt.Errorf("read sampling statistic summaries: %w", err)
	}
	out := summariesOutput{SamplingStatisticSummaries: []summaryOut{}}
	off := tok.Offset
	for i := off; i < len(sums) && len(out.SamplingStatisticSummaries) < s.o.PageSize; i++ {
		x := sums[i]
		out.SamplingStatisticSummaries = append(out.SamplingStatisticSummaries, summaryOut{
			RuleName: x.RuleName, Timestamp: float64(x.Timestamp.Unix()),
			RequestCount: x.RequestCount, BorrowCount: x.BorrowCount, SampledCount: x.SampledCount,
		})
	}
	if next := off + len(out.SamplingStatisticSummaries); next < len(sums) {
		out.NextToken = encodeToken(pageToken{Since: since.UnixMicro(), Until: until.UnixMicro(), Offset: next})
	}
	return out, nil
}

func (s *Service) serveSummaries(w http.ResponseWriter, r *http.Request) { serve(s, w, r, s.summaries) }
