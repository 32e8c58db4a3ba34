package segment

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/golden")

// testNow is the clock of the golden tests: every testdata document is
// older, the captured ones by a few days.
var testNow = time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)

func testLimits() Limits {
	l := DefaultLimits()
	l.Now = func() time.Time { return testNow }
	return l
}

// goldenDoc is a Document as written to a golden file: Raw is checked
// separately (it must equal the input bytes) and only its length recorded.
type goldenDoc struct {
	TraceID, ID, ParentID string
	Kind                  string
	Name                  string
	StartTime, EndTime    float64
	InProgress            bool
	ReceivedNanos         int64
	RawBytes              int
	Spans                 []Span
}

type goldenErr struct {
	Reason, Code, ID, TraceID, Msg string
	Index                          int
}

type goldenOut struct {
	Documents []goldenDoc
	Errors    []goldenErr `json:",omitempty"`
}

// splitErrors flattens the error returned by Decode into its *DecodeErrors
// and checks that nothing else is in it.
func splitErrors(t testing.TB, err error) []*DecodeError {
	t.Helper()
	out := DecodeErrors(err)
	if err != nil && len(out) == 0 {
		t.Fatalf("error %v (%T) holds no *DecodeError", err, err)
	}
	if j, ok := err.(interface{ Unwrap() []error }); ok && len(j.Unwrap()) != len(out) {
		t.Fatalf("joined error %v holds other errors", err)
	}
	for _, e := range out {
		if !errors.Is(e, ErrMalformed) {
			t.Fatalf("error %v does not match ErrMalformed", e)
		}
	}
	if err != nil && !errors.Is(err, ErrMalformed) {
		t.Fatalf("error %v does not match ErrMalformed", err)
	}
	return out
}

// bodyOf returns the document part of a testdata file: files starting with
// a daemon header line are datagrams.
func bodyOf(t *testing.T, b []byte) []byte {
	t.Helper()
	if bytes.HasPrefix(b, []byte(`{"format"`)) {
		body, err := SplitDatagram(b)
		if err != nil {
			t.Fatalf("SplitDatagram: %v", err)
		}
		return body
	}
	return b
}

// decodeForGolden decodes body and checks the invariants every decode must
// keep: Raw is the exact bytes of each document, valid JSON, never aliasing
// body.
func decodeForGolden(t *testing.T, body []byte) goldenOut {
	t.Helper()
	d := NewDecoder(testLimits())
	docs, err := d.Decode(body, 1796083200000000000, nil)
	var out goldenOut
	var elems []json.RawMessage
	if trimmed := bytes.TrimSpace(body); len(trimmed) > 0 && trimmed[0] == '[' {
		if err := json.Unmarshal(trimmed, &elems); err != nil {
			t.Fatalf("array body: %v", err)
		}
	}
	for i, doc := range docs {
		if !json.Valid(doc.Raw) {
			t.Errorf("document %d: Raw is not valid JSON", i)
		}
		if elems == nil && !bytes.Equal(doc.Raw, bytes.TrimSpace(body)) {
			t.Errorf("document %d: Raw differs from the body", i)
		}
		if elems != nil && !containsRaw(elems, doc.Raw) {
			t.Errorf("document %d: Raw is not one of the array's elements", i)
		}
		checkDocument(t, doc)
		out.Documents = append(out.Documents, goldenDoc{
			TraceID: doc.TraceID, ID: doc.ID, ParentID: doc.ParentID, Kind: doc.Kind.String(), Name: doc.Name,
			StartTime: doc.StartTime, EndTime: doc.EndTime, InProgress: doc.InProgress,
			ReceivedNanos: doc.ReceivedNanos, RawBytes: len(doc.Raw), Spans: doc.Spans,
		})
	}
	for _, e := range splitErrors(t, err) {
		out.Errors = append(out.Errors, goldenErr{Reason: e.Reason, Code: e.Code, ID: e.ID, TraceID: e.TraceID, Msg: e.Msg, Index: e.Index})
	}
	// Overwriting the input must not change what was decoded.
	before, _ := json.Marshal(out)
	for i := range body {
		body[i] = 'x'
	}
	for i := range docs {
		out.Documents[i].Spans = docs[i].Spans
	}
	after, _ := json.Marshal(out)
	if !bytes.Equal(before, after) {
		t.Errorf("decoded documents alias the input buffer")
	}
	return out
}

func containsRaw(elems []json.RawMessage, raw []byte) bool {
	for _, e := range elems {
		if bytes.Equal(e, raw) {
			return true
		}
	}
	return false
}

