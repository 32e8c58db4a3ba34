package otlp

import (
	"encoding/json"
	"math"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/fluoro/fluoro/collector/segment"
)

var (
	start = time.Date(2026, 11, 27, 10, 0, 0, 123456789, time.UTC) // 0x6b0954a0 in epoch seconds
	// tid is an X-Ray trace id: it begins with start in epoch seconds.
	tid  = pcommon.TraceID{0x6b, 0x09, 0x54, 0xa0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12}
	sid  = pcommon.SpanID{0xaa, 0xbb, 0xcc, 0xdd, 1, 2, 3, 4}
	psid = pcommon.SpanID{0x11, 0x22, 0x33, 0x44, 5, 6, 7, 8}
)

// oneSpan builds Traces with one span from service "checkout"; edit sets
// the span up.
func oneSpan(edit func(sp ptrace.Span, res pcommon.Map)) ptrace.Traces {
	td := ptrace.NewTraces()
	rs := td.ResourceSpans().AppendEmpty()
	rs.Resource().Attributes().PutStr("service.name", "checkout")
	sp := rs.ScopeSpans().AppendEmpty().Spans().AppendEmpty()
	sp.SetTraceID(tid)
	sp.SetSpanID(sid)
	sp.SetName("GET /cart")
	sp.SetKind(ptrace.SpanKindServer)
	sp.SetStartTimestamp(pcommon.NewTimestampFromTime(start))
	sp.SetEndTimestamp(pcommon.NewTimestampFromTime(start.Add(25 * time.Millisecond)))
	if edit != nil {
		edit(sp, rs.Resource().Attributes())
	}
	return td
}

