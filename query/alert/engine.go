package alert

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/VictoriaMetrics/metrics"

	"github.com/fluoro/fluoro/query/filter"
	"github.com/fluoro/fluoro/schema/chstore"
)

// Errors callers branch on (the REST API maps them to HTTP statuses).
var (
	// ErrNotFound: no rule (or alert) with that id.
	ErrNotFound = errors.New("not found")
	// ErrConflict: a rule with that id already exists.
	ErrConflict = errors.New("already exists")
	// ErrReadOnly: the rule comes from the rules file.
	ErrReadOnly = errors.New("defined in the rules file")
)

// Alert states.
const (
	StateInactive = "inactive"
	StatePending  = "pending"
	StateFiring   = "firing"
	StateResolved = "resolved"
)

// Engine evaluates alerting rules and sends notifications. Create it with
// New, run it with Run, feed it settled traces with Observe.
type Engine struct {
	cfg       Config
	log       *slog.Logger
	store     Store
	query     QueryFunc
	pub       Publisher
	notifiers map[string]NotifyFunc
	receivers map[string]*Receiver
	recvNames []string
	fileRules []Rule

	mu         sync.Mutex
	rules      map[string]*ruleEntry
	states     map[string]*alertState
	dirty      map[string]bool
	deleted    map[string]bool
	events     []chstore.AlertEvent
	deliveries []chstore.AlertDelivery
	loaded     chan struct{}

	screen atomic.Pointer[traceScreen]
	// anns is runTraces' scratch set of a trace's string annotations.
	anns       map[filter.AnnotationValue]bool
	updates    chan []traceUpdate
	deliverers map[string]*deliverer
	rebuildMu  sync.Mutex
	flushMu    sync.Mutex

	m *engineMetrics
}

// ruleEntry is an installed rule and its evaluation bookkeeping.
type ruleEntry struct {
	rule     Rule
	nextEval time.Time
	running  bool
	lastEval time.Time
	lastDur  time.Duration
	lastErr  string
}

// alertState is the state of one rule's alert; it is persisted as JSON
// (alert_state.body) so a restart continues where the engine stopped.
type alertState struct {
	RuleID      string      `json:"rule_id"`
	EpisodeID   string      `json:"episode_id,omitempty"`
	State       string      `json:"state"`
	ActiveAt    time.Time   `json:"active_at,omitzero"`
	FiredAt     time.Time   `json:"fired_at,omitzero"`
	ResolvedAt  time.Time   `json:"resolved_at,omitzero"`
	LastEvalAt  time.Time   `json:"last_eval_at,omitzero"`
	LastMatchAt time.Time   `json:"last_match_at,omitzero"`
	Value       float64     `json:"value"`
	Matching    uint64      `json:"matching"`
	Total       uint64      `json:"total"`
	Samples     []string    `json:"samples,omitempty"`
	NewTraces   []string    `json:"new_traces,omitempty"`
	NewCount    uint64      `json:"new_count,omitempty"`
	RootService *ServiceRef `json:"root_service,omitempty"`
	// Notified is the last state notified in this episode ("", firing,
	// resolved); MutedFor the state whose notification a mute suppressed.
	Notified   string        `json:"notified,omitempty"`
	NotifiedAt time.Time     `json:"notified_at,omitzero"`
	MutedFor   string        `json:"muted_for,omitempty"`
	Seq        int           `json:"seq,omitempty"`
	LastError  string        `json:"last_error,omitempty"`
	Outbox     []*outboxItem `json:"outbox,omitempty"`
}

// outboxItem is a notification not yet delivered to (or given up by)
// every receiver in Pending.
type outboxItem struct {
	N       *Notification `json:"notification"`
	Pending []string      `json:"pending"`
}

