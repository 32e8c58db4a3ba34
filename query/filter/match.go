package filter

import (
	"strings"

	"github.com/fluoro/fluoro/collector/segment"
)

// Match reports whether the trace made of spans (all spans of one trace, in
// any order; an in-progress and a complete version of the same span may
// both be present, the complete one wins) satisfies the expression.
// Unresolved group.name/group.arn predicates (see ResolveGroups) never match.
func (e *Expr) Match(spans []segment.Span) bool {
	if len(spans) == 0 {
		return false
	}
	return evalTrace(e.root, newTrace(spans))
}

func evalTrace(n node, t *trace) bool {
	switch n := n.(type) {
	case *andNode:
		return evalTrace(n.l, t) && evalTrace(n.r, t)
	case *orNode:
		return evalTrace(n.l, t) || evalTrace(n.r, t)
	case *notNode:
		return !evalTrace(n.x, t)
	case *boolPred:
		var v bool
		switch n.kw {
		case kwPartial:
			v = t.partial
		case kwInferred:
			v = t.anyInferred
		default:
			v = t.root >= 0 && classIs(t.spans[t.root].class, n.kw)
		}
		return boolResult(n, v)
	case *numPred:
		switch n.kw {
		case kwDuration:
			return t.hasDuration && compareNum(float64(t.durationUS)/1e6, n.op, n.val)
		default:
			return t.root >= 0 && spanNum(&t.spans[t.root], n)
		}
	case *strPred:
		switch n.kw {
		case kwHTTPURL, kwHTTPMethod, kwHTTPUserAgent, kwHTTPClientIP:
			return t.root >= 0 && compareStr(spanStr(&t.spans[t.root], n.kw), n.op, n.val)
		}
		for i := range t.spans {
			if compareStr(spanStr(&t.spans[i], n.kw), n.op, n.val) {
				return true
			}
		}
		return false
	case *annPred:
		for i := range t.spans {
			if annMatch(t.spans[i].Span, n) {
				return true
			}
		}
		return false
	case *serviceNode:
		for i := range t.spans {
			s := &t.spans[i]
			if s.IsSegment && (n.ref == nil || n.ref.matches(s.Name, s.Origin, s.AWSAccountID)) && evalSpan(n.block, s) {
				return true
			}
			if s.inferred && (n.ref == nil || n.ref.matches(s.infName, s.infType, s.AWSAccountID)) && evalSpan(n.block, s) {
				return true
			}
		}
		return false
	case *edgeNode:
		return evalEdge(n, t)
	case *groupPred:
		if n.resolved == nil {
			return false
		}
		v := evalTrace(n.resolved, t)
		if n.op == opNe {
			return !v
		}
		return v
	case trueNode:
		return true
	case *rootCauseNode:
		return evalRootCause(n, t)
	case *rootCauseJSON:
		for _, w := range n.want {
			if !anyCauseMatches(w, t) {
				return false
			}
		}
		return true
	}
	return false
}

func boolResult(n *boolPred, v bool) bool {
	if n.op == opNone {
		return v
	}
	return (v == n.val) == (n.op == opEq)
}

func classIs(c uint8, kw keyword) bool {
	switch kw {
	case kwOK:
		return c == classOK
	case kwError:
		return c == classError || c == classThrottle
	case kwThrottle:
		return c == classThrottle
	case kwFault:
		return c == classFault
	}
	return false
}

// spanNum evaluates responsetime, duration or http.status on one span; an
// in-progress span has no duration and status 0 means no status.
func spanNum(s *span, n *numPred) bool {
	switch n.kw {
	case kwResponseTime, kwDuration:
		return s.complete && compareNum(float64(s.durUS())/1e6, n.op, n.val)
	case kwHTTPStatus:
		return s.HTTPStatus != 0 && compareNum(float64(s.HTTPStatus), n.op, n.val)
	}
	return false
}

