package api

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/xray"
	"github.com/aws/aws-sdk-go-v2/service/xray/types"

	"github.com/fluoro/fluoro/collector/segment"
	"github.com/fluoro/fluoro/query/alert"
	"github.com/fluoro/fluoro/schema/chstore"
	"github.com/fluoro/fluoro/schema/chtest"
)

var _ AlertManager = (*alert.Engine)(nil)

// alertingAPI runs an alerting engine over a fresh ClickHouse database
// (with one read-only rule from a rules file) and serves the API with it.
func alertingAPI(t *testing.T) (*alert.Engine, *xray.Client, string) {
	t.Helper()
	db := chtest.New(t)
	store, err := chstore.Open(context.Background(), db.DSN, chstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	file := filepath.Join(t.TempDir(), "rules.json")
	if err := os.WriteFile(file, []byte(`{"rules": [{"id": "from-file", "name": "From the file", "filter": "throttle", "condition": {"kind": "trace"}}]}`), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg := alert.DefaultConfig()
	cfg.RulesFile = file
	cfg.WebhookURL = "http://127.0.0.1:9/unused"
	cfg.TraceSettle, cfg.GroupWait, cfg.FlushInterval = 20*time.Millisecond, 50*time.Millisecond, 50*time.Millisecond
	cfg.NotifyAttempts = 1
	eng, err := alert.New(cfg, alert.Settings{Logger: testLogger(t), Store: store})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- eng.Run(ctx) }()
	<-eng.Ready()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
	})
	_, client, url := newTestAPI(t, Settings{Reader: store, Alerts: eng}, nil)
	return eng, client, url
}

// call makes a JSON request and decodes the answer into out (when not
// nil); it returns the status, the X-Amzn-ErrorType and the raw body.
func call(t *testing.T, method, url, body string, out any) (int, string, []byte) {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, url, rd)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if out != nil && resp.StatusCode < 300 {
		if err := json.Unmarshal(b, out); err != nil {
			t.Fatalf("%s %s: %s: %v", method, url, b, err)
		}
	}
	return resp.StatusCode, resp.Header.Get("X-Amzn-ErrorType"), b
}

