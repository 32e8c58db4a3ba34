package collector

import (
	"context"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/contrib/propagators/aws/xray"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
)

// Spans exported by the OpenTelemetry SDK to the collector's OTLP/HTTP port
// reach the sink as segment documents, counted in the metrics.
func TestOTLPExportReachesTheSink(t *testing.T) {
	sink := &fakeSink{}
	r := start(t, testConfig(t), sink)
	exp, err := otlptracehttp.New(context.Background(), otlptracehttp.WithEndpointURL("http://"+r.c.OTLPAddr().String()+"/v1/traces"))
	if err != nil {
		t.Fatal(err)
	}
	tp := sdktrace.NewTracerProvider(sdktrace.WithIDGenerator(xray.NewIDGenerator()), sdktrace.WithBatcher(exp),
		sdktrace.WithResource(resource.NewSchemaless(attribute.String("service.name", "otel-svc"))))
	tr := tp.Tracer("t")
	for i := range 20 {
		ctx, s := tr.Start(context.Background(), "GET /x", trace.WithSpanKind(trace.SpanKindServer))
		_, c := tr.Start(ctx, "db", trace.WithSpanKind(trace.SpanKindClient), trace.WithAttributes(attribute.String("db.system", "postgresql")))
		c.End()
		s.SetAttributes(attribute.Int("i", i))
		s.End()
	}
	if err := tp.Shutdown(context.Background()); err != nil {
		t.Fatalf("export: %v", err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for len(sink.got()) < 40 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	got := sink.got()
	if len(got) != 40 {
		t.Fatalf("%d documents stored, want 40", len(got))
	}
	var segs, subs int
	for _, d := range got {
		switch {
		case strings.Contains(d, `"name":"otel-svc"`):
			segs++
		case strings.Contains(d, `"name":"postgresql"`) && strings.Contains(d, `"namespace":"remote"`):
			subs++
		}
	}
	if segs != 20 || subs != 20 {
		t.Errorf("%d segments and %d subsegments, want 20 each", segs, subs)
	}
	if v := metric(r.c, `fluoro_collector_otlp_spans_total`); v != 40 {
		t.Errorf("otlp spans metric %v", v)
	}
	if v := metric(r.c, `fluoro_collector_accepted_total{transport="http"}`); v != 40 {
		t.Errorf("accepted metric %v", v)
	}
}
