package alert

import (
	"container/heap"
	"context"
	"time"

	"github.com/fluoro/fluoro/collector/segment"
	"github.com/fluoro/fluoro/query/filter"
	"github.com/fluoro/fluoro/query/live"
)

// traceUpdate is what Observe hands to the per-trace evaluation.
type traceUpdate struct {
	traceID string
	spans   []segment.Span
	at      time.Time
}

// traceRule is a per-trace rule ready for Match (groups bound).
type traceRule struct {
	id   string
	expr *filter.Expr
	// needs, when set, are string annotations of which a matching trace
	// carries one (filter.Expr.AnnotationLookup): a trace without any is
	// not evaluated against the rule.
	needs []filter.AnnotationValue
}

// screen reports whether r can match a trace with the annotations anns.
func (r *traceRule) screen(anns map[filter.AnnotationValue]bool) bool {
	if r.needs == nil {
		return true
	}
	for _, v := range r.needs {
		if anns[v] {
			return true
		}
	}
	return false
}

// stringAnnotations collects the string annotations of spans into m
// (cleared first).
func stringAnnotations(spans []segment.Span, m map[filter.AnnotationValue]bool) {
	clear(m)
	for i := range spans {
		for j, k := range spans[i].AnnStrKeys {
			m[filter.AnnotationValue{Key: k, Value: spans[i].AnnStrValues[j]}] = true
		}
	}
}

// Observe takes one settled trace from the live feed (it is a
// live.GraphSink: pass e.Observe to live.NewFeed). It never blocks: when
// the evaluation is behind, the update is dropped and counted.
func (e *Engine) Observe(u *live.TraceUpdate) {
	e.ObserveSpans(u.Summary.ID, u.Spans)
}

// ObserveSpans is Observe for callers without the live feed: spans are
// (some of) the spans of trace traceID; later calls for the same trace add
// to them. The engine keeps spans; the caller must not modify them.
func (e *Engine) ObserveSpans(traceID string, spans []segment.Span) {
	if len(*e.traceRules.Load()) == 0 || len(spans) == 0 || traceID == "" {
		return
	}
	e.m.traceUpdates.Inc()
	select {
	case e.updates <- []traceUpdate{{traceID: traceID, spans: spans[:len(spans):len(spans)], at: time.Now()}}:
	default:
		e.m.droppedQueue.Inc()
	}
}

// ObserveDocuments is WriteDocuments as a collector.Observer, the
// recommended wiring: per-trace rules then see documents as soon as the
// collector batches them, however far behind ClickHouse inserts are.
func (e *Engine) ObserveDocuments(docs []segment.Document) {
	_ = e.WriteDocuments(context.Background(), docs)
}

