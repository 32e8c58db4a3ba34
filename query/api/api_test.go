package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/xray"
	"github.com/aws/aws-sdk-go-v2/service/xray/types"
	"github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"
)

const (
	t1 = "1-65000010-aaaaaaaaaaaaaaaaaaaaaaa1"
	// base is the epoch second of t1's trace id.
	base = 0x65000010
)

func traceID(i int) string { return fmt.Sprintf("1-%08x-%024x", base+i, 0xbeef00+i) }

var (
	segT1 = `{"trace_id":"` + t1 + `","id":"5e00000000000001","name":"front","origin":"AWS::EC2::Instance","start_time":1694498832.5,"end_time":1694498833.75,
		"http":{"request":{"method":"POST","url":"https://front.example/order","user_agent":"Go-http-client/1.1","client_ip":"192.0.2.7"},"response":{"status":502}},
		"fault":true,"user":"alice","annotations":{"order":"o-1","amount":12.5,"vip":true},
		"subsegments":[{"id":"e000000000000001","name":"call","namespace":"remote","start_time":1694498832.6,"end_time":1694498833.5,"http":{"request":{"url":"http://pay.example/"},"response":{"status":502}}}]}`
	indepT1  = `{"type":"subsegment","trace_id":"` + t1 + `","id":"a000000000000001","parent_id":"e000000000000001","name":"retry","start_time":1694498833,"end_time":1694498833.4,"annotations":{"order":"o-1"}}`
	orphanT1 = `{"type":"subsegment","trace_id":"` + t1 + `","id":"a000000000000002","parent_id":"ffffffffffffffff","name":"orphan","start_time":1694498834,"end_time":1694498834.1}`
)

func apiError(t *testing.T, err error) smithy.APIError {
	t.Helper()
	var ae smithy.APIError
	if !errors.As(err, &ae) {
		t.Fatalf("error %v (%T) is not an API error", err, err)
	}
	return ae
}

