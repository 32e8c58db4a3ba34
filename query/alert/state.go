package alert

import (
	"fmt"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/fluoro/fluoro/schema/chstore"
)

// action is work decided under the engine's lock and done after it: a
// notification to publish and hand to receivers.
type action struct {
	ruleID string
	n      *Notification
	recvs  []string
	expr   string
}

// stateLocked returns rule id's state, creating an inactive one.
func (e *Engine) stateLocked(id string) *alertState {
	st := e.states[id]
	if st == nil {
		st = &alertState{RuleID: id, State: StateInactive}
		e.states[id] = st
	}
	return st
}

// transitionLocked moves st to state `to` at now and records the change
// in the history.
func (e *Engine) transitionLocked(ent *ruleEntry, st *alertState, to string, now time.Time, why string) {
	if to == StatePending || (to == StateFiring && st.State != StatePending) {
		// A new episode.
		st.EpisodeID = newID()
		st.ActiveAt = now
		st.FiredAt, st.ResolvedAt = time.Time{}, time.Time{}
		st.Notified, st.NotifiedAt, st.MutedFor, st.Seq = "", time.Time{}, "", 0
	}
	switch to {
	case StateFiring:
		st.FiredAt = now
	case StateResolved:
		st.ResolvedAt = now
	}
	st.State = to
	e.dirty[st.RuleID] = true
	e.eventLocked(ent, st, to, now, why)
	e.m.firing.Set(float64(e.countFiringLocked()))
}

// eventLocked appends a history event for st.
func (e *Engine) eventLocked(ent *ruleEntry, st *alertState, state string, now time.Time, msg string) {
	if msg == "" {
		msg = e.summary(ent, st, state)
	}
	ev := chstore.AlertEvent{
		Time: now, RuleID: ent.rule.ID, RuleName: ent.rule.Name, EpisodeID: st.EpisodeID, State: state, Severity: ent.rule.Severity,
		Value: st.Value, Threshold: ent.rule.Condition.Threshold, Matching: st.Matching, Total: st.Total,
		TraceIDs: slices.Clone(st.Samples), Message: msg,
	}
	if state == "updated" {
		ev.TraceIDs = slices.Clone(st.NewTraces)
	}
	if st.RootService != nil {
		ev.RootService, ev.RootServiceType = st.RootService.Name, st.RootService.Type
	}
	if len(e.events) < maxBuffered {
		e.events = append(e.events, ev)
	} else {
		e.m.persistErrors.Inc()
	}
}

// maxBuffered bounds history events and delivery records waiting to be
// written (ClickHouse down); more are dropped and counted.
const maxBuffered = 100_000

// summary is the one-line description of st.
func (e *Engine) summary(ent *ruleEntry, st *alertState, state string) string {
	s := e.describe(ent, st)
	if state == StateResolved {
		s += " (resolved)"
	}
	return s
}

// describe is the one-line description of st's values.
func (e *Engine) describe(ent *ruleEntry, st *alertState) string {
	r := &ent.rule
	c := &r.Condition
	switch c.Kind {
	case KindTrace:
		what := "traces match"
		if st.Matching == 1 {
			what = "trace matches"
		}
		return fmt.Sprintf("%d %s %s", st.Matching, what, describeSelection(r))
	case KindCount:
		return fmt.Sprintf("%d traces %s in %s (threshold %s)", st.Matching, describeSelection(r), c.Window, fmtNum(c.Threshold))
	case KindRatio:
		target := "service " + strconv.Quote(c.Service)
		if c.Edge != nil {
			target = fmt.Sprintf("edge %q → %q", c.Edge.From, c.Edge.To)
		}
		return fmt.Sprintf("%s ratio of %s is %.1f%% (%d of %d traces in %s; threshold %.1f%%)", c.Class, target, 100*st.Value,
			st.Matching, st.Total, c.Window, 100*c.Threshold)
	case KindLatency:
		of := "response time"
		if c.Service != "" {
			of = fmt.Sprintf("response time of service %q", c.Service)
		}
		return fmt.Sprintf("p%s %s is %ss over %s (threshold %ss; %d of %d requests above)", fmtNum(c.Percentile), of, fmtNum(st.Value),
			c.Window, fmtNum(c.Threshold), st.Matching, st.Total)
	}
	return r.Name
}

func describeSelection(r *Rule) string {
	switch {
	case r.Group != "":
		return fmt.Sprintf("of group %q", r.Group)
	case r.Filter != "":
		return "`" + r.Filter + "`"
	}
	return "(all traces)"
}

