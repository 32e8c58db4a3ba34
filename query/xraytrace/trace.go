package xraytrace

import (
	"math"

	"github.com/valyala/fastjson"
)

// Trace is one element of BatchGetTraces' Traces, with the X-Ray member
// names as JSON keys.
type Trace struct {
	ID string `json:"Id"`
	// Duration is the latest end minus the earliest start over every
	// segment and subsegment, in seconds.
	Duration float64 `json:"Duration"`
	// LimitExceeded is true when the compiled documents exceeded the size
	// limit passed to Trace and some segments were left out.
	LimitExceeded bool      `json:"LimitExceeded"`
	Segments      []Segment `json:"Segments"`
}

// Segment is one compiled top-level document.
type Segment struct {
	ID       string `json:"Id"`
	Document string `json:"Document"`
}

// Trace returns the compiled documents, earliest first. When maxBytes > 0
// and the documents add up to more, the later ones are left out and
// LimitExceeded is set (the first document is always returned).
func (a *Assembly) Trace(maxBytes int) Trace {
	t := Trace{ID: a.traceID, Segments: make([]Segment, 0, len(a.roots))}
	total := 0
	for _, i := range a.roots {
		d := &a.docs[i]
		var doc []byte
		if d.modified && d.v != nil {
			doc = appendJSON(make([]byte, 0, len(d.doc.Raw)*2), d.v)
		} else {
			doc = d.doc.Raw
		}
		if maxBytes > 0 && len(t.Segments) > 0 && total+len(doc) > maxBytes {
			t.LimitExceeded = true
			continue
		}
		total += len(doc)
		t.Segments = append(t.Segments, Segment{ID: d.doc.ID, Document: string(doc)})
	}
	start, end := a.span()
	if end > start {
		t.Duration = round6(end - start)
	}
	return t
}

// span returns the earliest start and the latest end of every segment and
// subsegment (end 0 when nothing completed).
func (a *Assembly) span() (start, end float64) {
	start = math.Inf(1)
	a.walk(func(n *node) bool {
		if s := n.v.GetFloat64("start_time"); s > 0 && s < start {
			start = s
		}
		if e := n.v.GetFloat64("end_time"); e > end {
			end = e
		}
		return true
	})
	for _, i := range a.roots {
		d := &a.docs[i]
		if d.v == nil { // opaque document: trust the stored columns
			if d.doc.StartTime > 0 && d.doc.StartTime < start {
				start = d.doc.StartTime
			}
			end = max(end, d.doc.EndTime)
		}
	}
	if math.IsInf(start, 1) {
		start = 0
	}
	return start, end
}

// node is one segment or subsegment met by walk.
type node struct {
	v *fastjson.Value
	// top is the top-level document the node belongs to after merging.
	top *assembled
	// segment is the enclosing segment document's object, nil inside a
	// top-level (orphan) subsegment.
	segment *fastjson.Value
	// isSegment is true for a segment document's own object.
	isSegment bool
	depth     int
}

// walk calls f for every segment and subsegment of the merged trees, parents
// before children. f returns false to skip a node's subsegments.
func (a *Assembly) walk(f func(n *node) bool) {
	var stack []node
	for _, i := range a.roots {
		d := &a.docs[i]
		if d.v == nil {
			continue
		}
		root := node{v: d.v, top: d, isSegment: !d.sub}
		if root.isSegment {
			root.segment = d.v
		}
		stack = append(stack[:0], root)
		for len(stack) > 0 {
			n := stack[len(stack)-1]
			stack = stack[:len(stack)-1]
			if !f(&n) {
				continue
			}
			subs := n.v.GetArray("subsegments")
			for k := len(subs) - 1; k >= 0; k-- {
				if subs[k].Type() != fastjson.TypeObject {
					continue
				}
				stack = append(stack, node{v: subs[k], top: d, segment: n.segment, depth: n.depth + 1})
			}
		}
	}
}

// round6 rounds seconds to microseconds, so that differences of epoch
// floats print without binary noise.
func round6(x float64) float64 { return math.Round(x*1e6) / 1e6 }
