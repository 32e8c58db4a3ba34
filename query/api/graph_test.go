package api

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/xray"
	"github.com/aws/smithy-go"

	"github.com/fluoro/fluoro/query/graphstore"
	"github.com/fluoro/fluoro/query/servicegraph"
	"github.com/fluoro/fluoro/schema/chstore"
)

// fakeGraph is a GraphReader returning canned answers and recording the
// queries.
type fakeGraph struct {
	mu     sync.Mutex
	graphs []graphstore.Query
	series []graphstore.TimeSeriesQuery
	traces [][]string
	err    error
}

func (f *fakeGraph) ServiceGraph(_ context.Context, q graphstore.Query) (graphstore.Result, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.graphs = append(f.graphs, q)
	return graphstore.Result{Start: q.Start.Truncate(time.Minute), End: q.End, Services: cannedServices()}, f.err
}

func (f *fakeGraph) TimeSeries(_ context.Context, q graphstore.TimeSeriesQuery) ([]servicegraph.TimeSeriesPoint, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.series = append(f.series, q)
	st := servicegraph.Statistics{OkCount: 3, TotalCount: 5, TotalResponseTime: 0.5,
		ErrorStatistics: servicegraph.ErrorStatistics{ThrottleCount: 1, TotalCount: 1},
		FaultStatistics: servicegraph.FaultStatistics{OtherCount: 1, TotalCount: 1}}
	pt := servicegraph.TimeSeriesPoint{Timestamp: float64(q.Start.Unix()), ResponseTimeHistogram: []servicegraph.HistogramEntry{{Value: 0.1, Count: 5}}}
	if q.Selector.Kind == servicegraph.SelectService {
		pt.ServiceSummaryStatistics = &st
	} else {
		pt.EdgeSummaryStatistics = &st
	}
	if q.Forecast {
		pt.ServiceForecastStatistics = &servicegraph.ForecastStatistics{FaultCountHigh: 4, FaultCountLow: 1}
	}
	return []servicegraph.TimeSeriesPoint{pt}, f.err
}

func (f *fakeGraph) TraceGraph(_ context.Context, ids []string) ([]servicegraph.Service, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.traces = append(f.traces, ids)
	return cannedServices(), f.err
}

// cannedServices is a two-node graph: client → web.
func cannedServices() []servicegraph.Service {
	a := servicegraph.NewAggregator(servicegraph.Options{})
	a.AddTrace([]servicegraph.Span{{TraceID: traceID(1), ID: "a000000000000001", Name: "web", Origin: "AWS::EC2::Instance",
		IsSegment: true, StartUS: 1_700_000_000_000_000, EndUS: 1_700_000_000_250_000, HTTPStatus: 503, Version: 1}})
	return a.Graph()
}

// fakeGroups is a GroupStore holding fixed groups.
type fakeGroups struct{ groups []chstore.Group }

func (f *fakeGroups) Groups(context.Context) ([]chstore.Group, error) { return f.groups, nil }
func (f *fakeGroups) Group(_ context.Context, key string) (chstore.Group, error) {
	for _, g := range f.groups {
		if g.Name == key || g.ARN == key {
			return g, nil
		}
	}
	return chstore.Group{}, chstore.ErrNotFound
}
func (f *fakeGroups) PutGroup(_ context.Context, g chstore.Group) (chstore.Group, error) {
	return g, errors.New("read-only")
}
func (f *fakeGroups) DeleteGroup(context.Context, string) error { return errors.New("read-only") }

