package filter

// AnnotationValue is one string annotation: a span carries Key with the
// string Value.
type AnnotationValue struct {
	Key, Value string
}

// maxLookupValues bounds the pairs of an AnnotationLookup: an OR of more
// equalities than this is searched without the index.
const maxLookupValues = 64

// AnnotationLookup returns string annotations of which every trace the
// expression selects (with SQL or Match) carries at least one on some span:
// a necessary condition that an index of (annotation key, string value) →
// trace id answers without scanning spans. ok is false when the expression
// has no such condition: annotation equalities on strings are the only
// source (X-Ray indexes annotations for filter expressions); AND keeps the
// side with fewer values, OR needs both sides and joins them, and nothing
// under a negation counts.
func (e *Expr) AnnotationLookup() (values []AnnotationValue, ok bool) {
	v := lookup(e.root)
	if v == nil || len(v) > maxLookupValues {
		return nil, false
	}
	return v, true
}

// lookup returns n's necessary annotation values, or nil.
func lookup(n node) []AnnotationValue {
	switch n := n.(type) {
	case *andNode:
		l, r := lookup(n.l), lookup(n.r)
		switch {
		case l == nil:
			return r
		case r == nil || len(l) <= len(r):
			return l
		}
		return r
	case *orNode:
		l, r := lookup(n.l), lookup(n.r)
		if l == nil || r == nil {
			return nil
		}
		out := append(append(make([]AnnotationValue, 0, len(l)+len(r)), l...), r...)
		if len(out) > maxLookupValues {
			return nil
		}
		return out
	case *annPred:
		if n.op != opEq || n.val.kind != litString {
			return nil
		}
		return []AnnotationValue{{Key: n.key, Value: n.val.s}}
	case *groupPred:
		if n.resolved == nil || n.op != opEq {
			return nil
		}
		return lookup(n.resolved)
	}
	return nil
}