func TestDocuments(t *testing.T) {
	for _, tc := range []struct {
		name   string
		edit   func(sp ptrace.Span, res pcommon.Map)
		want   map[string]any // top-level members that must be equal (JSON values)
		absent []string       // members that must be missing
		reject string         // a rejection reason containing this
	}{
		{
			name: "server span is a segment named after the service",
			edit: func(sp ptrace.Span, res pcommon.Map) {
				res.PutStr("cloud.platform", "aws_lambda")
				sp.Attributes().PutStr("http.request.method", "GET")
				sp.Attributes().PutStr("url.full", "http://shop/cart")
				sp.Attributes().PutInt("http.response.status_code", 200)
			},
			want: map[string]any{
				"name": "checkout", "id": "aabbccdd01020304", "trace_id": "1-6b0954a0-0102030405060708090a0b0c",
				"start_time": 1795773600.123457, "end_time": 1795773600.148457, "origin": "AWS::Lambda::Function",
				"http": map[string]any{"request": map[string]any{"method": "GET", "url": "http://shop/cart"}, "response": map[string]any{"status": 200.0}},
			},
			absent: []string{"parent_id", "type", "namespace", "fault", "error", "throttle"},
		},
		{
			name:   "server span with a remote parent keeps it",
			edit:   func(sp ptrace.Span, _ pcommon.Map) { sp.SetParentSpanID(psid) },
			want:   map[string]any{"name": "checkout", "parent_id": "1122334405060708"},
			absent: []string{"type"},
		},
		{
			name: "client span is a remote subsegment named after the peer",
			edit: func(sp ptrace.Span, _ pcommon.Map) {
				sp.SetParentSpanID(psid)
				sp.SetKind(ptrace.SpanKindClient)
				sp.Attributes().PutStr("http.method", "POST")
				sp.Attributes().PutStr("http.url", "https://payments.example:8443/charge?x=1")
				sp.Attributes().PutInt("http.status_code", 503)
			},
			want: map[string]any{"type": "subsegment", "namespace": "remote", "name": "payments.example:8443", "parent_id": "1122334405060708", "fault": true},
		},
		{
			name: "peer.service wins",
			edit: func(sp ptrace.Span, _ pcommon.Map) {
				sp.SetParentSpanID(psid)
				sp.SetKind(ptrace.SpanKindProducer)
				sp.Attributes().PutStr("peer.service", "orders-queue")
				sp.Attributes().PutStr("server.address", "10.0.0.1")
			},
			want: map[string]any{"name": "orders-queue", "namespace": "remote"},
		},
		{
			name: "internal span is a local subsegment named after the span",
			edit: func(sp ptrace.Span, _ pcommon.Map) {
				sp.SetParentSpanID(psid)
				sp.SetKind(ptrace.SpanKindInternal)
				sp.SetName("render <cart>!")
			},
			want:   map[string]any{"type": "subsegment", "name": "render _cart__"},
			absent: []string{"namespace"},
		},
		{
			name:   "429 throttles",
			edit:   func(sp ptrace.Span, _ pcommon.Map) { sp.Attributes().PutStr("http.status_code", "429") },
			want:   map[string]any{"throttle": true, "error": true},
			absent: []string{"fault"},
		},
		{
			name:   "404 is an error",
			edit:   func(sp ptrace.Span, _ pcommon.Map) { sp.Attributes().PutInt("http.response.status_code", 404) },
			want:   map[string]any{"error": true},
			absent: []string{"fault", "throttle"},
		},
		{
			name: "status Error without HTTP is a fault",
			edit: func(sp ptrace.Span, _ pcommon.Map) { sp.Status().SetCode(ptrace.StatusCodeError) },
			want: map[string]any{"fault": true},
		},
		{
			name: "exception events become the cause",
			edit: func(sp ptrace.Span, _ pcommon.Map) {
				ev := sp.Events().AppendEmpty()
				ev.SetName("exception")
				ev.Attributes().PutStr("exception.type", "ValueError")
				ev.Attributes().PutStr("exception.message", "bad cart")
				sp.Events().AppendEmpty().SetName("cache miss")
			},
			want: map[string]any{"fault": true, "cause": map[string]any{"exceptions": []any{
				map[string]any{"id": "aabbccdd01020000", "type": "ValueError", "message": "bad cart"}}}},
		},
		{
			name: "listed attributes are annotations, the rest metadata",
			edit: func(sp ptrace.Span, _ pcommon.Map) {
				a := sp.Attributes()
				a.PutStr("customer.tier", "gold")
				a.PutInt("items", 3)
				a.PutDouble("ratio", math.NaN())
				a.PutEmptyMap("nested").PutStr("k", "v")
				l := a.PutEmptySlice("aws.xray.annotations")
				l.AppendEmpty().SetStr("customer.tier")
				l.AppendEmpty().SetStr("items")
				l.AppendEmpty().SetStr("nested")
			},
			want: map[string]any{
				"annotations": map[string]any{"customer_tier": "gold", "items": 3.0},
				"metadata":    map[string]any{"default": map[string]any{"ratio": "NaN", "nested": map[string]any{"k": "v"}}},
			},
		},
		{
			name: "missing service name",
			edit: func(_ ptrace.Span, res pcommon.Map) { res.Remove("service.name") },
			want: map[string]any{"name": "unknown_service"},
		},
		{name: "random OpenTelemetry trace id", edit: func(sp ptrace.Span, _ pcommon.Map) {
			sp.SetTraceID(pcommon.TraceID{0x1e, 0x45, 0x0a, 0x22, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12})
		}, reject: "X-Ray ID generator"},
		{name: "trace id a little after the span (clock skew)", edit: func(sp ptrace.Span, _ pcommon.Map) {
			sp.SetTraceID(pcommon.TraceID{0x6b, 0x09, 0x55, 0xa0, 1})
		}, want: map[string]any{"trace_id": "1-6b0955a0-010000000000000000000000"}},
		{name: "trace id 29 days before the span", edit: func(sp ptrace.Span, _ pcommon.Map) {
			sp.SetStartTimestamp(pcommon.NewTimestampFromTime(start.Add(29 * 24 * time.Hour)))
			sp.SetEndTimestamp(pcommon.NewTimestampFromTime(start.Add(29*24*time.Hour + time.Second)))
		}, reject: "X-Ray ID generator"},
		{name: "zero trace id", edit: func(sp ptrace.Span, _ pcommon.Map) { sp.SetTraceID(pcommon.TraceID{}) }, reject: "trace id is empty"},
		{name: "zero span id", edit: func(sp ptrace.Span, _ pcommon.Map) { sp.SetSpanID(pcommon.SpanID{}) }, reject: "span id is empty"},
		{name: "no start", edit: func(sp ptrace.Span, _ pcommon.Map) { sp.SetStartTimestamp(0) }, reject: "no start time"},
		{name: "ends before it starts", edit: func(sp ptrace.Span, _ pcommon.Map) {
			sp.SetEndTimestamp(pcommon.NewTimestampFromTime(start.Add(-time.Second)))
		}, reject: "ends before it starts"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			docs, rejected := Documents(oneSpan(tc.edit))
			if tc.reject != "" {
				if len(docs) != 0 || len(rejected) != 1 || !strings.Contains(rejected[0].Reason, tc.reject) {
					t.Fatalf("docs %d, rejected %+v; want one rejection %q", len(docs), rejected, tc.reject)
				}
				return
			}
			if len(docs) != 1 || len(rejected) != 0 {
				t.Fatalf("docs %d, rejected %+v", len(docs), rejected)
			}
			var got map[string]any
			if err := json.Unmarshal(docs[0], &got); err != nil {
				t.Fatalf("%s: %v", docs[0], err)
			}
			for k, v := range tc.want {
				gb, _ := json.Marshal(got[k])
				wb, _ := json.Marshal(v)
				if string(gb) != string(wb) {
					t.Errorf("%s = %s, want %s\n%s", k, gb, wb, docs[0])
				}
			}
			for _, k := range tc.absent {
				if _, ok := got[k]; ok {
					t.Errorf("%s present: %s", k, docs[0])
				}
			}
			// Every document is one the collector's decoder accepts.
			dec := segment.NewDecoder(segment.Limits{Now: func() time.Time { return start }})
			if _, err := dec.Decode(docs[0], start.UnixNano(), nil); err != nil {
				t.Errorf("decoder refuses %s: %v", docs[0], err)
			}
		})
	}
}

