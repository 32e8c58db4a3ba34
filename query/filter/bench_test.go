package filter

import (
	"testing"

	"github.com/fluoro/fluoro/collector/segment"
)

const benchExpr = `service("api.example.com") { fault = true OR responsetime > 2.5 } AND annotation.account = "12345" ` +
	`AND http.url BEGINSWITH "http://api.example.com/" AND !partial AND user = "alice"`

func BenchmarkParse(b *testing.B) {
	b.ReportAllocs()
	b.SetBytes(int64(len(benchExpr)))
	for b.Loop() {
		if _, err := Parse(benchExpr); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkMatch evaluates expressions over every trace of the corpus; one
// op is one trace.
func BenchmarkMatch(b *testing.B) {
	corpus := genCorpus(1, 240)
	spans := make([][]segment.Span, len(corpus))
	for i, c := range corpus {
		spans[i] = c.spans()
	}
	for _, bc := range []struct{ name, expr string }{
		{"simple", `fault OR responsetime > 1`},
		{"service", `service("api") { fault } AND annotation.age > 10`},
		{"edge", `edge("api", "auth") { error }`},
		{"rootcause", `rootcause.fault.service { name = "api" }`},
		{"complex", benchExpr},
	} {
		e, err := Parse(bc.expr)
		if err != nil {
			b.Fatal(err)
		}
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				e.Match(spans[i%len(spans)])
				i++
			}
		})
	}
}

func BenchmarkSQL(b *testing.B) {
	e, err := Parse(benchExpr)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, _, err := e.SQL(); err != nil {
			b.Fatal(err)
		}
	}
}
