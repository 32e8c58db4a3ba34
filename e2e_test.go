package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http/httptest"
	"os"
	"reflect"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/xray"
	"github.com/aws/aws-sdk-go-v2/service/xray/types"
	xrayid "go.opentelemetry.io/contrib/propagators/aws/xray"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"

	"github.com/fluoro/fluoro/collector"
	"github.com/fluoro/fluoro/deploy/demo"
	"github.com/fluoro/fluoro/query/api"
	"github.com/fluoro/fluoro/query/graphstore"
	"github.com/fluoro/fluoro/schema/chstore"
	"github.com/fluoro/fluoro/schema/chtest"
)

func TestMain(m *testing.M) { chtest.Main(m) }

func jsonEqual(t *testing.T, a, b []byte) bool {
	t.Helper()
	var x, y any
	if err := json.Unmarshal(a, &x); err != nil {
		t.Fatalf("unmarshal %s: %v", a, err)
	}
	if err := json.Unmarshal(b, &y); err != nil {
		t.Fatalf("unmarshal %s: %v", b, err)
	}
	return reflect.DeepEqual(x, y)
}

// TestEndToEndXRaySDKToAWSSDK sends traces from services instrumented with
// aws-xray-sdk-go over UDP through the collector into ClickHouse, and reads
// every one back with the AWS SDK's X-Ray client: GetTraceSummaries finds
// them all and BatchGetTraces returns the documents that were sent.
func TestEndToEndXRaySDKToAWSSDK(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	log, col, store := startPipeline(ctx, t)

	rec, err := demo.NewRecorder(col.UDPAddr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer rec.Close()
	shop, err := demo.Start(ctx, demo.Config{DaemonAddr: rec.Addr(), Rate: 1, FaultRate: 0.2, ThrottleRate: 0.1, SlowRate: 0.1}, log)
	if err != nil {
		t.Fatal(err)
	}
	defer shop.Close()
	start := time.Now().Add(-time.Minute)
	// At least 25 requests, and more until some of them faulted (bounded).
	requests := 0
	for faulted := 0; requests < 25 || (faulted < 2 && requests < 300); requests++ {
		code, err := shop.Request(ctx)
		if err != nil {
			t.Fatalf("request %d: %v", requests, err)
		}
		if code >= 500 {
			faulted++
		}
	}

	client := xrayClient(t, log, store)

	// Every trace the SDK sent must show up in GetTraceSummaries.
	var sent map[string]map[string]json.RawMessage
	var found map[string]types.TraceSummary
	deadline := time.Now().Add(30 * time.Second)
	for {
		sent = rec.Documents()
		found = map[string]types.TraceSummary{}
		p := xray.NewGetTraceSummariesPaginator(client, &xray.GetTraceSummariesInput{
			StartTime: aws.Time(start), EndTime: aws.Time(time.Now().Add(time.Minute)),
		})
		for p.HasMorePages() {
			page, err := p.NextPage(ctx)
			if err != nil {
				t.Fatalf("GetTraceSummaries: %v", err)
			}
			for _, s := range page.TraceSummaries {
				found[aws.ToString(s.Id)] = s
			}
		}
		missing := 0
		for id := range sent {
			if _, ok := found[id]; !ok {
				missing++
			}
		}
		if len(sent) >= requests && missing == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after 30 s: sent %d traces, %d not found by GetTraceSummaries (found %d)", len(sent), missing, len(found))
		}
		time.Sleep(200 * time.Millisecond)
	}
	if len(found) != len(sent) {
		t.Errorf("GetTraceSummaries found %d traces, the SDK sent %d", len(found), len(sent))
	}

	// BatchGetTraces returns, for every trace, exactly the documents sent.
	ids := make([]string, 0, len(sent))
	for id := range sent {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	faults := 0
	for i := 0; i < len(ids); i += 5 {
		chunk := ids[i:min(i+5, len(ids))]
		out, err := client.BatchGetTraces(ctx, &xray.BatchGetTracesInput{TraceIds: chunk})
		if err != nil {
			t.Fatalf("BatchGetTraces: %v", err)
		}
		if len(out.UnprocessedTraceIds) > 0 {
			t.Errorf("unprocessed trace ids: %v", out.UnprocessedTraceIds)
		}
		for _, tr := range out.Traces {
			want := sent[aws.ToString(tr.Id)]
			if len(tr.Segments) != len(want) {
				t.Errorf("trace %s: %d segments, sent %d", aws.ToString(tr.Id), len(tr.Segments), len(want))
			}
			for _, s := range tr.Segments {
				w, ok := want[aws.ToString(s.Id)]
				if !ok {
					t.Errorf("trace %s: unexpected segment %s", aws.ToString(tr.Id), aws.ToString(s.Id))
					continue
				}
				if !jsonEqual(t, []byte(aws.ToString(s.Document)), w) {
					t.Errorf("trace %s segment %s differs:\n got %s\nsent %s", aws.ToString(tr.Id), aws.ToString(s.Id), aws.ToString(s.Document), w)
				}
			}
		}
	}
	for _, s := range found {
		if aws.ToBool(s.HasFault) {
			faults++
		}
	}
	sentFaults := 0
	for _, docs := range sent {
		for _, d := range docs {
			if bytes.Contains(d, []byte(`"fault":true`)) {
				sentFaults++
				break
			}
		}
	}
	if faults != sentFaults {
		t.Errorf("%d summaries have HasFault, the SDK sent %d traces with a faulted segment", faults, sentFaults)
	}
	if faults == 0 {
		t.Errorf("no trace summary has HasFault although the demo injected faults (20%%)")
	}
}

// startPipeline runs a collector (UDP, TCP and OTLP on free ports) storing
// into a fresh ClickHouse database until the test ends.
func startPipeline(ctx context.Context, t *testing.T) (*slog.Logger, *collector.Collector, *chstore.Store) {
	t.Helper()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	if testing.Verbose() {
		log = slog.New(slog.NewTextHandler(os.Stderr, nil))
	}
	db := chtest.New(t)
	store, err := chstore.Open(ctx, db.DSN, chstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	cc := collector.DefaultConfig()
	cc.UDPAddr, cc.TCPAddr, cc.OTLPAddr = "127.0.0.1:0", "127.0.0.1:0", "127.0.0.1:0"
	cc.SpoolDir = t.TempDir()
	cc.BatchWait = 100 * time.Millisecond
	col, err := collector.New(cc, collector.Settings{Logger: log, Sink: store})
	if err != nil {
		t.Fatal(err)
	}
	colCtx, stopCol := context.WithCancel(context.WithoutCancel(ctx))
	colDone := make(chan error, 1)
	go func() { colDone <- col.Run(colCtx) }()
	t.Cleanup(func() {
		stopCol()
		if err := <-colDone; err != nil {
			t.Errorf("collector: %v", err)
		}
	})
	select {
	case <-col.Ready():
	case err := <-colDone:
		t.Fatalf("collector: %v", err)
	}
	return log, col, store
}

// xrayClient serves the X-Ray API over store and returns the AWS SDK's
// client for it.
func xrayClient(t *testing.T, log *slog.Logger, store *chstore.Store) *xray.Client {
	t.Helper()
	gcfg := graphstore.DefaultConfig()
	gcfg.RefreshInterval = 0
	graph, err := graphstore.New(gcfg, graphstore.Settings{Store: store, Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	srv, err := api.New(api.DefaultConfig(), api.Settings{Logger: log, Reader: store, Graph: graph})
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(srv.Handler())
	t.Cleanup(hs.Close)
	return xray.New(xray.Options{
		Region:       "us-east-1",
		BaseEndpoint: aws.String(hs.URL),
		Credentials:  credentials.NewStaticCredentialsProvider("AKID", "SECRET", ""),
	})
}

// TestEndToEndOTelSDKToAWSSDK exports spans with the OpenTelemetry Go SDK
// over OTLP/HTTP to the collector and reads them back with the AWS SDK's
// X-Ray client: the trace is found with its fault, BatchGetTraces returns
// the segment and its subsegments, and the service graph has the service
// and its downstream node.
func TestEndToEndOTelSDKToAWSSDK(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	log, col, store := startPipeline(ctx, t)
	exp, err := otlptracehttp.New(ctx, otlptracehttp.WithEndpointURL("http://"+col.OTLPAddr().String()+"/v1/traces"))
	if err != nil {
		t.Fatal(err)
	}
	tp := sdktrace.NewTracerProvider(sdktrace.WithIDGenerator(xrayid.NewIDGenerator()), sdktrace.WithSyncer(exp),
		sdktrace.WithResource(resource.NewSchemaless(attribute.String("service.name", "otel-orders"))))
	tr := tp.Tracer("e2e")
	begin := time.Now().Add(-time.Minute)
	sctx, server := tr.Start(ctx, "POST /orders", trace.WithSpanKind(trace.SpanKindServer),
		trace.WithAttributes(attribute.String("http.request.method", "POST"), attribute.String("url.full", "http://shop/orders"),
			attribute.Int("http.response.status_code", 502)))
	_, call := tr.Start(sctx, "charge", trace.WithSpanKind(trace.SpanKindClient),
		trace.WithAttributes(attribute.String("peer.service", "otel-payments"), attribute.Int("http.response.status_code", 503)))
	call.End()
	server.End()
	if err := tp.Shutdown(ctx); err != nil {
		t.Fatalf("export: %v", err)
	}
	tid := server.SpanContext().TraceID().String()
	traceID := "1-" + tid[:8] + "-" + tid[8:]

	client := xrayClient(t, log, store)
	var summary *types.TraceSummary
	for deadline := time.Now().Add(30 * time.Second); summary == nil; {
		out, err := client.GetTraceSummaries(ctx, &xray.GetTraceSummariesInput{StartTime: aws.Time(begin), EndTime: aws.Time(time.Now().Add(time.Minute))})
		if err != nil {
			t.Fatalf("GetTraceSummaries: %v", err)
		}
		for i := range out.TraceSummaries {
			if aws.ToString(out.TraceSummaries[i].Id) == traceID {
				summary = &out.TraceSummaries[i]
			}
		}
		if summary == nil && time.Now().After(deadline) {
			t.Fatalf("trace %s not found after 30 s", traceID)
		}
		time.Sleep(200 * time.Millisecond)
	}
	if !aws.ToBool(summary.HasFault) {
		t.Errorf("summary without HasFault: %+v", summary)
	}
	bt, err := client.BatchGetTraces(ctx, &xray.BatchGetTracesInput{TraceIds: []string{traceID}})
	if err != nil || len(bt.Traces) != 1 {
		t.Fatalf("BatchGetTraces: %v %+v", err, bt)
	}
	var docs []string
	for _, s := range bt.Traces[0].Segments {
		docs = append(docs, aws.ToString(s.Document))
	}
	all := strings.Join(docs, "\n")
	for _, want := range []string{`"name":"otel-orders"`, `"name":"otel-payments"`, `"namespace":"remote"`, server.SpanContext().SpanID().String()} {
		if !strings.Contains(all, want) {
			t.Errorf("BatchGetTraces documents lack %s:\n%s", want, all)
		}
	}
	g, err := client.GetServiceGraph(ctx, &xray.GetServiceGraphInput{StartTime: aws.Time(begin), EndTime: aws.Time(time.Now().Add(time.Minute))})
	if err != nil {
		t.Fatalf("GetServiceGraph: %v", err)
	}
	names := map[string]bool{}
	for _, s := range g.Services {
		names[aws.ToString(s.Name)] = true
	}
	if !names["otel-orders"] || !names["otel-payments"] {
		t.Errorf("service graph nodes %v, want otel-orders and otel-payments", names)
	}
}
