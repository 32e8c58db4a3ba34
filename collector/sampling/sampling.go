package sampling

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/fluoro/fluoro/schema/chstore"
)

// The rule and statistics types are schema/chstore's, so that
// *chstore.Store satisfies Store without an adapter.
type (
	// Rule is an X-Ray SamplingRule.
	Rule = chstore.SamplingRule
	// RuleRecord is a rule with its tags, creation and modification times.
	RuleRecord = chstore.SamplingRuleRecord
	// Boost is a rule's SamplingRateBoost.
	Boost = chstore.SamplingRateBoost
	// Tag is a resource tag.
	Tag = chstore.Tag
	// Statistic is one SamplingStatisticsDocument with its receive time.
	Statistic = chstore.SamplingStatistic
	// Summary is one rule's statistics in one window.
	Summary = chstore.SamplingStatisticSummary
)

// Store persists rules and the statistics SDKs report. It must be safe for
// concurrent use. *chstore.Store (ClickHouse) and *MemoryStore satisfy it.
type Store interface {
	// SamplingRules returns the stored rules and the time of the latest
	// change (deletions included; zero if none).
	SamplingRules(ctx context.Context) ([]RuleRecord, time.Time, error)
	// PutSamplingRule stores a new version of a rule and returns it with
	// its modification time (and a zero creation time) set.
	PutSamplingRule(ctx context.Context, r RuleRecord) (RuleRecord, error)
	// DeleteSamplingRule removes a rule; the deletion counts as a change.
	DeleteSamplingRule(ctx context.Context, name string) error
	// WriteSamplingStatistics stores reports.
	WriteSamplingStatistics(ctx context.Context, stats []Statistic) error
	// SamplingStatistics returns the latest report of every rule and
	// client received at or after since.
	SamplingStatistics(ctx context.Context, since time.Time) ([]Statistic, error)
	// SamplingStatisticSummaries sums the reports received in
	// [since, until) per rule and window, newest window first.
	SamplingStatisticSummaries(ctx context.Context, since, until time.Time, window time.Duration) ([]Summary, error)
}

// DefaultRuleName names the rule that always exists and matches everything.
const DefaultRuleName = "Default"

// defaultPriority is the Default rule's priority: after every other rule.
const defaultPriority = 10000