// spanStr returns the span's value for a string keyword; "" means unset.
// availabilityzone and instance.id are not part of the span model and are
// always unset.
func spanStr(s *span, kw keyword) string {
	switch kw {
	case kwHTTPURL:
		return s.HTTPURL
	case kwHTTPMethod:
		return s.HTTPMethod
	case kwHTTPUserAgent:
		return s.HTTPUserAgent
	case kwHTTPClientIP:
		return s.HTTPClientIP
	case kwUser:
		return s.User
	case kwResourceARN:
		return s.ResourceARN
	}
	return ""
}

func compareNum(a float64, op cmpOp, b float64) bool {
	switch op {
	case opEq:
		return a == b
	case opNe:
		return a != b
	case opLt:
		return a < b
	case opLe:
		return a <= b
	case opGt:
		return a > b
	case opGe:
		return a >= b
	}
	return false
}

// compareStr applies a string operator to a field value; an unset ("")
// field satisfies nothing, a bare keyword (opNone) tests that it is set.
func compareStr(v string, op cmpOp, want string) bool {
	if v == "" {
		return false
	}
	return strOp(v, op, want)
}

func strOp(v string, op cmpOp, want string) bool {
	switch op {
	case opNone:
		return true
	case opEq:
		return v == want
	case opNe:
		return v != want
	case opContains:
		return strings.Contains(v, want)
	case opBeginsWith:
		return strings.HasPrefix(v, want)
	case opEndsWith:
		return strings.HasSuffix(v, want)
	}
	return false
}

// annMatch evaluates an annotation predicate on one span: the literal's
// type picks the annotation type compared; a bare predicate tests that the
// key is set with any type.
func annMatch(s *segment.Span, n *annPred) bool {
	if n.op == opNone {
		for _, k := range s.AnnStrKeys {
			if k == n.key {
				return true
			}
		}
		for _, k := range s.AnnNumKeys {
			if k == n.key {
				return true
			}
		}
		for _, k := range s.AnnBoolKeys {
			if k == n.key {
				return true
			}
		}
		return false
	}
	switch n.val.kind {
	case litString:
		for i, k := range s.AnnStrKeys {
			if k == n.key && i < len(s.AnnStrValues) && strOp(s.AnnStrValues[i], n.op, n.val.s) {
				return true
			}
		}
	case litNumber:
		for i, k := range s.AnnNumKeys {
			if k == n.key && i < len(s.AnnNumValues) && compareNum(s.AnnNumValues[i], n.op, n.val.n) {
				return true
			}
		}
	case litBool:
		for i, k := range s.AnnBoolKeys {
			if k == n.key && i < len(s.AnnBoolValues) && (s.AnnBoolValues[i] == n.val.b) == (n.op == opEq) {
				return true
			}
		}
	}
	return false
}

// matches reports whether a node (name, type, account) is selected by r.
func (r *nodeRef) matches(name, typ, account string) bool {
	return (!r.hasName || r.name == name) && (!r.hasType || r.typ == typ) && (!r.hasAccount || r.account == account)
}

// evalSpan evaluates a service()/edge() block on one span; a nil block
// matches every span.
func evalSpan(n node, s *span) bool {
	switch n := n.(type) {
	case nil:
		return true
	case *andNode:
		return evalSpan(n.l, s) && evalSpan(n.r, s)
	case *orNode:
		return evalSpan(n.l, s) || evalSpan(n.r, s)
	case *notNode:
		return !evalSpan(n.x, s)
	case *boolPred:
		if n.kw == kwRoot {
			return boolResult(n, s.rootCand)
		}
		return boolResult(n, classIs(s.class, n.kw))
	case *numPred:
		return spanNum(s, n)
	case *strPred:
		return compareStr(spanStr(s, n.kw), n.op, n.val)
	}
	return false
}

