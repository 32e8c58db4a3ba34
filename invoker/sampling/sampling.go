package sampling

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"math"
	mrand "math/rand/v2"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"
)

// ServiceType is the origin the invoker's sampling requests match on.
const ServiceType = "AWS::Lambda::Function"

// Intervals of the SDKs' pollers.
const (
	RulesInterval   = 5 * time.Minute
	TargetsInterval = 10 * time.Second
)

// Sampler makes sampling decisions. It is safe for concurrent use.
type Sampler struct {
	endpoint string // http://host:port
	client   *http.Client
	log      *slog.Logger
	clientID string
	now      func() time.Time

	mu          sync.Mutex
	rules       []*rule // sorted by priority, name
	rulesAt     time.Time
	fallback    *rule
	lastRefresh time.Time
}

type rule struct {
	name, serviceName, serviceType, host, method, urlPath, resourceARN string
	priority                                                           int
	fixedRate                                                          float64
	reservoirSize                                                      int

	// Reservoir state.
	quota    int
	quotaTTL time.Time
	second   int64 // unix second of the counters below
	used     int   // taken from quota this second
	borrowed bool  // borrowed this second

	// Statistics since the last SamplingTargets report.
	requests, sampled, borrows int
	interval                   time.Duration
	reportedAt                 time.Time
}

// New returns a sampler polling the X-Ray sampling API at addr (host:port of
// the daemon's TCP side). An empty addr disables polling: only the fallback
// rule applies.
func New(addr string, log *slog.Logger) *Sampler {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	var id [12]byte
	_, _ = rand.Read(id[:])
	s := &Sampler{
		client:   &http.Client{Timeout: 5 * time.Second},
		log:      log,
		clientID: hex.EncodeToString(id[:]),
		now:      time.Now,
		fallback: &rule{name: "Default", fixedRate: 0.05, reservoirSize: 1},
	}
	if addr != "" {
		s.endpoint = "http://" + addr
	}
	return s
}

// Sample decides for one request of the function name with ARN arn.
func (s *Sampler) Sample(name, arn string) bool {
	now := s.now()
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.fallback
	for _, cand := range s.rules {
		if cand.matches(name, arn) {
			r = cand
			break
		}
	}
	return r.decide(now)
}

func (r *rule) matches(name, arn string) bool {
	return wildcard(r.serviceName, name) && wildcard(r.serviceType, ServiceType) && wildcard(r.resourceARN, arn) &&
		wildcard(r.host, "") && wildcard(r.method, "") && wildcard(r.urlPath, "")
}

// decide applies the reservoir, borrowing and the fixed rate.
func (r *rule) decide(now time.Time) bool {
	r.requests++
	sec := now.Unix()
	if sec != r.second {
		r.second, r.used, r.borrowed = sec, 0, false
	}
	if r.quotaTTL.After(now) {
		if r.used < r.quota {
			r.used++
			r.sampled++
			return true
		}
	} else if r.reservoirSize > 0 && !r.borrowed {
		r.borrowed = true
		r.borrows++
		r.sampled++
		return true
	}
	if mrand.Float64() < r.fixedRate {
		r.sampled++
		return true
	}
	return false
}

// wildcard matches text against a pattern with * and ?, case-insensitively.
// An empty text (an attribute Lambda requests do not have) matches.
func wildcard(pattern, text string) bool {
	if text == "" || pattern == "*" {
		return true
	}
	p, t := strings.ToLower(pattern), strings.ToLower(text)
	// Iterative glob with backtracking on the last '*'.
	pi, ti, star, mark := 0, 0, -1, 0
	for ti < len(t) {
		switch {
		case pi < len(p) && (p[pi] == '?' || p[pi] == t[ti]):
			pi++
			ti++
		case pi < len(p) && p[pi] == '*':
			star, mark = pi, ti
			pi++
		case star >= 0:
			pi = star + 1
			mark++
			ti = mark
		default:
			return false
		}
	}
	for pi < len(p) && p[pi] == '*' {
		pi++
	}
	return pi == len(p)
}

// Run polls rules and targets until ctx is done. Failures keep the current
// rules (or the fallback) and are logged at debug level only.
func (s *Sampler) Run(ctx context.Context) error {
	if s.endpoint == "" {
		<-ctx.Done()
		return nil
	}
	s.refreshRules(ctx)
	rulesT := time.NewTicker(RulesInterval)
	defer rulesT.Stop()
	targetsT := time.NewTicker(TargetsInterval)
	defer targetsT.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-rulesT.C:
			s.refreshRules(ctx)
		case <-targetsT.C:
			s.reportTargets(ctx)
		}
	}
}

type samplingRule struct {
	RuleName      string            `json:"RuleName"`
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

func (s *Sampler) post(ctx context.Context, path string, in, out any) error {
	b, err := json.Marshal(in)
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.endpoint+path, bytes.NewReader(b))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := s.client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s: HTTP %d: %.200s", path, resp.StatusCode, body)
	}
	return json.Unmarshal(body, out)
}

