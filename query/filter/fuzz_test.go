package filter

import (
	"errors"
	"reflect"
	"strings"
	"testing"
)

// FuzzParse checks that Parse never panics, that errors are *SyntaxError
// with a position inside the input, that the normal form parses back to
// the same tree, and that both back-ends accept whatever parses.
func FuzzParse(f *testing.F) {
	for _, s := range testExprs() {
		f.Add(s)
	}
	for _, s := range roundTripExtra {
		f.Add(s)
	}
	for _, s := range fuzzErrorSeeds {
		f.Add(s)
	}
	hand := handTraces()
	spans := hand["H1"].spans()
	f.Fuzz(func(t *testing.T, in string) {
		e, err := Parse(in)
		if err != nil {
			var se *SyntaxError
			if !errors.As(err, &se) {
				t.Fatalf("Parse(%q) error %T %v is not a *SyntaxError", in, err, err)
			}
			if se.Pos < 0 || se.Pos > len(in) || se.Msg == "" {
				t.Fatalf("Parse(%q): error %q at %d outside [0, %d]", in, se.Msg, se.Pos, len(in))
			}
			return
		}
		norm := e.String()
		again, err := Parse(norm)
		if err != nil {
			t.Fatalf("Parse(%q) ok, but its normal form %q fails: %v", in, norm, err)
		}
		if !reflect.DeepEqual(e, again) {
			t.Fatalf("Parse(%q): normal form %q parses to a different tree (%q)", in, norm, again.String())
		}
		e.Match(spans)
		if len(e.Groups()) > 0 {
			return
		}
		having, args, err := e.SQL()
		if err != nil {
			t.Fatalf("SQL(%q): %v", in, err)
		}
		if strings.Count(having, "?") != len(args) {
			t.Fatalf("SQL(%q): %d placeholders for %d args", in, strings.Count(having, "?"), len(args))
		}
	})
}

var fuzzErrorSeeds = []string{
	``, `responsetime`, `responstime > 1`, `ok AND`, `(ok`, `service("a") {}`, `edge(id(account.id: "1"), "b")`,
	`rootcause.json = #["a`, `annotation[a:b]`, `user = "abc`, `ok & fault`, `responsetime > 1.`,
	"annotation.é = \"ü\"", "user = \"\xff\xfe\"", `annotation[5] = 5`, `rootcause.json = #[{"a":[1,{"b":null}]}]`,
}