// evalEdge looks for a call src→dst whose caller-side data satisfies the
// block (xray.md §6.4): a subsegment of src answered by a segment of dst, a
// subsegment of src that generates the inferred node dst, or a segment of
// dst whose parent is a segment of src (then the callee's segment is the data).
func evalEdge(n *edgeNode, t *trace) bool {
	for i := range t.spans {
		s := &t.spans[i]
		if s.IsSegment {
			if !n.dst.matches(s.Name, s.Origin, s.AWSAccountID) || !evalSpan(n.block, s) {
				continue
			}
			if p, ok := t.byID[s.ParentID]; ok && s.ParentID != "" {
				ps := &t.spans[p]
				if ps.IsSegment && n.src.matches(ps.Name, ps.Origin, ps.AWSAccountID) {
					return true
				}
			}
			continue
		}
		if s.Service == "" || !n.src.matches(s.Service, s.Origin, "") || !evalSpan(n.block, s) {
			continue
		}
		if s.inferred && n.dst.matches(s.infName, s.infType, s.AWSAccountID) {
			return true
		}
		for _, c := range t.segsByParent[s.ID] {
			cs := &t.spans[c]
			if n.dst.matches(cs.Name, cs.Origin, cs.AWSAccountID) {
				return true
			}
		}
	}
	return false
}

// rcElem is one element of an enumerated root-cause list.
type rcElem struct {
	index, n int
	svc      *rcSvc
	ent      *rcEnt
	exc      *rcExc
}

func evalRootCause(n *rootCauseNode, t *trace) bool {
	for _, rc := range t.rootCauses(n.kind) {
		switch n.level {
		case rcService:
			for i := range rc.services {
				if evalRC(n.block, &rcElem{index: i, n: len(rc.services), svc: &rc.services[i]}) {
					return true
				}
			}
		case rcEntity:
			if len(rc.services) == 0 {
				continue
			}
			ents := rc.services[len(rc.services)-1].entities
			for i := range ents {
				if evalRC(n.block, &rcElem{index: i, n: len(ents), ent: &ents[i]}) {
					return true
				}
			}
		case rcException:
			var excs []rcExc
			for _, s := range rc.services {
				for _, e := range s.entities {
					excs = append(excs, e.exceptions...)
				}
			}
			for i := range excs {
				if evalRC(n.block, &rcElem{index: i, n: len(excs), exc: &excs[i]}) {
					return true
				}
			}
		}
	}
	return false
}

func evalRC(n node, e *rcElem) bool {
	switch n := n.(type) {
	case *andNode:
		return evalRC(n.l, e) && evalRC(n.r, e)
	case *orNode:
		return evalRC(n.l, e) || evalRC(n.r, e)
	case *notNode:
		return !evalRC(n.x, e)
	case *boolPred:
		var v bool
		switch n.kw {
		case kwFirst:
			v = e.index == 0
		case kwLast:
			v = e.index == e.n-1
		case kwInferred:
			v = e.svc != nil && e.svc.inferred
		case kwRemote:
			v = e.ent != nil && e.ent.remote
		}
		return boolResult(n, v)
	case *numPred:
		switch n.kw {
		case kwIndex:
			return compareNum(float64(e.index), n.op, n.val)
		case kwCoverage:
			return e.ent != nil && compareNum(e.ent.coverage, n.op, n.val)
		}
	case *strPred:
		var v string
		switch {
		case n.kw == kwName && e.svc != nil:
			v = e.svc.name
		case n.kw == kwName && e.ent != nil:
			v = e.ent.name
		case n.kw == kwName && e.exc != nil:
			v = e.exc.name
		case n.kw == kwType && e.svc != nil:
			v = e.svc.typ
		case n.kw == kwMessage && e.exc != nil:
			v = e.exc.message
		}
		return compareStr(v, n.op, n.val)
	}
	return false
}

func anyCauseMatches(want any, t *trace) bool {
	for _, k := range []rcKind{rcFault, rcError, rcResponseTime} {
		causes := t.rootCauses(k)
		for i := range causes {
			if matchJSON(want, causes[i].asJSON(k)) {
				return true
			}
		}
	}
	return false
}
