package live

import (
	"github.com/fluoro/fluoro/query/filter"
)

// filterMatcher evaluates a filter expression with the in-memory back-end
// over the spans of a TraceUpdate.
type filterMatcher struct{ e *filter.Expr }

func (m filterMatcher) Match(item any) bool {
	u, ok := item.(*TraceUpdate)
	if !ok {
		return false
	}
	return m.e.Match(u.Spans)
}

// CompileFilter is the hub's CompileFunc for X-Ray filter expressions.
func CompileFilter(expr string) (Matcher, error) {
	e, err := filter.Parse(expr)
	if err != nil {
		return nil, err
	}
	return filterMatcher{e}, nil
}