func TestBatchGetTraces(t *testing.T) {
	r := newFakeReader()
	r.add(t, segT1, indepT1, orphanT1)
	_, client, _ := newTestAPI(t, Settings{Reader: r}, nil)
	unknown := "1-65000010-000000000000000000000bad"
	out, err := client.BatchGetTraces(context.Background(), &xray.BatchGetTracesInput{
		TraceIds: []string{strings.ToUpper(t1[:2]) + strings.ToUpper(t1[2:]), unknown, t1},
	})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(out.UnprocessedTraceIds, []string{unknown}) {
		t.Errorf("UnprocessedTraceIds = %v", out.UnprocessedTraceIds)
	}
	if out.NextToken != nil {
		t.Errorf("NextToken = %q, want none", *out.NextToken)
	}
	if len(out.Traces) != 1 {
		t.Fatalf("%d traces, want 1 (upper- and lower-case ids are one trace)", len(out.Traces))
	}
	tr := out.Traces[0]
	if aws.ToString(tr.Id) != t1 || aws.ToBool(tr.LimitExceeded) || aws.ToFloat64(tr.Duration) != 1.6 {
		t.Errorf("trace %s duration %v limit %v", aws.ToString(tr.Id), aws.ToFloat64(tr.Duration), aws.ToBool(tr.LimitExceeded))
	}
	if len(tr.Segments) != 2 {
		t.Fatalf("%d segments, want the segment and the orphan", len(tr.Segments))
	}
	if aws.ToString(tr.Segments[0].Id) != "5e00000000000001" || aws.ToString(tr.Segments[1].Id) != "a000000000000002" {
		t.Errorf("segment ids %s, %s", aws.ToString(tr.Segments[0].Id), aws.ToString(tr.Segments[1].Id))
	}
	// The SDK's paginator stops after the one page.
	pages := 0
	for p := xray.NewBatchGetTracesPaginator(client, &xray.BatchGetTracesInput{TraceIds: []string{t1}}); p.HasMorePages(); pages++ {
		if _, err := p.NextPage(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	if pages != 1 {
		t.Errorf("paginator made %d calls", pages)
	}
	if got := aws.ToString(tr.Segments[1].Document); got != orphanT1 {
		t.Errorf("orphan not returned verbatim:\n%s", got)
	}
	var doc struct {
		Subsegments []struct {
			ID          string `json:"id"`
			Subsegments []map[string]any
		}
	}
	if err := json.Unmarshal([]byte(aws.ToString(tr.Segments[0].Document)), &doc); err != nil {
		t.Fatal(err)
	}
	merged := doc.Subsegments[0].Subsegments
	if len(merged) != 1 || merged[0]["id"] != "a000000000000001" || merged[0]["parent_id"] != nil || merged[0]["type"] != nil {
		t.Errorf("independent subsegment not merged under its parent subsegment: %v", doc)
	}
}

func TestBatchGetTracesLimitExceeded(t *testing.T) {
	r := newFakeReader()
	r.add(t, segT1, orphanT1)
	_, client, _ := newTestAPI(t, Settings{Reader: r}, func(c *Config) { c.MaxTraceBytes = len(segT1) + 10 })
	out, err := client.BatchGetTraces(context.Background(), &xray.BatchGetTracesInput{TraceIds: []string{t1}})
	if err != nil {
		t.Fatal(err)
	}
	if tr := out.Traces[0]; !aws.ToBool(tr.LimitExceeded) || len(tr.Segments) != 1 {
		t.Errorf("LimitExceeded %v with %d segments", aws.ToBool(tr.LimitExceeded), len(tr.Segments))
	}
}

// TestErrors drives every rejected request through the SDK and checks the
// error code and message it surfaces.
func TestErrors(t *testing.T) {
	r := newFakeReader()
	r.add(t, segT1, `{"trace_id":"`+traceID(1)+`","id":"5e00000000000002","name":"b","start_time":1694498833,"end_time":1694498834}`)
	_, client, _ := newTestAPI(t, Settings{Reader: r}, nil)
	ctx := context.Background()
	start := time.Unix(base-60, 0)
	window := func(in xray.GetTraceSummariesInput) *xray.GetTraceSummariesInput {
		if in.StartTime == nil {
			in.StartTime = aws.Time(start)
		}
		if in.EndTime == nil {
			in.EndTime = aws.Time(start.Add(time.Hour))
		}
		return &in
	}
	// A token of another query.
	other, err := summariesWithPageSize(t, r, 1, window(xray.GetTraceSummariesInput{TimeRangeType: types.TimeRangeTypeEvent}))
	if err != nil || other == "" {
		t.Fatalf("no token to reuse: %v", err)
	}
	cases := []struct {
		name   string
		call   func() error
		code   string
		status int
		msg    string
	}{
		{"too many trace ids", func() error {
			_, err := client.BatchGetTraces(ctx, &xray.BatchGetTracesInput{TraceIds: []string{traceID(1), traceID(2), traceID(3), traceID(4), traceID(5), traceID(6)}})
			return err
		}, "InvalidRequestException", 400, "at most 5 per call"},
		{"no trace ids", func() error {
			_, err := client.BatchGetTraces(ctx, &xray.BatchGetTracesInput{TraceIds: []string{}})
			return err
		}, "InvalidRequestException", 400, "TraceIds is required"},
		{"malformed trace id", func() error {
			_, err := client.BatchGetTraces(ctx, &xray.BatchGetTracesInput{TraceIds: []string{t1, "5759e988bd862e3fe1be46a994272793"}})
			return err
		}, "InvalidRequestException", 400, `TraceIds[1] "5759e988bd862e3fe1be46a994272793" is not an X-Ray trace id`},
		{"BatchGetTraces NextToken", func() error {
			_, err := client.BatchGetTraces(ctx, &xray.BatchGetTracesInput{TraceIds: []string{t1}, NextToken: aws.String("x")})
			return err
		}, "InvalidRequestException", 400, "NextToken is not supported by BatchGetTraces"},
		{"window too large", func() error {
			_, err := client.GetTraceSummaries(ctx, window(xray.GetTraceSummariesInput{EndTime: aws.Time(start.Add(25 * time.Hour))}))
			return err
		}, "InvalidRequestException", 400, "time window 25h0m0s is longer than the 24h0m0s"},
		{"end before start", func() error {
			_, err := client.GetTraceSummaries(ctx, window(xray.GetTraceSummariesInput{EndTime: aws.Time(start.Add(-time.Second))}))
			return err
		}, "InvalidRequestException", 400, "must be after StartTime"},
		{"bad TimeRangeType", func() error {
			_, err := client.GetTraceSummaries(ctx, window(xray.GetTraceSummariesInput{TimeRangeType: "Segment"}))
			return err
		}, "InvalidRequestException", 400, `TimeRangeType "Segment" is not one of TraceId, Event, Service`},
		{"bad sampling value", func() error {
			_, err := client.GetTraceSummaries(ctx, window(xray.GetTraceSummariesInput{Sampling: aws.Bool(true),
				SamplingStrategy: &types.SamplingStrategy{Name: types.SamplingStrategyNameFixedRate, Value: aws.Float64(2)}}))
			return err
		}, "InvalidRequestException", 400, "SamplingStrategy.Value 2 must be between 0 and 1"},
		{"garbage token", func() error {
			_, err := client.GetTraceSummaries(ctx, window(xray.GetTraceSummariesInput{NextToken: aws.String("not-a-token!")}))
			return err
		}, "InvalidRequestException", 400, "is not a token this server issued; repeat the request without NextToken"},
		{"token of another query", func() error {
			_, err := client.GetTraceSummaries(ctx, window(xray.GetTraceSummariesInput{NextToken: aws.String(other)}))
			return err
		}, "InvalidRequestException", 400, "NextToken belongs to a different query"},
		{"filter syntax error", func() error {
			_, err := client.GetTraceSummaries(ctx, window(xray.GetTraceSummariesInput{FilterExpression: aws.String(`service("api") {{ fault }`)}))
			return err
		}, "InvalidRequestException", 400, "FilterExpression: expected a keyword, '!' or '(', found '{' at position 16: `service(\"api\") {⟨here⟩{ fault }`"},
		{"filter unknown keyword", func() error {
			_, err := client.GetTraceSummaries(ctx, window(xray.GetTraceSummariesInput{FilterExpression: aws.String(`bogus = 3`)}))
			return err
		}, "InvalidRequestException", 400, "unknown keyword 'bogus'"},
		{"filter too long", func() error {
			_, err := client.GetTraceSummaries(ctx, window(xray.GetTraceSummariesInput{FilterExpression: aws.String("ok" + strings.Repeat(" ", 2000))}))
			return err
		}, "InvalidRequestException", 400, "FilterExpression is 2002 characters long; at most 2000"},
		{"filter with an unknown group", func() error {
			_, err := client.GetTraceSummaries(ctx, window(xray.GetTraceSummariesInput{FilterExpression: aws.String(`group.name = "slow"`)}))
			return err
		}, "InvalidRequestException", 400, `FilterExpression: group "slow" does not exist; GetGroups lists the groups`},
		{"operation not built yet", func() error {
			_, err := client.GetServiceGraph(ctx, &xray.GetServiceGraphInput{StartTime: aws.Time(start), EndTime: aws.Time(start.Add(time.Hour))})
			return err
		}, "NotImplementedException", 501, "GetServiceGraph is not implemented"},
		{"operation of another component without Extra", func() error {
			_, err := client.PutTraceSegments(ctx, &xray.PutTraceSegmentsInput{TraceSegmentDocuments: []string{segT1}})
			return err
		}, "UnknownOperationException", 404, "no X-Ray operation at POST /TraceSegments"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.call()
			if err == nil {
				t.Fatal("no error")
			}
			ae := apiError(t, err)
			if ae.ErrorCode() != tc.code {
				t.Errorf("code %q, want %q (%v)", ae.ErrorCode(), tc.code, err)
			}
			if !strings.Contains(ae.ErrorMessage(), tc.msg) {
				t.Errorf("message %q does not contain %q", ae.ErrorMessage(), tc.msg)
			}
			var re *smithyhttp.ResponseError
			if !errors.As(err, &re) || re.HTTPStatusCode() != tc.status {
				t.Errorf("status %v, want %d", err, tc.status)
			}
			if tc.code == "InvalidRequestException" {
				var ire *types.InvalidRequestException
				if !errors.As(err, &ire) {
					t.Errorf("SDK did not decode a *types.InvalidRequestException: %T", err)
				}
			}
		})
	}
}

// summariesWithPageSize runs one GetTraceSummaries call on a server with
// the given page size and returns its NextToken.
func summariesWithPageSize(t *testing.T, r *fakeReader, size int, in *xray.GetTraceSummariesInput) (string, error) {
	_, client, _ := newTestAPI(t, Settings{Reader: r}, func(c *Config) { c.PageSize = size })
	out, err := client.GetTraceSummaries(context.Background(), in)
	if err != nil {
		return "", err
	}
	return aws.ToString(out.NextToken), nil
}

func TestInternalError(t *testing.T) {
	r := newFakeReader()
	r.err = errors.New("clickhouse: connection refused")
	_, client, _ := newTestAPI(t, Settings{Reader: r}, nil)
	_, err := client.BatchGetTraces(context.Background(), &xray.BatchGetTracesInput{TraceIds: []string{t1}})
	ae := apiError(t, err)
	if ae.ErrorCode() != "InternalFailure" || !strings.Contains(ae.ErrorMessage(), "request id") {
		t.Errorf("got %q %q", ae.ErrorCode(), ae.ErrorMessage())
	}
	if strings.Contains(ae.ErrorMessage(), "clickhouse") {
		t.Errorf("internal cause leaked to the client: %q", ae.ErrorMessage())
	}
}

func TestGetTraceSummariesPaging(t *testing.T) {
	r := newFakeReader()
	var want []string
	for i := 6; i >= 0; i-- { // most recent first
		id := traceID(i)
		want = append(want, id)
		st := float64(base + i)
		r.add(t, fmt.Sprintf(`{"trace_id":%q,"id":"%016x","name":"svc-%d","start_time":%v,"end_time":%v,"http":{"response":{"status":200}},"annotations":{"i":%d}}`,
			id, 0x5e0+i, i%2, st, st+0.25, i))
	}
	// One trace outside the window.
	r.add(t, `{"trace_id":"`+traceID(5000)+`","id":"5e00000000009999","name":"late","start_time":1,"end_time":2}`)
	_, client, _ := newTestAPI(t, Settings{Reader: r}, func(c *Config) { c.PageSize = 3 })

	for _, rt := range []types.TimeRangeType{"", types.TimeRangeTypeTraceId, types.TimeRangeTypeEvent, types.TimeRangeTypeService} {
		t.Run(string(rt), func(t *testing.T) {
			in := &xray.GetTraceSummariesInput{
				StartTime:     aws.Time(time.Unix(base, 0)),
				EndTime:       aws.Time(time.Unix(base+3600, 0)),
				TimeRangeType: rt,
			}
			p := xray.NewGetTraceSummariesPaginator(client, in)
			var got []string
			pages := 0
			for p.HasMorePages() {
				out, err := p.NextPage(context.Background())
				if err != nil {
					t.Fatal(err)
				}
				pages++
				if aws.ToInt64(out.TracesProcessedCount) != int64(len(out.TraceSummaries)) {
					t.Errorf("TracesProcessedCount %d for %d summaries", aws.ToInt64(out.TracesProcessedCount), len(out.TraceSummaries))
				}
				for _, s := range out.TraceSummaries {
					got = append(got, aws.ToString(s.Id))
					if aws.ToFloat64(s.Duration) != 0.25 || s.Http == nil || aws.ToInt32(s.Http.HttpStatus) != 200 {
						t.Errorf("summary %s: duration %v http %+v", aws.ToString(s.Id), aws.ToFloat64(s.Duration), s.Http)
					}
					if (rt == types.TimeRangeTypeEvent) != (s.MatchedEventTime != nil) {
						t.Errorf("MatchedEventTime %v for range type %q", s.MatchedEventTime, rt)
					}
				}
				if oldest := out.TraceSummaries[len(out.TraceSummaries)-1]; !out.ApproximateTime.Equal(*oldest.StartTime) {
					t.Errorf("ApproximateTime %v, want the oldest trace of the page %v", out.ApproximateTime, oldest.StartTime)
				}
			}
			if pages != 3 || !slices.Equal(got, want) {
				t.Errorf("%d pages with %v\nwant 3 pages with %v", pages, got, want)
			}
			q := r.lastQuery()
			wantRT := string(rt)
			if wantRT == "" {
				wantRT = "TraceId"
			}
			if q.RangeType != wantRT || q.Limit != 3 || !q.Start.Equal(time.Unix(base, 0)) || !q.End.Equal(time.Unix(base+3600, 0)) || q.Having != "" {
				t.Errorf("storage query %+v", q)
			}
		})
	}
}

func TestGetTraceSummariesFields(t *testing.T) {
	r := newFakeReader()
	r.add(t, segT1, indepT1, orphanT1)
	_, client, _ := newTestAPI(t, Settings{Reader: r}, nil)
	out, err := client.GetTraceSummaries(context.Background(), &xray.GetTraceSummariesInput{
		StartTime: aws.Time(time.Unix(base, 0)), EndTime: aws.Time(time.Unix(base+60, 0)),
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(out.TraceSummaries) != 1 || out.NextToken != nil {
		t.Fatalf("%d summaries, NextToken %v", len(out.TraceSummaries), out.NextToken)
	}
	s := out.TraceSummaries[0]
	front := types.ServiceId{Name: aws.String("front"), Names: []string{"front"}, Type: aws.String("AWS::EC2::Instance")}
	pay := types.ServiceId{Name: aws.String("call"), Names: []string{"call"}, Type: aws.String("remote")}
	check := func(name string, got, want any) {
		t.Helper()
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%s = %#v\nwant %#v", name, got, want)
		}
	}
	check("Id", aws.ToString(s.Id), t1)
	check("Duration", aws.ToFloat64(s.Duration), 1.6)
	check("ResponseTime", aws.ToFloat64(s.ResponseTime), 1.25)
	check("StartTime", s.StartTime.UnixMilli(), int64(1694498832500))
	check("flags", [4]bool{aws.ToBool(s.HasFault), aws.ToBool(s.HasError), aws.ToBool(s.HasThrottle), aws.ToBool(s.IsPartial)}, [4]bool{true, false, false, false})
	check("Http", *s.Http, types.Http{HttpURL: aws.String("https://front.example/order"), HttpStatus: aws.Int32(502), HttpMethod: aws.String("POST"),
		UserAgent: aws.String("Go-http-client/1.1"), ClientIp: aws.String("192.0.2.7")})
	check("Users", s.Users, []types.TraceUser{{UserName: aws.String("alice"), ServiceIds: []types.ServiceId{front}}})
	check("ServiceIds", s.ServiceIds, []types.ServiceId{front, pay})
	check("EntryPoint", *s.EntryPoint, front)
	check("Revision", s.Revision, int32(6))
	check("annotation order", s.Annotations["order"], []types.ValueWithServiceIds{
		{AnnotationValue: &types.AnnotationValueMemberStringValue{Value: "o-1"}, ServiceIds: []types.ServiceId{front}}})
	check("annotation amount", s.Annotations["amount"], []types.ValueWithServiceIds{
		{AnnotationValue: &types.AnnotationValueMemberNumberValue{Value: 12.5}, ServiceIds: []types.ServiceId{front}}})
	check("annotation vip", s.Annotations["vip"], []types.ValueWithServiceIds{
		{AnnotationValue: &types.AnnotationValueMemberBooleanValue{Value: true}, ServiceIds: []types.ServiceId{front}}})
}

func TestGetTraceSummariesSampling(t *testing.T) {
	r := newFakeReader()
	for i := range 200 {
		r.add(t, fmt.Sprintf(`{"trace_id":%q,"id":"%016x","name":"s","start_time":%d,"end_time":%d}`, traceID(i), i+1, base+i, base+i+1))
	}
	_, client, _ := newTestAPI(t, Settings{Reader: r}, func(c *Config) { c.PageSize = 1000 })
	in := func(s *types.SamplingStrategy, on bool) *xray.GetTraceSummariesInput {
		return &xray.GetTraceSummariesInput{StartTime: aws.Time(time.Unix(base, 0)), EndTime: aws.Time(time.Unix(base+3600, 0)),
			Sampling: aws.Bool(on), SamplingStrategy: s}
	}
	ids := func(in *xray.GetTraceSummariesInput) []string {
		out, err := client.GetTraceSummaries(context.Background(), in)
		if err != nil {
			t.Fatal(err)
		}
		if aws.ToInt64(out.TracesProcessedCount) != 200 {
			t.Errorf("TracesProcessedCount %d, want 200 (sampling does not change what is scanned)", aws.ToInt64(out.TracesProcessedCount))
		}
		var s []string
		for _, x := range out.TraceSummaries {
			s = append(s, aws.ToString(x.Id))
		}
		return s
	}
	all := ids(in(nil, false))
	half := ids(in(&types.SamplingStrategy{Name: types.SamplingStrategyNameFixedRate, Value: aws.Float64(0.5)}, true))
	def := ids(in(nil, true))
	if len(all) != 200 {
		t.Fatalf("%d traces without sampling", len(all))
	}
	if len(half) < 70 || len(half) > 130 {
		t.Errorf("FixedRate 0.5 kept %d of 200", len(half))
	}
	if len(def) < 5 || len(def) > 40 {
		t.Errorf("default sampling kept %d of 200, want about %v", len(def), defaultSamplingRate*200)
	}
	if again := ids(in(&types.SamplingStrategy{Name: types.SamplingStrategyNameFixedRate, Value: aws.Float64(0.5)}, true)); !slices.Equal(again, half) {
		t.Error("sampling is not stable between calls")
	}
	for _, id := range def {
		if !slices.Contains(half, id) {
			t.Errorf("%s sampled at %v but not at 0.5: sampled sets must nest", id, defaultSamplingRate)
		}
	}
}

// TestExtra checks that paths the API does not own reach Extra, so that an
// SDK pointed at the API port can also PutTraceSegments.
func TestExtra(t *testing.T) {
	var got []string
	extra := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got = append(got, r.Method+" "+r.URL.Path)
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"UnprocessedTraceSegments":[]}`)
	})
	_, client, url := newTestAPI(t, Settings{Reader: newFakeReader(), Extra: extra}, nil)
	out, err := client.PutTraceSegments(context.Background(), &xray.PutTraceSegmentsInput{TraceSegmentDocuments: []string{segT1}})
	if err != nil {
		t.Fatal(err)
	}
	if len(out.UnprocessedTraceSegments) != 0 {
		t.Errorf("UnprocessedTraceSegments %v", out.UnprocessedTraceSegments)
	}
	if _, err := client.PutTelemetryRecords(context.Background(), &xray.PutTelemetryRecordsInput{
		TelemetryRecords: []types.TelemetryRecord{{Timestamp: aws.Time(time.Now())}}}); err != nil {
		t.Fatal(err)
	}
	resp, err := http.Get(url + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if !slices.Equal(got, []string{"POST /TraceSegments", "POST /TelemetryRecords", "GET /metrics"}) {
		t.Errorf("Extra saw %v", got)
	}
}

func TestAuxiliaryOperations(t *testing.T) {
	s, client, _ := newTestAPI(t, Settings{Reader: newFakeReader()}, nil)
	defer func() {
		var b strings.Builder
		s.WriteMetrics(&b)
		for _, want := range []string{
			`fluoro_api_requests_total{operation="GetEncryptionConfig",code="OK"} 1`,
			`fluoro_api_requests_total{operation="PutTelemetryRecords",code="OK"} 1`,
			`fluoro_api_requests_total{operation="GetServiceGraph",code="NotImplementedException"} 1`,
			`fluoro_api_request_duration_seconds_count{operation="GetTraceSegmentDestination"} 1`,
		} {
			if !strings.Contains(b.String(), want) {
				t.Errorf("metrics lack %s:\n%s", want, b.String())
			}
		}
	}()
	if _, err := client.GetServiceGraph(context.Background(), &xray.GetServiceGraphInput{StartTime: aws.Time(time.Unix(base, 0)), EndTime: aws.Time(time.Unix(base+1, 0))}); err == nil {
		t.Error("GetServiceGraph succeeded")
	}
	ctx := context.Background()
	enc, err := client.GetEncryptionConfig(ctx, &xray.GetEncryptionConfigInput{})
	if err != nil {
		t.Fatal(err)
	}
	if enc.EncryptionConfig.Type != types.EncryptionTypeNone || enc.EncryptionConfig.Status != types.EncryptionStatusActive {
		t.Errorf("EncryptionConfig %+v", enc.EncryptionConfig)
	}
	dst, err := client.GetTraceSegmentDestination(ctx, &xray.GetTraceSegmentDestinationInput{})
	if err != nil {
		t.Fatal(err)
	}
	if dst.Destination != types.TraceSegmentDestinationXRay || dst.Status != types.TraceSegmentDestinationStatusActive {
		t.Errorf("destination %v %v", dst.Destination, dst.Status)
	}
	_, err = client.PutTelemetryRecords(ctx, &xray.PutTelemetryRecordsInput{TelemetryRecords: []types.TelemetryRecord{
		{Timestamp: aws.Time(time.Now()), SegmentsReceivedCount: aws.Int32(3)}}})
	if err != nil {
		t.Fatal(err)
	}
}

// TestRawRequests covers what the SDK never sends: bodies that are not
// JSON, wrong member types, wrong methods, empty bodies.
func TestRawRequests(t *testing.T) {
	_, _, url := newTestAPI(t, Settings{Reader: newFakeReader()}, nil)
	cases := []struct {
		method, path, body string
		status             int
		code, msg          string
	}{
		{"POST", "/EncryptionConfig", "", 200, "", `"EncryptionConfig"`},
		{"POST", "/TraceSummaries", "", 400, "InvalidRequestException", "StartTime and EndTime are required"},
		{"POST", "/Traces", `{"TraceIds": [`, 400, "InvalidRequestException", "request body is not valid JSON"},
		{"POST", "/Traces", `{"TraceIds": "1-65000010-aaaaaaaaaaaaaaaaaaaaaaa1"}`, 400, "InvalidRequestException", "member TraceIds must be an array, not string"},
		{"POST", "/Traces", `[1,2]`, 400, "InvalidRequestException", "request body must be a JSON object"},
		{"POST", "/TraceSummaries", `{"StartTime":"yesterday","EndTime":1}`, 400, "InvalidRequestException", `timestamp "yesterday" is not a number of epoch seconds`},
		{"POST", "/TraceSummaries", `{"StartTime":"2023-09-12T06:00:00Z","EndTime":"1694498400"}`, 400, "InvalidRequestException", "must be after StartTime"},
		{"POST", "/Traces", strings.Repeat(" ", maxBodyBytes+1), 400, "InvalidRequestException", "larger than"},
		{"POST", "/TelemetryRecords", `{"TelemetryRecords":[{}]}`, 400, "InvalidRequestException", "TelemetryRecords[0].Timestamp is required"},
		{"GET", "/Traces", "", 405, "UnknownOperationException", "X-Ray operations are called with POST"},
		{"POST", "/NoSuchOperation", "{}", 404, "UnknownOperationException", "no X-Ray operation at POST /NoSuchOperation"},
	}
	for _, tc := range cases {
		t.Run(tc.method+" "+tc.path+" "+truncate(tc.body, 20), func(t *testing.T) {
			req, err := http.NewRequest(tc.method, url+tc.path, strings.NewReader(tc.body))
			if err != nil {
				t.Fatal(err)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			b, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != tc.status {
				t.Errorf("status %d, want %d: %s", resp.StatusCode, tc.status, b)
			}
			if resp.Header.Get("x-amzn-RequestId") == "" {
				t.Error("no x-amzn-RequestId")
			}
			if got := resp.Header.Get("X-Amzn-ErrorType"); got != tc.code {
				t.Errorf("X-Amzn-ErrorType %q, want %q", got, tc.code)
			}
			if tc.code == "" {
				if !strings.Contains(string(b), tc.msg) {
					t.Errorf("body %s does not contain %q", b, tc.msg)
				}
				return
			}
			var eb struct {
				Type    string `json:"__type"`
				Message string
			}
			if err := json.Unmarshal(b, &eb); err != nil || eb.Type != tc.code || !strings.Contains(eb.Message, tc.msg) {
				t.Errorf("error body %s, want __type %q and a Message containing %q", b, tc.code, tc.msg)
			}
		})
	}
}

// TestGetTraceSummariesFilter: the expression travels to storage as a HAVING
// condition with bound arguments; root-cause predicates are confirmed in
// memory on the candidates storage returns.
func TestGetTraceSummariesFilter(t *testing.T) {
	ok := `{"trace_id":"` + traceID(1) + `","id":"5e00000000000002","name":"front","start_time":1694498833,"end_time":1694498834,"http":{"response":{"status":200}}}`
	r := newFakeReader()
	r.add(t, segT1, indepT1, ok)
	_, client, _ := newTestAPI(t, Settings{Reader: r}, nil)
	in := func(expr string) *xray.GetTraceSummariesInput {
		return &xray.GetTraceSummariesInput{StartTime: aws.Time(time.Unix(base, 0)), EndTime: aws.Time(time.Unix(base+60, 0)),
			FilterExpression: aws.String(expr)}
	}
	out, err := client.GetTraceSummaries(context.Background(), in(`annotation.order = "o-1"`))
	if err != nil {
		t.Fatal(err)
	}
	q := r.lastQuery()
	if !strings.Contains(q.Having, "ann_str.key") || !slices.Equal(q.HavingArgs, []any{"order", "o-1"}) {
		t.Errorf("storage query Having %q args %v", q.Having, q.HavingArgs)
	}
	if strings.Contains(q.Having, "o-1") {
		t.Errorf("user input inlined into SQL: %q", q.Having)
	}
	// The fake store ignores Having: both traces come back.
	if len(out.TraceSummaries) != 2 {
		t.Errorf("%d summaries", len(out.TraceSummaries))
	}

	out, err = client.GetTraceSummaries(context.Background(), in(`rootcause.fault.service { name = "front" }`))
	if err != nil {
		t.Fatal(err)
	}
	if len(out.TraceSummaries) != 1 || aws.ToString(out.TraceSummaries[0].Id) != t1 {
		var got []string
		for _, s := range out.TraceSummaries {
			got = append(got, aws.ToString(s.Id))
		}
		t.Errorf("root-cause filter kept %v, want only the faulted trace %s", got, t1)
	}
}
