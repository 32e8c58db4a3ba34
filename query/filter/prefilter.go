package filter

// Prefilter returns an optional row-level necessary condition of the
// expression over rows of the spans table: every trace that the expression
// selects (with SQL or Match) has at least one span row satisfying where.
// The trace-level search can then restrict itself to the traces with such a
// row (`trace_id IN (SELECT trace_id FROM spans WHERE … AND where)`) before
// aggregating, which is what makes selective filters fast. ok is false when
// the expression has no useful condition of that kind (negations, keywords
// such as ok or duration, group predicates not resolved). Values are bound
// "?" parameters in args, like SQL's.
func (e *Expr) Prefilter() (where string, args []any, ok bool) {
	p := prefilter(e.root)
	if p == nil {
		return "", nil, false
	}
	return p.sql, p.args, true
}

// preCond is a row condition with its parameters; rank estimates its
// selectivity (higher: fewer rows), used to pick one side of an AND.
type preCond struct {
	sql  string
	args []any
	rank int
}

// Ranks of prefilter conditions.
const (
	rankWeak   = 1 // http.method and the like: many rows qualify
	rankMedium = 2 // substring and range conditions
	rankStrong = 3 // equality on a high-cardinality field
)

// prefilter derives the row condition of n (not under negation), or nil.
func prefilter(n node) *preCond {
	switch n := n.(type) {
	case *andNode:
		l, r := prefilter(n.l), prefilter(n.r)
		switch {
		case l == nil:
			return r
		case r == nil || l.rank >= r.rank:
			return l
		}
		return r
	case *orNode:
		l, r := prefilter(n.l), prefilter(n.r)
		if l == nil || r == nil {
			return nil
		}
		return &preCond{sql: "(" + l.sql + " OR " + r.sql + ")", args: append(append([]any{}, l.args...), r.args...),
			rank: min(l.rank, r.rank)}
	case *strPred:
		return strPrefilter(n)
	case *annPred:
		// SQL writes max(<row condition>) = 1: the row condition is the prefilter.
		q := &sqlBuilder{}
		q.annotation(n)
		s := q.b.String()
		const pre, post = "max(", ") = 1"
		if len(s) < len(pre)+len(post) || s[:len(pre)] != pre || s[len(s)-len(post):] != post {
			return nil
		}
		rank := rankMedium
		if n.op == opEq {
			rank = rankStrong
		}
		return &preCond{sql: "(" + s[len(pre):len(s)-len(post)] + ")", args: q.args, rank: rank}
	case *serviceNode:
		return servicePrefilter(n)
	case *groupPred:
		if n.resolved == nil || n.op != opEq {
			return nil
		}
		return prefilter(n.resolved)
	}
	return nil
}

// strPrefilter mirrors the trace-level strPred of sqlBuilder.trace: the
// http.* keywords test the root segment, user and resource.arn any span.
func strPrefilter(n *strPred) *preCond {
	col := strColumn(n.kw)
	q := &sqlBuilder{}
	switch n.kw {
	case kwHTTPURL, kwHTTPMethod, kwHTTPUserAgent, kwHTTPClientIP:
		q.w("(is_segment = 1 AND ", col, " != '' AND ")
	case kwUser, kwResourceARN:
		q.w("(", col, " != '' AND ")
	default:
		return nil // never set: SQL writes 0, nothing to gain
	}
	q.strCond(col, n.op, n.val)
	q.w(")")
	rank := rankMedium
	switch {
	case n.kw == kwHTTPMethod || n.op == opNone || n.op == opNe:
		rank = rankWeak
	case n.op == opEq:
		rank = rankStrong
	}
	return &preCond{sql: q.b.String(), args: q.args, rank: rank}
}

// servicePrefilter: service(ref) { block } needs a segment of the node or
// a subsegment generating the inferred node (the block only narrows it).
func servicePrefilter(n *serviceNode) *preCond {
	if n.ref == nil || !(n.ref.hasName || n.ref.hasType || n.ref.hasAccount) {
		return nil
	}
	q := &sqlBuilder{}
	if n.ref.hasName && !n.ref.hasType && !n.ref.hasAccount {
		// A node named X is a segment named X or an inferred node whose
		// name is the subsegment's name or taken from its aws_resource
		// (inferredNode); this weaker condition is much smaller SQL than
		// the exact one, which ClickHouse analyses per query.
		q.w("(name = ")
		q.arg(n.ref.name)
		q.w(" OR (namespace = 'aws' AND position(aws_resource, ")
		q.arg(n.ref.name)
		q.w(") > 0))")
		return &preCond{sql: q.b.String(), args: q.args, rank: rankStrong}
	}
	q.w("((is_segment = 1")
	q.ref(n.ref, "name", "origin", "aws_account_id")
	q.w(") OR (", sqlInferrable)
	q.ref(n.ref, sqlInfName, sqlInfType, "aws_account_id")
	q.w("))")
	rank := rankMedium
	if n.ref.hasName {
		rank = rankStrong
	}
	return &preCond{sql: q.b.String(), args: q.args, rank: rank}
}
