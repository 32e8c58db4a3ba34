package main

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/fluoro/fluoro/collector"
	"github.com/fluoro/fluoro/collector/segment"
)

type countSink struct{ docs int }

func (s *countSink) WriteDocuments(_ context.Context, docs []segment.Document) error {
	s.docs += len(docs)
	return nil
}

type failSink struct{}

func (failSink) WriteDocuments(context.Context, []segment.Document) error { return errors.New("down") }

func TestFrontMuxRoutes(t *testing.T) {
	cc := collector.DefaultConfig()
	cc.SpoolDir = t.TempDir()
	col, err := collector.New(cc, collector.Settings{Sink: &countSink{}})
	if err != nil {
		t.Fatal(err)
	}
	dash := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "dashboard "+r.URL.Path) })
	lambda := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "lambda "+r.URL.Path) })
	mux := frontMux(col, nil, lambda, dash, func(w io.Writer) { io.WriteString(w, "api_metric 1\n") })
	tests := []struct {
		method, path, body string
		wantCode           int
		wantIn             string
	}{
		{"GET", "/", "", 200, "dashboard /"},
		{"GET", "/traces/1-abc", "", 200, "dashboard /traces/1-abc"},
		{"GET", "/lambda/2015-03-31/functions/", "", 200, "lambda /2015-03-31/functions/"},
		{"GET", "/metrics", "", 200, "api_metric 1"},
		{"GET", "/metrics", "", 200, "fluoro_collector_received_total"},
		{"GET", "/metrics", "", 200, "process_resident_memory_bytes"},
		{"POST", "/GetSamplingRules", "{}", 200, `"RuleName":"Default"`},
		{"POST", "/TraceSegments", `{"TraceSegmentDocuments":["not json"]}`, 200, "UnprocessedTraceSegments"},
	}
	for _, tt := range tests {
		req := httptest.NewRequest(tt.method, tt.path, strings.NewReader(tt.body))
		rec := httptest.NewRecorder()
		mux.ServeHTTP(rec, req)
		if rec.Code != tt.wantCode || !strings.Contains(rec.Body.String(), tt.wantIn) {
			t.Errorf("%s %s: %d %q, want %d containing %q", tt.method, tt.path, rec.Code, truncate(rec.Body.String()), tt.wantCode, tt.wantIn)
		}
	}
}

func truncate(s string) string {
	if len(s) > 300 {
		return s[:300] + "…"
	}
	return s
}

func TestTeeSinkStopsAtPrimaryFailure(t *testing.T) {
	side := &countSink{}
	docs := []segment.Document{{TraceID: "1-5f000000-000000000000000000000001", ID: "a000000000000001"}}
	if err := (teeSink{primary: failSink{}, bestEffort: []collector.Sink{side}}).WriteDocuments(context.Background(), docs); err == nil {
		t.Fatal("primary failure not returned")
	}
	if side.docs != 0 {
		t.Fatal("best-effort sink saw documents the store did not accept")
	}
	primary := &countSink{}
	if err := (teeSink{primary: primary, bestEffort: []collector.Sink{side}}).WriteDocuments(context.Background(), docs); err != nil {
		t.Fatal(err)
	}
	if primary.docs != 1 || side.docs != 1 {
		t.Fatalf("primary %d side %d, want 1 and 1", primary.docs, side.docs)
	}
}

func TestRunUsageAndUnknownCommand(t *testing.T) {
	var out, errb strings.Builder
	if code := run([]string{"help"}, &out, &errb); code != 0 || !strings.Contains(out.String(), "up") {
		t.Fatalf("help: code %d, %q", code, out.String())
	}
	out.Reset()
	if code := run([]string{"nope"}, &out, &errb); code != 2 || !strings.Contains(errb.String(), `unknown command "nope"`) {
		t.Fatalf("unknown: code %d, %q", code, errb.String())
	}
	out.Reset()
	if code := run([]string{"version"}, &out, &errb); code != 0 || !strings.HasPrefix(out.String(), "fluoro ") {
		t.Fatalf("version: code %d, %q", code, out.String())
	}
	errb.Reset()
	if code := run([]string{"migrate"}, &out, &errb); code != 1 || !strings.Contains(errb.String(), "--clickhouse is required") {
		t.Fatalf("migrate without dsn: code %d, %q", code, errb.String())
	}
}