func fmtNum(v float64) string { return strconv.FormatFloat(v, 'g', 4, 64) }

// applyResult takes the result of a threshold rule's evaluation at `at`.
func (e *Engine) applyResult(id string, res chstore.AlertResult, evalErr error, at time.Time, took time.Duration) {
	e.mu.Lock()
	ent := e.rules[id]
	if ent == nil || ent.rule.Disabled || ent.rule.Condition.Kind == KindTrace {
		e.mu.Unlock()
		return
	}
	ent.running, ent.lastEval, ent.lastDur = false, at, took
	st := e.stateLocked(id)
	// The evaluation time alone is not written to ClickHouse: an
	// evaluation that changes nothing else (the usual one) costs no insert.
	// Transitions and notifications mark the state dirty themselves.
	st.LastEvalAt = at
	if evalErr != nil {
		ent.lastErr = evalErr.Error()
		e.mu.Unlock()
		return
	}
	c := &ent.rule.Condition
	holds := res.Value > c.Threshold && (c.Kind == KindCount || res.Total >= uint64(max(c.MinRequests, 1)))
	changed := st.LastError != "" || st.Value != res.Value || st.Matching != res.Matching || st.Total != res.Total ||
		len(res.TraceIDs) > 0 && !slices.Equal(st.Samples, res.TraceIDs) || st.RootService == nil && conditionService(c) != nil
	ent.lastErr, st.LastError = "", ""
	st.Value, st.Matching, st.Total = res.Value, res.Matching, res.Total
	if len(res.TraceIDs) > 0 {
		st.Samples = res.TraceIDs
	}
	if st.RootService == nil {
		st.RootService = conditionService(c)
	}
	if changed {
		e.dirty[id] = true
	}
	switch st.State {
	case StatePending:
		switch {
		case !holds:
			e.transitionLocked(ent, st, StateInactive, at, "")
		case at.Sub(st.ActiveAt) >= ent.rule.For.D():
			e.transitionLocked(ent, st, StateFiring, at, "")
		}
	case StateFiring:
		if !holds {
			e.transitionLocked(ent, st, StateResolved, at, "")
		}
	default:
		if holds {
			if ent.rule.For > 0 {
				e.transitionLocked(ent, st, StatePending, at, "")
			} else {
				e.transitionLocked(ent, st, StateFiring, at, "")
			}
		}
	}
	acts := e.reconcileLocked(ent, st, time.Now())
	e.mu.Unlock()
	e.dispatch(acts)
}

// conditionService is the service a ratio or latency condition is about.
func conditionService(c *Condition) *ServiceRef {
	switch {
	case c.Edge != nil:
		return &ServiceRef{Name: c.Edge.To}
	case c.Service != "":
		return &ServiceRef{Name: c.Service}
	}
	return nil
}

// traceMatch is a trace that a per-trace rule matched.
type traceMatch struct {
	ruleID, traceID string
	root            *ServiceRef
	at              time.Time
}

// applyTraceMatches takes what the per-trace evaluation found.
func (e *Engine) applyTraceMatches(ms []traceMatch) {
	if len(ms) == 0 {
		return
	}
	now := time.Now()
	samples := e.cfg.Samples
	e.mu.Lock()
	var acts []action
	touched := map[string]bool{}
	for _, m := range ms {
		ent := e.rules[m.ruleID]
		if ent == nil || ent.rule.Disabled || ent.rule.Condition.Kind != KindTrace {
			continue
		}
		st := e.stateLocked(m.ruleID)
		first := st.State != StateFiring
		if first {
			st.Matching, st.Samples, st.NewTraces, st.NewCount, st.RootService = 0, nil, nil, 0, nil
		}
		st.Matching++
		st.Total, st.Value = st.Matching, float64(st.Matching)
		st.LastMatchAt = m.at
		st.NewCount++
		if len(st.NewTraces) < samples {
			st.NewTraces = append(st.NewTraces, m.traceID)
		}
		if len(st.Samples) < samples {
			st.Samples = append(st.Samples, m.traceID)
		}
		if st.RootService == nil && m.root != nil {
			st.RootService = m.root
		}
		if first {
			e.transitionLocked(ent, st, StateFiring, m.at, "")
		}
		e.dirty[m.ruleID] = true
		touched[m.ruleID] = true
	}
	for id := range touched {
		acts = append(acts, e.reconcileLocked(e.rules[id], e.states[id], now)...)
	}
	e.mu.Unlock()
	e.dispatch(acts)
}

