package otlp

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/collector/pdata/ptrace/ptraceotlp"
	"go.opentelemetry.io/contrib/propagators/aws/xray"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
	spb "google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/protobuf/proto"
)

// captureConsumer keeps what the handler passes on.
type captureConsumer struct {
	mu   sync.Mutex
	docs [][]byte
	full bool // refuse everything as full
}

func (c *captureConsumer) ConsumeDocuments(docs [][]byte) (int, string, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.full {
		return len(docs), "queue full", true
	}
	c.docs = append(c.docs, docs...)
	return 0, "", false
}

func (c *captureConsumer) byName() map[string]map[string]any {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := map[string]map[string]any{}
	for _, d := range c.docs {
		var m map[string]any
		json.Unmarshal(d, &m)
		out[m["name"].(string)] = m
	}
	return out
}

// The OpenTelemetry Go SDK's OTLP/HTTP exporter (protobuf, gzip) against
// the handler: a server span, its client call and an internal span arrive
// as a segment and two subsegments of one trace.
func TestOTelSDKExporter(t *testing.T) {
	for _, compress := range []bool{false, true} {
		t.Run(map[bool]string{false: "plain", true: "gzip"}[compress], func(t *testing.T) {
			cc := &captureConsumer{}
			h := &Handler{Consumer: cc}
			srv := httptest.NewServer(h)
			defer srv.Close()
			opts := []otlptracehttp.Option{otlptracehttp.WithEndpointURL(srv.URL + TracesPath)}
			if compress {
				opts = append(opts, otlptracehttp.WithCompression(otlptracehttp.GzipCompression))
			}
			exp, err := otlptracehttp.New(context.Background(), opts...)
			if err != nil {
				t.Fatal(err)
			}
			res := resource.NewSchemaless(attribute.String("service.name", "orders-api"))
			tp := sdktrace.NewTracerProvider(sdktrace.WithIDGenerator(xray.NewIDGenerator()), sdktrace.WithSyncer(exp), sdktrace.WithResource(res))
			tr := tp.Tracer("test")
			ctx, server := tr.Start(context.Background(), "POST /orders", trace.WithSpanKind(trace.SpanKindServer),
				trace.WithAttributes(attribute.String("http.request.method", "POST"), attribute.Int("http.response.status_code", 500)))
			_, client := tr.Start(ctx, "charge", trace.WithSpanKind(trace.SpanKindClient),
				trace.WithAttributes(attribute.String("peer.service", "payments")))
			client.SetStatus(codes.Error, "card declined")
			client.RecordError(io.ErrUnexpectedEOF)
			client.End()
			_, internal := tr.Start(ctx, "validate")
			internal.End()
			server.End()
			if err := tp.Shutdown(context.Background()); err != nil {
				t.Fatalf("export: %v", err)
			}
			got := cc.byName()
			seg, pay, val := got["orders-api"], got["payments"], got["validate"]
			if seg == nil || pay == nil || val == nil {
				t.Fatalf("documents %v", got)
			}
			sc := server.SpanContext()
			wantTrace := "1-" + sc.TraceID().String()[:8] + "-" + sc.TraceID().String()[8:]
			for _, d := range []map[string]any{seg, pay, val} {
				if d["trace_id"] != wantTrace {
					t.Errorf("trace_id %v, want %s", d["trace_id"], wantTrace)
				}
			}
			if seg["id"] != sc.SpanID().String() || seg["fault"] != true || seg["type"] != nil {
				t.Errorf("segment %v", seg)
			}
			if pay["parent_id"] != seg["id"] || pay["namespace"] != "remote" || pay["type"] != "subsegment" || pay["fault"] != true || pay["cause"] == nil {
				t.Errorf("client subsegment %v", pay)
			}
			if val["parent_id"] != seg["id"] || val["namespace"] != nil || val["type"] != "subsegment" {
				t.Errorf("internal subsegment %v", val)
			}
			if n := h.Stats.Spans.Load(); n != 3 {
				t.Errorf("spans counted %d", n)
			}
		})
	}
}

