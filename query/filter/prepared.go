package filter

import "github.com/fluoro/fluoro/collector/segment"

// Trace is one assembled trace prepared for evaluation, so that many
// expressions can be matched against it without preparing it each time
// (alerting evaluates every per-trace rule on every settled trace). It is
// not safe for concurrent use.
type Trace struct {
	t *trace
}

// NewTrace prepares the spans of one trace (as Match takes them) for
// MatchTrace. The spans must not change while the Trace is used.
func NewTrace(spans []segment.Span) *Trace {
	if len(spans) == 0 {
		return &Trace{}
	}
	return &Trace{t: newTrace(spans)}
}

// MatchTrace is Match on a prepared trace: e.MatchTrace(NewTrace(spans))
// == e.Match(spans).
func (e *Expr) MatchTrace(t *Trace) bool {
	if t == nil || t.t == nil {
		return false
	}
	return evalTrace(e.root, t.t)
}