// reconcileAll runs the notification logic of every rule (the engine's
// tick: group waits, group intervals, repeats, ends of mutes, per-trace
// alerts resolving after their quiet window).
func (e *Engine) reconcileAll(now time.Time) {
	e.mu.Lock()
	var acts []action
	for id, st := range e.states {
		if ent := e.rules[id]; ent != nil {
			acts = append(acts, e.reconcileLocked(ent, st, now)...)
		}
	}
	e.mu.Unlock()
	e.dispatch(acts)
}

// reconcileLocked decides whether st needs a notification now and, if so,
// creates it, records it in st's outbox and returns it to dispatch.
func (e *Engine) reconcileLocked(ent *ruleEntry, st *alertState, now time.Time) []action {
	r := &ent.rule
	if r.Condition.Kind == KindTrace && st.State == StateFiring && !r.Disabled && now.Sub(st.LastMatchAt) >= r.Condition.Window.D() {
		e.transitionLocked(ent, st, StateResolved, now, "")
	}
	var (
		state  string
		update bool
	)
	switch {
	case st.State == StateFiring && st.Notified != StateFiring:
		if r.Condition.Kind == KindTrace && now.Sub(st.FiredAt) < e.cfg.GroupWait {
			return nil
		}
		state = StateFiring
	case st.State == StateFiring && r.Condition.Kind == KindTrace && st.NewCount > 0 && now.Sub(st.NotifiedAt) >= e.cfg.GroupInterval:
		state, update = StateFiring, true
	case st.State == StateFiring && e.cfg.RepeatInterval > 0 && now.Sub(st.NotifiedAt) >= e.cfg.RepeatInterval:
		state, update = StateFiring, true
	case st.State != StateFiring && st.Notified == StateFiring:
		state = StateResolved
	default:
		return nil
	}
	recvs := e.routeLocked(r)
	if r.muted(now) {
		if st.MutedFor != state {
			st.MutedFor = state
			e.dirty[r.ID] = true
			for _, rn := range recvs {
				e.recordDeliveryLocked(chstore.AlertDelivery{Time: now, RuleID: r.ID, EpisodeID: st.EpisodeID, Receiver: rn,
					ReceiverType: e.receivers[rn].Type, State: state, Outcome: "muted", Error: "rule is muted"})
				e.m.deliveryMuted.Inc()
			}
		}
		return nil
	}
	st.MutedFor = ""
	st.Seq++
	n := e.notificationLocked(ent, st, state, update, now)
	if update && r.Condition.Kind == KindTrace && st.NewCount > 0 {
		e.eventLocked(ent, st, "updated", now, fmt.Sprintf("%d new matching traces (%d in total)", st.NewCount, st.Matching))
	}
	st.Notified, st.NotifiedAt = state, now
	st.NewCount, st.NewTraces = 0, nil
	if len(recvs) > 0 {
		// The outbox gets its own copy: deliveryDone edits Pending in
		// place while dispatch may still be walking the action's list, and
		// a shared array made dispatch skip the receivers after the first
		// one to finish.
		st.Outbox = append(st.Outbox, &outboxItem{N: n, Pending: slices.Clone(recvs)})
	}
	e.dirty[r.ID] = true
	e.m.notifications.Inc()
	expr := r.Filter
	return []action{{ruleID: r.ID, n: n, recvs: recvs, expr: expr}}
}

// routeLocked returns the receivers of rule r that exist.
func (e *Engine) routeLocked(r *Rule) []string {
	if len(r.Receivers) == 0 {
		return slices.Clone(e.recvNames)
	}
	var out []string
	for _, n := range r.Receivers {
		if e.receivers[n] != nil {
			out = append(out, n)
		}
	}
	return out
}

