package segment

import (
	"os"
	"testing"

	"github.com/valyala/fastjson"
)

// benchDecode decodes one document per iteration. "reuse" passes dst[:0]
// back (a reader whose batches are recycled after the write); "fresh"
// starts from nil each time (every Document and Spans array newly
// allocated).
func benchDecode(b *testing.B, path string) {
	body, err := os.ReadFile(path)
	if err != nil {
		b.Fatal(err)
	}
	for _, mode := range []string{"reuse", "fresh"} {
		b.Run(mode, func(b *testing.B) {
			d := NewDecoder(testLimits())
			var dst []Document
			b.SetBytes(int64(len(body)))
			b.ReportAllocs()
			for b.Loop() {
				if mode == "fresh" {
					dst = nil
				}
				dst, err = d.Decode(body, 1, dst[:0])
				if err != nil || len(dst) != 1 {
					b.Fatalf("%d docs, %v", len(dst), err)
				}
			}
		})
	}
}

// BenchmarkDecode1KB guards the ingest hot path: a typical Go-SDK server
// segment (HTTP, annotations, metadata, one DynamoDB subsegment), 1,009 bytes.
func BenchmarkDecode1KB(b *testing.B) { benchDecode(b, "testdata/bench/doc1k.json") }

// BenchmarkDecode8KB: a faulted segment with exceptions, stack traces and
// 16 subsegments, 8,215 bytes.
func BenchmarkDecode8KB(b *testing.B) { benchDecode(b, "testdata/bench/doc8k.json") }

// BenchmarkBaselineFastjson1KB is the reference point the decoder is judged
// against: fastjson parsing the same document into its tree and visiting
// every value, without extracting or validating anything.
func BenchmarkBaselineFastjson1KB(b *testing.B) {
	body, err := os.ReadFile("testdata/bench/doc1k.json")
	if err != nil {
		b.Fatal(err)
	}
	var p fastjson.Parser
	var visit func(v *fastjson.Value)
	visit = func(v *fastjson.Value) {
		switch v.Type() {
		case fastjson.TypeObject:
			o, _ := v.Object()
			o.Visit(func(_ []byte, v *fastjson.Value) { visit(v) })
		case fastjson.TypeArray:
			a, _ := v.Array()
			for _, e := range a {
				visit(e)
			}
		}
	}
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		v, err := p.ParseBytes(body)
		if err != nil {
			b.Fatal(err)
		}
		visit(v)
	}
}