func TestGetServiceGraph(t *testing.T) {
	t.Parallel()
	g := &fakeGraph{}
	changed := time.Unix(1_700_000_100, 0)
	groups := &fakeGroups{groups: []chstore.Group{
		{Name: "faults", ARN: "arn:aws:xray:us-east-1:000000000000:group/faults/X", FilterExpression: `fault AND service("web")`, ModifiedAt: changed},
		{Name: "all", ARN: "arn:aws:xray:us-east-1:000000000000:group/all/Y"},
	}}
	_, client, _ := newTestAPI(t, Settings{Reader: newFakeReader(), Graph: g, Groups: groups}, nil)
	ctx := context.Background()
	start, end := time.Unix(1_700_000_000, 0), time.Unix(1_700_003_600, 0)

	out, err := client.GetServiceGraph(ctx, &xray.GetServiceGraphInput{StartTime: aws.Time(start), EndTime: aws.Time(end)})
	if err != nil {
		t.Fatal(err)
	}
	if len(out.Services) != 2 || !aws.ToTime(out.StartTime).Equal(start.Truncate(time.Minute)) || !aws.ToTime(out.EndTime).Equal(end) || out.ContainsOldGroupVersions {
		t.Fatalf("GetServiceGraph = %+v", out)
	}
	var web, client0 int = -1, -1
	for i, s := range out.Services {
		switch aws.ToString(s.Type) {
		case "AWS::EC2::Instance":
			web = i
		case "client":
			client0 = i
		}
	}
	if web < 0 || client0 < 0 {
		t.Fatalf("services %+v", out.Services)
	}
	ws, cs := out.Services[web], out.Services[client0]
	if aws.ToString(ws.Name) != "web" || !aws.ToBool(ws.Root) || aws.ToString(ws.State) != "active" || len(ws.Names) != 1 ||
		aws.ToInt64(ws.SummaryStatistics.FaultStatistics.TotalCount) != 1 || aws.ToInt64(ws.SummaryStatistics.TotalCount) != 1 ||
		aws.ToFloat64(ws.SummaryStatistics.TotalResponseTime) != 0.25 || len(ws.ResponseTimeHistogram) != 1 ||
		ws.ResponseTimeHistogram[0].Value != 0.25 || ws.ResponseTimeHistogram[0].Count != 1 || len(ws.DurationHistogram) != 1 {
		t.Errorf("web service %+v", ws)
	}
	if aws.ToString(cs.State) != "unknown" || cs.SummaryStatistics != nil || len(cs.Edges) != 1 ||
		aws.ToInt32(cs.Edges[0].ReferenceId) != aws.ToInt32(ws.ReferenceId) ||
		aws.ToInt64(cs.Edges[0].SummaryStatistics.FaultStatistics.TotalCount) != 1 ||
		!aws.ToTime(cs.Edges[0].StartTime).Equal(time.Unix(1_700_000_000, 0)) {
		t.Errorf("client service %+v", cs)
	}
	if q := g.graphs[0]; q.Filter != nil || !q.Start.Equal(start) || !q.End.Equal(end) {
		t.Errorf("query %+v", q)
	}

	// The Default group and a group without expression: every trace.
	for _, in := range []*xray.GetServiceGraphInput{
		{StartTime: aws.Time(start), EndTime: aws.Time(end), GroupName: aws.String("Default")},
		{StartTime: aws.Time(start), EndTime: aws.Time(end), GroupARN: aws.String(defaultGroupARN)},
		{StartTime: aws.Time(start), EndTime: aws.Time(end), GroupName: aws.String("all")},
	} {
		if _, err := client.GetServiceGraph(ctx, in); err != nil {
			t.Fatal(err)
		}
		if q := g.graphs[len(g.graphs)-1]; q.Filter != nil {
			t.Errorf("%+v: filter %+v", in, q.Filter)
		}
	}
	// A group with an expression: its filter, and ContainsOldGroupVersions
	// because it changed inside the window.
	out, err = client.GetServiceGraph(ctx, &xray.GetServiceGraphInput{StartTime: aws.Time(start), EndTime: aws.Time(end),
		GroupARN: aws.String(groups.groups[0].ARN)})
	if err != nil {
		t.Fatal(err)
	}
	q := g.graphs[len(g.graphs)-1]
	if q.Filter == nil || !strings.Contains(q.Filter.Having, "fault") || len(q.Filter.Args) == 0 || !out.ContainsOldGroupVersions {
		t.Errorf("group graph: filter %+v, ContainsOldGroupVersions %v", q.Filter, out.ContainsOldGroupVersions)
	}
	out, err = client.GetServiceGraph(ctx, &xray.GetServiceGraphInput{StartTime: aws.Time(changed.Add(time.Minute)), EndTime: aws.Time(end),
		GroupName: aws.String("faults")})
	if err != nil || out.ContainsOldGroupVersions {
		t.Errorf("window after the change: %v %v", out.ContainsOldGroupVersions, err)
	}
}