func TestAlertingRulesAPI(t *testing.T) {
	t.Parallel()
	_, _, base := alertingAPI(t)
	var rs alert.RuleStatus
	code, _, body := call(t, "POST", base+"/alerting/rules",
		`{"name": "Checkout faults", "filter": "fault AND service(\"checkout\")", "condition": {"kind": "trace", "window": "10m"}, "severity": "critical", "labels": {"team": "shop"}}`, &rs)
	if code != http.StatusCreated || rs.Rule.ID != "checkout-faults" || rs.Rule.Source != "api" || rs.Status.State != alert.StateInactive {
		t.Fatalf("create: %d %s", code, body)
	}
	// Validation: inline errors with positions, for each bad part.
	for _, tc := range []struct {
		name, body string
		field      string
		pos        int // -1: none
		msg        string
	}{
		{"malformed expression", `{"name": "x", "filter": "fault AND service(\"a\"", "condition": {"kind": "trace"}}`, "filter", 21, "expected"},
		{"negative window", `{"name": "x", "condition": {"kind": "count", "window": "-5m"}}`, "condition.window", -1, "must be positive"},
		{"unknown kind", `{"name": "x", "filter": "fault", "condition": {"kind": "sometimes"}}`, "condition.kind", -1, `unknown kind "sometimes"`},
		{"unknown receiver", `{"name": "x", "filter": "fault", "condition": {"kind": "trace"}, "receivers": ["pager"]}`, "receivers", -1, "unknown receiver"},
	} {
		for _, path := range []string{"/alerting/rules", "/alerting/rules/validate"} {
			code, typ, body := call(t, "POST", base+path, tc.body, nil)
			var e struct {
				Type    string `json:"__type"`
				Message string
				Errors  []alert.FieldError
			}
			if err := json.Unmarshal(body, &e); err != nil {
				t.Fatalf("%s %s: %s", tc.name, path, body)
			}
			if code != 400 || typ != "InvalidRequestException" || e.Type != typ || len(e.Errors) != 1 || e.Errors[0].Field != tc.field ||
				!strings.Contains(e.Errors[0].Message, tc.msg) || !strings.Contains(e.Message, tc.msg) {
				t.Fatalf("%s %s: %d %s %s", tc.name, path, code, typ, body)
			}
			if (tc.pos < 0) != (e.Errors[0].Position == nil) || tc.pos >= 0 && *e.Errors[0].Position != tc.pos {
				t.Fatalf("%s: position %v, want %d", tc.name, e.Errors[0].Position, tc.pos)
			}
		}
	}
	for _, tc := range []struct {
		method, path, body string
		code               int
		typ                string
	}{
		{"POST", "/alerting/rules", `{"name": "Checkout faults", "filter": "fault", "condition": {"kind": "trace"}}`, 409, "ConflictException"},
		{"POST", "/alerting/rules", `{"name": "x", "conditon": {}}`, 400, "InvalidRequestException"},
		{"POST", "/alerting/rules", `[1]`, 400, "InvalidRequestException"},
		{"POST", "/alerting/rules", ``, 400, "InvalidRequestException"},
		{"GET", "/alerting/rules/nope", ``, 404, "ResourceNotFoundException"},
		{"DELETE", "/alerting/rules/nope", ``, 404, "ResourceNotFoundException"},
		{"PUT", "/alerting/rules/from-file", `{"name": "x", "filter": "fault", "condition": {"kind": "trace"}}`, 409, "ConflictException"},
		{"DELETE", "/alerting/rules/from-file", ``, 409, "ConflictException"},
		{"PUT", "/alerting/rules/a", `{"id": "b", "name": "x", "filter": "fault", "condition": {"kind": "trace"}}`, 400, "InvalidRequestException"},
		{"GET", "/alerting/history?limit=0", ``, 400, "InvalidRequestException"},
		{"GET", "/alerting/history?start=yesterday", ``, 400, "InvalidRequestException"},
	} {
		code, typ, body := call(t, tc.method, base+tc.path, tc.body, nil)
		if code != tc.code || typ != tc.typ {
			t.Errorf("%s %s %s: %d %s %s, want %d %s", tc.method, tc.path, tc.body, code, typ, body, tc.code, tc.typ)
		}
	}
	// Replace, read back, list, delete.
	code, _, body = call(t, "PUT", base+"/alerting/rules/checkout-faults",
		`{"name": "Checkout faults", "group": "checkout", "condition": {"kind": "count", "threshold": 5, "window": "1m"}, "interval": "15s", "for": "30s"}`, &rs)
	if code != 200 || rs.Rule.Condition.Kind != "count" || rs.Rule.Interval.D() != 15*time.Second || rs.Rule.CreatedAt.IsZero() || !rs.Rule.ModifiedAt.After(rs.Rule.CreatedAt) {
		t.Fatalf("put: %d %s", code, body)
	}
	var list struct{ Rules []alert.RuleStatus }
	if code, _, body := call(t, "GET", base+"/alerting/rules", "", &list); code != 200 || len(list.Rules) != 2 || list.Rules[1].Rule.Source != "file" {
		t.Fatalf("list: %d %s", code, body)
	}
	var v struct {
		Valid bool
		Rule  alert.Rule
	}
	if code, _, body := call(t, "POST", base+"/alerting/rules/validate", `{"name": "Slow checkout", "condition": {"kind": "latency", "service": "checkout", "threshold": 2}}`, &v); code != 200 ||
		!v.Valid || v.Rule.ID != "slow-checkout" || v.Rule.Condition.Percentile != 99 {
		t.Fatalf("validate: %d %s", code, body)
	}
	if code, _, body := call(t, "DELETE", base+"/alerting/rules/checkout-faults", "", nil); code != 200 {
		t.Fatalf("delete: %d %s", code, body)
	}
	var recv struct{ Receivers []alert.ReceiverInfo }
	if code, _, body := call(t, "GET", base+"/alerting/receivers", "", &recv); code != 200 || len(recv.Receivers) != 1 ||
		recv.Receivers[0].Target != "http://127.0.0.1:9/…" {
		t.Fatalf("receivers: %d %s", code, body)
	}
}

