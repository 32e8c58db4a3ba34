package alert

import (
	"container/heap"
	"context"
	"maps"
	"math"
	"slices"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/fluoro/fluoro/collector/segment"
	"github.com/fluoro/fluoro/query/filter"
	"github.com/fluoro/fluoro/query/live"
)

// traceUpdate is what the intake hands to the per-trace evaluation: spans
// of one trace, or one document of it as JSON when no rule can match the
// trace on what it carries so far (see traceScreen). Held as JSON, a
// trace costs its bytes, which the garbage collector does not scan; it is
// decoded only if a later document makes some rule's conditions met.
type traceUpdate struct {
	traceID string
	spans   []segment.Span
	// raw is one document's JSON when spans is nil; classes and anns are
	// what the screen of generation gen saw in it.
	raw     []byte
	classes filter.Classes
	anns    []filter.AnnotationValue
	gen     uint64
	at      time.Time
}

// traceRule is a per-trace rule ready for Match (groups bound).
type traceRule struct {
	id   string
	expr *filter.Expr
	// needs are conditions every trace the rule matches meets
	// (filter.Expr.SpanNeeds); nil: none known.
	needs []filter.Need
}

// screen reports whether r can match a trace whose spans have the classes
// and carry the annotation values has reports.
func (r *traceRule) screen(classes filter.Classes, has func(filter.AnnotationValue) bool) bool {
	for i := range r.needs {
		if !r.needs[i].MetBy(classes, has) {
			return false
		}
	}
	return true
}

// traceScreen is the installed per-trace rules and what their needs ask
// of a trace's spans.
type traceScreen struct {
	rules []*traceRule
	// all: some rule has no needs, so every trace is evaluated.
	all bool
	// keys and vals are the annotation keys and values some need names.
	keys map[string]bool
	vals map[filter.AnnotationValue]bool
	// gen identifies vals: the features of a document (the classes, which
	// need no screen, and the values of vals it carries) are complete for
	// screens of the same generation.
	gen uint64
}

var screenGen atomic.Uint64

// newTraceScreen screens for rules; it keeps prev's generation when it
// looks for the same annotation values.
func newTraceScreen(rules []*traceRule, prev *traceScreen) *traceScreen {
	sc := &traceScreen{rules: rules, keys: map[string]bool{}, vals: map[filter.AnnotationValue]bool{}}
	for _, r := range rules {
		if len(r.needs) == 0 {
			sc.all = true
		}
		for _, n := range r.needs {
			for _, v := range n.Annotations {
				sc.keys[v.Key], sc.vals[v] = true, true
			}
		}
	}
	if prev != nil && maps.Equal(prev.vals, sc.vals) {
		sc.gen = prev.gen
	} else {
		sc.gen = screenGen.Add(1)
	}
	return sc
}

// features returns the classes of spans and appends to anns the
// annotation values the screen's needs name that spans carry (each once).
func (sc *traceScreen) features(spans []segment.Span, anns []filter.AnnotationValue) (filter.Classes, []filter.AnnotationValue) {
	var c filter.Classes
	lo := len(anns)
	for i := range spans {
		sp := &spans[i]
		c |= filter.ClassOf(sp)
		for j, k := range sp.AnnStrKeys {
			if !sc.keys[k] {
				continue
			}
			if v := (filter.AnnotationValue{Key: k, Value: sp.AnnStrValues[j]}); sc.vals[v] && !slices.Contains(anns[lo:], v) {
				anns = append(anns, v)
			}
		}
	}
	return c, anns
}