// DefaultRule returns X-Ray's Default rule: reservoir 1/s, then 5 %. Its
// RuleARN is set by the Service (it depends on Options.Region and
// AccountID).
func DefaultRule() RuleRecord {
	return RuleRecord{Rule: Rule{
		RuleName:      DefaultRuleName,
		ResourceARN:   "*",
		Priority:      defaultPriority,
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

// Options are the Service's developer-set parameters; zero values mean the
// defaults.
type Options struct {
	// Region and AccountID appear in rule ARNs
	// (arn:aws:xray:<region>:<account>:sampling-rule/<name>); defaults
	// us-east-1 and 000000000000.
	Region, AccountID string
	// Logger receives rare events (a failing store); nil discards.
	Logger *slog.Logger
	// Now is the clock (default time.Now).
	Now func() time.Time
	// MaxRules bounds the rules besides Default (default 25, X-Ray's
	// quota); CreateSamplingRule beyond it answers
	// RuleLimitExceededException.
	MaxRules int
	// PageSize is how many rules (GetSamplingRules) and summaries
	// (GetSamplingStatisticSummaries) one page holds (default 100). SDKs
	// read only the first page of rules, so keep it above MaxRules.
	PageSize int
	// CacheTTL is how long rules and other processes' statistics read from
	// the Store are reused (default 1 s): changes made through another
	// process show within it, changes through this Service at once.
	CacheTTL time.Duration
	// FlushEvery is the least time between two statistics writes to the
	// Store (default 1 s): reports arriving meanwhile are written together.
	FlushEvery time.Duration
	// SummaryWindow and SummaryHistory: GetSamplingStatisticSummaries sums
	// reports per SummaryWindow (default 10 s) over the last SummaryHistory
	// (default 10 min).
	SummaryWindow, SummaryHistory time.Duration
}

func (o *Options) setDefaults() {
	if o.Region == "" {
		o.Region = "us-east-1"
	}
	if o.AccountID == "" {
		o.AccountID = "000000000000"
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.MaxRules <= 0 {
		o.MaxRules = 25
	}
	if o.PageSize <= 0 {
		o.PageSize = 100
	}
	if o.CacheTTL <= 0 {
		o.CacheTTL = time.Second
	}
	if o.FlushEvery <= 0 {
		o.FlushEvery = time.Second
	}
	if o.SummaryWindow <= 0 {
		o.SummaryWindow = 10 * time.Second
	}
	if o.SummaryHistory <= 0 {
		o.SummaryHistory = 10 * time.Minute
	}
}

// Service implements the six sampling operations (see the package
// documentation). It is safe for concurrent use; share one Service
// between every listener of a process.
type Service struct {
	store Store
	o     Options
	now   func() time.Time

	// writeMu serializes rule changes (check, then write).
	writeMu sync.Mutex

	mu      sync.Mutex
	rules   []RuleRecord // cached, with Default; nil: reload
	lastMod time.Time
	rulesAt time.Time
	// lastGood is the last rule set read, served while the store fails.
	lastGood    []RuleRecord
	lastGoodMod time.Time
	clients     map[string]map[string]clientStat // rule → client id → last report (this process)
	peers       map[string]map[string]clientStat // the same, read from the store
	peersAt     time.Time
	pending     []Statistic // reports not yet written to the store
	flushing    bool
	lastFlush   time.Time
	lastWarn    time.Time
}

// New returns a Service over store (nil: a new MemoryStore, so rules and
// statistics live only as long as the process).
func New(store Store, o Options) *Service {
	o.setDefaults()
	if store == nil {
		store = NewMemoryStore()
	}
	return &Service{store: store, o: o, now: o.Now, clients: map[string]map[string]clientStat{}}
}

// ruleARN returns the ARN of the rule named name.
func (s *Service) ruleARN(name string) string {
	return fmt.Sprintf("arn:aws:xray:%s:%s:sampling-rule/%s", s.o.Region, s.o.AccountID, name)
}

// Rules returns every rule, Default included (last), sorted by priority
// then name, and X-Ray's LastRuleModification.
func (s *Service) Rules(ctx context.Context) ([]RuleRecord, time.Time, error) {
	now := s.now()
	s.mu.Lock()
	if s.rules != nil && now.Sub(s.rulesAt) < s.o.CacheTTL && !now.Before(s.rulesAt) {
		rs, last := s.rules, s.lastMod
		s.mu.Unlock()
		return rs, last, nil
	}
	s.mu.Unlock()
	stored, last, err := s.store.SamplingRules(ctx)
	if err != nil {
		s.mu.Lock()
		good, goodMod := s.lastGood, s.lastGoodMod
		s.mu.Unlock()
		if good != nil && ctx.Err() == nil {
			// SDKs keep sampling with the rules they know; a collector
			// whose database is away keeps granting quotas for them.
			s.warn("reading sampling rules failed; serving the last rules read", err)
			return good, goodMod, nil
		}
		return nil, time.Time{}, fmt.Errorf("load sampling rules: %w", err)
	}
	rs := make([]RuleRecord, 0, len(stored)+1)
	def := DefaultRule()
	for _, r := range stored {
		if r.Rule.RuleName == DefaultRuleName {
			// Only FixedRate and ReservoirSize of Default are editable.
			def.Rule.FixedRate, def.Rule.ReservoirSize = r.Rule.FixedRate, r.Rule.ReservoirSize
			def.ModifiedAt = r.ModifiedAt
			continue
		}
		rs = append(rs, r)
	}
	def.Rule.RuleARN = s.ruleARN(DefaultRuleName)
	rs = append(rs, def)
	slices.SortStableFunc(rs, func(a, b RuleRecord) int {
		if a.Rule.Priority != b.Rule.Priority {
			return a.Rule.Priority - b.Rule.Priority
		}
		if a.Rule.RuleName < b.Rule.RuleName {
			return -1
		}
		if a.Rule.RuleName > b.Rule.RuleName {
			return 1
		}
		return 0
	})
	s.mu.Lock()
	s.rules, s.lastMod, s.rulesAt = rs, last, now
	s.lastGood, s.lastGoodMod = rs, last
	s.mu.Unlock()
	return rs, last, nil
}

// invalidate drops the cached rules after a change through this Service.
func (s *Service) invalidate() {
	s.mu.Lock()
	s.rules = nil
	s.mu.Unlock()
}

// findRule returns the rule named name or with ARN arn.
func findRule(rs []RuleRecord, name, arn string) (RuleRecord, bool) {
	for _, r := range rs {
		if (name != "" && r.Rule.RuleName == name) || (arn != "" && r.Rule.RuleARN == arn) {
			return r, true
		}
	}
	return RuleRecord{}, false
}

// warn logs a store failure at most once a minute (statistics writes are
// best effort and frequent).
func (s *Service) warn(msg string, err error) {
	now := s.now()
	s.mu.Lock()
	if now.Sub(s.lastWarn) < time.Minute && !now.Before(s.lastWarn) {
		s.mu.Unlock()
		return
	}
	s.lastWarn = now
	s.mu.Unlock()
	s.o.Logger.Warn(msg, "err", err)
}