// New checks cfg, loads the rules file and builds the engine; Run starts
// it.
func New(cfg Config, set Settings) (*Engine, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("alerting config: %w", err)
	}
	if set.Store == nil {
		return nil, errors.New("alerting: Settings.Store is required")
	}
	e := &Engine{
		cfg: cfg, log: set.Logger, store: set.Store, query: set.Query, pub: set.Publisher,
		notifiers: map[string]NotifyFunc{ReceiverWebhook: NotifyWebhook, ReceiverSlack: NotifySlack, ReceiverCommand: NotifyCommand},
		receivers: map[string]*Receiver{},
		rules:     map[string]*ruleEntry{}, states: map[string]*alertState{}, dirty: map[string]bool{}, deleted: map[string]bool{},
		loaded:     make(chan struct{}),
		updates:    make(chan []traceUpdate, cfg.Queue),
		deliverers: map[string]*deliverer{},
		m:          newEngineMetrics(),
	}
	if e.log == nil {
		e.log = slog.New(slog.DiscardHandler)
	}
	if e.query == nil {
		if q, ok := set.Store.(interface {
			EvaluateAlerts(context.Context, []chstore.AlertQuery) ([]chstore.AlertResult, []error)
		}); ok {
			e.query = q.EvaluateAlerts
		}
	}
	if e.query == nil {
		return nil, errors.New("alerting: Settings.Query is required (the store has no EvaluateAlerts)")
	}
	for k, f := range set.Notifiers {
		e.notifiers[k] = f
	}
	var recvs []Receiver
	if cfg.RulesFile != "" {
		f, err := LoadFile(cfg.RulesFile)
		if err != nil {
			return nil, err
		}
		recvs = f.Receivers
		e.fileRules = f.Rules
	}
	for _, r := range []Receiver{
		{Name: "webhook", Type: ReceiverWebhook, URL: cfg.WebhookURL},
		{Name: "slack", Type: ReceiverSlack, URL: cfg.SlackURL},
		{Name: "command", Type: ReceiverCommand, Command: splitCommand(cfg.Command)},
	} {
		if r.URL != "" || len(r.Command) > 0 {
			recvs = append(recvs, r)
		}
	}
	for i := range recvs {
		r := &recvs[i]
		if err := r.validate(); err != nil {
			return nil, fmt.Errorf("alerting: %w", err)
		}
		if e.receivers[r.Name] != nil {
			return nil, fmt.Errorf("alerting: two receivers are named %q (the --alert-*-url flags add webhook, slack and command)", r.Name)
		}
		e.receivers[r.Name] = r
		e.recvNames = append(e.recvNames, r.Name)
		e.deliverers[r.Name] = &deliverer{e: e, rc: r, notify: e.notifiers[r.Type], jobs: make(chan *outboxJob, cfg.NotifyQueue)}
	}
	known := e.receiverSet()
	for i := range e.fileRules {
		r := &e.fileRules[i]
		r.Source = SourceFile
		if err := r.Validate(known); err != nil {
			return nil, fmt.Errorf("alerting: rules file %s: rule %q: %w", cfg.RulesFile, r.ID, err)
		}
	}
	e.screen.Store(newTraceScreen(nil, nil))
	return e, nil
}

func (e *Engine) receiverSet() map[string]bool {
	m := make(map[string]bool, len(e.receivers))
	for n := range e.receivers {
		m[n] = true
	}
	return m
}

// Run loads the stored rules and alert states, then evaluates rules and
// delivers notifications until ctx is done. On shutdown it lets queued
// deliveries finish (within Config.ShutdownTimeout; the rest stays in
// the persisted outbox for the next start) and writes the final state.
func (e *Engine) Run(ctx context.Context) error {
	// ClickHouse may be briefly unavailable: retry rather than take the
	// whole process down with alerting.
	for wait := time.Second; ; wait = min(2*wait, 30*time.Second) {
		err := e.load(ctx)
		if err == nil {
			break
		}
		if ctx.Err() != nil {
			return nil
		}
		e.log.Warn("alerting: cannot load rules and states; retrying", "err", err, "retry_in", wait)
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(wait):
		}
	}
	e.mu.Lock()
	nrules := len(e.rules)
	e.mu.Unlock()
	close(e.loaded)
	e.log.Info("alerting running", "rules", nrules, "receivers", len(e.receivers))

	workCtx, stopWork := context.WithCancel(context.WithoutCancel(ctx))
	defer stopWork()
	var wg sync.WaitGroup
	goRun := func(f func(context.Context)) {
		wg.Add(1)
		go func() { defer wg.Done(); f(workCtx) }()
	}
	var dwg sync.WaitGroup
	delCtx, stopDeliveries := context.WithCancel(context.WithoutCancel(ctx))
	defer stopDeliveries()
	for _, d := range e.deliverers {
		dwg.Add(1)
		go func() { defer dwg.Done(); d.run(ctx, delCtx) }()
	}
	e.requeueOutbox()
	goRun(e.runTraces)
	goRun(e.runScheduler)
	goRun(e.runResolver)
	flushDone := make(chan struct{})
	go func() { defer close(flushDone); e.runFlusher(ctx) }()

	<-ctx.Done()
	stopWork()
	wg.Wait()
	// Deliverers stop taking new jobs when ctx is done and finish the
	// queued ones; cut retries short at the shutdown deadline.
	deadline := time.AfterFunc(e.cfg.ShutdownTimeout, stopDeliveries)
	dwg.Wait()
	deadline.Stop()
	<-flushDone
	fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), e.cfg.ShutdownTimeout)
	defer cancel()
	if err := e.flush(fctx); err != nil {
		return fmt.Errorf("alerting: final flush: %w", err)
	}
	e.log.Info("alerting stopped")
	return nil
}