// passes reports whether some rule can match a trace with these features.
func (sc *traceScreen) passes(classes filter.Classes, anns []filter.AnnotationValue) bool {
	if sc.all {
		return true
	}
	if classes == 0 && len(anns) == 0 {
		return false // every rule has a need, and nothing meets one (the usual document)
	}
	has := func(v filter.AnnotationValue) bool { return slices.Contains(anns, v) }
	for _, r := range sc.rules {
		if r.screen(classes, has) {
			return true
		}
	}
	return false
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
	if len(e.screen.Load().rules) == 0 || len(spans) == 0 || traceID == "" {
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

// WriteDocuments takes a batch of documents and hands each trace's
// documents to the per-trace evaluation; it satisfies collector.Sink (best
// effort, after a store). It copies what it keeps (the caller reuses the
// batch), never blocks and never fails: when the evaluation is behind,
// updates are dropped and counted. Wire one of ObserveDocuments,
// WriteDocuments and Observe, not several.
//
// A document that no rule can match on its own (the usual case: rules
// name failures or annotation values, most documents show neither) is
// handed over as a copy of its JSON, not decoded spans; see traceUpdate.
func (e *Engine) WriteDocuments(_ context.Context, docs []segment.Document) error {
	sc := e.screen.Load()
	if len(sc.rules) == 0 || len(docs) == 0 {
		return nil
	}
	now := time.Now()
	// Two passes, one allocation per kind for the whole batch: look at
	// each document and size what is kept, then copy. Copies share no
	// memory with the batch (the decoder's strings, immutable, stay shared
	// by copied spans).
	type docPlan struct {
		asSpans      bool
		classes      filter.Classes
		annLo, annHi int
	}
	plans := make([]docPlan, len(docs))
	var (
		anns                   []filter.AnnotationValue
		nspans, nstr, nnum, nb int
		nbytes, nupd           int
	)
	for i := range docs {
		d := &docs[i]
		if len(d.Spans) == 0 || d.TraceID == "" {
			continue
		}
		nupd++
		p := &plans[i]
		p.annLo = len(anns)
		p.classes, anns = sc.features(d.Spans, anns)
		p.annHi = len(anns)
		p.asSpans = len(d.Raw) == 0 || sc.passes(p.classes, anns[p.annLo:p.annHi])
		if !p.asSpans {
			nbytes += len(d.Raw) + len(d.TraceID)
			continue
		}
		nspans += len(d.Spans)
		for j := range d.Spans {
			sp := &d.Spans[j]
			nstr += len(sp.AnnStrKeys)
			nnum += len(sp.AnnNumKeys)
			nb += len(sp.AnnBoolKeys)
		}
	}
	if nupd == 0 {
		return nil
	}
	var (
		spans = make([]segment.Span, 0, nspans)
		buf   = make([]byte, 0, nbytes)
		strs  = make([]string, 0, 2*nstr+nnum+nb)
		nums  = make([]float64, 0, nnum)
		bools = make([]bool, 0, nb)
		batch = make([]traceUpdate, 0, nupd)
	)
	for i := range docs {
		d := &docs[i]
		if len(d.Spans) == 0 || d.TraceID == "" {
			continue
		}
		p := &plans[i]
		if !p.asSpans {
			lo := len(buf)
			buf = append(buf, d.TraceID...)
			id := unsafe.String(&buf[lo], len(d.TraceID))
			buf = append(buf, d.Raw...)
			u := traceUpdate{traceID: id, raw: buf[lo+len(d.TraceID) : len(buf) : len(buf)], classes: p.classes, gen: sc.gen, at: now}
			if p.annHi > p.annLo {
				u.anns = anns[p.annLo:p.annHi:p.annHi]
			}
			batch = append(batch, u)
			continue
		}
		lo := len(spans)
		spans = append(spans, d.Spans...)
		for j := lo; j < len(spans); j++ {
			copySpanAnnotations(&spans[j], &strs, &nums, &bools)
		}
		batch = append(batch, traceUpdate{traceID: d.TraceID, spans: spans[lo:len(spans):len(spans)], at: now})
	}
	e.m.traceUpdates.Add(len(batch))
	select {
	case e.updates <- batch:
	default:
		e.m.droppedQueue.Add(len(batch))
	}
	return nil
}

// copySpanAnnotations points sp's annotation slices at copies appended to
// the shared arrays (which have room: WriteDocuments sizes them).
func copySpanAnnotations(sp *segment.Span, strs *[]string, nums *[]float64, bools *[]bool) {
	sp.AnnStrKeys, sp.AnnStrValues = appendClipped(strs, sp.AnnStrKeys), appendClipped(strs, sp.AnnStrValues)
	sp.AnnNumKeys, sp.AnnNumValues = appendClipped(strs, sp.AnnNumKeys), appendClipped(nums, sp.AnnNumValues)
	sp.AnnBoolKeys, sp.AnnBoolValues = appendClipped(strs, sp.AnnBoolKeys), appendClipped(bools, sp.AnnBoolValues)
}

// appendClipped appends src to *arr and returns the appended part (its
// capacity clipped), or nil for an empty src.
func appendClipped[T any](arr *[]T, src []T) []T {
	if len(src) == 0 {
		return nil
	}
	*arr = append(*arr, src...)
	a := *arr
	return a[len(a)-len(src) : len(a) : len(a)]
}

// heldTrace is what the engine holds of a trace.
type heldTrace struct {
	// spans are the decoded spans, once some rule may match the trace
	// (interesting); raw are its documents not decoded yet.
	spans []segment.Span
	raw   [][]byte
	// classes and anns are the features of raw (screen generation gen).
	classes     filter.Classes
	anns        []filter.AnnotationValue
	gen         uint64
	interesting bool
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

// dueFIFO is a queue of due items pushed in (nearly) increasing time
// order: expiries are a fixed delay after the update or evaluation that
// queues them, both in time order, so a FIFO does a heap's work in O(1).
// An item behind a later one waits for it (by at most the clock's jitter).
type dueFIFO struct {
	items []dueItem
	head  int
}

func (q *dueFIFO) push(it dueItem) { q.items = append(q.items, it) }

// due reports whether the oldest item is due at now.
func (q *dueFIFO) due(now time.Time) bool {
	return q.head < len(q.items) && !q.items[q.head].at.After(now)
}

func (q *dueFIFO) pop() dueItem {
	it := q.items[q.head]
	q.items[q.head] = dueItem{}
	q.head++
	if q.head > 1024 && q.head*2 > len(q.items) {
		q.items = append(q.items[:0], q.items[q.head:]...)
		q.head = 0
	}
	return it
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
	dec := segment.NewDecoder(rawLimits)
	var (
		traces           = map[string]*heldTrace{}
		evalQ            dueHeap
		expireQ          dueFIFO
		fired            = map[string]time.Time{}
		lastFiredCleanup time.Time
	)
	defer e.m.held.Store(0)
	for {
		select {
		case <-ctx.Done():
			return
		case batch := <-e.updates:
			sc := e.screen.Load()
			for i := range batch {
				u := &batch[i]
				h := traces[u.traceID]
				if h == nil {
					if len(traces) >= e.cfg.MaxTraces {
						e.m.droppedFull.Inc()
						continue
					}
					h = &heldTrace{first: u.at, gen: sc.gen}
					traces[u.traceID] = h
				}
				h.last = u.at
				e.addUpdate(h, u, sc, dec)
				if !h.interesting {
					// Nothing to evaluate: forget it when no document came
					// for settle + memory.
					expireQ.push(dueItem{at: u.at.Add(e.cfg.TraceSettle + e.cfg.TraceMemory), id: u.traceID})
					continue
				}
				h.dirty = true
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
				expireQ.push(dueItem{at: now.Add(e.cfg.TraceMemory), id: it.id})
			}
			for expireQ.due(now) {
				it := expireQ.pop()
				h := traces[it.id]
				if h == nil || h.dirty || now.Sub(h.last) < e.cfg.TraceMemory {
					continue
				}
				if !h.interesting {
					if now.Sub(h.last) < e.cfg.TraceSettle+e.cfg.TraceMemory {
						continue // a later document queued its own expiry
					}
					e.m.tracesSkipped.Inc()
				}
				delete(traces, it.id)
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

// rawLimits decode documents the collector already accepted: no limit of
// the engine's own refuses one of them.
var rawLimits = segment.Limits{
	MaxDocumentBytes: math.MaxInt32, MaxDepth: math.MaxInt32, MaxAnnotations: math.MaxInt32,
	MaxSubsegments: math.MaxInt32, MaxNameLength: math.MaxInt32, MaxFutureSkew: 100 * 365 * 24 * time.Hour,
}

// addUpdate adds u to h. A trace some rule may match (its features pass
// the screen, or they were seen by an older screen) is held decoded;
// others keep their documents' JSON and features.
func (e *Engine) addUpdate(h *heldTrace, u *traceUpdate, sc *traceScreen, dec *segment.Decoder) {
	if u.spans != nil {
		h.spans = append(h.spans, u.spans...)
		h.interesting = true
	} else {
		h.raw = append(h.raw, u.raw)
		if u.gen != h.gen {
			// Features seen by another screen generation say nothing of
			// the current rules' needs: decode and evaluate.
			h.interesting = true
		}
		h.classes |= u.classes
		for _, v := range u.anns {
			if !slices.Contains(h.anns, v) {
				h.anns = append(h.anns, v)
			}
		}
	}
	if !h.interesting && h.gen == sc.gen && !sc.passes(h.classes, h.anns) {
		return
	}
	h.interesting = true
	for _, raw := range h.raw {
		docs, err := dec.Decode(raw, 0, nil)
		if err != nil {
			// The collector accepted the document; count and go on with
			// the rest of the trace.
			e.m.decodeErrors.Inc()
		}
		for i := range docs {
			h.spans = append(h.spans, docs[i].Spans...)
		}
	}
	h.raw, h.anns = nil, nil
}

// evaluateTrace runs every per-trace rule that has not fired for the
// trace yet.
func (e *Engine) evaluateTrace(id string, h *heldTrace, now time.Time, fired map[string]time.Time, out []traceMatch) []traceMatch {
	e.m.tracesEvaluated.Inc()
	var root *ServiceRef
	rootDone := false
	// Rules are screened with their needs first (the trace's classes and
	// string annotations); the trace is prepared for matching only when
	// some rule passes.
	if e.anns == nil {
		e.anns = map[filter.AnnotationValue]bool{}
	}
	classes := traceFeatures(h.spans, e.anns)
	has := func(v filter.AnnotationValue) bool { return e.anns[v] }
	var tr *filter.Trace
	for _, r := range e.screen.Load().rules {
		if !r.screen(classes, has) {
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

// traceFeatures returns the classes of spans and collects their string
// annotations into m (cleared first).
func traceFeatures(spans []segment.Span, m map[filter.AnnotationValue]bool) filter.Classes {
	clear(m)
	var c filter.Classes
	for i := range spans {
		c |= filter.ClassOf(&spans[i])
		for j, k := range spans[i].AnnStrKeys {
			m[filter.AnnotationValue{Key: k, Value: spans[i].AnnStrValues[j]}] = true
		}
	}
	return c
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
		out = append(out, &traceRule{id: r.ID, expr: x, needs: x.SpanNeeds()})
	}
	e.mu.Lock()
	for _, r := range rules {
		if ent := e.rules[r.ID]; ent != nil {
			ent.lastErr = errs[r.ID]
		}
	}
	e.mu.Unlock()
	e.screen.Store(newTraceScreen(out, e.screen.Load()))
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
