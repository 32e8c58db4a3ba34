package sampling

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"
)

// Rule is an X-Ray SamplingRule with the API's exact member names.
type Rule struct {
	RuleName      string            `json:"RuleName"`
	RuleARN       string            `json:"RuleARN,omitempty"`
	ResourceARN   string            `json:"ResourceARN"`
	Priority      int               `json:"Priority"`
	FixedRate     float64           `json:"FixedRate"`
	ReservoirSize int               `json:"ReservoirSize"`
	ServiceName   string            `json:"ServiceName"`
	ServiceType   string            `json:"ServiceType"`
	Host          string            `json:"Host"`
	HTTPMethod    string            `json:"HTTPMethod"`
	URLPath       string            `json:"URLPath"`
	Version       int               `json:"Version"`
	Attributes    map[string]string `json:"Attributes"`
}

// RuleRecord is a rule with its creation and modification times.
type RuleRecord struct {
	Rule       Rule
	CreatedAt  time.Time
	ModifiedAt time.Time
}

// DefaultRuleName names the rule that always exists and matches everything.
const DefaultRuleName = "Default"

// DefaultRuleARN is the ARN reported for the Default rule.
const DefaultRuleARN = "arn:aws:xray:us-east-1:000000000000:sampling-rule/Default"

// DefaultRule returns X-Ray's Default rule: reservoir 1/s, then 5 %.
func DefaultRule() RuleRecord {
	return RuleRecord{Rule: Rule{
		RuleName:      DefaultRuleName,
		RuleARN:       DefaultRuleARN,
		ResourceARN:   "*",
		Priority:      10000,
		FixedRate:     0.05,
		ReservoirSize: 1,
		ServiceName:   "*",
		ServiceType:   "*",
		Host:          "*",
		HTTPMethod:    "*",
		URLPath:       "*",
		Version:       1,
		Attributes:    map[string]string{},
	}}
}

// RuleSource supplies the current sampling rules. Implementations must be
// safe for concurrent use. If the result has no rule named "Default", the
// built-in DefaultRule is added.
type RuleSource interface {
	SamplingRules(ctx context.Context) ([]RuleRecord, error)
}

// Static is a fixed set of rules.
type Static []RuleRecord

// SamplingRules returns the rules.
func (s Static) SamplingRules(context.Context) ([]RuleRecord, error) { return s, nil }

const (
	// Interval is how often clients should report statistics, in seconds.
	Interval = 10
	// quotaTTL is how long a granted reservoir quota stays valid.
	quotaTTL = 30 * time.Second
	// activeWindow: clients that reported within it share a rule's reservoir.
	activeWindow = 2 * Interval * time.Second
	// maxClientsPerRule bounds memory against misbehaving clients.
	maxClientsPerRule = 10000
	maxBodyBytes      = 1 << 20
	maxStatistics     = 25
)

// Service answers the sampling operations. It is safe for concurrent use.
type Service struct {
	src RuleSource
	now func() time.Time

	mu      sync.Mutex
	clients map[string]map[string]clientStat // rule → client id → last report
}

type clientStat struct {
	requests int64
	seen     time.Time
}

// NewService returns a Service reading rules from src (nil means only the
// Default rule). now is the clock (nil means time.Now).
func NewService(src RuleSource, now func() time.Time) *Service {
	if src == nil {
		src = Static{DefaultRule()}
	}
	if now == nil {
		now = time.Now
	}
	return &Service{src: src, now: now, clients: map[string]map[string]clientStat{}}
}

func (s *Service) rules(ctx context.Context) ([]RuleRecord, error) {
	rs, err := s.src.SamplingRules(ctx)
	if err != nil {
		return nil, fmt.Errorf("load sampling rules: %w", err)
	}
	if !slices.ContainsFunc(rs, func(r RuleRecord) bool { return r.Rule.RuleName == DefaultRuleName }) {
		rs = append(slices.Clip(rs), DefaultRule())
	}
	return rs, nil
}

// epoch marshals a time as JSON epoch seconds (fractional).
type epoch time.Time

func (e epoch) MarshalJSON() ([]byte, error) {
	t := time.Time(e)
	if t.IsZero() {
		return []byte("0"), nil
	}
	return fmt.Appendf(nil, "%.3f", float64(t.UnixMilli())/1e3), nil
}

