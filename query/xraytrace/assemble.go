package xraytrace

import (
	"cmp"
	"slices"

	"github.com/fluoro/fluoro/collector/segment"
	"github.com/valyala/fastjson"
)

// Doc is one stored top-level document of a trace: a segment or an
// independent subsegment, the newest version storage kept of it.
type Doc struct {
	ID         string
	ParentID   string
	Kind       segment.Kind // 0 means unknown: taken from the document's "type"
	InProgress bool
	StartTime  float64 // epoch seconds
	EndTime    float64 // epoch seconds; 0 while in progress
	Raw        []byte  // the document as received
}

// Assembly is the documents of one trace parsed and merged into trees. It is
// not safe for concurrent use. It keeps references to the Raw slices of the
// documents it was built from.
type Assembly struct {
	traceID string
	docs    []assembled
	roots   []int // indexes into docs of the top-level documents, in output order
	invalid []string
	// segmentParents holds the parent_id of every segment document: a
	// subsegment whose id is in it called an instrumented service.
	segmentParents map[string]bool
	// ids holds the id of every segment and subsegment of the trace.
	ids map[string]bool
}

type assembled struct {
	doc      Doc
	v        *fastjson.Value // nil when Raw is not a JSON object
	sub      bool            // independent subsegment
	attached bool            // merged into another document
	dropped  bool            // superseded by an embedded copy of itself
	modified bool            // received merged subsegments: must be re-serialised
}

// nodeRef locates one segment or subsegment object inside a document.
type nodeRef struct {
	v   *fastjson.Value
	doc int
	// arr and idx locate an embedded subsegment in its parent's
	// "subsegments" array; arr is nil for a top-level document.
	arr        *fastjson.Value
	idx        int
	inProgress bool
}

// Assemble parses docs (all of one trace) and merges independent subsegments
// into their parents. Documents that are not JSON objects are kept as
// opaque top-level documents and reported by Invalid.
func Assemble(traceID string, docs []Doc) *Assembly {
	a := &Assembly{
		traceID:        traceID,
		docs:           make([]assembled, len(docs)),
		segmentParents: map[string]bool{},
		ids:            map[string]bool{},
	}
	for i, d := range docs {
		ad := &a.docs[i]
		ad.doc = d
		// fastjson's parser is lenient (it takes numbers such as 09); a
		// document merged with others must be strict JSON, or the
		// compiled result would not be.
		if fastjson.ValidateBytes(d.Raw) != nil {
			a.invalid = append(a.invalid, d.ID)
			continue
		}
		v, err := fastjson.ParseBytes(d.Raw)
		if err != nil || v.Type() != fastjson.TypeObject {
			a.invalid = append(a.invalid, d.ID)
			continue
		}
		ad.v = v
		switch d.Kind {
		case segment.KindSubsegment:
			ad.sub = true
		case segment.KindSegment:
		default:
			ad.sub = string(v.GetStringBytes("type")) == "subsegment"
		}
		if ad.doc.ID == "" {
			ad.doc.ID = string(v.GetStringBytes("id"))
		}
		if ad.doc.ParentID == "" {
			ad.doc.ParentID = string(v.GetStringBytes("parent_id"))
		}
		// Ids match case-insensitively (storage keeps them lower-case, the
		// raw documents as sent).
		ad.doc.ID, ad.doc.ParentID = lowerID(ad.doc.ID), lowerID(ad.doc.ParentID)
		if !ad.sub && ad.doc.ParentID != "" {
			a.segmentParents[ad.doc.ParentID] = true
		}
	}
	a.merge()
	return a
}

// Invalid returns the ids of stored documents that are not JSON objects.
// They are returned unchanged as top-level documents.
func (a *Assembly) Invalid() []string { return a.invalid }

// TraceID returns the trace id the assembly was built for.
func (a *Assembly) TraceID() string { return a.traceID }

func (a *Assembly) merge() {
	index := a.index()

	// target[i]: where independent subsegment i goes; parent[i]: the
	// document that receives it (-1: it stays top-level).
	n := len(a.docs)
	parent := make([]int, n)
	target := make([]nodeRef, n)
	replace := make([]bool, n)
	for i := range parent {
		parent[i] = -1
	}
	for i := range a.docs {
		d := &a.docs[i]
		if d.v == nil || !d.sub || d.dropped {
			continue
		}
		if r, ok := index[d.doc.ID]; ok && r.doc != i && r.arr != nil {
			// An embedded copy of this subsegment lost to it (see index):
			// this document takes the copy's place.
			target[i], parent[i], replace[i] = r, r.doc, true
			continue
		}
		p, ok := index[d.doc.ParentID]
		if !ok || p.doc == i || d.doc.ParentID == d.doc.ID {
			continue // orphan
		}
		target[i], parent[i] = p, p.doc
	}
	a.breakCycles(parent)

	// Attach in start-time order so that merged siblings are ordered.
	order := make([]int, 0, n)
	for i := range a.docs {
		if parent[i] >= 0 {
			order = append(order, i)
		}
	}
	slices.SortStableFunc(order, func(x, y int) int { return a.compareDocs(x, y) })
	for _, i := range order {
		d := &a.docs[i]
		for _, k := range [...]string{"type", "trace_id", "parent_id"} {
			d.v.Del(k)
		}
		t := target[i]
		if replace[i] {
			t.arr.SetArrayItem(t.idx, d.v)
		} else {
			subs := t.v.Get("subsegments")
			if subs == nil || subs.Type() != fastjson.TypeArray {
				var ar fastjson.Arena
				subs = ar.NewArray()
				t.v.Set("subsegments", subs)
			}
			subs.SetArrayItem(len(subs.GetArray()), d.v)
		}
		d.attached = true
		a.docs[parent[i]].modified = true
	}

	for i := range a.docs {
		d := &a.docs[i]
		if !d.attached && !d.dropped {
			a.roots = append(a.roots, i)
		}
	}
	slices.SortStableFunc(a.roots, func(x, y int) int { return a.compareDocs(x, y) })
}