// Ready is closed once Run has loaded the stored rules and states.
func (e *Engine) Ready() <-chan struct{} { return e.loaded }

// load installs the file's and the store's rules and the stored states.
func (e *Engine) load(ctx context.Context) error {
	recs, err := e.store.AlertRules(ctx)
	if err != nil {
		return fmt.Errorf("alerting: load rules: %w", err)
	}
	sts, err := e.store.AlertStates(ctx)
	if err != nil {
		return fmt.Errorf("alerting: load alert states: %w", err)
	}
	known := e.receiverSet()
	e.mu.Lock()
	defer e.rebuildTraceRules(ctx)
	defer e.mu.Unlock()
	// Rules created through the API before Run stay; the stored ones are
	// added below.
	for _, r := range e.fileRules {
		e.rules[r.ID] = &ruleEntry{rule: r}
	}
	for _, rec := range recs {
		var r Rule
		if err := json.Unmarshal(rec.Body, &r); err != nil {
			e.log.Error("stored alert rule is not valid JSON; ignored", "rule", rec.ID, "err", err)
			continue
		}
		r.ID, r.Source, r.CreatedAt, r.ModifiedAt = rec.ID, SourceAPI, rec.CreatedAt, rec.ModifiedAt
		if err := r.Validate(nil); err != nil {
			e.log.Error("stored alert rule is invalid; ignored", "rule", rec.ID, "err", err)
			continue
		}
		if old := e.rules[r.ID]; old != nil {
			if old.rule.Source == SourceFile {
				e.log.Warn("alert rule defined in the rules file and through the API; the file's wins", "rule", r.ID)
			}
			continue // or written through the API since New: that version is newer
		}
		if miss := missingReceivers(r, known); len(miss) > 0 {
			e.log.Warn("alert rule names receivers that are not configured; they are skipped", "rule", r.ID, "receivers", miss)
		}
		e.rules[r.ID] = &ruleEntry{rule: r}
	}
	for _, rec := range sts {
		var st alertState
		if err := json.Unmarshal(rec.Body, &st); err != nil {
			e.log.Error("stored alert state is not valid JSON; ignored", "rule", rec.RuleID, "err", err)
			continue
		}
		st.RuleID = rec.RuleID
		if e.rules[rec.RuleID] == nil {
			continue
		}
		e.states[rec.RuleID] = &st
	}
	e.m.firing.Set(float64(e.countFiringLocked()))
	return nil
}

func missingReceivers(r Rule, known map[string]bool) []string {
	var out []string
	for _, n := range r.Receivers {
		if !known[n] {
			out = append(out, n)
		}
	}
	return out
}

// requeueOutbox hands notifications that were not delivered before the
// last stop to their receivers again (same notification id).
func (e *Engine) requeueOutbox() {
	e.mu.Lock()
	var jobs []*outboxJob
	for id, st := range e.states {
		for _, it := range st.Outbox {
			for _, rn := range it.Pending {
				jobs = append(jobs, &outboxJob{ruleID: id, receiver: rn, n: it.N})
			}
		}
	}
	e.mu.Unlock()
	for _, j := range jobs {
		e.enqueue(j)
	}
}

// newID returns a random UUID (version 4), as X-Ray InsightIds are.
func newID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b[:])
	return h[:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}

// --- rules ---------------------------------------------------------------

