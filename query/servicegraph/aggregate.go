package servicegraph

import (
	"cmp"
	"slices"
	"time"
)

// Stats accumulates completed requests of a node or an edge.
type Stats struct {
	// Requests by class (each request counts in exactly one).
	OK, ErrorOther, Throttle, Fault uint64
	// SumUS is the summed response time in microseconds.
	SumUS uint64
	// MinStartUS and MaxEndUS bound the requests (0 when none).
	MinStartUS, MaxEndUS uint64
	// Hist maps a response-time bin (µs, see Bin) to its count.
	Hist map[uint64]uint64
}

// Total is the number of requests.
func (s *Stats) Total() uint64 { return s.OK + s.ErrorOther + s.Throttle + s.Fault }

func (s *Stats) observe(c class, startUS, endUS uint64) {
	switch c {
	case classFault:
		s.Fault++
	case classThrottle:
		s.Throttle++
	case classError:
		s.ErrorOther++
	default:
		s.OK++
	}
	var d uint64
	if endUS > startUS {
		d = endUS - startUS
	}
	s.SumUS += d
	s.span(startUS, endUS)
	if s.Hist == nil {
		s.Hist = map[uint64]uint64{}
	}
	s.Hist[Bin(d)]++
}

func (s *Stats) span(startUS, endUS uint64) {
	if startUS > 0 && (s.MinStartUS == 0 || startUS < s.MinStartUS) {
		s.MinStartUS = startUS
	}
	s.MaxEndUS = max(s.MaxEndUS, endUS)
}

func (s *Stats) merge(o *Stats) {
	s.OK += o.OK
	s.ErrorOther += o.ErrorOther
	s.Throttle += o.Throttle
	s.Fault += o.Fault
	s.SumUS += o.SumUS
	s.span(o.MinStartUS, o.MaxEndUS)
	s.Hist = mergeHist(s.Hist, o.Hist)
}

func mergeHist(dst, src map[uint64]uint64) map[uint64]uint64 {
	if len(src) == 0 {
		return dst
	}
	if dst == nil {
		dst = make(map[uint64]uint64, len(src))
	}
	for k, v := range src {
		dst[k] += v
	}
	return dst
}

// Bin returns the histogram bin of a duration in microseconds: the
// duration rounded to whole milliseconds below 100 ms and to two
// significant digits of milliseconds above (100, 110, … 990, 1000, 1100 …).
func Bin(us uint64) uint64 {
	ms := (us + 500) / 1000
	if ms < 100 {
		return ms * 1000
	}
	step := uint64(1)
	for ms/step >= 100 {
		step *= 10
	}
	return (ms + step/2) / step * step * 1000
}

// Row is the statistics of one node or one edge, for one event minute
// (Minute, epoch seconds) or for a whole window (Minute 0).
type Row struct {
	Minute int64
	Edge   bool
	// Src is the node (Edge false) or the edge's source; Dst the edge's
	// destination.
	Src, Dst NodeKey
	// Active is set when the node has instrumented segments.
	Active bool
	// Roots counts entry-point segments of the node.
	Roots uint64
	Stats
	// DurHist is a node's duration histogram (trace durations of entry
	// segments, response times of the others).
	DurHist map[uint64]uint64
}

type rowKey struct {
	minute   int64
	edge     bool
	src, dst NodeKey
}

// Options configure an Aggregator.
type Options struct {
	// ByMinute keeps event minutes apart (Row.Minute); otherwise a row
	// covers the whole window.
	ByMinute bool
	// From and To, when To is set, restrict requests to those ending in
	// [From, To).
	From, To time.Time
}

// Aggregator accumulates the graph of many traces. It is not safe for
// concurrent use.
type Aggregator struct {
	byMinute bool
	from, to uint64 // µs; to 0: no window
	rows     map[rowKey]*Row
	// nodes holds every node met (true: instrumented), including nodes
	// without completed requests in the window.
	nodes map[NodeKey]bool

	// per-trace scratch
	byID    map[string]*Span
	parents map[string]bool
}