func (a *Assembly) compareDocs(x, y int) int {
	dx, dy := &a.docs[x].doc, &a.docs[y].doc
	if c := cmp.Compare(dx.StartTime, dy.StartTime); c != 0 {
		return c
	}
	return cmp.Compare(dx.ID, dy.ID)
}

// index maps every segment and subsegment id to the object that represents
// it. When an id occurs more than once (an in-progress subsegment embedded
// in its parent and sent again on its own when complete), a segment document
// wins, then a complete copy over an in-progress one, then an embedded copy
// over an independent one. An independent document that loses is dropped; an
// embedded copy that loses to an independent document is replaced by it.
func (a *Assembly) index() map[string]nodeRef {
	index := make(map[string]nodeRef, len(a.docs)*4)
	var stack []nodeRef
	for i := range a.docs {
		d := &a.docs[i]
		if d.v == nil {
			continue
		}
		stack = append(stack[:0], nodeRef{v: d.v, doc: i, inProgress: d.doc.InProgress})
		for len(stack) > 0 {
			r := stack[len(stack)-1]
			stack = stack[:len(stack)-1]
			id := lowerID(string(r.v.GetStringBytes("id")))
			if id != "" {
				a.ids[id] = true
				if old, ok := index[id]; !ok || a.better(r, old) {
					index[id] = r
				}
			}
			subs := r.v.GetArray("subsegments")
			for k := len(subs) - 1; k >= 0; k-- {
				s := subs[k]
				if s.Type() != fastjson.TypeObject {
					continue
				}
				stack = append(stack, nodeRef{v: s, doc: i, arr: r.v.Get("subsegments"), idx: k,
					inProgress: s.GetBool("in_progress")})
			}
		}
	}
	// Independent documents that lost to an embedded copy are dropped.
	for i := range a.docs {
		d := &a.docs[i]
		if d.v == nil || !d.sub {
			continue
		}
		if r, ok := index[d.doc.ID]; ok && r.doc != i && r.arr != nil && !a.better(nodeRef{v: d.v, doc: i, inProgress: d.doc.InProgress}, r) {
			d.dropped = true
		}
	}
	// An independent document that won over an embedded copy takes its
	// place: index it at the copy's position (merge sees r.arr != nil).
	for i := range a.docs {
		d := &a.docs[i]
		if d.v == nil || !d.sub || d.dropped {
			continue
		}
		r, ok := index[d.doc.ID]
		if !ok || r.doc != i || r.arr != nil {
			continue
		}
		if slot, found := a.embeddedCopy(d.doc.ID, i); found {
			slot.v = d.v
			index[d.doc.ID] = slot
		}
	}
	return index
}

// better reports whether r should represent its id rather than old.
func (a *Assembly) better(r, old nodeRef) bool {
	rSeg := r.arr == nil && !a.docs[r.doc].sub
	oldSeg := old.arr == nil && !a.docs[old.doc].sub
	if rSeg != oldSeg {
		return rSeg
	}
	if r.inProgress != old.inProgress {
		return !r.inProgress
	}
	if (r.arr != nil) != (old.arr != nil) {
		return r.arr != nil
	}
	return false // first one wins
}

// embeddedCopy finds a subsegment with the given id embedded in a document
// other than skip.
func (a *Assembly) embeddedCopy(id string, skip int) (nodeRef, bool) {
	var stack []nodeRef
	for i := range a.docs {
		d := &a.docs[i]
		if d.v == nil || i == skip {
			continue
		}
		stack = append(stack[:0], nodeRef{v: d.v, doc: i})
		for len(stack) > 0 {
			r := stack[len(stack)-1]
			stack = stack[:len(stack)-1]
			subs := r.v.GetArray("subsegments")
			for k, s := range subs {
				if s.Type() != fastjson.TypeObject {
					continue
				}
				ref := nodeRef{v: s, doc: i, arr: r.v.Get("subsegments"), idx: k, inProgress: s.GetBool("in_progress")}
				if lowerID(string(s.GetStringBytes("id"))) == id {
					return ref, true
				}
				stack = append(stack, ref)
			}
		}
	}
	return nodeRef{}, false
}

// breakCycles cuts chains of independent subsegments that lead back to
// themselves (a's parent is in b, b's parent is in a): the earliest document
// of the cycle stays top-level.
func (a *Assembly) breakCycles(parent []int) {
	const (
		unseen = iota
		onPath
		done
	)
	state := make([]uint8, len(parent))
	var path []int
	for start := range parent {
		if state[start] != unseen {
			continue
		}
		path = path[:0]
		i := start
		for i >= 0 && state[i] == unseen {
			state[i] = onPath
			path = append(path, i)
			i = parent[i]
		}
		if i >= 0 && state[i] == onPath {
			// path[k:] is a cycle starting at i.
			k := slices.Index(path, i)
			first := path[k]
			for _, j := range path[k:] {
				if a.compareDocs(j, first) < 0 {
					first = j
				}
			}
			parent[first] = -1
		}
		for _, j := range path {
			state[j] = done
		}
	}
}

// lowerID returns s with ASCII letters in lower case (ids are hex).
func lowerID(s string) string {
	for i := 0; i < len(s); i++ {
		if 'A' <= s[i] && s[i] <= 'Z' {
			b := []byte(s)
			for j := i; j < len(b); j++ {
				if 'A' <= b[j] && b[j] <= 'Z' {
					b[j] += 'a' - 'A'
				}
			}
			return string(b)
		}
	}
	return s
}