// WriteDocuments takes a batch of documents and hands the spans of each
// trace to the per-trace evaluation; it satisfies collector.Sink (best
// effort, after a store). It copies what it keeps (the caller reuses the
// batch), never blocks and never fails: when the evaluation is behind,
// updates are dropped and counted. Wire one of ObserveDocuments,
// WriteDocuments and Observe, not several.
func (e *Engine) WriteDocuments(_ context.Context, docs []segment.Document) error {
	if len(*e.traceRules.Load()) == 0 || len(docs) == 0 {
		return nil
	}
	now := time.Now()
	// Two passes and one allocation per kind for the whole batch: count
	// the spans (and annotation entries) of each trace, then copy them into
	// shared arrays, each trace's spans contiguous. The copies do not share
	// the decoder's reusable arrays (the strings are immutable and stay
	// shared).
	type slot struct{ off, n int }
	slots := make(map[string]*slot, len(docs))
	var (
		order          []string
		nspans         int
		nstr, nnum, nb int
	)
	for i := range docs {
		d := &docs[i]
		if len(d.Spans) == 0 || d.TraceID == "" {
			continue
		}
		sl := slots[d.TraceID]
		if sl == nil {
			sl = &slot{}
			slots[d.TraceID] = sl
			order = append(order, d.TraceID)
		}
		sl.n += len(d.Spans)
		nspans += len(d.Spans)
		for j := range d.Spans {
			sp := &d.Spans[j]
			nstr += len(sp.AnnStrKeys)
			nnum += len(sp.AnnNumKeys)
			nb += len(sp.AnnBoolKeys)
		}
	}
	off := 0
	for _, id := range order {
		sl := slots[id]
		sl.off, sl.n, off = off, 0, off+sl.n
	}
	var (
		spans = make([]segment.Span, nspans)
		strs  = make([]string, 0, 2*nstr+nnum+nb)
		nums  = make([]float64, 0, nnum)
		bools = make([]bool, 0, nb)
		take  = func(src []string) []string {
			strs = append(strs, src...)
			return strs[len(strs)-len(src) : len(strs) : len(strs)]
		}
		takeNums = func(src []float64) []float64 {
			nums = append(nums, src...)
			return nums[len(nums)-len(src) : len(nums) : len(nums)]
		}
		takeBools = func(src []bool) []bool {
			bools = append(bools, src...)
			return bools[len(bools)-len(src) : len(bools) : len(bools)]
		}
	)
	for i := range docs {
		d := &docs[i]
		if len(d.Spans) == 0 || d.TraceID == "" {
			continue
		}
		sl := slots[d.TraceID]
		for j := range d.Spans {
			sp := &spans[sl.off+sl.n]
			*sp = d.Spans[j]
			sl.n++
			if len(sp.AnnStrKeys) > 0 {
				sp.AnnStrKeys, sp.AnnStrValues = take(sp.AnnStrKeys), take(sp.AnnStrValues)
			} else {
				sp.AnnStrKeys, sp.AnnStrValues = nil, nil
			}
			if len(sp.AnnNumKeys) > 0 {
				sp.AnnNumKeys, sp.AnnNumValues = take(sp.AnnNumKeys), takeNums(sp.AnnNumValues)
			} else {
				sp.AnnNumKeys, sp.AnnNumValues = nil, nil
			}
			if len(sp.AnnBoolKeys) > 0 {
				sp.AnnBoolKeys, sp.AnnBoolValues = take(sp.AnnBoolKeys), takeBools(sp.AnnBoolValues)
			} else {
				sp.AnnBoolKeys, sp.AnnBoolValues = nil, nil
			}
		}
	}
	batch := make([]traceUpdate, len(order))
	for i, id := range order {
		sl := slots[id]
		batch[i] = traceUpdate{traceID: id, spans: spans[sl.off : sl.off+sl.n : sl.off+sl.n], at: now}
	}
	e.m.traceUpdates.Add(len(batch))
	select {
	case e.updates <- batch:
	default:
		e.m.droppedQueue.Add(len(batch))
	}
	return nil
}

// heldTrace is a trace's spans so far.
type heldTrace struct {
	spans       []segment.Span
	first, last time.Time
	// dirty: spans arrived since the last evaluation.
	dirty bool
}

// dueItem is a trace to look at, at a time.
type dueItem struct {
	at time.Time
	id string
}

type dueHeap []dueItem

func (h dueHeap) Len() int           { return len(h) }
func (h dueHeap) Less(i, j int) bool { return h[i].at.Before(h[j].at) }
func (h dueHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *dueHeap) Push(x any)        { *h = append(*h, x.(dueItem)) }
func (h *dueHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}

// firedMemory is how long "rule R fired for trace T" is remembered, so a
// trace is notified once even when documents of it arrive after it left
// the trace memory.
const firedMemory = 15 * time.Minute

