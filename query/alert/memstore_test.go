package alert

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"sync"
	"time"

	"github.com/fluoro/fluoro/schema/chstore"
)

// memStore is an in-memory Store for unit tests (the integration tests
// use ClickHouse).
type memStore struct {
	mu         sync.Mutex
	rules      map[string]chstore.AlertRuleRecord
	states     map[string]chstore.AlertStateRecord
	events     []chstore.AlertEvent
	deliveries []chstore.AlertDelivery
	groups     map[string]chstore.Group
	fail       error // every write fails with it when set
	results    map[string]chstore.AlertResult
	queries    []chstore.AlertQuery
	// stateWrites counts the state records written per rule.
	stateWrites map[string]int
}

func newMemStore() *memStore {
	return &memStore{rules: map[string]chstore.AlertRuleRecord{}, states: map[string]chstore.AlertStateRecord{},
		groups: map[string]chstore.Group{}, results: map[string]chstore.AlertResult{}, stateWrites: map[string]int{}}
}

func (m *memStore) AlertRules(context.Context) ([]chstore.AlertRuleRecord, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []chstore.AlertRuleRecord
	for _, r := range m.rules {
		out = append(out, r)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out, nil
}

func (m *memStore) PutAlertRule(_ context.Context, r chstore.AlertRuleRecord) (chstore.AlertRuleRecord, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.fail != nil {
		return r, m.fail
	}
	r.ModifiedAt = time.Now()
	if r.CreatedAt.IsZero() {
		r.CreatedAt = r.ModifiedAt
	}
	m.rules[r.ID] = r
	return r, nil
}

func (m *memStore) DeleteAlertRule(_ context.Context, id string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.fail != nil {
		return m.fail
	}
	delete(m.rules, id)
	return nil
}

func (m *memStore) AlertStates(context.Context) ([]chstore.AlertStateRecord, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []chstore.AlertStateRecord
	for _, s := range m.states {
		out = append(out, s)
	}
	return out, nil
}

func (m *memStore) PutAlertStates(_ context.Context, sts []chstore.AlertStateRecord) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.fail != nil && len(sts) > 0 {
		return m.fail
	}
	for _, s := range sts {
		m.stateWrites[s.RuleID]++
		if s.Deleted {
			delete(m.states, s.RuleID)
		} else {
			m.states[s.RuleID] = s
		}
	}
	return nil
}

func (m *memStore) AppendAlertEvents(_ context.Context, evs []chstore.AlertEvent) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.fail != nil && len(evs) > 0 {
		return m.fail
	}
	m.events = append(m.events, evs...)
	return nil
}

func (m *memStore) AlertEvents(_ context.Context, q chstore.AlertEventQuery) ([]chstore.AlertEvent, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []chstore.AlertEvent
	for _, e := range m.events {
		if (q.RuleID == "" || e.RuleID == q.RuleID) && (q.EpisodeID == "" || e.EpisodeID == q.EpisodeID) {
			out = append(out, e)
		}
	}
	if !q.Oldest {
		slices.Reverse(out)
	}
	return out, nil
}

func (m *memStore) AlertEpisodes(context.Context, chstore.AlertEpisodeQuery) ([]chstore.AlertEpisode, error) {
	return nil, errors.New("memStore: no episodes")
}

func (m *memStore) AppendAlertDeliveries(_ context.Context, ds []chstore.AlertDelivery) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.fail != nil && len(ds) > 0 {
		return m.fail
	}
	m.deliveries = append(m.deliveries, ds...)
	return nil
}

func (m *memStore) AlertDeliveries(_ context.Context, q chstore.AlertDeliveryQuery) ([]chstore.AlertDelivery, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []chstore.AlertDelivery
	for _, d := range m.deliveries {
		if q.RuleID == "" || d.RuleID == q.RuleID {
			out = append(out, d)
		}
	}
	slices.Reverse(out)
	return out, nil
}

func (m *memStore) Group(_ context.Context, name string) (chstore.Group, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	g, ok := m.groups[name]
	if !ok {
		return g, fmt.Errorf("group %q: %w", name, chstore.ErrNotFound)
	}
	return g, nil
}

// EvaluateAlerts answers with the result set for each query's kind.
func (m *memStore) EvaluateAlerts(_ context.Context, qs []chstore.AlertQuery) ([]chstore.AlertResult, []error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.queries = append(m.queries, qs...)
	rs := make([]chstore.AlertResult, len(qs))
	for i, q := range qs {
		rs[i] = m.results[q.Kind]
	}
	return rs, make([]error, len(qs))
}

func (m *memStore) setResult(kind string, r chstore.AlertResult) {
	m.mu.Lock()
	m.results[kind] = r
	m.mu.Unlock()
}

func (m *memStore) snapshotEvents() []chstore.AlertEvent {
	m.mu.Lock()
	defer m.mu.Unlock()
	return slices.Clone(m.events)
}

func (m *memStore) snapshotDeliveries() []chstore.AlertDelivery {
	m.mu.Lock()
	defer m.mu.Unlock()
	return slices.Clone(m.deliveries)
}
