package sampling

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/xray"
	"github.com/aws/aws-sdk-go-v2/service/xray/types"
	"github.com/aws/aws-xray-sdk-go/daemoncfg"
	sdksampling "github.com/aws/aws-xray-sdk-go/strategy/sampling"
	xraysdk "github.com/aws/aws-xray-sdk-go/xray"
	"github.com/aws/aws-xray-sdk-go/xraylog"

	"github.com/fluoro/fluoro/schema/chstore"
	"github.com/fluoro/fluoro/schema/chtest"
)

func TestMain(m *testing.M) { chtest.Main(m) }

func v2Client(url string) *xray.Client {
	return xray.New(xray.Options{
		Region:       "us-east-1",
		BaseEndpoint: aws.String(url),
		Credentials:  credentials.NewStaticCredentialsProvider("AKID", "SECRET", ""),
	})
}

func errCode(err error) string {
	var ae interface{ ErrorCode() string }
	if errors.As(err, &ae) {
		return ae.ErrorCode()
	}
	return ""
}

// TestAWSSDKv2Client drives the six operations with the aws-sdk-go-v2
// X-Ray client, paginators included.
func TestAWSSDKv2Client(t *testing.T) {
	svc := New(nil, Options{MaxRules: 2, PageSize: 2})
	c := v2Client(newServer(t, svc).URL)
	ctx := context.Background()

	rule := func(name string, prio int32) *types.SamplingRule {
		return &types.SamplingRule{RuleName: aws.String(name), ResourceARN: aws.String("*"), Priority: aws.Int32(prio),
			FixedRate: 0.25, ReservoirSize: 3, ServiceName: aws.String("shop"), ServiceType: aws.String("*"),
			Host: aws.String("*"), HTTPMethod: aws.String("POST"), URLPath: aws.String("/orders"), Version: aws.Int32(1),
			Attributes: map[string]string{"tenant": "a"}}
	}
	created, err := c.CreateSamplingRule(ctx, &xray.CreateSamplingRuleInput{SamplingRule: rule("orders", 10),
		Tags: []types.Tag{{Key: aws.String("team"), Value: aws.String("checkout")}}})
	if err != nil {
		t.Fatalf("CreateSamplingRule: %v", err)
	}
	r := created.SamplingRuleRecord.SamplingRule
	if aws.ToString(r.RuleARN) != "arn:aws:xray:us-east-1:000000000000:sampling-rule/orders" || r.FixedRate != 0.25 ||
		r.ReservoirSize != 3 || aws.ToString(r.URLPath) != "/orders" || r.Attributes["tenant"] != "a" ||
		created.SamplingRuleRecord.CreatedAt == nil || time.Since(*created.SamplingRuleRecord.CreatedAt) > time.Minute {
		t.Fatalf("created %+v", created.SamplingRuleRecord)
	}
	if _, err := c.CreateSamplingRule(ctx, &xray.CreateSamplingRuleInput{SamplingRule: rule("second", 20)}); err != nil {
		t.Fatal(err)
	}
	_, err = c.CreateSamplingRule(ctx, &xray.CreateSamplingRuleInput{SamplingRule: rule("third", 30)})
	var rle *types.RuleLimitExceededException
	if !errors.As(err, &rle) || !strings.Contains(rle.ErrorMessage(), "delete one first") {
		t.Fatalf("third rule over a limit of 2: %v, want RuleLimitExceededException", err)
	}
	_, err = c.CreateSamplingRule(ctx, &xray.CreateSamplingRuleInput{SamplingRule: rule("orders", 10)})
	var ire *types.InvalidRequestException
	if !errors.As(err, &ire) || !strings.Contains(ire.ErrorMessage(), "already exists") {
		t.Fatalf("duplicate: %v, want InvalidRequestException", err)
	}
	bad := rule("bad", 10)
	bad.FixedRate = 1.5
	if _, err = c.CreateSamplingRule(ctx, &xray.CreateSamplingRuleInput{SamplingRule: bad}); !errors.As(err, &ire) || !strings.Contains(ire.ErrorMessage(), "FixedRate 1.5") {
		t.Fatalf("FixedRate 1.5: %v", err)
	}

	var names []string
	pages := 0
	for p := xray.NewGetSamplingRulesPaginator(c, &xray.GetSamplingRulesInput{}); p.HasMorePages(); {
		out, err := p.NextPage(ctx)
		if err != nil {
			t.Fatalf("GetSamplingRules page %d: %v", pages, err)
		}
		pages++
		for _, rec := range out.SamplingRuleRecords {
			names = append(names, aws.ToString(rec.SamplingRule.RuleName))
		}
	}
	if strings.Join(names, ",") != "orders,second,Default" || pages != 2 {
		t.Fatalf("rules %v in %d pages", names, pages)
	}

	up, err := c.UpdateSamplingRule(ctx, &xray.UpdateSamplingRuleInput{SamplingRuleUpdate: &types.SamplingRuleUpdate{
		RuleName: aws.String("orders"), FixedRate: aws.Float64(0), ReservoirSize: aws.Int32(1)}})
	if err != nil {
		t.Fatalf("UpdateSamplingRule: %v", err)
	}
	if r := up.SamplingRuleRecord.SamplingRule; r.FixedRate != 0 || r.ReservoirSize != 1 || aws.ToString(r.HTTPMethod) != "POST" ||
		!up.SamplingRuleRecord.ModifiedAt.After(*created.SamplingRuleRecord.ModifiedAt) {
		t.Fatalf("updated %+v", up.SamplingRuleRecord)
	}
	_, err = c.UpdateSamplingRule(ctx, &xray.UpdateSamplingRuleInput{SamplingRuleUpdate: &types.SamplingRuleUpdate{
		RuleName: aws.String("Default"), URLPath: aws.String("/x")}})
	if !errors.As(err, &ire) || !strings.Contains(ire.ErrorMessage(), "only FixedRate and ReservoirSize") {
		t.Fatalf("changing the Default rule's URLPath: %v", err)
	}

	now := time.Now()
	targets, err := c.GetSamplingTargets(ctx, &xray.GetSamplingTargetsInput{
		SamplingStatisticsDocuments: []types.SamplingStatisticsDocument{
			{RuleName: aws.String("orders"), ClientID: aws.String("0123456789abcdef01234567"), Timestamp: &now, RequestCount: 7, SampledCount: 2, BorrowCount: 1},
			{RuleName: aws.String("nope"), ClientID: aws.String("0123456789abcdef01234567"), Timestamp: &now, RequestCount: 1},
		},
	})
	if err != nil {
		t.Fatalf("GetSamplingTargets: %v", err)
	}
	if len(targets.SamplingTargetDocuments) != 1 {
		t.Fatalf("targets: %+v", targets.SamplingTargetDocuments)
	}
	d := targets.SamplingTargetDocuments[0]
	if aws.ToString(d.RuleName) != "orders" || d.FixedRate != 0 || aws.ToInt32(d.ReservoirQuota) != 1 ||
		aws.ToInt32(d.Interval) != 10 || d.ReservoirQuotaTTL == nil || !d.ReservoirQuotaTTL.After(now) {
		t.Fatalf("target = %+v", d)
	}
	if targets.LastRuleModification == nil || targets.LastRuleModification.Before(*up.SamplingRuleRecord.ModifiedAt) {
		t.Fatalf("LastRuleModification %v, rule modified at %v", targets.LastRuleModification, up.SamplingRuleRecord.ModifiedAt)
	}
	if len(targets.UnprocessedStatistics) != 1 || aws.ToString(targets.UnprocessedStatistics[0].ErrorCode) != "400" {
		t.Fatalf("unprocessed: %+v", targets.UnprocessedStatistics)
	}
	_, err = c.GetSamplingTargets(ctx, &xray.GetSamplingTargetsInput{
		SamplingStatisticsDocuments: []types.SamplingStatisticsDocument{{RuleName: aws.String("Default"), ClientID: aws.String("short"), Timestamp: &now}},
	})
	if !errors.As(err, &ire) {
		t.Fatalf("GetSamplingTargets with a bad ClientID: err = %v, want InvalidRequestException", err)
	}

	sums, err := c.GetSamplingStatisticSummaries(ctx, &xray.GetSamplingStatisticSummariesInput{})
	if err != nil {
		t.Fatalf("GetSamplingStatisticSummaries: %v", err)
	}
	if len(sums.SamplingStatisticSummaries) != 1 || aws.ToString(sums.SamplingStatisticSummaries[0].RuleName) != "orders" ||
		sums.SamplingStatisticSummaries[0].RequestCount != 7 || sums.SamplingStatisticSummaries[0].SampledCount != 2 ||
		sums.SamplingStatisticSummaries[0].BorrowCount != 1 || sums.SamplingStatisticSummaries[0].Timestamp == nil {
		t.Fatalf("summaries %+v", sums.SamplingStatisticSummaries)
	}

	del, err := c.DeleteSamplingRule(ctx, &xray.DeleteSamplingRuleInput{RuleARN: aws.String("arn:aws:xray:us-east-1:000000000000:sampling-rule/orders")})
	if err != nil || aws.ToString(del.SamplingRuleRecord.SamplingRule.RuleName) != "orders" {
		t.Fatalf("DeleteSamplingRule: %+v, %v", del, err)
	}
	if _, err := c.DeleteSamplingRule(ctx, &xray.DeleteSamplingRuleInput{RuleName: aws.String("Default")}); !errors.As(err, &ire) {
		t.Fatalf("deleting Default: %v", err)
	}
	if _, err := c.DeleteSamplingRule(ctx, &xray.DeleteSamplingRuleInput{RuleName: aws.String("orders")}); !errors.As(err, &ire) || !strings.Contains(ire.ErrorMessage(), "does not exist") {
		t.Fatalf("deleting it again: %v", err)
	}
}