// NewAggregator returns an empty aggregator.
func NewAggregator(o Options) *Aggregator {
	a := &Aggregator{byMinute: o.ByMinute, rows: map[rowKey]*Row{}, nodes: map[NodeKey]bool{},
		byID: map[string]*Span{}, parents: map[string]bool{}}
	if !o.To.IsZero() {
		a.from, a.to = uint64(max(o.From.UnixMicro(), 0)), uint64(max(o.To.UnixMicro(), 0))
	}
	return a
}

// AddSpans adds the spans of any number of traces, in any order. Every
// span of a trace must be in the same call.
func (a *Aggregator) AddSpans(spans []Span) {
	if len(spans) == 0 {
		return
	}
	idx := make([]int, len(spans))
	for i := range idx {
		idx[i] = i
	}
	slices.SortFunc(idx, func(x, y int) int { return cmp.Compare(spans[x].TraceID, spans[y].TraceID) })
	trace := make([]*Span, 0, 16)
	for i, k := range idx {
		trace = append(trace, &spans[k])
		if i == len(idx)-1 || spans[idx[i+1]].TraceID != spans[k].TraceID {
			a.addTrace(trace)
			trace = trace[:0]
		}
	}
}

// AddTrace adds the spans of one trace.
func (a *Aggregator) AddTrace(spans []Span) {
	ptrs := make([]*Span, len(spans))
	for i := range spans {
		ptrs[i] = &spans[i]
	}
	a.addTrace(ptrs)
}

// better reports whether s should represent its id rather than old.
func better(s, old *Span) bool {
	if s.Version != old.Version {
		return s.Version > old.Version
	}
	return s.complete() && !old.complete()
}

func (a *Aggregator) addTrace(spans []*Span) {
	clear(a.byID)
	clear(a.parents)
	for _, s := range spans {
		if old, ok := a.byID[s.ID]; !ok || better(s, old) {
			a.byID[s.ID] = s
		}
	}
	// Trace duration: earliest start to latest end of what completed.
	var minStart, maxEnd uint64
	for _, s := range a.byID {
		if s.StartUS > 0 && (minStart == 0 || s.StartUS < minStart) {
			minStart = s.StartUS
		}
		if s.complete() {
			maxEnd = max(maxEnd, s.EndUS)
		}
		if s.IsSegment && s.ParentID != "" {
			a.parents[s.ParentID] = true
		}
	}
	var traceDur uint64
	if maxEnd > minStart {
		traceDur = maxEnd - minStart
	}
	for _, s := range a.byID {
		if s.IsSegment {
			a.segment(s, traceDur)
		} else if inferrable(s) && !a.parents[s.ID] {
			a.inferred(s)
		}
	}
}

func segmentNode(s *Span) NodeKey {
	return NodeKey{Name: s.Name, Type: s.Origin, AccountID: s.AccountID}
}

// segment adds segment b's node, and the edge into it.
func (a *Aggregator) segment(b *Span, traceDur uint64) {
	node := segmentNode(b)
	a.nodes[node] = true
	p, hasParent := a.byID[b.ParentID]
	root := b.ParentID == "" || !hasParent || p == b
	if b.complete() {
		dur := b.durUS()
		if root {
			dur = traceDur
		}
		if r := a.row(b.EndUS, false, node, NodeKey{}); r != nil {
			r.Active = true
			r.observe(classify(b), b.StartUS, b.EndUS)
			if root {
				r.Roots++
			}
			if r.DurHist == nil {
				r.DurHist = map[uint64]uint64{}
			}
			r.DurHist[Bin(dur)]++
		}
	}
	var src NodeKey
	caller := b // whose view of the call the edge gets
	switch {
	case root:
		src = NodeKey{Name: b.Name, Type: TypeClient}
	case p.IsSegment:
		src = segmentNode(p)
	default:
		var ok bool
		if src, ok = a.owner(p); !ok {
			return
		}
		if p.complete() {
			caller = p
		}
	}
	if caller.complete() {
		if _, seen := a.nodes[src]; !seen {
			a.nodes[src] = false
		}
		if r := a.row(caller.EndUS, true, src, node); r != nil {
			r.observe(classify(caller), caller.StartUS, caller.EndUS)
		}
	}
}

