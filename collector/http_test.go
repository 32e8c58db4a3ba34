package collector

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/xray"
	"github.com/aws/aws-sdk-go-v2/service/xray/types"
	"github.com/aws/smithy-go"

	"github.com/fluoro/fluoro/collector/loadgen"
)

func xrayClient(url string) *xray.Client {
	return xray.New(xray.Options{
		Region:       "us-east-1",
		BaseEndpoint: aws.String(url),
		Credentials:  credentials.NewStaticCredentialsProvider("AKID", "SECRET", ""),
	})
}

// TestPutTraceSegmentsAWSSDK sends good and bad documents with the
// aws-sdk-go-v2 X-Ray client against Handler served by httptest.
func TestPutTraceSegmentsAWSSDK(t *testing.T) {
	sink := &fakeSink{}
	r := start(t, testConfig(t), sink)
	srv := httptest.NewServer(r.c.Handler())
	t.Cleanup(srv.Close)
	client := xrayClient(srv.URL)

	g := loadgen.New(9)
	var docs, want []string
	for range 40 {
		b, _ := g.Next(nil)
		docs = append(docs, string(b))
		want = append(want, decodeAll(t, b)...)
	}
	now := time.Now().Unix()
	sub := func(id string) string {
		return fmt.Sprintf(`{"type":"subsegment","trace_id":"1-5759e988-bd862e3fe1be46a994272793","parent_id":"53995c3f42cd8ad8","id":%q,"name":"S3","start_time":%d,"end_time":%d}`, id, now-1, now)
	}
	bad := []struct {
		doc, id, code string
	}{ // id "?" accepts the document's id or none
		{`{"trace_id":"1-5759e988-bd862e3fe1be46a994272793","name":"a","start_time":1700000000,"end_time":1700000001}`, "", "MissingId"},
		{`{"trace_id":"nope","id":"6226467e3f845502","name":"a","start_time":1700000000,"end_time":1700000001}`, "6226467e3f845502", "InvalidTraceId"},
		{`{"trace_id":"1-5759e988-bd862e3fe1be46a994272793","id":"6226467e3f845503","name":"","start_time":1700000000,"end_time":1700000001}`, "6226467e3f845503", "InvalidName"},
		{`not json`, "", "InvalidJson"},
		{`{"trace_id":"1-5759e988-bd862e3fe1be46a994272793","id":"6226467e3f845504","name":"a","start_time":1700000000,"end_time":1700000001,"pad":"` + strings.Repeat("x", 70000) + `"}`, "?", "SegmentTooLarge"},
		{"[" + sub("1111111111111111") + "," + sub("not-an-id") + "]", "not-an-id", "InvalidId"},
	}
	input := append([]string(nil), docs...)
	for _, b := range bad {
		input = append(input, b.doc)
	}
	want = append(want, decodeAll(t, []byte("["+sub("1111111111111111")+"]"))...)

	out, err := client.PutTraceSegments(context.Background(), &xray.PutTraceSegmentsInput{TraceSegmentDocuments: input})
	if err != nil {
		t.Fatalf("PutTraceSegments: %v", err)
	}
	if len(out.UnprocessedTraceSegments) != len(bad) {
		t.Fatalf("UnprocessedTraceSegments = %d entries, want %d: %+v", len(out.UnprocessedTraceSegments), len(bad), out.UnprocessedTraceSegments)
	}
	for i, u := range out.UnprocessedTraceSegments {
		idOK := aws.ToString(u.Id) == bad[i].id || bad[i].id == "?" && (u.Id == nil || aws.ToString(u.Id) == "6226467e3f845504")
		if aws.ToString(u.ErrorCode) != bad[i].code || !idOK || aws.ToString(u.Message) == "" {
			t.Errorf("unprocessed[%d] = {Id:%q ErrorCode:%q Message:%q}, want Id %q ErrorCode %q",
				i, aws.ToString(u.Id), aws.ToString(u.ErrorCode), aws.ToString(u.Message), bad[i].id, bad[i].code)
		}
	}
	waitFor(t, "documents stored", 5*time.Second, func() bool { return len(sink.got()) >= len(want) })
	if got := sink.got(); !sameMultiset(got, want) {
		t.Fatalf("sink has %d documents, want %d", len(got), len(want))
	}
	if got := metric(r.c, `fluoro_collector_received_total{transport="http"}`); got != float64(len(input)) {
		t.Errorf("received{http} = %v, want %d", got, len(input))
	}

	// Full success answers an empty list.
	out, err = client.PutTraceSegments(context.Background(), &xray.PutTraceSegmentsInput{TraceSegmentDocuments: docs[:1]})
	if err != nil || len(out.UnprocessedTraceSegments) != 0 {
		t.Fatalf("PutTraceSegments(one good) = %+v, %v", out, err)
	}
}

// TestPutTraceSegmentsTooLargeRequest: a request-level error surfaces in
// the SDK as the typed InvalidRequestException.
func TestPutTraceSegmentsTooLargeRequest(t *testing.T) {
	r := start(t, testConfig(t), &fakeSink{})
	srv := httptest.NewServer(r.c.Handler())
	t.Cleanup(srv.Close)
	big := make([]string, 300)
	for i := range big {
		big[i] = strings.Repeat("x", 60000)
	}
	_, err := xrayClient(srv.URL).PutTraceSegments(context.Background(), &xray.PutTraceSegmentsInput{TraceSegmentDocuments: big})
	var ire *types.InvalidRequestException
	if !errors.As(err, &ire) {
		t.Fatalf("err = %v, want InvalidRequestException", err)
	}
}