// checkDocument asserts the structural invariants of a decoded Document.
func checkDocument(t testing.TB, doc Document) {
	t.Helper()
	if !ValidID(doc.ID) || strings.ToLower(doc.ID) != doc.ID {
		t.Errorf("document id %q is not 16 lowercase hex", doc.ID)
	}
	if !ValidTraceID(doc.TraceID) || strings.ToLower(doc.TraceID) != doc.TraceID {
		t.Errorf("trace id %q invalid", doc.TraceID)
	}
	if doc.ParentID != "" && !ValidID(doc.ParentID) {
		t.Errorf("parent id %q invalid", doc.ParentID)
	}
	if len(doc.Spans) == 0 {
		t.Fatalf("document %s has no spans", doc.ID)
	}
	s0 := doc.Spans[0]
	if s0.ID != doc.ID || s0.TraceID != doc.TraceID || s0.ParentID != doc.ParentID || s0.Depth != 0 ||
		s0.Name != doc.Name || s0.IsSegment != (doc.Kind == KindSegment) {
		t.Errorf("Spans[0] does not describe the document: %+v", s0)
	}
	if doc.InProgress == (doc.EndTime != 0) {
		t.Errorf("document %s: InProgress %v with EndTime %v", doc.ID, doc.InProgress, doc.EndTime)
	}
	ids := map[string]int{doc.ID: 0}
	for i, sp := range doc.Spans[1:] {
		i++
		if !ValidID(sp.ID) || sp.TraceID != doc.TraceID || sp.SegmentID != doc.ID || sp.IsSegment {
			t.Errorf("span %d: bad identity %+v", i, sp)
		}
		p, ok := ids[sp.ParentID]
		if !ok || doc.Spans[p].Depth+1 != sp.Depth {
			t.Errorf("span %d (%s): parent %q is not an earlier span one level up", i, sp.Name, sp.ParentID)
		}
		ids[sp.ID] = i
		if len(sp.AnnStrKeys) != len(sp.AnnStrValues) || len(sp.AnnNumKeys) != len(sp.AnnNumValues) || len(sp.AnnBoolKeys) != len(sp.AnnBoolValues) {
			t.Errorf("span %d: annotation slices not parallel", i)
		}
	}
}

func goldenInputs(t *testing.T) []string {
	t.Helper()
	var files []string
	for _, pat := range []string{"testdata/upstream/otel/*.txt", "testdata/sdk/*.txt"} {
		m, err := filepath.Glob(pat)
		if err != nil {
			t.Fatal(err)
		}
		files = append(files, m...)
	}
	if len(files) < 20 {
		t.Fatalf("only %d golden inputs found", len(files))
	}
	return files
}

func goldenPath(in string) string {
	rel := strings.TrimPrefix(in, "testdata"+string(filepath.Separator))
	rel = strings.TrimSuffix(rel, filepath.Ext(rel))
	return filepath.Join("testdata", "golden", strings.ReplaceAll(rel, string(filepath.Separator), "__")+".json")
}

func compareGolden(t *testing.T, path string, out goldenOut) {
	t.Helper()
	got, err := json.MarshalIndent(out, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	got = append(got, '\n')
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -run Golden -update)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("decoded output differs from %s (run go test -run Golden -update and review the diff):\n%s", path, firstDiff(got, want))
	}
}

func firstDiff(got, want []byte) string {
	g, w := strings.Split(string(got), "\n"), strings.Split(string(want), "\n")
	for i := 0; i < len(g) || i < len(w); i++ {
		var gl, wl string
		if i < len(g) {
			gl = g[i]
		}
		if i < len(w) {
			wl = w[i]
		}
		if gl != wl {
			return fmt.Sprintf("line %d:\n got: %s\nwant: %s", i+1, gl, wl)
		}
	}
	return ""
}

func TestGolden(t *testing.T) {
	for _, in := range goldenInputs(t) {
		t.Run(filepath.Base(in), func(t *testing.T) {
			b, err := os.ReadFile(in)
			if err != nil {
				t.Fatal(err)
			}
			compareGolden(t, goldenPath(in), decodeForGolden(t, bodyOf(t, b)))
		})
	}
}

// TestGoldenBatchGetTraces decodes the segment documents of a real
// BatchGetTraces answer (a Lambda service segment and a function segment
// with span links), each element's exact bytes as one body.
func TestGoldenBatchGetTraces(t *testing.T) {
	b, err := os.ReadFile("testdata/upstream/aws-iatk/traceWithLinks01.json")
	if err != nil {
		t.Fatal(err)
	}
	var trace struct{ Segments []json.RawMessage }
	if err := json.Unmarshal(b, &trace); err != nil {
		t.Fatal(err)
	}
	var all goldenOut
	for _, seg := range trace.Segments {
		out := decodeForGolden(t, append([]byte(nil), seg...))
		all.Documents = append(all.Documents, out.Documents...)
		all.Errors = append(all.Errors, out.Errors...)
	}
	compareGolden(t, filepath.Join("testdata", "golden", "upstream__aws-iatk__traceWithLinks01.json"), all)
}