func TestGetTraceGraphAndTimeSeries(t *testing.T) {
	t.Parallel()
	g := &fakeGraph{}
	_, client, _ := newTestAPI(t, Settings{Reader: newFakeReader(), Graph: g}, nil)
	ctx := context.Background()

	tg, err := client.GetTraceGraph(ctx, &xray.GetTraceGraphInput{TraceIds: []string{strings.ToUpper(traceID(1)[:2]) + traceID(1)[2:], traceID(2)}})
	if err != nil {
		t.Fatal(err)
	}
	if len(tg.Services) != 2 || len(g.traces) != 1 || g.traces[0][0] != traceID(1) || g.traces[0][1] != traceID(2) {
		t.Errorf("GetTraceGraph = %+v, ids %v", tg, g.traces)
	}

	start, end := time.Unix(1_700_000_000, 0), time.Unix(1_700_003_600, 0)
	ts, err := client.GetTimeSeriesServiceStatistics(ctx, &xray.GetTimeSeriesServiceStatisticsInput{StartTime: aws.Time(start), EndTime: aws.Time(end),
		EntitySelectorExpression: aws.String(`service("web")`), Period: aws.Int32(300)})
	if err != nil {
		t.Fatal(err)
	}
	q := g.series[0]
	if q.Period != 5*time.Minute || q.Selector.Kind != servicegraph.SelectService || q.Selector.Node.Name != "web" || q.Forecast {
		t.Errorf("query %+v", q)
	}
	if len(ts.TimeSeriesServiceStatistics) != 1 {
		t.Fatalf("%+v", ts)
	}
	p := ts.TimeSeriesServiceStatistics[0]
	if p.ServiceSummaryStatistics == nil || p.EdgeSummaryStatistics != nil || aws.ToInt64(p.ServiceSummaryStatistics.TotalCount) != 5 ||
		aws.ToInt64(p.ServiceSummaryStatistics.ErrorStatistics.ThrottleCount) != 1 || !aws.ToTime(p.Timestamp).Equal(start) ||
		len(p.ResponseTimeHistogram) != 1 {
		t.Errorf("point %+v", p)
	}
	// Default period 60, no selector: the entry edges.
	ts, err = client.GetTimeSeriesServiceStatistics(ctx, &xray.GetTimeSeriesServiceStatisticsInput{StartTime: aws.Time(start), EndTime: aws.Time(end)})
	if err != nil {
		t.Fatal(err)
	}
	if q := g.series[1]; q.Period != time.Minute || q.Selector.Kind != servicegraph.SelectEntry ||
		ts.TimeSeriesServiceStatistics[0].EdgeSummaryStatistics == nil {
		t.Errorf("query %+v, answer %+v", q, ts)
	}
	ts, err = client.GetTimeSeriesServiceStatistics(ctx, &xray.GetTimeSeriesServiceStatisticsInput{StartTime: aws.Time(start), EndTime: aws.Time(end),
		EntitySelectorExpression: aws.String(`id(name: "web", type: "AWS::EC2::Instance")`), ForecastStatistics: aws.Bool(true)})
	if err != nil {
		t.Fatal(err)
	}
	if f := ts.TimeSeriesServiceStatistics[0].ServiceForecastStatistics; f == nil || aws.ToInt64(f.FaultCountHigh) != 4 {
		t.Errorf("forecast %+v", f)
	}
}