type ruleRecordJSON struct {
	SamplingRule Rule  `json:"SamplingRule"`
	CreatedAt    epoch `json:"CreatedAt"`
	ModifiedAt   epoch `json:"ModifiedAt"`
}

// ServeGetSamplingRules handles POST /GetSamplingRules.
func (s *Service) ServeGetSamplingRules(w http.ResponseWriter, r *http.Request) {
	var in struct {
		NextToken *string `json:"NextToken"`
	}
	if err := readJSON(r, &in, true); err != nil {
		writeError(w, http.StatusBadRequest, "InvalidRequestException", err.Error())
		return
	}
	rs, err := s.rules(r.Context())
	if err != nil {
		writeError(w, http.StatusInternalServerError, "InternalFailure", err.Error())
		return
	}
	out := struct {
		SamplingRuleRecords []ruleRecordJSON `json:"SamplingRuleRecords"`
	}{SamplingRuleRecords: make([]ruleRecordJSON, 0, len(rs))}
	for _, rr := range rs {
		rule := rr.Rule
		if rule.Attributes == nil {
			rule.Attributes = map[string]string{}
		}
		out.SamplingRuleRecords = append(out.SamplingRuleRecords, ruleRecordJSON{
			SamplingRule: rule, CreatedAt: epoch(rr.CreatedAt), ModifiedAt: epoch(rr.ModifiedAt),
		})
	}
	writeJSON(w, out)
}

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