func TestDocumentsKeepsGoodSpansBesideBadOnes(t *testing.T) {
	td := oneSpan(nil)
	spans := td.ResourceSpans().At(0).ScopeSpans().At(0).Spans()
	bad := spans.AppendEmpty()
	bad.SetTraceID(tid)
	bad.SetName("no span id")
	child := spans.AppendEmpty()
	sp := spans.At(0)
	sp.CopyTo(child)
	child.SetSpanID(pcommon.SpanID{1, 2, 3, 4, 5, 6, 7, 8})
	child.SetParentSpanID(sid)
	child.SetKind(ptrace.SpanKindInternal)
	docs, rejected := Documents(td)
	if len(docs) != 2 || len(rejected) != 1 || rejected[0].TraceID != "6b0954a0"+"0102030405060708090a0b0c" {
		t.Fatalf("docs %d, rejected %+v", len(docs), rejected)
	}
}

func TestCleanName(t *testing.T) {
	for in, want := range map[string]string{
		"":                       "unnamed",
		"orders-api":             "orders-api",
		"a b_c.d:e/f%g&h#i=j+k":  "a b_c.d:e/f%g&h#i=j+k",
		"caf\u00e9 \u65e5\u672c": "caf\u00e9 \u65e5\u672c",
		"x<y>\"z\"\x00":          "x_y__z__",
		strings.Repeat("é", 250): strings.Repeat("é", 200),
	} {
		if got := cleanName(in); got != want {
			t.Errorf("cleanName(%q) = %q, want %q", in, got, want)
		}
	}
}