// refreshRules fetches every page of rules and replaces the current set,
// keeping reservoir state of rules that still exist.
func (s *Sampler) refreshRules(ctx context.Context) {
	var all []samplingRule
	token := ""
	for range 100 {
		var out struct {
			SamplingRuleRecords []struct {
				SamplingRule samplingRule `json:"SamplingRule"`
			} `json:"SamplingRuleRecords"`
			NextToken string `json:"NextToken"`
		}
		in := map[string]any{}
		if token != "" {
			in["NextToken"] = token
		}
		if err := s.post(ctx, "/GetSamplingRules", in, &out); err != nil {
			s.log.Debug("sampling rules unavailable, keeping current rules", "err", err)
			return
		}
		for _, rec := range out.SamplingRuleRecords {
			all = append(all, rec.SamplingRule)
		}
		if token = out.NextToken; token == "" {
			break
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	old := map[string]*rule{}
	for _, r := range s.rules {
		old[r.name] = r
	}
	var rules []*rule
	for _, sr := range all {
		if len(sr.Attributes) > 0 || sr.Version != 1 {
			continue
		}
		r := old[sr.RuleName]
		if r == nil {
			r = &rule{interval: TargetsInterval}
		}
		r.name, r.serviceName, r.serviceType, r.host = sr.RuleName, sr.ServiceName, sr.ServiceType, sr.Host
		r.method, r.urlPath, r.resourceARN = sr.HTTPMethod, sr.URLPath, sr.ResourceARN
		r.priority, r.fixedRate, r.reservoirSize = sr.Priority, sr.FixedRate, sr.ReservoirSize
		rules = append(rules, r)
	}
	slices.SortFunc(rules, func(a, b *rule) int {
		if a.priority != b.priority {
			return a.priority - b.priority
		}
		return strings.Compare(a.name, b.name)
	})
	s.rules = rules
	s.lastRefresh = s.now()
}

// reportTargets sends the statistics of rules due for a report and applies
// the quotas returned.
func (s *Sampler) reportTargets(ctx context.Context) {
	now := s.now()
	type stat struct {
		RuleName     string  `json:"RuleName"`
		ClientID     string  `json:"ClientID"`
		Timestamp    float64 `json:"Timestamp"`
		RequestCount int     `json:"RequestCount"`
		SampledCount int     `json:"SampledCount"`
		BorrowCount  int     `json:"BorrowCount"`
	}
	var docs []stat
	s.mu.Lock()
	for _, r := range s.rules {
		if r.requests == 0 || now.Sub(r.reportedAt) < r.interval {
			continue
		}
		docs = append(docs, stat{r.name, s.clientID, float64(now.Unix()), r.requests, r.sampled, r.borrows})
		r.requests, r.sampled, r.borrows, r.reportedAt = 0, 0, 0, now
	}
	lastRefresh := s.lastRefresh
	s.mu.Unlock()
	if len(docs) == 0 {
		return
	}
	var out struct {
		SamplingTargetDocuments []struct {
			RuleName          string   `json:"RuleName"`
			FixedRate         *float64 `json:"FixedRate"`
			ReservoirQuota    *int     `json:"ReservoirQuota"`
			ReservoirQuotaTTL *float64 `json:"ReservoirQuotaTTL"`
			Interval          *int     `json:"Interval"`
		} `json:"SamplingTargetDocuments"`
		LastRuleModification  float64 `json:"LastRuleModification"`
		UnprocessedStatistics []struct {
			ErrorCode string `json:"ErrorCode"`
		} `json:"UnprocessedStatistics"`
	}
	if err := s.post(ctx, "/SamplingTargets", map[string]any{"SamplingStatisticsDocuments": docs}, &out); err != nil {
		s.log.Debug("sampling targets unavailable", "err", err)
		return
	}
	refresh := false
	s.mu.Lock()
	byName := map[string]*rule{}
	for _, r := range s.rules {
		byName[r.name] = r
	}
	for _, d := range out.SamplingTargetDocuments {
		r := byName[d.RuleName]
		if r == nil {
			continue
		}
		if d.FixedRate != nil {
			r.fixedRate = *d.FixedRate
		}
		if d.ReservoirQuota != nil {
			r.quota = *d.ReservoirQuota
		}
		if d.ReservoirQuotaTTL != nil {
			sec, frac := math.Modf(*d.ReservoirQuotaTTL)
			r.quotaTTL = time.Unix(int64(sec), int64(frac*1e9))
		}
		if d.Interval != nil && *d.Interval > 0 {
			r.interval = time.Duration(*d.Interval) * time.Second
		}
	}
	s.mu.Unlock()
	for _, u := range out.UnprocessedStatistics {
		if strings.HasPrefix(u.ErrorCode, "4") {
			refresh = true
		}
	}
	if out.LastRuleModification > 0 && time.Unix(int64(out.LastRuleModification), 0).After(lastRefresh) {
		refresh = true
	}
	if refresh {
		s.refreshRules(ctx)
	}
}
