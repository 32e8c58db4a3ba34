package sampling

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestWildcard(t *testing.T) {
	tests := []struct {
		p, s string
		want bool
	}{
		{"*", "anything", true}, {"orders", "Orders", true}, {"ord*", "orders", true}, {"o?ders", "orders", true},
		{"*ers", "orders", true}, {"*x*", "orders", false}, {"orders", "order", false}, {"a*b*c", "axxbyyc", true},
		{"a*b*c", "axxbyy", false}, {"abc", "", true},
	}
	for _, tc := range tests {
		if got := wildcard(tc.p, tc.s); got != tc.want {
			t.Errorf("wildcard(%q, %q) = %v", tc.p, tc.s, got)
		}
	}
}

// Without rules: one request per second, then about 5 %.
func TestFallback(t *testing.T) {
	s := New("", nil)
	now := time.Unix(1000, 0)
	s.now = func() time.Time { return now }
	if !s.Sample("f", "arn") {
		t.Fatal("first request of the second not sampled")
	}
	n := 0
	for range 20000 {
		if s.Sample("f", "arn") {
			n++
		}
	}
	if n < 700 || n > 1300 {
		t.Errorf("sampled %d of 20000 at 5 %%", n)
	}
	now = now.Add(time.Second)
	if !s.Sample("f", "arn") {
		t.Error("reservoir not renewed in the next second")
	}
}

type fakeXRay struct {
	mu      sync.Mutex
	rules   []map[string]any
	targets []map[string]any
	stats   []map[string]any
}

func (f *fakeXRay) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	switch r.URL.Path {
	case "/GetSamplingRules":
		var recs []map[string]any
		for _, rule := range f.rules {
			recs = append(recs, map[string]any{"SamplingRule": rule})
		}
		_ = json.NewEncoder(w).Encode(map[string]any{"SamplingRuleRecords": recs})
	case "/SamplingTargets":
		var in struct{ SamplingStatisticsDocuments []map[string]any }
		_ = json.NewDecoder(r.Body).Decode(&in)
		f.stats = append(f.stats, in.SamplingStatisticsDocuments...)
		_ = json.NewEncoder(w).Encode(map[string]any{"SamplingTargetDocuments": f.targets, "LastRuleModification": 1})
	default:
		http.NotFound(w, r)
	}
}

func ruleDoc(name string, prio int, service string, rate float64, reservoir int) map[string]any {
	return map[string]any{"RuleName": name, "Priority": prio, "FixedRate": rate, "ReservoirSize": reservoir,
		"ServiceName": service, "ServiceType": "*", "Host": "*", "HTTPMethod": "*", "URLPath": "*", "ResourceARN": "*", "Version": 1}
}

func TestCentralizedRules(t *testing.T) {
	fx := &fakeXRay{rules: []map[string]any{
		ruleDoc("Default", 10000, "*", 0, 0),
		ruleDoc("always-orders", 1, "orders", 1, 0),
		ruleDoc("attrs", 0, "*", 1, 0),
	}}
	fx.rules[2]["Attributes"] = map[string]string{"k": "v"} // ignored, as SDKs do
	srv := httptest.NewServer(fx)
	defer srv.Close()
	s := New(strings.TrimPrefix(srv.URL, "http://"), nil)
	s.refreshRules(context.Background())
	for range 50 {
		if !s.Sample("orders", "arn:aws:lambda:us-east-1:000000000000:function:orders") {
			t.Fatal("rule with FixedRate 1 did not sample")
		}
		if s.Sample("other", "arn:aws:lambda:us-east-1:000000000000:function:other") {
			t.Fatal("Default rule with rate 0 and no reservoir sampled")
		}
	}
	// Targets: statistics are reported and the returned quota applies.
	ttl := float64(time.Now().Add(time.Minute).Unix())
	fx.mu.Lock()
	fx.targets = []map[string]any{{"RuleName": "Default", "FixedRate": 0.0, "ReservoirQuota": 3, "ReservoirQuotaTTL": ttl, "Interval": 10}}
	fx.mu.Unlock()
	s.reportTargets(context.Background())
	fx.mu.Lock()
	if len(fx.stats) != 2 {
		t.Fatalf("stats reported: %v", fx.stats)
	}
	fx.mu.Unlock()
	n := 0
	for range 10 {
		if s.Sample("other", "arn") {
			n++
		}
	}
	if n != 3 {
		t.Errorf("sampled %d with a quota of 3", n)
	}
}

func TestRunStopsAndSurvivesDeadCollector(t *testing.T) {
	s := New("127.0.0.1:1", nil)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	time.Sleep(50 * time.Millisecond)
	if !s.Sample("f", "arn") {
		t.Error("fallback reservoir not applied with the collector down")
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}
