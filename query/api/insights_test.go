package api

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/xray"
	"github.com/aws/aws-sdk-go-v2/service/xray/types"
)

func TestInsights(t *testing.T) {
	_, client, _ := newTestAPI(t, Settings{Reader: newFakeReader()}, nil)
	ctx := context.Background()
	now := time.Now()
	const id = "e1b5a1c6-9d4c-4a8b-8c4b-0123456789ab"

	sums, err := client.GetInsightSummaries(ctx, &xray.GetInsightSummariesInput{
		StartTime: aws.Time(now.Add(-time.Hour)), EndTime: aws.Time(now), GroupName: aws.String("Default"),
		States: []types.InsightState{types.InsightStateActive}, MaxResults: aws.Int32(10)})
	if err != nil || sums.InsightSummaries == nil || len(sums.InsightSummaries) != 0 || sums.NextToken != nil {
		t.Fatalf("GetInsightSummaries = %+v, %v; want an empty list", sums, err)
	}
	if _, err := client.GetInsightSummaries(ctx, &xray.GetInsightSummariesInput{StartTime: aws.Time(now.Add(-time.Hour)), EndTime: aws.Time(now),
		GroupARN: aws.String(defaultGroupARN)}); err != nil {
		t.Fatalf("GetInsightSummaries by the Default group's ARN: %v", err)
	}
	p := xray.NewGetInsightSummariesPaginator(client, &xray.GetInsightSummariesInput{StartTime: aws.Time(now.Add(-time.Hour)), EndTime: aws.Time(now), GroupName: aws.String("Default")})
	if _, err := p.NextPage(ctx); err != nil || p.HasMorePages() {
		t.Fatalf("paginator: %v, more pages %v", err, p.HasMorePages())
	}
	ins, err := client.GetInsight(ctx, &xray.GetInsightInput{InsightId: aws.String(id)})
	if err != nil || ins.Insight != nil {
		t.Fatalf("GetInsight = %+v, %v; want no insight", ins, err)
	}
	ev, err := client.GetInsightEvents(ctx, &xray.GetInsightEventsInput{InsightId: aws.String(id), MaxResults: aws.Int32(50)})
	if err != nil || ev.InsightEvents == nil || len(ev.InsightEvents) != 0 {
		t.Fatalf("GetInsightEvents = %+v, %v", ev, err)
	}
	start, end := now.Add(-2*time.Hour).Truncate(time.Second), now.Add(-time.Hour).Truncate(time.Second)
	g, err := client.GetInsightImpactGraph(ctx, &xray.GetInsightImpactGraphInput{InsightId: aws.String(id), StartTime: aws.Time(start), EndTime: aws.Time(end)})
	if err != nil || aws.ToString(g.InsightId) != id || !g.StartTime.Equal(start) || !g.EndTime.Equal(end) ||
		!g.ServiceGraphStartTime.Equal(start) || !g.ServiceGraphEndTime.Equal(end) || g.Services == nil || len(g.Services) != 0 {
		t.Fatalf("GetInsightImpactGraph = %+v, %v", g, err)
	}

	for _, tc := range []struct {
		name string
		call func() error
		msg  string
	}{
		{"summaries: unknown group", func() error {
			_, err := client.GetInsightSummaries(ctx, &xray.GetInsightSummariesInput{StartTime: aws.Time(now.Add(-time.Hour)), EndTime: aws.Time(now), GroupName: aws.String("nope")})
			return err
		}, "group nope does not exist"},
		{"summaries: no group", func() error {
			_, err := client.GetInsightSummaries(ctx, &xray.GetInsightSummariesInput{StartTime: aws.Time(now.Add(-time.Hour)), EndTime: aws.Time(now)})
			return err
		}, "GroupName or GroupARN is required"},
		{"summaries: end before start", func() error {
			_, err := client.GetInsightSummaries(ctx, &xray.GetInsightSummariesInput{StartTime: aws.Time(now), EndTime: aws.Time(now.Add(-time.Hour)), GroupName: aws.String("Default")})
			return err
		}, "must be after StartTime"},
		{"summaries: too old", func() error {
			_, err := client.GetInsightSummaries(ctx, &xray.GetInsightSummariesInput{StartTime: aws.Time(now.AddDate(0, 0, -31)), EndTime: aws.Time(now), GroupName: aws.String("Default")})
			return err
		}, "more than 30 days old"},
		{"summaries: two states", func() error {
			_, err := client.GetInsightSummaries(ctx, &xray.GetInsightSummariesInput{StartTime: aws.Time(now.Add(-time.Hour)), EndTime: aws.Time(now), GroupName: aws.String("Default"),
				States: []types.InsightState{types.InsightStateActive, types.InsightStateClosed}})
			return err
		}, "at most one state"},
		{"summaries: bad state", func() error {
			_, err := client.GetInsightSummaries(ctx, &xray.GetInsightSummariesInput{StartTime: aws.Time(now.Add(-time.Hour)), EndTime: aws.Time(now), GroupName: aws.String("Default"),
				States: []types.InsightState{"OPEN"}})
			return err
		}, `"OPEN" is not ACTIVE or CLOSED`},
		{"summaries: MaxResults", func() error {
			_, err := client.GetInsightSummaries(ctx, &xray.GetInsightSummariesInput{StartTime: aws.Time(now.Add(-time.Hour)), EndTime: aws.Time(now), GroupName: aws.String("Default"), MaxResults: aws.Int32(101)})
			return err
		}, "MaxResults 101 must be 1 to 100"},
		{"summaries: foreign token", func() error {
			_, err := client.GetInsightSummaries(ctx, &xray.GetInsightSummariesInput{StartTime: aws.Time(now.Add(-time.Hour)), EndTime: aws.Time(now), GroupName: aws.String("Default"), NextToken: aws.String("abc")})
			return err
		}, "not a token this server issued"},
		{"insight: bad id", func() error {
			_, err := client.GetInsight(ctx, &xray.GetInsightInput{InsightId: aws.String("no spaces allowed")})
			return err
		}, "InsightId \"no spaces allowed\" must be 1 to 36"},
		{"events: MaxResults", func() error {
			_, err := client.GetInsightEvents(ctx, &xray.GetInsightEventsInput{InsightId: aws.String(id), MaxResults: aws.Int32(51)})
			return err
		}, "MaxResults 51 must be 1 to 50"},
		{"impact graph: over six hours", func() error {
			_, err := client.GetInsightImpactGraph(ctx, &xray.GetInsightImpactGraphInput{InsightId: aws.String(id), StartTime: aws.Time(now.Add(-7 * time.Hour)), EndTime: aws.Time(now)})
			return err
		}, "longer than the 6h0m0s allowed"},
		{"impact graph: long id", func() error {
			_, err := client.GetInsightImpactGraph(ctx, &xray.GetInsightImpactGraphInput{InsightId: aws.String(strings.Repeat("a", 37)), StartTime: aws.Time(now.Add(-time.Hour)), EndTime: aws.Time(now)})
			return err
		}, "must be 1 to 36"},
	} {
		wantAPIError(t, tc.name, tc.call(), "InvalidRequestException", tc.msg)
	}
}