// notificationLocked builds the notification of st in state.
func (e *Engine) notificationLocked(ent *ruleEntry, st *alertState, state string, update bool, now time.Time) *Notification {
	r := &ent.rule
	n := &Notification{
		Version: "1", ID: newID(), State: state, Update: update, Time: now.UTC(),
		Rule: NotificationRule{ID: r.ID, Name: r.Name, Kind: r.Condition.Kind, Severity: r.Severity, Description: r.Description,
			Filter: r.Filter, Group: r.Group, Labels: r.Labels},
		Alert: NotificationAlert{ID: st.EpisodeID, StartsAt: st.ActiveAt.UTC(), Value: st.Value, Threshold: r.Condition.Threshold,
			Summary: e.summary(ent, st, state), Seq: st.Seq},
		Counts:           Counts{Matching: st.Matching, Total: st.Total},
		RootCauseService: st.RootService,
	}
	if !st.FiredAt.IsZero() {
		n.Alert.StartsAt = st.FiredAt.UTC()
	}
	if state == StateResolved {
		n.Alert.EndsAt = st.ResolvedAt.UTC()
		if n.Alert.EndsAt.IsZero() {
			n.Alert.EndsAt = now.UTC()
		}
	}
	if r.Condition.Kind == KindTrace {
		n.Counts.New = st.NewCount
		n.SampleTraceIDs = slices.Clone(st.NewTraces)
		if len(n.SampleTraceIDs) == 0 {
			n.SampleTraceIDs = slices.Clone(st.Samples)
		}
	} else {
		n.SampleTraceIDs = slices.Clone(st.Samples)
	}
	if n.SampleTraceIDs == nil {
		n.SampleTraceIDs = []string{}
	}
	notificationLinks(e.cfg.ExternalURL, n, linkExpr(r))
	return n
}

// linkExpr is the filter expression of the "matching traces" link.
func linkExpr(r *Rule) string {
	var parts []string
	switch {
	case r.Group != "":
		parts = append(parts, "group.name = "+quoteFilter(r.Group))
	case r.Filter != "":
		parts = append(parts, r.Filter)
	}
	if r.Condition.Kind == KindRatio {
		parts = append(parts, r.Condition.nodeExpr(true))
	}
	if r.Condition.Kind == KindLatency {
		if r.Condition.Service != "" {
			parts = append(parts, "service("+quoteFilter(r.Condition.Service)+") { responsetime > "+fmtNum(r.Condition.Threshold)+" }")
		} else {
			parts = append(parts, "responsetime > "+fmtNum(r.Condition.Threshold))
		}
	}
	if len(parts) == 1 {
		return parts[0]
	}
	for i, p := range parts {
		parts[i] = "(" + p + ")"
	}
	return strings.Join(parts, " AND ")
}

// dispatch publishes notifications to dashboards and hands them to their
// receivers.
func (e *Engine) dispatch(acts []action) {
	for _, a := range acts {
		if e.pub != nil {
			if err := e.pub.Publish("alert", liveAlert(a.n), nil, ""); err != nil {
				e.log.Warn("publish alert", "err", err)
			}
		}
		for _, rn := range a.recvs {
			e.enqueue(&outboxJob{ruleID: a.ruleID, receiver: rn, n: a.n})
		}
	}
}

// LiveAlert is the data of the websocket "alert" message: the dashboard's
// Alert shape (ui/src/live/messages.ts) plus the alert's details.
type LiveAlert struct {
	// ID is the notification id (unique per message).
	ID       string           `json:"id"`
	Severity string           `json:"severity"`
	Title    string           `json:"title"`
	Message  string           `json:"message,omitempty"`
	Time     float64          `json:"time"`
	Service  *liveServiceID   `json:"service,omitempty"`
	Filter   string           `json:"filter,omitempty"`
	AlertID  string           `json:"alert_id"`
	RuleID   string           `json:"rule_id"`
	State    string           `json:"state"`
	Update   bool             `json:"update"`
	Value    float64          `json:"value"`
	Counts   Counts           `json:"counts"`
	TraceIDs []string         `json:"trace_ids"`
	Links    Links            `json:"links"`
	Rule     NotificationRule `json:"rule"`
}

type liveServiceID struct {
	Name string `json:"Name"`
	Type string `json:"Type,omitempty"`
}

func liveAlert(n *Notification) LiveAlert {
	title := n.Rule.Name
	if n.State == StateResolved {
		title = "Resolved: " + title
	}
	a := LiveAlert{ID: n.ID, Severity: n.Rule.Severity, Title: title, Message: n.Alert.Summary, Time: float64(n.Time.UnixNano()) / 1e9,
		Filter: linkFilter(n), AlertID: n.Alert.ID, RuleID: n.Rule.ID, State: n.State, Update: n.Update, Value: n.Alert.Value,
		Counts: n.Counts, TraceIDs: n.SampleTraceIDs, Links: n.Links, Rule: n.Rule}
	if n.RootCauseService != nil {
		a.Service = &liveServiceID{Name: n.RootCauseService.Name, Type: n.RootCauseService.Type}
	}
	return a
}

// linkFilter recovers the filter expression of n's traces link.
func linkFilter(n *Notification) string {
	_, q, ok := strings.Cut(n.Links.Traces, "?filter=")
	if !ok {
		return ""
	}
	s, err := url.QueryUnescape(q)
	if err != nil {
		return ""
	}
	return s
}