func TestGraphErrors(t *testing.T) {
	t.Parallel()
	_, client, url := newTestAPI(t, Settings{Reader: newFakeReader(), Graph: &fakeGraph{}}, nil)
	_, noGraph, _ := newTestAPI(t, Settings{Reader: newFakeReader()}, nil)
	ctx := context.Background()
	start, end := time.Unix(1_700_000_000, 0), time.Unix(1_700_003_600, 0)
	long := strings.Repeat("x", 33)
	cases := []struct {
		name string
		call func() error
		code string
		msg  string
	}{
		{"graph without times", func() error { return post(t, url, "/ServiceGraph", `{}`) },
			codeInvalidRequest, "StartTime and EndTime are required"},
		{"graph reversed", func() error {
			_, err := client.GetServiceGraph(ctx, &xray.GetServiceGraphInput{StartTime: aws.Time(end), EndTime: aws.Time(start)})
			return err
		}, codeInvalidRequest, "must be before EndTime"},
		{"graph too long", func() error {
			_, err := client.GetServiceGraph(ctx, &xray.GetServiceGraphInput{StartTime: aws.Time(start), EndTime: aws.Time(start.Add(25 * time.Hour))})
			return err
		}, codeInvalidRequest, "at most 24h0m0s"},
		{"graph next token", func() error {
			_, err := client.GetServiceGraph(ctx, &xray.GetServiceGraphInput{StartTime: aws.Time(start), EndTime: aws.Time(end), NextToken: aws.String("x")})
			return err
		}, codeInvalidRequest, "never hands out a NextToken"},
		{"graph unknown group", func() error {
			_, err := client.GetServiceGraph(ctx, &xray.GetServiceGraphInput{StartTime: aws.Time(start), EndTime: aws.Time(end), GroupName: aws.String("nope")})
			return err
		}, codeInvalidRequest, "does not exist"},
		{"graph group name too long", func() error {
			_, err := client.GetServiceGraph(ctx, &xray.GetServiceGraphInput{StartTime: aws.Time(start), EndTime: aws.Time(end), GroupName: aws.String(long)})
			return err
		}, codeInvalidRequest, "GroupName"},
		{"trace graph without ids", func() error { return post(t, url, "/TraceGraph", `{}`) },
			codeInvalidRequest, "TraceIds is required"},
		{"trace graph bad id", func() error {
			_, err := client.GetTraceGraph(ctx, &xray.GetTraceGraphInput{TraceIds: []string{traceID(1), "1-xyz"}})
			return err
		}, codeInvalidRequest, `TraceIds[1] "1-xyz" is not an X-Ray trace id`},
		{"trace graph too many ids", func() error {
			ids := make([]string, TraceGraphMaxIDs+1)
			for i := range ids {
				ids[i] = traceID(i)
			}
			_, err := client.GetTraceGraph(ctx, &xray.GetTraceGraphInput{TraceIds: ids})
			return err
		}, codeInvalidRequest, "at most 100 per call"},
		{"series period 30", func() error {
			_, err := client.GetTimeSeriesServiceStatistics(ctx, &xray.GetTimeSeriesServiceStatisticsInput{StartTime: aws.Time(start), EndTime: aws.Time(end), Period: aws.Int32(30)})
			return err
		}, codeInvalidRequest, "Period 30"},
		{"series period 90", func() error {
			_, err := client.GetTimeSeriesServiceStatistics(ctx, &xray.GetTimeSeriesServiceStatisticsInput{StartTime: aws.Time(start), EndTime: aws.Time(end), Period: aws.Int32(90)})
			return err
		}, codeInvalidRequest, "multiple of 60"},
		{"series bad selector", func() error {
			_, err := client.GetTimeSeriesServiceStatistics(ctx, &xray.GetTimeSeriesServiceStatisticsInput{StartTime: aws.Time(start), EndTime: aws.Time(end),
				EntitySelectorExpression: aws.String(`service(web)`)})
			return err
		}, codeInvalidRequest, "at position 8: `service(⟨here⟩web)`"},
		{"series selector too long", func() error {
			_, err := client.GetTimeSeriesServiceStatistics(ctx, &xray.GetTimeSeriesServiceStatisticsInput{StartTime: aws.Time(start), EndTime: aws.Time(end),
				EntitySelectorExpression: aws.String(`service("` + strings.Repeat("a", 500) + `")`)})
			return err
		}, codeInvalidRequest, "1 to 500 characters"},
		{"series forecast without id", func() error {
			_, err := client.GetTimeSeriesServiceStatistics(ctx, &xray.GetTimeSeriesServiceStatisticsInput{StartTime: aws.Time(start), EndTime: aws.Time(end),
				EntitySelectorExpression: aws.String(`service("web")`), ForecastStatistics: aws.Bool(true)})
			return err
		}, codeInvalidRequest, "ForecastStatistics needs an id()"},
		{"series without end", func() error { return post(t, url, "/TimeSeriesServiceStatistics", `{"StartTime": 1700000000}`) },
			codeInvalidRequest, "EndTime is required"},
		{"series bad period type", func() error {
			return post(t, url, "/TimeSeriesServiceStatistics", `{"StartTime": 1700000000, "EndTime": 1700000060, "Period": "60"}`)
		}, codeInvalidRequest, "member Period must be a number"},
		{"trace graph ids not an array", func() error {
			return post(t, url, "/TraceGraph", `{"TraceIds": "1-65000010-aaaaaaaaaaaaaaaaaaaaaaa1"}`)
		},
			codeInvalidRequest, "member TraceIds must be an array"},
		{"no graph configured", func() error {
			_, err := noGraph.GetServiceGraph(ctx, &xray.GetServiceGraphInput{StartTime: aws.Time(start), EndTime: aws.Time(end)})
			return err
		}, codeNotImplemented, "started without"},
	}
	for _, c := range cases {
		err := c.call()
		if err == nil {
			t.Errorf("%s: no error", c.name)
			continue
		}
		ae := apiError(t, err)
		if ae.ErrorCode() != c.code || !strings.Contains(ae.ErrorMessage(), c.msg) {
			t.Errorf("%s: %s %q, want %s containing %q", c.name, ae.ErrorCode(), ae.ErrorMessage(), c.code, c.msg)
		}
	}
}

