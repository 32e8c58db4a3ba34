package filter

import (
	"slices"
	"testing"
)

// TestPrefilter checks which expressions get a row-level prefilter and its
// parameters; that the prefilter never changes results is checked against
// ClickHouse by the differential test.
func TestPrefilter(t *testing.T) {
	for _, tc := range []struct {
		expr string
		ok   bool
		args []any
	}{
		{`annotation.customer_id = "c-17"`, true, []any{"customer_id", "c-17"}},
		{`annotation.age > 3`, true, []any{"age", 3.0}},
		{`annotation.internal = true`, true, []any{"internal"}},
		{`annotation.tier`, true, []any{"tier", "tier", "tier"}},
		{`user = "alice"`, true, []any{"alice"}},
		{`http.url CONTAINS "/api/"`, true, []any{"/api/"}},
		{`service("api")`, true, []any{"api", "api"}},
		{`service(id(name: "f", type: "AWS::Lambda")) { fault }`, true, []any{"f", "AWS::Lambda", "f", "AWS::Lambda"}},
		// AND keeps the more selective side, OR needs both.
		{`http.method = "GET" AND user = "bob"`, true, []any{"bob"}},
		{`fault AND annotation.k = "v"`, true, []any{"k", "v"}},
		{`user = "a" OR annotation.k = "v"`, true, []any{"a", "k", "v"}},
		{`user = "a" OR fault`, false, nil},
		// No prefilter: negations, whole-trace keywords, any service.
		{`!user = "alice"`, false, nil},
		{`NOT annotation.k = "v"`, false, nil},
		{`fault`, false, nil},
		{`duration > 3`, false, nil},
		{`ok`, false, nil},
		{`service() { fault }`, false, nil},
		{`edge("a", "b")`, false, nil},
		{`availabilityzone = "x"`, false, nil},
	} {
		e, err := Parse(tc.expr)
		if err != nil {
			t.Fatalf("Parse(%q): %v", tc.expr, err)
		}
		where, args, ok := e.Prefilter()
		if ok != tc.ok || !slices.Equal(args, tc.args) || ok != (where != "") {
			t.Errorf("Prefilter(%q) = %q, %v, %v; want ok %v, args %v", tc.expr, where, args, ok, tc.ok, tc.args)
		}
	}
}

// TestAnnotationLookup checks which expressions name string annotations
// an index can answer; that every match carries one is checked by the
// differential test.
func TestAnnotationLookup(t *testing.T) {
	for _, tc := range []struct {
		expr string
		want []AnnotationValue
	}{
		{`annotation.customer_id = "c-17"`, []AnnotationValue{{"customer_id", "c-17"}}},
		{`annotation["a b"] = "x"`, []AnnotationValue{{"a b", "x"}}},
		{`fault AND annotation.k = "v"`, []AnnotationValue{{"k", "v"}}},
		{`annotation.k = "v" AND (annotation.a = "1" OR annotation.a = "2")`, []AnnotationValue{{"k", "v"}}},
		{`(annotation.a = "1" OR annotation.a = "2") AND annotation.k = "v"`, []AnnotationValue{{"k", "v"}}},
		{`annotation.a = "1" OR annotation.b = "2"`, []AnnotationValue{{"a", "1"}, {"b", "2"}}},
		{`service("api") { fault } AND annotation.k = "v"`, []AnnotationValue{{"k", "v"}}},
		// Nothing an index of string values answers.
		{`annotation.a = "1" OR fault`, nil},
		{`annotation.k != "v"`, nil},
		{`!annotation.k = "v"`, nil},
		{`NOT (annotation.k = "v")`, nil},
		{`annotation.k CONTAINS "v"`, nil},
		{`annotation.n = 3`, nil},
		{`annotation.b = true`, nil},
		{`annotation.k`, nil},
		{`user = "alice"`, nil},
	} {
		e, err := Parse(tc.expr)
		if err != nil {
			t.Fatalf("Parse(%q): %v", tc.expr, err)
		}
		got, ok := e.AnnotationLookup()
		if ok != (tc.want != nil) || !slices.Equal(got, tc.want) {
			t.Errorf("AnnotationLookup(%q) = %v, %v; want %v", tc.expr, got, ok, tc.want)
		}
	}
	// A long OR is left to the scan.
	expr := `annotation.k = "0"`
	for i := 1; i <= maxLookupValues; i++ {
		expr += ` OR annotation.k = "` + string(rune('a'+i%26)) + `"`
	}
	e, err := Parse(expr)
	if err != nil {
		t.Fatal(err)
	}
	if got, ok := e.AnnotationLookup(); ok {
		t.Errorf("AnnotationLookup of %d alternatives = %d values; want none", maxLookupValues+1, len(got))
	}
}
