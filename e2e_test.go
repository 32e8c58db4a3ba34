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
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/xray"
	"github.com/aws/aws-sdk-go-v2/service/xray/types"

	"github.com/fluoro/fluoro/collector"
	"github.com/fluoro/fluoro/deploy/demo"
	"github.com/fluoro/fluoro/query/api"
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
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	if testing.Verbose() {
		log = slog.New(slog.NewTextHandler(os.Stderr, nil))
	}
	db := chtest.New(t)
	store, err := chstore.Open(ctx, db.DSN, chstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()

	cc := collector.DefaultConfig()
	cc.UDPAddr, cc.TCPAddr, cc.OTLPAddr = "127.0.0.1:0", "127.0.0.1:0", "127.0.0.1:0"
	cc.SpoolDir = t.TempDir()
	cc.BatchWait = 100 * time.Millisecond
	col, err := collector.New(cc, collector.Settings{Logger: log, Sink: store})
	if err != nil {
		t.Fatal(err)
	}
	colCtx, stopCol := context.WithCancel(ctx)
	colDone := make(chan error, 1)
	go func() { colDone <- col.Run(colCtx) }()
	defer func() {
		stopCol()
		if err := <-colDone; err != nil {
			t.Errorf("collector: %v", err)
		}
	}()
	<-col.Ready()

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

	srv, err := api.New(api.DefaultConfig(), api.Settings{Logger: log, Reader: store})
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(srv.Handler())
	defer hs.Close()
	client := xray.New(xray.Options{
		Region:       "us-east-1",
		BaseEndpoint: aws.String(hs.URL),
		Credentials:  credentials.NewStaticCredentialsProvider("AKID", "SECRET", ""),
	})

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
