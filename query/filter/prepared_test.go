package filter

import (
	"testing"

	"github.com/fluoro/fluoro/collector/segment"
)

// TestMatchTrace: one prepared trace gives every expression the same
// answer as Match, in any order of evaluation (lazy parts of the prepared
// trace are shared).
func TestMatchTrace(t *testing.T) {
	corpus := genCorpus(3, 120)
	exprs := []string{
		`fault OR responsetime > 1`, `service("api") { fault } AND annotation.age > 10`, `edge("api", "auth") { error }`,
		`rootcause.fault.service { name = "api" }`, `rootcause.responsetime.entity { remote }`, `!partial AND duration < 3`,
		`service() { throttle }`, `user = "alice" OR http.status = 500`, benchExpr,
	}
	var parsed []*Expr
	for _, s := range exprs {
		e, err := Parse(s)
		if err != nil {
			t.Fatal(err)
		}
		parsed = append(parsed, e)
	}
	matches := 0
	for _, c := range corpus {
		spans := c.spans()
		tr := NewTrace(spans)
		for _, order := range [][]int{{0, 1, 2, 3, 4, 5, 6, 7, 8}, {8, 7, 6, 5, 4, 3, 2, 1, 0}} {
			for _, i := range order {
				want := parsed[i].Match(spans)
				if got := parsed[i].MatchTrace(tr); got != want {
					t.Fatalf("%s: MatchTrace = %v, Match = %v", exprs[i], got, want)
				}
				if want {
					matches++
				}
			}
		}
	}
	if matches == 0 {
		t.Fatal("no expression matched any trace: the test proves nothing")
	}
	e, _ := Parse("fault")
	if e.MatchTrace(NewTrace(nil)) || e.MatchTrace(nil) || e.Match([]segment.Span{}) {
		t.Fatal("an empty trace matched")
	}
}

// BenchmarkMatchTrace evaluates 50 expressions on each trace of the
// corpus, prepared once (as alerting does) versus Match each time; one op
// is one trace.
func BenchmarkMatchTrace(b *testing.B) {
	corpus := genCorpus(1, 240)
	spans := make([][]segment.Span, len(corpus))
	for i, c := range corpus {
		spans[i] = c.spans()
	}
	var exprs []*Expr
	for i := range 50 {
		src := []string{`service("api") { fault }`, `annotation.age > 10 AND fault`, `responsetime > 2`, `edge("api", "auth") { error }`, `http.status = 500`}[i%5]
		e, err := Parse(src)
		if err != nil {
			b.Fatal(err)
		}
		exprs = append(exprs, e)
	}
	b.Run("prepared", func(b *testing.B) {
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			tr := NewTrace(spans[i%len(spans)])
			for _, e := range exprs {
				e.MatchTrace(tr)
			}
			i++
		}
	})
	b.Run("match", func(b *testing.B) {
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			for _, e := range exprs {
				e.Match(spans[i%len(spans)])
			}
			i++
		}
	})
}