// Rules returns every rule with its alert's status, sorted by id.
func (e *Engine) Rules() []RuleStatus {
	e.mu.Lock()
	defer e.mu.Unlock()
	now := time.Now()
	out := make([]RuleStatus, 0, len(e.rules))
	for _, ent := range e.rules {
		out = append(out, e.statusLocked(ent, now))
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Rule.ID < out[j].Rule.ID })
	return out
}

// Rule returns one rule with its status, or ErrNotFound.
func (e *Engine) Rule(id string) (RuleStatus, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	ent := e.rules[id]
	if ent == nil {
		return RuleStatus{}, fmt.Errorf("rule %q: %w", id, ErrNotFound)
	}
	return e.statusLocked(ent, time.Now()), nil
}

// Receivers lists the configured receivers (without secrets).
func (e *Engine) Receivers() []ReceiverInfo {
	out := make([]ReceiverInfo, 0, len(e.recvNames))
	for _, n := range e.recvNames {
		out = append(out, e.receivers[n].info())
	}
	return out
}

// ValidateRule normalizes r and reports its problems (*ValidationError)
// without storing it (for editors that check as the user types).
func (e *Engine) ValidateRule(r *Rule) error {
	r.Source = ""
	return r.Validate(e.receiverSet())
}

// CreateRule validates r and stores it as a new rule; ErrConflict when its
// id is taken.
func (e *Engine) CreateRule(ctx context.Context, r Rule) (Rule, error) {
	r.Source, r.CreatedAt, r.ModifiedAt = "", time.Time{}, time.Time{}
	if err := r.Validate(e.receiverSet()); err != nil {
		return Rule{}, err
	}
	e.mu.Lock()
	exists := e.rules[r.ID] != nil
	e.mu.Unlock()
	if exists {
		return Rule{}, fmt.Errorf("rule %q: %w", r.ID, ErrConflict)
	}
	return e.storeRule(ctx, r, time.Time{})
}

// PutRule validates r and stores it as rule id (creating or replacing
// it). r.ID must be empty or id. Rules of the rules file are read-only.
func (e *Engine) PutRule(ctx context.Context, id string, r Rule) (Rule, error) {
	if r.ID == "" {
		r.ID = id
	}
	if r.ID != id {
		return Rule{}, &ValidationError{Errors: []FieldError{{Field: "id", Message: fmt.Sprintf("%q does not match the rule in the path (%q)", r.ID, id)}}}
	}
	r.Source, r.CreatedAt, r.ModifiedAt = "", time.Time{}, time.Time{}
	if err := r.Validate(e.receiverSet()); err != nil {
		return Rule{}, err
	}
	e.mu.Lock()
	old := e.rules[id]
	e.mu.Unlock()
	var created time.Time
	if old != nil {
		if old.rule.Source == SourceFile {
			return Rule{}, fmt.Errorf("rule %q: %w (%s); edit the file instead", id, ErrReadOnly, e.cfg.RulesFile)
		}
		created = old.rule.CreatedAt
	}
	return e.storeRule(ctx, r, created)
}

func (e *Engine) storeRule(ctx context.Context, r Rule, created time.Time) (Rule, error) {
	r.Source = SourceAPI
	body, err := json.Marshal(ruleBody(r))
	if err != nil {
		return Rule{}, fmt.Errorf("encode rule: %w", err)
	}
	rec, err := e.store.PutAlertRule(ctx, chstore.AlertRuleRecord{ID: r.ID, Body: body, CreatedAt: created})
	if err != nil {
		return Rule{}, err
	}
	r.CreatedAt, r.ModifiedAt = rec.CreatedAt, rec.ModifiedAt
	e.install(ctx, r)
	return r, nil
}

// ruleBody is r as stored (without what the store keeps itself).
func ruleBody(r Rule) Rule {
	r.Source, r.CreatedAt, r.ModifiedAt = "", time.Time{}, time.Time{}
	return r
}

// install makes r the active version of its rule.
func (e *Engine) install(ctx context.Context, r Rule) {
	now := time.Now()
	e.mu.Lock()
	old := e.rules[r.ID]
	var acts []action
	if st := e.states[r.ID]; st != nil && old != nil && (old.rule.Condition.Kind != r.Condition.Kind || r.Disabled) {
		// A different kind of condition, or disabled: the episode ends.
		acts = e.endEpisodeLocked(old, st, now, "rule changed")
	}
	e.rules[r.ID] = &ruleEntry{rule: r}
	if st := e.states[r.ID]; st != nil && (r.Disabled || st.State == StateInactive || st.State == StateResolved) {
		st.LastError = ""
	}
	e.mu.Unlock()
	e.rebuildTraceRules(ctx)
	e.dispatch(acts)
}

