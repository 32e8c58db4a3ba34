package filter

import (
	"sort"

	"github.com/fluoro/fluoro/collector/segment"
)

// rootCause is one fault, error or response-time root cause of a trace
// (xray.md §6.6): the path of services from the trace's top to the causing
// entity, each with the chain of entity names inside it.
type rootCause struct {
	services        []rcSvc
	clientImpacting bool
}

type rcSvc struct {
	name, typ, account string
	inferred           bool
	entities           []rcEnt
}

type rcEnt struct {
	name       string
	remote     bool
	coverage   float64
	exceptions []rcExc
}

type rcExc struct{ name, message string }

// rootCauses returns the trace's root causes of the given kind (computed once).
func (t *trace) rootCauses(kind rcKind) []rootCause {
	if t.causesDone[kind] {
		return t.causes[kind]
	}
	t.causesDone[kind] = true
	var ends []int
	switch kind {
	case rcFault, rcError:
		bad := func(c uint8) bool {
			if kind == rcFault {
				return c == classFault
			}
			return c == classError || c == classThrottle
		}
		for i := range t.spans {
			if !bad(t.spans[i].class) {
				continue
			}
			leaf := true
			for _, c := range t.childrenOf(t.spans[i].ID) {
				if bad(t.spans[c].class) {
					leaf = false
					break
				}
			}
			if leaf {
				ends = append(ends, i)
			}
		}
		sort.Slice(ends, func(a, b int) bool { return t.less(ends[a], ends[b]) })
	case rcResponseTime:
		if t.root >= 0 {
			cur := t.root
			seen := map[int]bool{cur: true}
			for {
				best := -1
				for _, c := range t.childrenOf(t.spans[cur].ID) {
					if seen[c] {
						continue
					}
					if best < 0 || t.spans[c].durUS() > t.spans[best].durUS() ||
						(t.spans[c].durUS() == t.spans[best].durUS() && t.less(c, best)) {
						best = c
					}
				}
				if best < 0 {
					break
				}
				seen[best] = true
				cur = best
			}
			ends = []int{cur}
		}
	}
	var rootClass uint8
	var rootDur uint64
	if t.root >= 0 {
		rootClass = t.spans[t.root].class
		rootDur = t.spans[t.root].durUS()
	}
	out := make([]rootCause, 0, len(ends))
	for _, e := range ends {
		rc := rootCause{services: t.causePath(e, kind, rootDur)}
		switch kind {
		case rcFault:
			rc.clientImpacting = t.root >= 0 && rootClass == classFault
		case rcError:
			rc.clientImpacting = t.root >= 0 && (rootClass == classError || rootClass == classThrottle)
		default:
			rc.clientImpacting = true
		}
		out = append(out, rc)
	}
	t.causes[kind] = out
	return out
}

// less orders spans by start time, then id.
func (t *trace) less(a, b int) bool {
	sa, sb := &t.spans[a], &t.spans[b]
	if sa.startUS != sb.startUS {
		return sa.startUS < sb.startUS
	}
	return sa.ID < sb.ID
}

// causePath builds the services/entities path from the topmost known
// ancestor of span e down to e, plus the inferred node e generates.
func (t *trace) causePath(e int, kind rcKind, rootDur uint64) []rcSvc {
	var chain []int
	seen := map[int]bool{}
	for cur := e; cur >= 0 && !seen[cur]; {
		seen[cur] = true
		chain = append(chain, cur)
		p, ok := t.byID[t.spans[cur].ParentID]
		if !ok || t.spans[cur].ParentID == "" {
			break
		}
		cur = p
	}
	coverage := func(s *span) float64 {
		if kind != rcResponseTime || rootDur == 0 {
			return 0
		}
		return float64(s.durUS()) / float64(rootDur)
	}
	var svcs []rcSvc
	for k := len(chain) - 1; k >= 0; k-- {
		s := &t.spans[chain[k]]
		if s.IsSegment || len(svcs) == 0 {
			sv := rcSvc{name: s.Name, typ: s.Origin, account: s.AWSAccountID}
			if !s.IsSegment {
				sv = rcSvc{name: s.Service, typ: s.Origin}
			}
			svcs = append(svcs, sv)
		}
		ent := rcEnt{name: s.Name, remote: isRemote(s.Span), coverage: coverage(s)}
		if kind != rcResponseTime && (s.CauseType != "" || s.CauseMessage != "") {
			ent.exceptions = []rcExc{{name: s.CauseType, message: s.CauseMessage}}
		}
		last := &svcs[len(svcs)-1]
		last.entities = append(last.entities, ent)
	}
	if s := &t.spans[e]; s.inferred {
		svcs = append(svcs, rcSvc{name: s.infName, typ: s.infType, account: s.AWSAccountID, inferred: true,
			entities: []rcEnt{{name: s.infName, remote: true, coverage: coverage(s)}}})
	}
	return svcs
}

func isRemote(s *segment.Span) bool {
	return s.Remote || s.Namespace == "aws" || s.Namespace == "remote"
}

// asJSON renders a root cause like the TraceSummary shapes of xray.md §4.5,
// for matching rootcause.json skeletons.
func (rc *rootCause) asJSON(kind rcKind) map[string]any {
	svcs := make([]any, 0, len(rc.services))
	for _, s := range rc.services {
		ents := make([]any, 0, len(s.entities))
		for _, e := range s.entities {
			m := map[string]any{"Name": e.name, "Remote": e.remote}
			if kind == rcResponseTime {
				m["Coverage"] = e.coverage
			} else {
				exs := make([]any, 0, len(e.exceptions))
				for _, x := range e.exceptions {
					exs = append(exs, map[string]any{"Name": x.name, "Message": x.message})
				}
				m["Exceptions"] = exs
			}
			ents = append(ents, m)
		}
		m := map[string]any{"Name": s.name, "Names": []any{s.name}, "Type": s.typ, "Inferred": s.inferred, "EntityPath": ents}
		if s.account != "" {
			m["AccountId"] = s.account
		}
		svcs = append(svcs, m)
	}
	return map[string]any{"Services": svcs, "ClientImpacting": rc.clientImpacting}
}

// matchJSON reports whether have matches the skeleton want: object members
// present in want must match, omitted ones are wildcards; arrays match
// element by element and must have the same length; scalars must be equal.
func matchJSON(want, have any) bool {
	switch w := want.(type) {
	case map[string]any:
		h, ok := have.(map[string]any)
		if !ok {
			return false
		}
		for k, wv := range w {
			hv, ok := h[k]
			if !ok || !matchJSON(wv, hv) {
				return false
			}
		}
		return true
	case []any:
		h, ok := have.([]any)
		if !ok || len(h) != len(w) {
			return false
		}
		for i := range w {
			if !matchJSON(w[i], h[i]) {
				return false
			}
		}
		return true
	}
	return want == have
}