// Targets records the statistics and computes each reporting client's
// targets.
func (s *Service) Targets(ctx context.Context, docs []StatisticsDocument) (TargetsOutput, error) {
	rs, err := s.rules(ctx)
	if err != nil {
		return TargetsOutput{}, err
	}
	byName := make(map[string]Rule, len(rs))
	var lastMod time.Time
	for _, rr := range rs {
		byName[rr.Rule.RuleName] = rr.Rule
		if rr.ModifiedAt.After(lastMod) {
			lastMod = rr.ModifiedAt
		}
	}
	now := s.now()
	out := TargetsOutput{
		SamplingTargetDocuments: []TargetDocument{},
		UnprocessedStatistics:   []UnprocessedStatistics{},
	}
	if !lastMod.IsZero() {
		out.LastRuleModification = float64(lastMod.UnixMilli()) / 1e3
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, d := range docs {
		rule, ok := byName[d.RuleName]
		if !ok {
			out.UnprocessedStatistics = append(out.UnprocessedStatistics, UnprocessedStatistics{
				RuleName: d.RuleName, ErrorCode: "400", Message: "Unknown rule",
			})
			continue
		}
		cs := s.clients[d.RuleName]
		if cs == nil {
			cs = map[string]clientStat{}
			s.clients[d.RuleName] = cs
		}
		cs[d.ClientID] = clientStat{requests: d.RequestCount, seen: now}
		quota := quotaFor(cs, d.ClientID, int64(rule.ReservoirSize), now)
		out.SamplingTargetDocuments = append(out.SamplingTargetDocuments, TargetDocument{
			RuleName:          d.RuleName,
			FixedRate:         rule.FixedRate,
			ReservoirQuota:    quota,
			ReservoirQuotaTTL: float64(now.Add(quotaTTL).Unix()),
			Interval:          Interval,
		})
	}
	// Forget rules that no longer exist.
	for name := range s.clients {
		if _, ok := byName[name]; !ok {
			delete(s.clients, name)
		}
	}
	return out, nil
}

// quotaFor shares reservoir among the clients of cs active at now (dropping
// inactive ones) in proportion to their request counts, remainders going to
// the busiest clients, and returns client's share.
func quotaFor(cs map[string]clientStat, client string, reservoir int64, now time.Time) int64 {
	type entry struct {
		id  string
		req int64
	}
	active := make([]entry, 0, len(cs))
	var total int64
	for id, st := range cs {
		if now.Sub(st.seen) > activeWindow {
			delete(cs, id)
			continue
		}
		active = append(active, entry{id, st.requests})
		total += st.requests
	}
	// Busiest first; ties by id so every caller sees the same order.
	slices.SortFunc(active, func(a, b entry) int {
		if a.req != b.req {
			if a.req > b.req {
				return -1
			}
			return 1
		}
		return strings.Compare(a.id, b.id)
	})
	if len(active) > maxClientsPerRule {
		for _, e := range active[maxClientsPerRule:] {
			delete(cs, e.id)
		}
		active = active[:maxClientsPerRule]
	}
	if reservoir <= 0 || len(active) == 0 {
		return 0
	}
	shares := make([]int64, len(active))
	var given int64
	for i, e := range active {
		if total > 0 {
			shares[i] = reservoir * e.req / total
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

// ServeSamplingTargets handles POST /SamplingTargets (GetSamplingTargets).
func (s *Service) ServeSamplingTargets(w http.ResponseWriter, r *http.Request) {
	var in struct {
		SamplingStatisticsDocuments      *[]statisticsJSON `json:"SamplingStatisticsDocuments"`
		SamplingBoostStatisticsDocuments []json.RawMessage `json:"SamplingBoostStatisticsDocuments"`
	}
	if err := readJSON(r, &in, false); err != nil {
		writeError(w, http.StatusBadRequest, "InvalidRequestException", err.Error())
		return
	}
	docs, err := validateStatistics(in.SamplingStatisticsDocuments)
	if err != nil {
		writeError(w, http.StatusBadRequest, "InvalidRequestException", err.Error())
		return
	}
	out, err := s.Targets(r.Context(), docs)
	if err != nil {
		writeError(w, http.StatusInternalServerError, "InternalFailure", err.Error())
		return
	}
	writeJSON(w, out)
}

func validateStatistics(in *[]statisticsJSON) ([]StatisticsDocument, error) {
	if in == nil {
		return nil, errors.New("1 validation error detected: Value null at 'samplingStatisticsDocuments' failed to satisfy constraint: Member must not be null")
	}
	if len(*in) > maxStatistics {
		return nil, fmt.Errorf("1 validation error detected: Value at 'samplingStatisticsDocuments' failed to satisfy constraint: Member must have length less than or equal to %d", maxStatistics)
	}
	docs := make([]StatisticsDocument, 0, len(*in))
	for i, d := range *in {
		switch {
		case d.RuleName == nil || len(*d.RuleName) < 1 || len(*d.RuleName) > 32:
			return nil, fmt.Errorf("samplingStatisticsDocuments.%d.ruleName must be 1 to 32 characters", i+1)
		case d.ClientID == nil || len(*d.ClientID) != 24:
			return nil, fmt.Errorf("samplingStatisticsDocuments.%d.clientID must be 24 characters", i+1)
		case d.Timestamp == nil || math.IsNaN(*d.Timestamp) || math.IsInf(*d.Timestamp, 0):
			return nil, fmt.Errorf("samplingStatisticsDocuments.%d.timestamp must be epoch seconds", i+1)
		case negative(d.RequestCount) || negative(d.SampledCount) || negative(d.BorrowCount):
			return nil, fmt.Errorf("samplingStatisticsDocuments.%d: RequestCount, SampledCount and BorrowCount must be >= 0", i+1)
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

// readJSON decodes the request body into v; an empty body is accepted when
// emptyOK (the AWS SDKs send no body for operations without input).
func readJSON(r *http.Request, v any, emptyOK bool) error {
	b, err := io.ReadAll(io.LimitReader(r.Body, maxBodyBytes+1))
	if err != nil {
		return fmt.Errorf("read request body: %w", err)
	}
	if len(b) > maxBodyBytes {
		return fmt.Errorf("request body larger than %d bytes", maxBodyBytes)
	}
	if len(strings.TrimSpace(string(b))) == 0 {
		if emptyOK {
			return nil
		}
		b = []byte("{}")
	}
	if err := json.Unmarshal(b, v); err != nil {
		return fmt.Errorf("malformed request body: %w", err)
	}
	return nil
}

func writeJSON(w http.ResponseWriter, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		writeError(w, http.StatusInternalServerError, "InternalFailure", err.Error())
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Write(b)
}

// writeError writes the X-Ray REST-JSON error shape.
func writeError(w http.ResponseWriter, status int, code, msg string) {
	b, _ := json.Marshal(struct {
		Type    string `json:"__type"`
		Message string `json:"message"`
		Msg     string `json:"Message"`
	}{code, msg, msg})
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Amzn-ErrorType", code)
	w.WriteHeader(status)
	w.Write(b)
}
