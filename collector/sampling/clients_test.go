package sampling

import (
	"bytes"
	"context"
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
	xraysdk "github.com/aws/aws-xray-sdk-go/xray"

	"github.com/aws/aws-xray-sdk-go/daemoncfg"
	sdksampling "github.com/aws/aws-xray-sdk-go/strategy/sampling"
	"github.com/aws/aws-xray-sdk-go/xraylog"
)

func v2Client(url string) *xray.Client {
	return xray.New(xray.Options{
		Region:       "us-east-1",
		BaseEndpoint: aws.String(url),
		Credentials:  credentials.NewStaticCredentialsProvider("AKID", "SECRET", ""),
	})
}

// TestAWSSDKv2Client drives both operations with the aws-sdk-go-v2 X-Ray
// client.
func TestAWSSDKv2Client(t *testing.T) {
	srv := newServer(t, NewService(nil, nil))
	c := v2Client(srv.URL)
	ctx := context.Background()

	rules, err := c.GetSamplingRules(ctx, &xray.GetSamplingRulesInput{})
	if err != nil {
		t.Fatalf("GetSamplingRules: %v", err)
	}
	if len(rules.SamplingRuleRecords) != 1 {
		t.Fatalf("rules: %+v", rules.SamplingRuleRecords)
	}
	r := rules.SamplingRuleRecords[0].SamplingRule
	if aws.ToString(r.RuleName) != "Default" || r.FixedRate != 0.05 || r.ReservoirSize != 1 ||
		aws.ToInt32(r.Priority) != 10000 || aws.ToInt32(r.Version) != 1 || aws.ToString(r.ServiceName) != "*" ||
		aws.ToString(r.ServiceType) != "*" || aws.ToString(r.Host) != "*" || aws.ToString(r.HTTPMethod) != "*" ||
		aws.ToString(r.URLPath) != "*" || aws.ToString(r.ResourceARN) != "*" {
		t.Fatalf("Default rule = %+v", r)
	}

	now := time.Now()
	targets, err := c.GetSamplingTargets(ctx, &xray.GetSamplingTargetsInput{
		SamplingStatisticsDocuments: []types.SamplingStatisticsDocument{
			{RuleName: aws.String("Default"), ClientID: aws.String("0123456789abcdef01234567"), Timestamp: &now, RequestCount: 7, SampledCount: 2, BorrowCount: 1},
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
	if aws.ToString(d.RuleName) != "Default" || d.FixedRate != 0.05 || aws.ToInt32(d.ReservoirQuota) != 1 ||
		aws.ToInt32(d.Interval) != 10 || d.ReservoirQuotaTTL == nil || !d.ReservoirQuotaTTL.After(now) {
		t.Fatalf("target = %+v", d)
	}
	if len(targets.UnprocessedStatistics) != 1 || aws.ToString(targets.UnprocessedStatistics[0].ErrorCode) != "400" {
		t.Fatalf("unprocessed: %+v", targets.UnprocessedStatistics)
	}

	// A request that breaks the model surfaces as the typed exception.
	_, err = c.GetSamplingTargets(ctx, &xray.GetSamplingTargetsInput{
		SamplingStatisticsDocuments: []types.SamplingStatisticsDocument{
			{RuleName: aws.String("Default"), ClientID: aws.String("short"), Timestamp: &now},
		},
	})
	var ire *types.InvalidRequestException
	if err == nil || !asInvalidRequest(err, &ire) {
		t.Fatalf("GetSamplingTargets with a bad ClientID: err = %v, want InvalidRequestException", err)
	}
}

func asInvalidRequest(err error, target **types.InvalidRequestException) bool {
	for e := err; e != nil; {
		if x, ok := e.(*types.InvalidRequestException); ok {
			*target = x
			return true
		}
		u, ok := e.(interface{ Unwrap() error })
		if !ok {
			return false
		}
		e = u.Unwrap()
	}
	return false
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

// TestXRaySDKCentralizedStrategy runs aws-xray-sdk-go's centralized sampling
// strategy against the service: it must fetch the rules, adopt the Default
// rule and report statistics for it without any error. The SDK polls
// targets every 10.1 s, so this test takes about 11 s.
func TestXRaySDKCentralizedStrategy(t *testing.T) {
	t.Parallel()
	var logs syncBuffer
	xraysdk.SetLogger(xraylog.NewDefaultLogger(&logs, xraylog.LogLevelDebug))

	svc := NewService(nil, nil)
	var rulesCalls, targetCalls atomic.Int32
	mux := http.NewServeMux()
	mux.HandleFunc("POST /GetSamplingRules", func(w http.ResponseWriter, r *http.Request) {
		rulesCalls.Add(1)
		svc.ServeGetSamplingRules(w, r)
	})
	targetsDone := make(chan struct{})
	var once sync.Once
	mux.HandleFunc("POST /SamplingTargets", func(w http.ResponseWriter, r *http.Request) {
		targetCalls.Add(1)
		svc.ServeSamplingTargets(w, r)
		once.Do(func() { close(targetsDone) })
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

	req := &sdksampling.Request{Host: "example.com", URL: "/cart", Method: "GET", ServiceName: "shop", ServiceType: "AWS::EC2::Instance"}
	// The first call starts the pollers; until the rules arrive the SDK
	// uses its local fallback, which names no rule.
	var centralCalls int64
	deadline := time.Now().Add(5 * time.Second)
	for {
		d := strategy.ShouldTrace(req)
		if d.Rule != nil {
			if *d.Rule != "Default" {
				t.Fatalf("decision from rule %q, want Default", *d.Rule)
			}
			centralCalls++
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("SDK never adopted the Default rule; rules calls: %d; log:\n%s", rulesCalls.Load(), logs.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	for range 49 {
		if d := strategy.ShouldTrace(req); d.Rule == nil || *d.Rule != "Default" {
			t.Fatalf("decision %+v not from the Default rule", d)
		}
		centralCalls++
	}

	select {
	case <-targetsDone:
	case <-time.After(15 * time.Second):
		t.Fatalf("SDK never called /SamplingTargets; log:\n%s", logs.String())
	}
	// Let the SDK process the response.
	time.Sleep(200 * time.Millisecond)

	svc.mu.Lock()
	var reported int64
	for _, st := range svc.clients["Default"] {
		reported += st.requests
	}
	svc.mu.Unlock()
	if reported != centralCalls {
		t.Errorf("SDK reported %d requests for Default, made %d", reported, centralCalls)
	}
	out := logs.String()
	for _, bad := range []string{"Error occurred", "error occurred", "not found", "Missing"} {
		if strings.Contains(out, bad) {
			t.Errorf("SDK logged %q:\n%s", bad, out)
		}
	}
	if !strings.Contains(out, "Successfully fetched sampling rules") || !strings.Contains(out, "Successfully refreshed sampling targets") {
		t.Errorf("SDK log lacks the success messages:\n%s", out)
	}
}
