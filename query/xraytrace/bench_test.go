package xraytrace

import "testing"

func benchDocs(b *testing.B, files ...string) ([]Doc, int64) {
	var docs []Doc
	var n int64
	for _, f := range files {
		d := readDoc(b, f)
		docs = append(docs, d)
		n += int64(len(d.Raw))
	}
	return docs, n
}

// BenchmarkTraceMerge compiles the Lambda facade trace: five documents, three
// independent subsegments merged (the re-serialising path of BatchGetTraces).
func BenchmarkTraceMerge(b *testing.B) {
	docs, n := benchDocs(b, "lambda-service.json", "lambda-function.json", "lambda-sdk-handler.json", "lambda-sdk-dynamodb.json", "lambda-sdk-remote.json")
	b.SetBytes(n)
	b.ReportAllocs()
	for b.Loop() {
		if tr := Assemble(tid, docs).Trace(0); len(tr.Segments) != 2 {
			b.Fatal(len(tr.Segments))
		}
	}
}

// BenchmarkTraceVerbatim compiles a 25 KB document that needs no merge.
func BenchmarkTraceVerbatim(b *testing.B) {
	docs, n := benchDocs(b, "ddbSample.txt")
	b.SetBytes(n)
	b.ReportAllocs()
	for b.Loop() {
		Assemble("1-5f29ab21-d4ebf299219a65bd5c31d6da", docs).Trace(0)
	}
}

// BenchmarkSummary computes the TraceSummary of the 25 KB Go SDK capture
// (GetTraceSummaries does this for every trace of a page).
func BenchmarkSummary(b *testing.B) {
	docs, n := benchDocs(b, "ddbSample.txt")
	b.SetBytes(n)
	b.ReportAllocs()
	for b.Loop() {
		Assemble("1-5f29ab21-d4ebf299219a65bd5c31d6da", docs).Summary()
	}
}