// rawError is the error of a raw request, in smithy's shape.
type rawError struct{ code, msg string }

func (e *rawError) Error() string                 { return e.code + ": " + e.msg }
func (e *rawError) ErrorCode() string             { return e.code }
func (e *rawError) ErrorMessage() string          { return e.msg }
func (e *rawError) ErrorFault() smithy.ErrorFault { return smithy.FaultClient }

// post sends body to path without the SDK's client-side validation and
// returns the X-Ray error it answers (nil on 200).
func post(t *testing.T, url, path, body string) error {
	t.Helper()
	resp, err := http.Post(url+path, "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode == http.StatusOK {
		return nil
	}
	var eb struct {
		Type    string `json:"__type"`
		Message string
	}
	if err := json.Unmarshal(b, &eb); err != nil || eb.Type != resp.Header.Get("X-Amzn-ErrorType") {
		t.Fatalf("error body %s (header %q)", b, resp.Header.Get("X-Amzn-ErrorType"))
	}
	return &rawError{code: eb.Type, msg: eb.Message}
}

func TestGraphStorageError(t *testing.T) {
	t.Parallel()
	_, client, _ := newTestAPI(t, Settings{Reader: newFakeReader(), Graph: &fakeGraph{err: errors.New("clickhouse went away")}}, nil)
	_, err := client.GetServiceGraph(context.Background(), &xray.GetServiceGraphInput{StartTime: aws.Time(time.Unix(1_700_000_000, 0)),
		EndTime: aws.Time(time.Unix(1_700_000_060, 0))})
	if ae := apiError(t, err); ae.ErrorCode() != codeInternal {
		t.Errorf("storage failure answered %s %q", ae.ErrorCode(), ae.ErrorMessage())
	}
}