func TestHTTPErrorShapes(t *testing.T) {
	r := start(t, testConfig(t), &fakeSink{})
	srv := httptest.NewServer(r.c.Handler())
	t.Cleanup(srv.Close)
	tests := []struct {
		name, method, path, body string
		status                   int
		errType                  string
	}{
		{"not JSON", "POST", "/TraceSegments", `{"TraceSegmentDocuments":`, 400, "InvalidRequestException"},
		{"documents not strings", "POST", "/TraceSegments", `{"TraceSegmentDocuments":[1,2]}`, 400, "InvalidRequestException"},
		{"documents null", "POST", "/TraceSegments", `{"TraceSegmentDocuments":null}`, 400, "InvalidRequestException"},
		{"empty body", "POST", "/TraceSegments", ``, 400, "InvalidRequestException"},
		{"body too large", "POST", "/TraceSegments", `{"TraceSegmentDocuments":["` + strings.Repeat("x", maxRequestBytes) + `"]}`, 413, "InvalidRequestException"},
		{"unknown operation", "POST", "/Traces", `{}`, 404, "UnknownOperationException"},
		{"wrong method", "GET", "/TraceSegments", ``, 404, "UnknownOperationException"},
		{"telemetry without records", "POST", "/TelemetryRecords", `{}`, 400, "InvalidRequestException"},
		{"telemetry", "POST", "/TelemetryRecords", `{"TelemetryRecords":[{"Timestamp":1700000000,"SegmentsReceivedCount":1}],"Hostname":"h"}`, 200, ""},
		{"empty list", "POST", "/TraceSegments", `{"TraceSegmentDocuments":[]}`, 200, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, _ := http.NewRequest(tt.method, srv.URL+tt.path, strings.NewReader(tt.body))
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			b, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != tt.status {
				t.Fatalf("status %d, want %d: %s", resp.StatusCode, tt.status, b)
			}
			if resp.Header.Get("X-Amzn-RequestId") == "" {
				t.Errorf("no X-Amzn-RequestId")
			}
			var m map[string]any
			if err := json.Unmarshal(b, &m); err != nil {
				t.Fatalf("body %q is not JSON", b)
			}
			if tt.errType == "" {
				return
			}
			if resp.Header.Get("X-Amzn-ErrorType") != tt.errType || m["__type"] != tt.errType || m["message"] == "" || m["Message"] == "" {
				t.Fatalf("error shape: header %q, body %s", resp.Header.Get("X-Amzn-ErrorType"), b)
			}
		})
	}
}

// TestSamplingOnCollectorPort drives both sampling operations against the
// collector's own TCP listener with the aws-sdk-go-v2 client.
func TestSamplingOnCollectorPort(t *testing.T) {
	r := start(t, testConfig(t), &fakeSink{})
	client := xrayClient("http://" + r.c.TCPAddr().String())
	rules, err := client.GetSamplingRules(context.Background(), &xray.GetSamplingRulesInput{})
	if err != nil {
		t.Fatalf("GetSamplingRules: %v", err)
	}
	if len(rules.SamplingRuleRecords) != 1 || aws.ToString(rules.SamplingRuleRecords[0].SamplingRule.RuleName) != "Default" {
		t.Fatalf("rules = %+v", rules.SamplingRuleRecords)
	}
	now := time.Now()
	targets, err := client.GetSamplingTargets(context.Background(), &xray.GetSamplingTargetsInput{
		SamplingStatisticsDocuments: []types.SamplingStatisticsDocument{{
			RuleName: aws.String("Default"), ClientID: aws.String("abcdefabcdefabcdefabcdef"), Timestamp: &now, RequestCount: 3,
		}},
	})
	if err != nil {
		t.Fatalf("GetSamplingTargets: %v", err)
	}
	if len(targets.SamplingTargetDocuments) != 1 || targets.SamplingTargetDocuments[0].FixedRate != 0.05 {
		t.Fatalf("targets = %+v", targets.SamplingTargetDocuments)
	}
	// Unknown operations come back as API errors, not transport failures.
	_, err = client.GetEncryptionConfig(context.Background(), &xray.GetEncryptionConfigInput{})
	var ae smithy.APIError
	if !errors.As(err, &ae) || ae.ErrorCode() != "UnknownOperationException" {
		t.Fatalf("GetEncryptionConfig on the collector port: %v", err)
	}
}

func TestMetricsEndpoint(t *testing.T) {
	r := start(t, testConfig(t), &fakeSink{})
	conn := dialUDP(t, r.c)
	conn.Write([]byte("garbage"))
	waitFor(t, "datagram counted", 5*time.Second, func() bool {
		return metric(r.c, `fluoro_collector_received_total{transport="udp"}`) == 1
	})
	resp, err := http.Get("http://" + r.c.TCPAddr().String() + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	text := string(b)
	for _, want := range []string{
		`fluoro_collector_received_total{transport="udp"} 1`,
		`fluoro_collector_accepted_total{transport="udp"} 0`,
		`fluoro_collector_rejected_total{reason="invalid_header"} 1`,
		`fluoro_collector_queued 0`,
		`fluoro_collector_spooled_total 0`,
		`fluoro_collector_spool_bytes 0`,
		`fluoro_collector_replayed_total 0`,
		`fluoro_collector_inserted_total 0`,
		`fluoro_collector_dropped_total{reason="queue_full"} 0`,
		`fluoro_collector_dropped_total{reason="spool_full"} 0`,
		`process_resident_memory_bytes`,
	} {
		if !strings.Contains(text, want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
}