// TestInsightsRaw covers the members the SDK checks itself before sending.
func TestInsightsRaw(t *testing.T) {
	_, _, url := newTestAPI(t, Settings{Reader: newFakeReader()}, nil)
	for _, tc := range []struct{ path, body, msg string }{
		{"/InsightSummaries", `{"GroupName":"Default"}`, "StartTime and EndTime are required"},
		{"/Insight", `{}`, "InsightId is required"},
		{"/InsightEvents", `{"InsightId":7}`, "member InsightId must be a string"},
		{"/InsightImpactGraph", `{"InsightId":"x","StartTime":1}`, "StartTime and EndTime are required"},
	} {
		resp, err := http.Post(url+tc.path, "application/json", strings.NewReader(tc.body))
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 400 || resp.Header.Get("X-Amzn-ErrorType") != "InvalidRequestException" || !strings.Contains(string(b), tc.msg) {
			t.Errorf("%s %s: %d %s %s; want 400 InvalidRequestException %q", tc.path, tc.body, resp.StatusCode, resp.Header.Get("X-Amzn-ErrorType"), b, tc.msg)
		}
	}
}

// TestSamplingMount: Settings.Sampling answers the six sampling paths, its
// error answers pass through unchanged and are counted; without it the SDK
// paths go to Extra and the rule operations answer NotImplementedException.
func TestSamplingMount(t *testing.T) {
	var got []string
	samp := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got = append(got, r.URL.Path)
		w.Header().Set("Content-Type", "application/json")
		if r.URL.Path == "/DeleteSamplingRule" {
			w.Header().Set("X-Amzn-ErrorType", "InvalidRequestException")
			w.WriteHeader(400)
			_, _ = io.WriteString(w, `{"__type":"InvalidRequestException","message":"the Default rule cannot be deleted"}`)
			return
		}
		_, _ = io.WriteString(w, `{}`)
	})
	s, client, _ := newTestAPI(t, Settings{Reader: newFakeReader(), Sampling: samp}, nil)
	ctx := context.Background()
	if _, err := client.GetSamplingRules(ctx, &xray.GetSamplingRulesInput{}); err != nil {
		t.Fatal(err)
	}
	if _, err := client.GetSamplingStatisticSummaries(ctx, &xray.GetSamplingStatisticSummariesInput{}); err != nil {
		t.Fatal(err)
	}
	_, err := client.DeleteSamplingRule(ctx, &xray.DeleteSamplingRuleInput{RuleName: aws.String("Default")})
	wantAPIError(t, "DeleteSamplingRule", err, "InvalidRequestException", "the Default rule cannot be deleted")
	if strings.Join(got, " ") != "/GetSamplingRules /SamplingStatisticSummaries /DeleteSamplingRule" {
		t.Fatalf("sampling handler saw %v", got)
	}
	var b strings.Builder
	s.WriteMetrics(&b)
	for _, want := range []string{
		`fluoro_api_requests_total{operation="GetSamplingRules",code="OK"} 1`,
		`fluoro_api_requests_total{operation="DeleteSamplingRule",code="InvalidRequestException"} 1`,
	} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("metrics lack %s:\n%s", want, b.String())
		}
	}
	if strings.Contains(b.String(), `operation="DeleteSamplingRule",code="OK"`) {
		t.Errorf("an error answer was counted as OK:\n%s", b.String())
	}

	var extra []string
	_, client, _ = newTestAPI(t, Settings{Reader: newFakeReader(), Extra: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		extra = append(extra, r.URL.Path)
		_, _ = io.WriteString(w, `{}`)
	})}, nil)
	if _, err := client.GetSamplingRules(ctx, &xray.GetSamplingRulesInput{}); err != nil || len(extra) != 1 {
		t.Fatalf("GetSamplingRules without Sampling: %v, Extra saw %v", err, extra)
	}
	_, err = client.CreateSamplingRule(ctx, &xray.CreateSamplingRuleInput{SamplingRule: &types.SamplingRule{
		ResourceARN: aws.String("*"), Priority: aws.Int32(1), ServiceName: aws.String("*"), ServiceType: aws.String("*"),
		Host: aws.String("*"), HTTPMethod: aws.String("*"), URLPath: aws.String("*"), Version: aws.Int32(1)}})
	wantAPIError(t, "CreateSamplingRule without Sampling", err, "NotImplementedException", "CreateSamplingRule is not implemented")
}
