package sampling

import (
	"cmp"
	"context"
	"maps"
	"slices"
	"sync"
	"time"
)

// MemoryStore is a Store in memory: rules and statistics last as long as
// the process. It serves tests and a collector run without a database.
type MemoryStore struct {
	mu      sync.Mutex
	rules   map[string]RuleRecord
	lastMod time.Time
	stats   []Statistic
	// maxStats bounds the statistics kept (oldest dropped first).
	maxStats int
}

// NewMemoryStore returns an empty MemoryStore.
func NewMemoryStore() *MemoryStore {
	return &MemoryStore{rules: map[string]RuleRecord{}, maxStats: 100_000}
}

// tick returns a modification time after the previous one.
func (m *MemoryStore) tick() time.Time {
	t := time.Now().UTC()
	if !t.After(m.lastMod) {
		t = m.lastMod.Add(time.Microsecond)
	}
	m.lastMod = t
	return t
}

// SamplingRules implements Store.
func (m *MemoryStore) SamplingRules(context.Context) ([]RuleRecord, time.Time, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make([]RuleRecord, 0, len(m.rules))
	for _, r := range m.rules {
		r.Rule.Attributes = maps.Clone(r.Rule.Attributes)
		r.Tags = slices.Clone(r.Tags)
		out = append(out, r)
	}
	slices.SortFunc(out, func(a, b RuleRecord) int {
		return cmp.Or(cmp.Compare(a.Rule.Priority, b.Rule.Priority), cmp.Compare(a.Rule.RuleName, b.Rule.RuleName))
	})
	return out, m.lastMod, nil
}

// PutSamplingRule implements Store.
func (m *MemoryStore) PutSamplingRule(_ context.Context, r RuleRecord) (RuleRecord, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	r.ModifiedAt = m.tick()
	if r.CreatedAt.IsZero() {
		r.CreatedAt = r.ModifiedAt
	}
	r.Rule.Attributes = maps.Clone(r.Rule.Attributes)
	r.Tags = slices.Clone(r.Tags)
	m.rules[r.Rule.RuleName] = r
	return r, nil
}

// DeleteSamplingRule implements Store.
func (m *MemoryStore) DeleteSamplingRule(_ context.Context, name string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.rules, name)
	m.tick()
	return nil
}

// WriteSamplingStatistics implements Store.
func (m *MemoryStore) WriteSamplingStatistics(_ context.Context, stats []Statistic) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.stats = append(m.stats, stats...)
	if over := len(m.stats) - m.maxStats; over > 0 {
		m.stats = slices.Delete(m.stats, 0, over)
	}
	return nil
}

// SamplingStatistics implements Store.
func (m *MemoryStore) SamplingStatistics(_ context.Context, since time.Time) ([]Statistic, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	type key struct{ rule, client string }
	latest := map[key]Statistic{}
	for _, st := range m.stats {
		if st.Received.Before(since) {
			continue
		}
		k := key{st.RuleName, st.ClientID}
		if prev, ok := latest[k]; !ok || !st.Received.Before(prev.Received) {
			latest[k] = st
		}
	}
	out := slices.Collect(maps.Values(latest))
	slices.SortFunc(out, func(a, b Statistic) int {
		return cmp.Or(cmp.Compare(a.RuleName, b.RuleName), cmp.Compare(a.ClientID, b.ClientID))
	})
	return out, nil
}

// SamplingStatisticSummaries implements Store.
func (m *MemoryStore) SamplingStatisticSummaries(_ context.Context, since, until time.Time, window time.Duration) ([]Summary, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	window = max(window.Truncate(time.Second), time.Second)
	type key struct {
		rule string
		w    int64
	}
	sums := map[key]*Summary{}
	for _, st := range m.stats {
		if st.Received.Before(since) || !st.Received.Before(until) {
			continue
		}
		w := st.Received.Truncate(window)
		k := key{st.RuleName, w.Unix()}
		s := sums[k]
		if s == nil {
			s = &Summary{RuleName: st.RuleName, Timestamp: w.UTC()}
			sums[k] = s
		}
		s.RequestCount += st.RequestCount
		s.SampledCount += st.SampledCount
		s.BorrowCount += st.BorrowCount
	}
	out := make([]Summary, 0, len(sums))
	for _, s := range sums {
		out = append(out, *s)
	}
	slices.SortFunc(out, func(a, b Summary) int {
		return cmp.Or(b.Timestamp.Compare(a.Timestamp), cmp.Compare(a.RuleName, b.RuleName))
	})
	return out, nil
}