// DeleteRule deletes an API rule; a firing alert of it is resolved (and
// notified as such).
func (e *Engine) DeleteRule(ctx context.Context, id string) error {
	e.mu.Lock()
	ent := e.rules[id]
	e.mu.Unlock()
	if ent == nil {
		return fmt.Errorf("rule %q: %w", id, ErrNotFound)
	}
	if ent.rule.Source == SourceFile {
		return fmt.Errorf("rule %q: %w (%s); edit the file instead", id, ErrReadOnly, e.cfg.RulesFile)
	}
	if err := e.store.DeleteAlertRule(ctx, id); err != nil {
		return err
	}
	now := time.Now()
	e.mu.Lock()
	var acts []action
	if st := e.states[id]; st != nil {
		acts = e.endEpisodeLocked(ent, st, now, "rule deleted")
		delete(e.states, id)
		delete(e.dirty, id)
		e.deleted[id] = true
	}
	delete(e.rules, id)
	e.m.firing.Set(float64(e.countFiringLocked()))
	e.mu.Unlock()
	e.rebuildTraceRules(ctx)
	e.dispatch(acts)
	return nil
}

// endEpisodeLocked resolves a pending or firing alert of ent (the rule is
// changing or going away) and returns the resolved notification to send.
func (e *Engine) endEpisodeLocked(ent *ruleEntry, st *alertState, now time.Time, why string) []action {
	switch st.State {
	case StateFiring:
		e.transitionLocked(ent, st, StateResolved, now, why)
	case StatePending:
		e.transitionLocked(ent, st, StateInactive, now, why)
	}
	return e.reconcileLocked(ent, st, now)
}

// --- status --------------------------------------------------------------

// RuleStatus is a rule and the current status of its alert.
type RuleStatus struct {
	Rule   Rule   `json:"rule"`
	Status Status `json:"status"`
}

// Status is the current state of a rule's alert.
type Status struct {
	// State is inactive, pending, firing or resolved.
	State string `json:"state"`
	// AlertID identifies the current (or last) episode.
	AlertID        string      `json:"alert_id,omitempty"`
	ActiveAt       time.Time   `json:"active_at,omitzero"`
	FiredAt        time.Time   `json:"fired_at,omitzero"`
	ResolvedAt     time.Time   `json:"resolved_at,omitzero"`
	LastEvalAt     time.Time   `json:"last_eval_at,omitzero"`
	LastMatchAt    time.Time   `json:"last_match_at,omitzero"`
	EvalDuration   Duration    `json:"eval_duration,omitempty"`
	Value          float64     `json:"value"`
	Threshold      float64     `json:"threshold"`
	Counts         Counts      `json:"counts"`
	SampleTraceIDs []string    `json:"sample_trace_ids,omitempty"`
	RootCause      *ServiceRef `json:"root_cause_service,omitempty"`
	Notified       string      `json:"notified,omitempty"`
	NotifiedAt     time.Time   `json:"notified_at,omitzero"`
	Muted          bool        `json:"muted"`
	// Undelivered counts notifications still being delivered.
	Undelivered int `json:"undelivered"`
	// Summary describes the alert's values in one line.
	Summary string `json:"summary,omitempty"`
	// Error is the last evaluation error (a failed query, a missing
	// group), cleared by the next success.
	Error string `json:"error,omitempty"`
}