// runTraces evaluates per-trace rules on traces once they settle: quiet
// for TraceSettle and complete (or TraceMaxWait after their first
// update). An evaluated trace stays in memory for TraceMemory, so that a
// late document (say, a failing subsegment after the root segment) makes
// the rules see the whole trace again; each rule fires at most once per
// trace.
func (e *Engine) runTraces(ctx context.Context) {
	tickEvery := 100 * time.Millisecond
	if s := e.cfg.TraceSettle / 4; s > 0 && s < tickEvery {
		tickEvery = max(s, 10*time.Millisecond)
	}
	tick := time.NewTicker(tickEvery)
	defer tick.Stop()
	var (
		traces           = map[string]*heldTrace{}
		evalQ, expireQ   dueHeap
		fired            = map[string]time.Time{}
		lastFiredCleanup time.Time
	)
	defer e.m.held.Store(0)
	for {
		select {
		case <-ctx.Done():
			return
		case batch := <-e.updates:
			for _, u := range batch {
				h := traces[u.traceID]
				if h == nil {
					if len(traces) >= e.cfg.MaxTraces {
						e.m.droppedFull.Inc()
						continue
					}
					h = &heldTrace{spans: u.spans, first: u.at}
					traces[u.traceID] = h
				} else {
					h.spans = append(h.spans, u.spans...)
				}
				h.last, h.dirty = u.at, true
				heap.Push(&evalQ, dueItem{at: u.at.Add(e.cfg.TraceSettle), id: u.traceID})
			}
			e.m.held.Store(int64(len(traces)))
		case now := <-tick.C:
			var matches []traceMatch
			for evalQ.Len() > 0 && !evalQ[0].at.After(now) {
				it := heap.Pop(&evalQ).(dueItem)
				h := traces[it.id]
				if h == nil || !h.dirty {
					continue
				}
				due := h.last.Add(e.cfg.TraceSettle)
				if due.After(now) {
					continue // a later update queued its own due time
				}
				if inProgress(h.spans) && now.Sub(h.first) < e.cfg.TraceMaxWait {
					heap.Push(&evalQ, dueItem{at: minTime(now.Add(max(e.cfg.TraceSettle, 100*time.Millisecond)), h.first.Add(e.cfg.TraceMaxWait)), id: it.id})
					continue
				}
				matches = e.evaluateTrace(it.id, h, now, fired, matches)
				h.dirty = false
				heap.Push(&expireQ, dueItem{at: now.Add(e.cfg.TraceMemory), id: it.id})
			}
			for expireQ.Len() > 0 && !expireQ[0].at.After(now) {
				it := heap.Pop(&expireQ).(dueItem)
				if h := traces[it.id]; h != nil && !h.dirty && now.Sub(h.last) >= e.cfg.TraceMemory {
					delete(traces, it.id)
				}
			}
			e.m.held.Store(int64(len(traces)))
			if now.Sub(lastFiredCleanup) > 10*time.Second {
				lastFiredCleanup = now
				for k, exp := range fired {
					if now.After(exp) {
						delete(fired, k)
					}
				}
			}
			e.applyTraceMatches(matches)
		}
	}
}

func minTime(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}

// evaluateTrace runs every per-trace rule that has not fired for the
// trace yet.
func (e *Engine) evaluateTrace(id string, h *heldTrace, now time.Time, fired map[string]time.Time, out []traceMatch) []traceMatch {
	e.m.tracesEvaluated.Inc()
	var root *ServiceRef
	rootDone := false
	// Rules that name annotation values are screened with the trace's
	// string annotations first; the trace is prepared for matching only
	// when some rule passes (usually none does).
	if e.anns == nil {
		e.anns = map[filter.AnnotationValue]bool{}
	}
	stringAnnotations(h.spans, e.anns)
	var tr *filter.Trace
	for _, r := range *e.traceRules.Load() {
		if !r.screen(e.anns) {
			continue
		}
		key := r.id + "\x00" + id
		if _, ok := fired[key]; ok {
			continue
		}
		if tr == nil {
			tr = filter.NewTrace(h.spans) // prepared once for every rule
		}
		if !r.expr.MatchTrace(tr) {
			continue
		}
		fired[key] = now.Add(firedMemory)
		if !rootDone {
			root, rootDone = rootCauseService(h.spans), true
		}
		e.m.traceMatches.Inc()
		out = append(out, traceMatch{ruleID: r.id, traceID: id, root: root, at: now})
	}
	return out
}

// inProgress reports whether some span has only an in-progress version.
func inProgress(spans []segment.Span) bool {
	var open map[string]bool
	for i := range spans {
		if spans[i].InProgress {
			if open == nil {
				open = map[string]bool{}
			}
			open[spans[i].ID] = true
		}
	}
	if open == nil {
		return false
	}
	for i := range spans {
		if !spans[i].InProgress {
			delete(open, spans[i].ID)
		}
	}
	return len(open) > 0
}

// class of a span: 3 fault, 2 throttle, 1 error, 0 ok (flags first, then
// the HTTP status, as in query/filter).
func spanClass(s *segment.Span) int {
	switch {
	case s.Fault:
		return 3
	case s.Throttle:
		return 2
	case s.Error:
		return 1
	case s.HTTPStatus >= 500 && s.HTTPStatus < 600:
		return 3
	case s.HTTPStatus == 429:
		return 2
	case s.HTTPStatus >= 400 && s.HTTPStatus < 500:
		return 1
	}
	return 0
}

