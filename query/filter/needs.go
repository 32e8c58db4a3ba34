package filter

import (
	"slices"

	"github.com/fluoro/fluoro/collector/segment"
)

// Classes is a set of span outcomes (xray.md §6.5), one bit per class.
type Classes uint8

// The outcome classes a Need can ask for.
const (
	ClassError Classes = 1 << iota
	ClassThrottle
	ClassFault
)

// ClassOf returns the class bit of span s, as the matcher classifies it
// (flags first, then the HTTP status), or 0 for an ok span.
func ClassOf(s *segment.Span) Classes {
	switch spanClass(s) {
	case classError:
		return ClassError
	case classThrottle:
		return ClassThrottle
	case classFault:
		return ClassFault
	}
	return 0
}

// Need is one necessary condition of an expression: every trace it
// matches has a span whose class is in Classes or a span carrying one of
// the string annotations in Annotations.
type Need struct {
	Classes     Classes
	Annotations []AnnotationValue
}

// MetBy reports whether a span of class c (ClassOf) carrying the string
// annotations in has meets n; has may be nil.
func (n *Need) MetBy(c Classes, has func(AnnotationValue) bool) bool {
	if n.Classes&c != 0 {
		return true
	}
	if has == nil {
		return false
	}
	for _, v := range n.Annotations {
		if has(v) {
			return true
		}
	}
	return false
}

// maxNeeds bounds the conditions SpanNeeds returns.
const maxNeeds = 8

// SpanNeeds returns conditions every trace the expression matches meets,
// all of them: a span of a failing class (`fault`, `error`, `throttle`,
// at the trace level or in a service or edge block) or a span carrying a
// string annotation value (`annotation.KEY = "v"`). Callers that hold
// traces in memory use them to skip traces that cannot match before
// preparing them for Match. AND keeps both sides' conditions, OR joins one
// condition of each side, nothing under a negation counts; nil means the
// expression names no such condition.
func (e *Expr) SpanNeeds() []Need {
	return needs(e.root, false)
}

// needs returns n's necessary conditions; inSpan is true inside a service
// or edge block, where predicates are evaluated on one span.
func needs(n node, inSpan bool) []Need {
	switch n := n.(type) {
	case *andNode:
		out := append(needs(n.l, inSpan), needs(n.r, inSpan)...)
		if len(out) > maxNeeds {
			out = out[:maxNeeds] // a subset of necessary conditions is necessary
		}
		return out
	case *orNode:
		l, r := needs(n.l, inSpan), needs(n.r, inSpan)
		if len(l) == 0 || len(r) == 0 {
			return nil
		}
		// Whichever side matches meets its own conditions, so each pair's
		// union is necessary.
		var out []Need
		for i := range l {
			for j := range r {
				if len(out) == maxNeeds {
					return out
				}
				u := Need{Classes: l[i].Classes | r[j].Classes}
				u.Annotations = append(slices.Clip(l[i].Annotations), r[j].Annotations...)
				if len(u.Annotations) > maxLookupValues {
					continue
				}
				out = append(out, u)
			}
		}
		return out
	case *boolPred:
		// Positive forms only: `fault`, `fault = true`, `fault != false`.
		if n.op != opNone && n.val != (n.op == opEq) {
			return nil
		}
		// At the trace level the keyword tests the root segment's class, in
		// a block the span's; either way a span of the trace has the class.
		var c Classes
		switch n.kw {
		case kwFault:
			c = ClassFault
		case kwError:
			c = ClassError | ClassThrottle
		case kwThrottle:
			c = ClassThrottle
		default:
			return nil
		}
		return []Need{{Classes: c}}
	case *annPred:
		if inSpan || n.op != opEq || n.val.kind != litString {
			return nil
		}
		return []Need{{Annotations: []AnnotationValue{{Key: n.key, Value: n.val.s}}}}
	case *serviceNode:
		return needs(n.block, true)
	case *edgeNode:
		return needs(n.block, true)
	case *groupPred:
		if n.resolved == nil || n.op != opEq || inSpan {
			return nil
		}
		return needs(n.resolved, false)
	}
	return nil
}