func (e *Engine) statusLocked(ent *ruleEntry, now time.Time) RuleStatus {
	s := Status{State: StateInactive, Threshold: ent.rule.Condition.Threshold, Muted: ent.rule.muted(now), Error: ent.lastErr,
		LastEvalAt: ent.lastEval, EvalDuration: Duration(ent.lastDur)}
	if st := e.states[ent.rule.ID]; st != nil {
		s.State, s.AlertID, s.ActiveAt, s.FiredAt, s.ResolvedAt = st.State, st.EpisodeID, st.ActiveAt, st.FiredAt, st.ResolvedAt
		s.LastMatchAt, s.Value = st.LastMatchAt, st.Value
		s.Counts = Counts{Matching: st.Matching, Total: st.Total, New: st.NewCount}
		s.SampleTraceIDs = slices.Clone(st.Samples)
		s.RootCause, s.Notified, s.NotifiedAt, s.Undelivered = st.RootService, st.Notified, st.NotifiedAt, len(st.Outbox)
		if st.State != StateInactive && st.State != "" {
			s.Summary = e.summary(ent, st, st.State)
		}
		if !st.LastEvalAt.IsZero() {
			s.LastEvalAt = st.LastEvalAt
		}
		if s.Error == "" {
			s.Error = st.LastError
		}
	}
	if s.State == "" {
		s.State = StateInactive
	}
	return RuleStatus{Rule: ent.rule, Status: s}
}

// Alerts returns the rules whose alert is pending or firing, firing first.
func (e *Engine) Alerts() []RuleStatus {
	var out []RuleStatus
	for _, rs := range e.Rules() {
		if rs.Status.State == StatePending || rs.Status.State == StateFiring {
			out = append(out, rs)
		}
	}
	sort.SliceStable(out, func(i, j int) bool {
		return out[i].Status.State == StateFiring && out[j].Status.State != StateFiring
	})
	return out
}

// History returns alert state changes from the store, those not yet
// written included (they are written first).
func (e *Engine) History(ctx context.Context, q chstore.AlertEventQuery) ([]chstore.AlertEvent, error) {
	e.flushPendingLogs(ctx)
	return e.store.AlertEvents(ctx, q)
}

// Deliveries returns delivery attempts from the store, those not yet
// written included.
func (e *Engine) Deliveries(ctx context.Context, q chstore.AlertDeliveryQuery) ([]chstore.AlertDelivery, error) {
	e.flushPendingLogs(ctx)
	return e.store.AlertDeliveries(ctx, q)
}

// Episodes returns alert episodes that fired (X-Ray Insights).
func (e *Engine) Episodes(ctx context.Context, q chstore.AlertEpisodeQuery) ([]chstore.AlertEpisode, error) {
	e.flushPendingLogs(ctx)
	return e.store.AlertEpisodes(ctx, q)
}

// flushPendingLogs writes buffered history and deliveries before a read of
// them (the flusher writes them only every few intervals). A failure is
// counted and left to the flusher's retries; the read goes on.
func (e *Engine) flushPendingLogs(ctx context.Context) {
	e.mu.Lock()
	pending := len(e.events)+len(e.deliveries) > 0
	e.mu.Unlock()
	if !pending {
		return
	}
	if err := e.flush(ctx); err != nil {
		e.m.persistErrors.Inc()
		e.log.Warn("alerting: cannot store alert history before reading it", "err", err)
	}
}

// Flush writes pending state, history and deliveries now (tests and the
// API's read-your-writes use it).
func (e *Engine) Flush(ctx context.Context) error { return e.flush(ctx) }

// WriteMetrics writes the engine's metrics in Prometheus text format.
func (e *Engine) WriteMetrics(w io.Writer) {
	e.m.tracesHeld.Set(float64(e.m.held.Load()))
	e.m.set.WritePrometheus(w)
}

// Stats are the engine's counters (tests, benchmarks).
type Stats struct {
	TraceUpdates, TraceUpdatesDropped, TracesEvaluated, TraceMatches uint64
	// TracesSkipped are traces forgotten without an evaluation: no rule's
	// needs (filter.Expr.SpanNeeds) were met by their documents.
	TracesSkipped uint64
	// DecodeErrors are held documents that failed to decode (none should).
	DecodeErrors                                             uint64
	Evaluations, EvaluationErrors, Notifications, Deliveries uint64
	DeliveryFailures, PersistErrors                          uint64
}

// Stats returns the engine's counters.
func (e *Engine) Stats() Stats {
	m := e.m
	return Stats{
		TraceUpdates: m.traceUpdates.Get(), TraceUpdatesDropped: m.droppedQueue.Get() + m.droppedFull.Get(),
		TracesEvaluated: m.tracesEvaluated.Get(), TraceMatches: m.traceMatches.Get(), TracesSkipped: m.tracesSkipped.Get(), DecodeErrors: m.decodeErrors.Get(),
		Evaluations: m.evaluations.Get(), EvaluationErrors: m.evalErrors.Get(), Notifications: m.notifications.Get(),
		Deliveries: m.delivered.Get(), DeliveryFailures: m.deliveryFailed.Get(), PersistErrors: m.persistErrors.Get(),
	}
}