// inferred adds the inferred node subsegment s calls and the edge to it.
func (a *Aggregator) inferred(s *Span) {
	node := inferredNode(s)
	if _, seen := a.nodes[node]; !seen {
		a.nodes[node] = false
	}
	src, ok := a.owner(s)
	if !s.complete() {
		return
	}
	c := classify(s)
	if r := a.row(s.EndUS, false, node, NodeKey{}); r != nil {
		r.observe(c, s.StartUS, s.EndUS)
		if r.DurHist == nil {
			r.DurHist = map[uint64]uint64{}
		}
		r.DurHist[Bin(s.durUS())]++
	}
	if ok {
		if r := a.row(s.EndUS, true, src, node); r != nil {
			r.observe(c, s.StartUS, s.EndUS)
		}
	}
}

// owner returns the node of the segment that encloses subsegment s,
// following independent subsegments up to their parents.
func (a *Aggregator) owner(s *Span) (NodeKey, bool) {
	cur := s
	for range 64 {
		if cur.IsSegment {
			return segmentNode(cur), true
		}
		if top, ok := a.byID[cur.SegmentID]; ok && top != cur {
			if top.IsSegment {
				return segmentNode(top), true
			}
			cur = top
			continue
		}
		// cur is a top-level (independent) subsegment, or its document is
		// unknown: go to its parent.
		p, ok := a.byID[cur.ParentID]
		if !ok || p == cur {
			break
		}
		cur = p
	}
	if s.Service != "" {
		return NodeKey{Name: s.Service, Type: s.Origin}, true
	}
	return NodeKey{}, false
}

// row returns the row of a request ending at endUS, nil when it falls
// outside the window.
func (a *Aggregator) row(endUS uint64, edge bool, src, dst NodeKey) *Row {
	if a.to != 0 && (endUS < a.from || endUS >= a.to) {
		return nil
	}
	var m int64
	if a.byMinute {
		m = int64(endUS/60_000_000) * 60
	}
	k := rowKey{minute: m, edge: edge, src: src, dst: dst}
	r := a.rows[k]
	if r == nil {
		r = &Row{Minute: m, Edge: edge, Src: src, Dst: dst}
		a.rows[k] = r
	}
	return r
}

// AddRow merges a row computed elsewhere (e.g. read from storage).
func (a *Aggregator) AddRow(r Row) {
	if !a.byMinute {
		r.Minute = 0
	}
	k := rowKey{minute: r.Minute, edge: r.Edge, src: r.Src, dst: r.Dst}
	cur := a.rows[k]
	if cur == nil {
		cp := r
		cp.Hist = mergeHist(nil, r.Hist)
		cp.DurHist = mergeHist(nil, r.DurHist)
		a.rows[k] = &cp
		return
	}
	cur.Active = cur.Active || r.Active
	cur.Roots += r.Roots
	cur.merge(&r.Stats)
	cur.DurHist = mergeHist(cur.DurHist, r.DurHist)
}

// Rows returns the accumulated rows ordered by minute, kind and keys.
func (a *Aggregator) Rows() []Row {
	out := make([]Row, 0, len(a.rows))
	for _, r := range a.rows {
		out = append(out, *r)
	}
	slices.SortFunc(out, compareRows)
	return out
}

func compareRows(x, y Row) int {
	if c := cmp.Compare(x.Minute, y.Minute); c != 0 {
		return c
	}
	if x.Edge != y.Edge {
		if x.Edge {
			return 1
		}
		return -1
	}
	if c := compareKeys(x.Src, y.Src); c != 0 {
		return c
	}
	return compareKeys(x.Dst, y.Dst)
}

func compareKeys(x, y NodeKey) int {
	return cmp.Or(cmp.Compare(x.Name, y.Name), cmp.Compare(x.Type, y.Type), cmp.Compare(x.AccountID, y.AccountID))
}
