package filter

import (
	"math"
	"strings"

	"github.com/fluoro/fluoro/collector/segment"
)

// Classes of a span's outcome (xray.md §6.5): flags win over the HTTP
// status; fault > throttle > error > ok.
const (
	classOK uint8 = iota
	classError
	classThrottle
	classFault
)

// spanClass classifies one span like xray.md §6.5.
func spanClass(s *segment.Span) uint8 {
	switch {
	case s.Fault:
		return classFault
	case s.Throttle:
		return classThrottle
	case s.Error:
		return classError
	case s.HTTPStatus >= 500 && s.HTTPStatus < 600:
		return classFault
	case s.HTTPStatus == 429:
		return classThrottle
	case s.HTTPStatus >= 400 && s.HTTPStatus < 500:
		return classError
	}
	return classOK
}

// micros converts epoch seconds to whole microseconds exactly as
// schema/chstore does for start_us/end_us (rounded, clamped to UInt64).
func micros(sec float64) uint64 {
	if !(sec > 0) {
		return 0
	}
	us := math.Round(sec * 1e6)
	if us >= math.MaxUint64 {
		return math.MaxUint64
	}
	return uint64(us)
}

// inferrable reports whether a subsegment describes a call to a downstream
// node that X-Ray infers when no real segment answers it (xray.md §6.2).
func inferrable(s *segment.Span) bool {
	return !s.IsSegment && (s.Namespace == "aws" || s.Namespace == "remote" || s.SQLURL != "" || s.SQLDatabaseType != "")
}

// inferredNode names the node inferred from subsegment s (xray.md §6.2),
// like query/xraytrace: aws calls that name their DynamoDB table, SQS queue,
// S3 bucket or invoked Lambda function get a node per resource, other aws
// calls are AWS::<name>; SQL calls are Database::SQL; other remote calls are
// "remote". Nodes are named after the resource, else the subsegment.
func inferredNode(s *segment.Span) (name, typ string) {
	switch {
	case s.Namespace == "aws":
		res := s.AWSResource
		switch {
		case s.Name == "DynamoDB" && res != "":
			return res, "AWS::DynamoDB::Table"
		case s.Name == "SQS" && res != "":
			return res[strings.LastIndexByte(res, '/')+1:], "AWS::SQS::Queue"
		case s.Name == "S3" && res != "":
			return res, "AWS::S3::Bucket"
		case s.Name == "Lambda" && s.AWSOperation == "Invoke" && res != "":
			return lambdaFunctionName(res), "AWS::Lambda"
		}
		return s.Name, "AWS::" + s.Name
	case s.SQLURL != "" || s.SQLDatabaseType != "":
		return s.Name, "Database::SQL"
	}
	return s.Name, "remote"
}

// lambdaFunctionName reduces a function name, ARN or qualified name to the
// bare function name.
func lambdaFunctionName(fn string) string {
	if i := strings.Index(fn, ":function:"); i >= 0 {
		fn = fn[i+len(":function:"):]
	}
	if i := strings.IndexByte(fn, ':'); i >= 0 {
		fn = fn[:i]
	}
	return fn
}

// span is one deduplicated span with derived values.
type span struct {
	*segment.Span
	startUS, endUS uint64
	complete       bool
	class          uint8
	// rootCand is set for a segment whose parent is not in the trace.
	rootCand bool
	// inferred is set when the span generates an inferred node: it is
	// inferrable and no real segment has it as parent.
	inferred         bool
	infName, infType string
}

// durUS is the span's duration in µs; 0 while in progress.
func (s *span) durUS() uint64 {
	if !s.complete || s.endUS < s.startUS {
		return 0
	}
	return s.endUS - s.startUS
}

// trace is an assembled trace prepared for evaluation.
type trace struct {
	spans []span
	byID  map[string]int
	// segsByParent maps a parent id to the indexes of segments naming it.
	segsByParent map[string][]int
	children     map[string][]int // lazily built: parent id -> all child spans
	// root is the index of the entry segment, -1 if none: the segment
	// without a parent in the trace that started first (ties: smallest id).
	root        int
	partial     bool
	hasDuration bool
	durationUS  uint64
	anyInferred bool

	causes     [rcResponseTime + 1][]rootCause // lazily computed root causes
	causesDone [rcResponseTime + 1]bool
}

// newTrace deduplicates spans by id (a complete span beats its in-progress
// version) and derives the trace-level values.
func newTrace(in []segment.Span) *trace {
	t := &trace{
		spans:        make([]span, 0, len(in)),
		byID:         make(map[string]int, len(in)),
		segsByParent: make(map[string][]int),
		root:         -1,
	}
	for i := range in {
		s := &in[i]
		if j, ok := t.byID[s.ID]; ok {
			if t.spans[j].InProgress && !s.InProgress {
				t.spans[j].Span = s
			}
			continue
		}
		t.byID[s.ID] = len(t.spans)
		t.spans = append(t.spans, span{Span: s})
	}
	var minStart, maxEnd uint64
	first := true
	for i := range t.spans {
		s := &t.spans[i]
		s.startUS = micros(s.StartTime)
		s.complete = !s.InProgress
		if s.complete {
			s.endUS = micros(s.EndTime)
		}
		s.class = spanClass(s.Span)
		if s.InProgress {
			t.partial = true
		}
		if first || s.startUS < minStart {
			minStart = s.startUS
		}
		first = false
		if s.complete {
			t.hasDuration = true
			maxEnd = max(maxEnd, s.endUS)
		}
		if s.IsSegment {
			t.segsByParent[s.ParentID] = append(t.segsByParent[s.ParentID], i)
		}
	}
	if t.hasDuration && maxEnd > minStart {
		t.durationUS = maxEnd - minStart
	}
	for i := range t.spans {
		s := &t.spans[i]
		if _, ok := t.byID[s.ParentID]; s.IsSegment && (s.ParentID == "" || !ok) {
			s.rootCand = true
			if t.root < 0 || t.less(i, t.root) {
				t.root = i
			}
		}
		if !s.IsSegment && s.HTTPTraced && len(t.segsByParent[s.ID]) == 0 {
			t.partial = true // the instrumented callee's segment has not arrived
		}
		if inferrable(s.Span) && len(t.segsByParent[s.ID]) == 0 {
			s.inferred = true
			s.infName, s.infType = inferredNode(s.Span)
			t.anyInferred = true
		}
	}
	return t
}

// childrenOf returns every span whose parent is id (subsegments and
// downstream segments).
func (t *trace) childrenOf(id string) []int {
	if t.children == nil {
		t.children = make(map[string][]int, len(t.spans))
		for i := range t.spans {
			if p := t.spans[i].ParentID; p != "" {
				t.children[p] = append(t.children[p], i)
			}
		}
	}
	return t.children[id]
}