// syncBuffer collects the X-Ray SDK's log output.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// decision is one ShouldTrace answer.
type decision struct {
	rule    string
	sampled bool
}

// TestCentralizedSamplingEndToEnd runs aws-xray-sdk-go's centralized
// strategy, unchanged, against Fluoro: a "collector" Service answers the
// SDK on a TCP listener, an "API" Service (another process in production)
// edits the rules, both over one ClickHouse database. A rule with
// reservoir 1/s and fixed rate 0 limits the sampled requests to about one
// per second; deleting it brings the Default rule (1/s + 5 %) back.
//
// The SDK fetches rules at start and then every 300 s, and reports
// statistics every 10.1 s; Fluoro's LastRuleModification and
// UnprocessedStatistics make it re-fetch the rules right after a report,
// so each change takes effect within about 10 s and the test about 25 s.
func TestCentralizedSamplingEndToEnd(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	t0 := time.Now()
	db := chtest.New(t)
	t.Logf("database ready in %.1fs", time.Since(t0).Seconds())
	open := func() *chstore.Store {
		s, err := chstore.Open(ctx, db.DSN, chstore.Options{})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		return s
	}
	collectorSvc := New(open(), Options{})
	apiSvc := New(open(), Options{})
	api := v2Client(newServer(t, apiSvc).URL)

	var logs syncBuffer
	xraysdk.SetLogger(xraylog.NewDefaultLogger(&logs, xraylog.LogLevelDebug))
	var rulesCalls, targetCalls atomic.Int32
	mux := http.NewServeMux()
	mux.HandleFunc("POST /GetSamplingRules", func(w http.ResponseWriter, r *http.Request) {
		rulesCalls.Add(1)
		collectorSvc.ServeGetSamplingRules(w, r)
	})
	mux.HandleFunc("POST /SamplingTargets", func(w http.ResponseWriter, r *http.Request) {
		targetCalls.Add(1)
		collectorSvc.ServeSamplingTargets(w, r)
	})
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		t.Errorf("SDK called unexpected %s %s", r.Method, r.URL.Path)
		http.NotFound(w, r)
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	hs := &http.Server{Handler: mux}
	go hs.Serve(ln)
	t.Cleanup(func() { hs.Close() })

	strategy, err := sdksampling.NewCentralizedStrategy()
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ep, err := daemoncfg.GetDaemonEndpointsFromString(fmt.Sprintf("tcp:%s udp:%s", addr, addr))
	if err != nil {
		t.Fatal(err)
	}
	strategy.LoadDaemonEndpoints(ep)

	// Traffic: one request every 2 ms until the test ends; decisions are
	// read phase by phase.
	req := sdksampling.Request{Host: "shop.example.com", URL: "/cart", Method: "GET", ServiceName: "shop", ServiceType: "AWS::EC2::Instance"}
	decisions := make(chan decision, 1024)
	stop := make(chan struct{})
	var trafficDone sync.WaitGroup
	trafficDone.Add(1)
	go func() {
		defer trafficDone.Done()
		defer close(decisions)
		tick := time.NewTicker(2 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-stop:
				return
			case <-tick.C:
			}
			r := req
			d := strategy.ShouldTrace(&r)
			var name string
			if d.Rule != nil {
				name = *d.Rule
			}
			select {
			case decisions <- decision{name, d.Sample}:
			case <-stop:
				return
			}
		}
	}()
	t.Cleanup(func() {
		close(stop)
		for range decisions {
		}
		trafficDone.Wait()
	})
	// until consumes decisions until one comes from rule, failing after
	// timeout.
	until := func(rule string, timeout time.Duration) {
		t.Helper()
		deadline := time.After(timeout)
		for {
			select {
			case d := <-decisions:
				if d.rule == rule {
					return
				}
			case <-deadline:
				t.Fatalf("the SDK did not use rule %q within %s (rules calls %d, targets calls %d); SDK log:\n%s",
					rule, timeout, rulesCalls.Load(), targetCalls.Load(), logs.String())
			}
		}
	}
	// measure counts the decisions of the next d (all must come from rule).
	measure := func(rule string, d time.Duration) (total, sampled int) {
		t.Helper()
		end := time.After(d)
		for {
			select {
			case x := <-decisions:
				if x.rule != rule {
					t.Fatalf("decision from rule %q while measuring %q", x.rule, rule)
				}
				total++
				if x.sampled {
					sampled++
				}
			case <-end:
				return total, sampled
			}
		}
	}

	start := time.Now()
	until("Default", 10*time.Second)
	t.Logf("%.1fs: Default rule in use", time.Since(start).Seconds())
	if _, err := api.CreateSamplingRule(ctx, &xray.CreateSamplingRuleInput{SamplingRule: &types.SamplingRule{
		RuleName: aws.String("limit"), ResourceARN: aws.String("*"), Priority: aws.Int32(1), FixedRate: 0, ReservoirSize: 1,
		ServiceName: aws.String("shop"), ServiceType: aws.String("*"), Host: aws.String("*"), HTTPMethod: aws.String("*"),
		URLPath: aws.String("*"), Version: aws.Int32(1)}}); err != nil {
		t.Fatalf("CreateSamplingRule: %v", err)
	}
	until("limit", 15*time.Second)
	t.Logf("%.1fs: rule limit in use", time.Since(start).Seconds())
	const limitPhase = 3 * time.Second
	total, sampled := measure("limit", limitPhase)
	// At most one request per second (borrowed or from the quota), and
	// perhaps both in the second the quota arrives: ≤ 2 per second started.
	if maxSampled := 2 * int(limitPhase/time.Second+1); sampled > maxSampled || total < 100 {
		t.Fatalf("with reservoir 1/s and rate 0: %d of %d requests sampled in %s; want at most %d of at least 100", sampled, total, limitPhase, maxSampled)
	}
	t.Logf("rule limit: %d of %d requests sampled in %s", sampled, total, limitPhase)

	if _, err := api.DeleteSamplingRule(ctx, &xray.DeleteSamplingRuleInput{RuleName: aws.String("limit")}); err != nil {
		t.Fatalf("DeleteSamplingRule: %v", err)
	}
	until("Default", 15*time.Second)
	t.Logf("%.1fs: Default rule in use again", time.Since(start).Seconds())
	dTotal, dSampled := measure("Default", 3*time.Second)
	// 1/s plus 5 % of the rest: expect ≈ 3 + 0.05 × total; the bound sits
	// more than three standard deviations below that for ≥ 250 requests
	// (the machine may be slow), and far above the limited phase's rate.
	if dTotal < 250 || float64(dSampled) < 0.015*float64(dTotal) {
		t.Fatalf("Default rule restored: %d of %d sampled; want ≥ 1.5 %% of ≥ 250", dSampled, dTotal)
	}
	t.Logf("Default rule: %d of %d requests sampled", dSampled, dTotal)

	// The SDK's reports reached the store: the API process sums them.
	sums, err := api.GetSamplingStatisticSummaries(ctx, &xray.GetSamplingStatisticSummariesInput{})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%.1fs: summaries read", time.Since(start).Seconds())
	var defaultRequests int32
	for _, s := range sums.SamplingStatisticSummaries {
		if aws.ToString(s.RuleName) == "Default" {
			defaultRequests += s.RequestCount
		}
	}
	if defaultRequests == 0 {
		t.Errorf("no statistics for the Default rule in %+v", sums.SamplingStatisticSummaries)
	}
	// The 400 for the deleted rule is logged by design; anything else is not.
	out := logs.String()
	for _, bad := range []string{"Error occurred during initial refresh", "Error occurred while refreshing", "error occurred creating/updating",
		"error occurred updating sampling targets", "Missing", "not found"} {
		if strings.Contains(out, bad) {
			t.Errorf("SDK logged %q:\n%s", bad, out)
		}
	}
}