func TestAlertingInsights(t *testing.T) {
	t.Parallel()
	eng, client, base := alertingAPI(t)
	ctx := context.Background()
	if _, err := eng.CreateRule(ctx, alert.Rule{ID: "pay", Name: "Payments faults", Filter: `service("payments") { fault }`,
		Condition: alert.Condition{Kind: alert.KindTrace, Window: alert.Duration(time.Second)}}); err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	for i := range 3 {
		id := fmt.Sprintf("1-%08x-%024x", now.Unix(), i)
		sec := float64(now.UnixNano()) / 1e9
		eng.ObserveSpans(id, []segment.Span{
			{TraceID: id, ID: "a", Service: "frontend", Name: "frontend", IsSegment: true, StartTime: sec - 1, EndTime: sec, Fault: true},
			{TraceID: id, ID: "b", ParentID: "a", Service: "payments", Name: "payments", Origin: "AWS::ECS::Container", IsSegment: true, StartTime: sec - 0.5, EndTime: sec, Fault: true},
		})
	}
	waitUntil := func(what string, cond func() bool) {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for !cond() {
			if time.Now().After(deadline) {
				t.Fatalf("timed out waiting for %s", what)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	summaries := func(state types.InsightState) []types.InsightSummary {
		in := &xray.GetInsightSummariesInput{StartTime: aws.Time(now.Add(-time.Hour)), EndTime: aws.Time(time.Now().Add(time.Minute)), GroupName: aws.String("Default")}
		if state != "" {
			in.States = []types.InsightState{state}
		}
		out, err := client.GetInsightSummaries(ctx, in)
		if err != nil {
			t.Fatal(err)
		}
		return out.InsightSummaries
	}
	waitUntil("an active insight", func() bool {
		_ = eng.Flush(ctx)
		return len(summaries(types.InsightStateActive)) == 1
	})
	s := summaries(types.InsightStateActive)[0]
	if aws.ToString(s.GroupName) != "Default" || !strings.HasPrefix(aws.ToString(s.GroupARN), "arn:aws:xray:") ||
		len(s.Categories) != 1 || s.Categories[0] != types.InsightCategoryFault || s.RootCauseServiceId == nil ||
		aws.ToString(s.RootCauseServiceId.Name) != "payments" || aws.ToString(s.RootCauseServiceId.Type) != "AWS::ECS::Container" ||
		s.ClientRequestImpactStatistics == nil || aws.ToInt64(s.ClientRequestImpactStatistics.FaultCount) != 3 || s.EndTime != nil ||
		!strings.Contains(aws.ToString(s.Summary), "3 traces match") || len(s.TopAnomalousServices) != 1 {
		t.Fatalf("summary %+v (root %+v, stats %+v)", s, s.RootCauseServiceId, s.ClientRequestImpactStatistics)
	}
	id := s.InsightId
	rs, _ := eng.Rule("pay")
	if aws.ToString(id) != rs.Status.AlertID {
		t.Fatalf("InsightId %s, alert id %s", aws.ToString(id), rs.Status.AlertID)
	}
	// Resolved one second after the last matching trace: CLOSED.
	waitUntil("a closed insight", func() bool {
		_ = eng.Flush(ctx)
		return len(summaries(types.InsightStateClosed)) == 1
	})
	if n := len(summaries(types.InsightStateActive)); n != 0 {
		t.Fatalf("%d active insights after resolution", n)
	}
	gi, err := client.GetInsight(ctx, &xray.GetInsightInput{InsightId: id})
	if err != nil {
		t.Fatal(err)
	}
	if gi.Insight == nil || gi.Insight.State != types.InsightStateClosed || gi.Insight.EndTime == nil || gi.Insight.StartTime == nil ||
		!gi.Insight.EndTime.After(*gi.Insight.StartTime) {
		t.Fatalf("GetInsight %+v", gi.Insight)
	}
	ev, err := client.GetInsightEvents(ctx, &xray.GetInsightEventsInput{InsightId: id, MaxResults: aws.Int32(1)})
	if err != nil {
		t.Fatal(err)
	}
	if len(ev.InsightEvents) != 1 || ev.NextToken == nil || !strings.Contains(aws.ToString(ev.InsightEvents[0].Summary), "trace") {
		t.Fatalf("GetInsightEvents page 1 %+v", ev)
	}
	ev2, err := client.GetInsightEvents(ctx, &xray.GetInsightEventsInput{InsightId: id, NextToken: ev.NextToken})
	if err != nil {
		t.Fatal(err)
	}
	if len(ev2.InsightEvents) == 0 || !strings.Contains(aws.ToString(ev2.InsightEvents[len(ev2.InsightEvents)-1].Summary), "resolved") {
		t.Fatalf("GetInsightEvents page 2 %+v", ev2)
	}
	ig, err := client.GetInsightImpactGraph(ctx, &xray.GetInsightImpactGraphInput{InsightId: id, StartTime: aws.Time(now.Add(-time.Hour)), EndTime: aws.Time(time.Now())})
	if err != nil {
		t.Fatal(err)
	}
	if len(ig.Services) != 1 || aws.ToString(ig.Services[0].Name) != "payments" {
		t.Fatalf("GetInsightImpactGraph %+v", ig.Services)
	}
	// Unknown insight: no Insight; a foreign token: InvalidRequestException.
	if gi, err := client.GetInsight(ctx, &xray.GetInsightInput{InsightId: aws.String("00000000-0000-4000-8000-000000000000")}); err != nil || gi.Insight != nil {
		t.Fatalf("unknown insight: %+v, %v", gi, err)
	}
	_, err = client.GetInsightEvents(ctx, &xray.GetInsightEventsInput{InsightId: id, NextToken: aws.String("xyz")})
	if ae := apiError(t, err); ae.ErrorCode() != "InvalidRequestException" {
		t.Fatalf("foreign token: %v", err)
	}
	// History and deliveries (the webhook is unreachable) through the API.
	var hist struct{ Events []alertEvent }
	if code, _, body := call(t, "GET", base+"/alerting/history?rule=pay", "", &hist); code != 200 || len(hist.Events) < 2 ||
		hist.Events[0].State != alert.StateResolved || len(hist.Events[len(hist.Events)-1].TraceIDs) == 0 {
		t.Fatalf("history: %d %s", code, body)
	}
	var dl struct{ Deliveries []alertDelivery }
	waitUntil("delivery records", func() bool {
		_ = eng.Flush(ctx)
		call(t, "GET", base+"/alerting/deliveries?rule=pay&alert="+aws.ToString(id), "", &dl)
		return len(dl.Deliveries) >= 2
	})
	for _, d := range dl.Deliveries {
		if d.Outcome != "gave_up" || !strings.Contains(d.Error, "connection refused") || d.Receiver != "webhook" {
			t.Fatalf("delivery %+v", d)
		}
	}
	var al struct{ Alerts []alert.RuleStatus }
	if code, _, body := call(t, "GET", base+"/alerting/alerts", "", &al); code != 200 || len(al.Alerts) != 0 {
		t.Fatalf("alerts after resolution: %d %s", code, body)
	}
}