func post(t *testing.T, h http.Handler, ct, enc string, body []byte) *httptest.ResponseRecorder {
	t.Helper()
	r := httptest.NewRequest(http.MethodPost, TracesPath, bytes.NewReader(body))
	r.Header.Set("Content-Type", ct)
	if enc != "" {
		r.Header.Set("Content-Encoding", enc)
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w
}

func TestHandlerJSONAndPartialSuccess(t *testing.T) {
	cc := &captureConsumer{}
	h := &Handler{Consumer: cc}
	td := oneSpan(nil)
	spans := td.ResourceSpans().At(0).ScopeSpans().At(0).Spans()
	spans.AppendEmpty().SetName("no ids")
	body, err := (&ptrace.JSONMarshaler{}).MarshalTraces(td)
	if err != nil {
		t.Fatal(err)
	}
	w := post(t, h, "application/json", "", body)
	if w.Code != http.StatusOK || w.Header().Get("Content-Type") != "application/json" {
		t.Fatalf("%d %s: %s", w.Code, w.Header().Get("Content-Type"), w.Body)
	}
	resp := ptraceotlp.NewExportResponse()
	if err := resp.UnmarshalJSON(w.Body.Bytes()); err != nil {
		t.Fatal(err)
	}
	if ps := resp.PartialSuccess(); ps.RejectedSpans() != 1 || !strings.Contains(ps.ErrorMessage(), "trace id is empty") {
		t.Errorf("partial success %d %q", ps.RejectedSpans(), ps.ErrorMessage())
	}
	if len(cc.docs) != 1 {
		t.Errorf("%d documents passed on", len(cc.docs))
	}
}

func TestHandlerErrors(t *testing.T) {
	good, _ := ptraceotlp.NewExportRequestFromTraces(oneSpan(nil)).MarshalProto()
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write(good)
	zw.Close()
	for _, tc := range []struct {
		name, method, path, ct, enc string
		body                        []byte
		full                        bool
		code                        int
		msg                         string
	}{
		{name: "ok protobuf", ct: "application/x-protobuf", body: good, code: 200},
		{name: "ok gzip", ct: "application/x-protobuf", enc: "gzip", body: gz.Bytes(), code: 200},
		{name: "garbage protobuf", ct: "application/x-protobuf", body: []byte{0xff, 0xff, 0xff}, code: 400, msg: "malformed ExportTraceServiceRequest"},
		{name: "garbage JSON", ct: "application/json", body: []byte(`{"resourceSpans":[{`), code: 400, msg: "malformed"},
		{name: "bad gzip", ct: "application/x-protobuf", enc: "gzip", body: good, code: 400, msg: "bad gzip body"},
		{name: "unknown encoding", ct: "application/x-protobuf", enc: "br", body: good, code: 415, msg: "Content-Encoding"},
		{name: "text/plain", ct: "text/plain", body: good, code: 415, msg: "unsupported media type"},
		{name: "GET", method: http.MethodGet, ct: "application/x-protobuf", code: 405},
		{name: "wrong path", path: "/v1/metrics", ct: "application/x-protobuf", body: good, code: 404},
		{name: "queue full", ct: "application/x-protobuf", body: good, full: true, code: 503, msg: "retry later"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := &Handler{Consumer: &captureConsumer{full: tc.full}}
			method, path := tc.method, tc.path
			if method == "" {
				method = http.MethodPost
			}
			if path == "" {
				path = TracesPath
			}
			r := httptest.NewRequest(method, path, bytes.NewReader(tc.body))
			r.Header.Set("Content-Type", tc.ct)
			if tc.enc != "" {
				r.Header.Set("Content-Encoding", tc.enc)
			}
			w := httptest.NewRecorder()
			h.ServeHTTP(w, r)
			if w.Code != tc.code {
				t.Fatalf("status %d, want %d: %s", w.Code, tc.code, w.Body)
			}
			if tc.msg == "" {
				return
			}
			msg := w.Body.String()
			if w.Header().Get("Content-Type") == "application/x-protobuf" {
				var st spb.Status
				if err := proto.Unmarshal(w.Body.Bytes(), &st); err != nil {
					t.Fatalf("error body is not a google.rpc.Status: %v", err)
				}
				msg = st.Message
			}
			if !strings.Contains(msg, tc.msg) {
				t.Errorf("message %q, want %q", msg, tc.msg)
			}
			if tc.code == 503 && w.Header().Get("Retry-After") == "" {
				t.Error("503 without Retry-After")
			}
		})
	}
}

func TestHandlerTooLarge(t *testing.T) {
	h := &Handler{Consumer: &captureConsumer{}}
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write(make([]byte, MaxBodyBytes+10)) // compresses to a few KB
	zw.Close()
	if w := post(t, h, "application/x-protobuf", "gzip", gz.Bytes()); w.Code != http.StatusRequestEntityTooLarge {
		t.Fatalf("status %d: %s", w.Code, w.Body)
	}
}

// FuzzExportRequest: whatever the body, the handler answers without
// panicking, and every document it passes on is valid JSON with an id and
// a trace id.
func FuzzExportRequest(f *testing.F) {
	good, _ := ptraceotlp.NewExportRequestFromTraces(oneSpan(nil)).MarshalProto()
	js, _ := (&ptrace.JSONMarshaler{}).MarshalTraces(oneSpan(nil))
	f.Add(good, false)
	f.Add(js, true)
	f.Add([]byte(`{"resourceSpans":[{"scopeSpans":[{"spans":[{"traceId":"5f84c7a10102030405060708090a0b0c","spanId":"aabbccdd01020304","startTimeUnixNano":"1602537377000000000","endTimeUnixNano":"1602537377500000000"}]}]}]}`), true)
	f.Fuzz(func(t *testing.T, body []byte, isJSON bool) {
		cc := &captureConsumer{}
		ct := "application/x-protobuf"
		if isJSON {
			ct = "application/json"
		}
		w := post(t, &Handler{Consumer: cc}, ct, "", body)
		if w.Code != 200 && w.Code != 400 {
			t.Fatalf("status %d: %s", w.Code, w.Body)
		}
		for _, d := range cc.docs {
			var m struct {
				ID      string `json:"id"`
				TraceID string `json:"trace_id"`
			}
			if err := json.Unmarshal(d, &m); err != nil || len(m.ID) != 16 || len(m.TraceID) != 35 {
				t.Fatalf("document %s: %v", d, err)
			}
		}
	})
}