// TestRulesPersistAcrossRestart: rules (the Default rule's edits included)
// and statistics written through one Service over ClickHouse are what a
// new Service over a new connection (a restarted process) serves.
func TestRulesPersistAcrossRestart(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := chtest.New(t)
	serve := func() *xray.Client {
		store, err := chstore.Open(ctx, db.DSN, chstore.Options{})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { store.Close() })
		return v2Client(newServer(t, New(store, Options{})).URL)
	}
	c := serve()
	created, err := c.CreateSamplingRule(ctx, &xray.CreateSamplingRuleInput{SamplingRule: &types.SamplingRule{
		RuleName: aws.String("api"), ResourceARN: aws.String("*"), Priority: aws.Int32(7), FixedRate: 0.3, ReservoirSize: 2,
		ServiceName: aws.String("api"), ServiceType: aws.String("AWS::ECS::Container"), Host: aws.String("*"), HTTPMethod: aws.String("*"),
		URLPath: aws.String("/v1/*"), Version: aws.Int32(1), Attributes: map[string]string{"x": "y"},
		SamplingRateBoost: &types.SamplingRateBoost{MaxRate: 0.9, CooldownWindowMinutes: 5}}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.UpdateSamplingRule(ctx, &xray.UpdateSamplingRuleInput{SamplingRuleUpdate: &types.SamplingRuleUpdate{
		RuleName: aws.String("Default"), FixedRate: aws.Float64(0.2)}}); err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	if _, err := c.GetSamplingTargets(ctx, &xray.GetSamplingTargetsInput{SamplingStatisticsDocuments: []types.SamplingStatisticsDocument{
		{RuleName: aws.String("api"), ClientID: aws.String(strings.Repeat("f", 24)), Timestamp: &now, RequestCount: 11, SampledCount: 4}}}); err != nil {
		t.Fatal(err)
	}
	describe := func(c *xray.Client) string {
		t.Helper()
		out, err := c.GetSamplingRules(ctx, &xray.GetSamplingRulesInput{})
		if err != nil {
			t.Fatal(err)
		}
		var b strings.Builder
		for _, r := range out.SamplingRuleRecords {
			s := r.SamplingRule
			fmt.Fprintf(&b, "%s %s %d %v %d %s %s %s %s %s %v %v created %v modified %v\n", aws.ToString(s.RuleName), aws.ToString(s.RuleARN),
				aws.ToInt32(s.Priority), s.FixedRate, s.ReservoirSize, aws.ToString(s.ServiceName), aws.ToString(s.ServiceType),
				aws.ToString(s.URLPath), aws.ToString(s.HTTPMethod), aws.ToString(s.Host), s.Attributes, s.SamplingRateBoost != nil,
				aws.ToTime(r.CreatedAt).UnixMicro(), aws.ToTime(r.ModifiedAt).UnixMicro())
		}
		return b.String()
	}
	before := describe(c)
	c2 := serve()
	if after := describe(c2); after != before {
		t.Fatalf("rules after a restart:\n%s\nwant\n%s", after, before)
	}
	if !strings.Contains(before, "Default arn:aws:xray:us-east-1:000000000000:sampling-rule/Default 10000 0.2 1 ") ||
		!strings.Contains(before, fmt.Sprintf("created %d", created.SamplingRuleRecord.CreatedAt.UnixMicro())) {
		t.Fatalf("rules:\n%s", before)
	}
	sums, err := c2.GetSamplingStatisticSummaries(ctx, &xray.GetSamplingStatisticSummariesInput{})
	if err != nil || len(sums.SamplingStatisticSummaries) != 1 || sums.SamplingStatisticSummaries[0].RequestCount != 11 {
		t.Fatalf("statistics after a restart: %+v, %v", sums, err)
	}
}