type engineMetrics struct {
	set                                        *metrics.Set
	traceUpdates, droppedQueue, droppedFull    *metrics.Counter
	tracesEvaluated, traceMatches              *metrics.Counter
	tracesSkipped, decodeErrors                *metrics.Counter
	evaluations, evalErrors, notifications     *metrics.Counter
	delivered, deliveryFailed, deliveryDropped *metrics.Counter
	deliveryMuted, persistErrors               *metrics.Counter
	tracesHeld, firing                         *metrics.Gauge
	held                                       atomic.Int64
	evalSeconds                                *metrics.Histogram
}

func newEngineMetrics() *engineMetrics {
	s := metrics.NewSet()
	m := &engineMetrics{set: s,
		traceUpdates:    s.NewCounter("fluoro_alert_trace_updates_total"),
		droppedQueue:    s.NewCounter(`fluoro_alert_trace_updates_dropped_total{reason="queue_full"}`),
		droppedFull:     s.NewCounter(`fluoro_alert_trace_updates_dropped_total{reason="too_many_traces"}`),
		tracesEvaluated: s.NewCounter("fluoro_alert_traces_evaluated_total"),
		traceMatches:    s.NewCounter("fluoro_alert_trace_matches_total"),
		tracesSkipped:   s.NewCounter("fluoro_alert_traces_skipped_total"),
		decodeErrors:    s.NewCounter("fluoro_alert_decode_errors_total"),
		evaluations:     s.NewCounter("fluoro_alert_evaluations_total"),
		evalErrors:      s.NewCounter("fluoro_alert_evaluation_errors_total"),
		notifications:   s.NewCounter("fluoro_alert_notifications_total"),
		delivered:       s.NewCounter(`fluoro_alert_deliveries_total{outcome="delivered"}`),
		deliveryFailed:  s.NewCounter(`fluoro_alert_deliveries_total{outcome="failed"}`),
		deliveryDropped: s.NewCounter(`fluoro_alert_deliveries_total{outcome="dropped"}`),
		deliveryMuted:   s.NewCounter(`fluoro_alert_deliveries_total{outcome="muted"}`),
		persistErrors:   s.NewCounter("fluoro_alert_persist_errors_total"),
		evalSeconds:     s.NewHistogram("fluoro_alert_evaluation_seconds"),
	}
	m.tracesHeld = s.NewGauge("fluoro_alert_traces_held", nil)
	m.firing = s.NewGauge("fluoro_alert_firing", nil)
	return m
}

func (e *Engine) countFiringLocked() int {
	n := 0
	for _, st := range e.states {
		if st.State == StateFiring {
			n++
		}
	}
	return n
}

// effectiveExpr is the filter expression a rule selects traces with:
// its filter, or its group's expression ("" selects every trace).
func (e *Engine) effectiveExpr(ctx context.Context, r *Rule, groups map[string]string) (string, error) {
	if r.Group == "" {
		return r.Filter, nil
	}
	return e.groupExpr(ctx, filter.GroupRef{Name: r.Group}, groups)
}

// groupExpr returns a group's filter expression, cached in groups.
func (e *Engine) groupExpr(ctx context.Context, ref filter.GroupRef, groups map[string]string) (string, error) {
	key := ref.Name
	if key == "" {
		key = ref.ARN
	}
	if x, ok := groups[key]; ok {
		return x, nil
	}
	g, err := e.store.Group(ctx, key)
	if err != nil {
		return "", fmt.Errorf("group %q: %w", key, err)
	}
	groups[key] = g.FilterExpression
	return g.FilterExpression, nil
}

// compile parses expr and binds its group references ("" gives nil:
// every trace).
func (e *Engine) compile(ctx context.Context, expr string, groups map[string]string) (*filter.Expr, error) {
	if expr == "" {
		return nil, nil
	}
	x, err := filter.Parse(expr)
	if err != nil {
		return nil, fmt.Errorf("filter expression %q: %w", expr, err)
	}
	if len(x.Groups()) == 0 {
		return x, nil
	}
	return x.ResolveGroups(func(ref filter.GroupRef) (string, error) { return e.groupExpr(ctx, ref, groups) })
}