// rootCauseService names the service where the trace's failure started:
// the deepest faulting span (else erroring) none of whose children fails
// the same way; a failing call to an uninstrumented (inferred) node names
// that node. Without failures it is the entry point's service.
func rootCauseService(spans []segment.Span) *ServiceRef {
	if len(spans) == 0 {
		return nil
	}
	byID := make(map[string]int, len(spans))
	for i := range spans {
		if j, ok := byID[spans[i].ID]; !ok || spans[j].InProgress {
			byID[spans[i].ID] = i
		}
	}
	worst := 0
	for _, i := range byID {
		if c := spanClass(&spans[i]); c > worst {
			worst = c
		}
	}
	failing := func(i int) bool {
		c := spanClass(&spans[i])
		return worst == 3 && c == 3 || worst < 3 && c > 0
	}
	depth := func(i int) int {
		d := 0
		for p := spans[i].ParentID; p != "" && d < 64; d++ {
			j, ok := byID[p]
			if !ok {
				break
			}
			p = spans[j].ParentID
		}
		return d
	}
	best, bestDepth := -1, -1
	if worst > 0 {
		hasFailingChild := map[string]bool{}
		for _, i := range byID {
			if failing(i) && spans[i].ParentID != "" {
				hasFailingChild[spans[i].ParentID] = true
			}
		}
		for _, i := range byID {
			if !failing(i) || hasFailingChild[spans[i].ID] {
				continue
			}
			if d := depth(i); d > bestDepth || d == bestDepth && spans[i].ID < spans[best].ID {
				best, bestDepth = i, d
			}
		}
	}
	if best < 0 {
		for _, i := range byID {
			if spans[i].IsSegment && (best < 0 || depth(i) < bestDepth || depth(i) == bestDepth && spans[i].StartTime < spans[best].StartTime) {
				best, bestDepth = i, depth(i)
			}
		}
	}
	if best < 0 {
		return nil
	}
	s := &spans[best]
	if !s.IsSegment && (s.Namespace == "aws" || s.Namespace == "remote") {
		typ := "remote"
		if s.Namespace == "aws" {
			typ = "AWS::" + s.Name
		}
		return &ServiceRef{Name: s.Name, Type: typ}
	}
	if s.Service == "" {
		return nil
	}
	return &ServiceRef{Name: s.Service, Type: s.Origin}
}

// rebuildTraceRules compiles the enabled per-trace rules (binding groups,
// which may read ClickHouse) and installs them for Observe.
func (e *Engine) rebuildTraceRules(ctx context.Context) {
	e.rebuildMu.Lock()
	defer e.rebuildMu.Unlock()
	e.mu.Lock()
	var rules []Rule
	for _, ent := range e.rules {
		if ent.rule.Condition.Kind == KindTrace && !ent.rule.Disabled {
			rules = append(rules, ent.rule)
		}
	}
	e.mu.Unlock()
	groups := map[string]string{}
	out := make([]*traceRule, 0, len(rules))
	errs := map[string]string{}
	for i := range rules {
		r := &rules[i]
		expr, err := e.effectiveExpr(ctx, r, groups)
		var x *filter.Expr
		if err == nil {
			x, err = e.compile(ctx, expr, groups)
		}
		if err != nil {
			errs[r.ID] = err.Error()
			continue
		}
		if x == nil { // a group without an expression: every trace
			x, _ = filter.Parse("!partial OR partial")
		}
		tr := &traceRule{id: r.ID, expr: x}
		if vals, ok := x.AnnotationLookup(); ok {
			tr.needs = vals
		}
		out = append(out, tr)
	}
	e.mu.Lock()
	for _, r := range rules {
		if ent := e.rules[r.ID]; ent != nil {
			ent.lastErr = errs[r.ID]
		}
	}
	e.mu.Unlock()
	e.traceRules.Store(&out)
}

// runResolver rebuilds the per-trace rules every 30 s (group expressions
// may change; rule changes rebuild them at once).
func (e *Engine) runResolver(ctx context.Context) {
	t := time.NewTicker(30 * time.Second)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			e.rebuildTraceRules(ctx)
		}
	}
}
