package sampling

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

func newServer(t *testing.T, svc *Service) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(svc)
	t.Cleanup(srv.Close)
	return srv
}

func post(t *testing.T, url, body string) (int, http.Header, map[string]any) {
	t.Helper()
	resp, err := http.Post(url, "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatalf("response %q is not JSON: %v", b, err)
	}
	return resp.StatusCode, resp.Header, m
}

// clock is a settable clock for tests.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func TestGetSamplingRulesDefault(t *testing.T) {
	srv := newServer(t, New(nil, Options{}))
	for _, body := range []string{`{"NextToken": null}`, `{}`, ``} {
		status, _, m := post(t, srv.URL+"/GetSamplingRules", body)
		if status != 200 {
			t.Fatalf("body %q: status %d %v", body, status, m)
		}
		recs := m["SamplingRuleRecords"].([]any)
		if len(recs) != 1 {
			t.Fatalf("want 1 rule, got %v", recs)
		}
		if _, ok := m["NextToken"]; ok {
			t.Errorf("NextToken on the only page: %v", m)
		}
		rec := recs[0].(map[string]any)
		if rec["CreatedAt"] != 0.0 || rec["ModifiedAt"] != 0.0 {
			t.Errorf("Default record times = %v, %v; want 0, 0", rec["CreatedAt"], rec["ModifiedAt"])
		}
		rule := rec["SamplingRule"].(map[string]any)
		want := map[string]any{
			"RuleName": "Default", "ResourceARN": "*", "Priority": 10000.0, "FixedRate": 0.05,
			"ReservoirSize": 1.0, "ServiceName": "*", "ServiceType": "*", "Host": "*",
			"HTTPMethod": "*", "URLPath": "*", "Version": 1.0, "RuleARN": "arn:aws:xray:us-east-1:000000000000:sampling-rule/Default",
		}
		for k, v := range want {
			if rule[k] != v {
				t.Errorf("%s = %v, want %v", k, rule[k], v)
			}
		}
		if a, ok := rule["Attributes"].(map[string]any); !ok || len(a) != 0 {
			t.Errorf("Attributes = %v, want {}", rule["Attributes"])
		}
	}
}

func TestSamplingTargetsRequests(t *testing.T) {
	const client = "0123456789abcdef01234567"
	tests := []struct {
		name       string
		body       string
		wantStatus int
		wantType   string
		wantMsg    string
		check      func(t *testing.T, m map[string]any)
	}{
		{
			name:       "integer timestamp (Go X-Ray SDK)",
			body:       `{"SamplingStatisticsDocuments":[{"RuleName":"Default","ClientID":"` + client + `","Timestamp":1530922806,"RequestCount":10,"SampledCount":2,"BorrowCount":1}]}`,
			wantStatus: 200,
			check: func(t *testing.T, m map[string]any) {
				docs := m["SamplingTargetDocuments"].([]any)
				if len(docs) != 1 {
					t.Fatalf("targets: %v", docs)
				}
				d := docs[0].(map[string]any)
				if d["RuleName"] != "Default" || d["FixedRate"] != 0.05 || d["ReservoirQuota"] != 1.0 || d["Interval"] != 10.0 {
					t.Errorf("target = %v", d)
				}
				if ttl := d["ReservoirQuotaTTL"].(float64); ttl < float64(time.Now().Unix()) {
					t.Errorf("ReservoirQuotaTTL %v is in the past", ttl)
				}
				if u := m["UnprocessedStatistics"].([]any); len(u) != 0 {
					t.Errorf("unprocessed: %v", u)
				}
			},
		},
		{
			name:       "float timestamp (AWS SDKs), counts omitted",
			body:       `{"SamplingStatisticsDocuments":[{"RuleName":"Default","ClientID":"` + client + `","Timestamp":1530922806.123}]}`,
			wantStatus: 200,
		},
		{
			name:       "boost statistics are accepted",
			body:       `{"SamplingStatisticsDocuments":[],"SamplingBoostStatisticsDocuments":[{"RuleName":"Default","ServiceName":"s","Timestamp":1,"AnomalyCount":0,"TotalCount":1,"SampledAnomalyCount":0}]}`,
			wantStatus: 200,
		},
		{
			name:       "unknown rule is unprocessed with 4xx code",
			body:       `{"SamplingStatisticsDocuments":[{"RuleName":"gone","ClientID":"` + client + `","Timestamp":1,"RequestCount":1,"SampledCount":0,"BorrowCount":0}]}`,
			wantStatus: 200,
			check: func(t *testing.T, m map[string]any) {
				u := m["UnprocessedStatistics"].([]any)
				if len(u) != 1 || u[0].(map[string]any)["ErrorCode"] != "400" || u[0].(map[string]any)["RuleName"] != "gone" {
					t.Errorf("unprocessed = %v", u)
				}
			},
		},
		{"missing documents", `{}`, 400, "InvalidRequestException", "SamplingStatisticsDocuments is required", nil},
		{"not JSON", `{"Sampling`, 400, "InvalidRequestException", "not valid JSON", nil},
		{"documents not a list", `{"SamplingStatisticsDocuments":{}}`, 400, "InvalidRequestException", "must be an array", nil},
		{"short client id", `{"SamplingStatisticsDocuments":[{"RuleName":"Default","ClientID":"abc","Timestamp":1,"RequestCount":1,"SampledCount":0,"BorrowCount":0}]}`, 400, "InvalidRequestException", "ClientID must be 24 characters", nil},
		{"missing timestamp", `{"SamplingStatisticsDocuments":[{"RuleName":"Default","ClientID":"` + client + `","RequestCount":1,"SampledCount":0,"BorrowCount":0}]}`, 400, "InvalidRequestException", "Timestamp must be epoch seconds", nil},
		{"string timestamp", `{"SamplingStatisticsDocuments":[{"RuleName":"Default","ClientID":"` + client + `","Timestamp":"2020-01-01","RequestCount":1,"SampledCount":0,"BorrowCount":0}]}`, 400, "InvalidRequestException", "Timestamp must be a number", nil},
		{"negative count", `{"SamplingStatisticsDocuments":[{"RuleName":"Default","ClientID":"` + client + `","Timestamp":1,"RequestCount":-1,"SampledCount":0,"BorrowCount":0}]}`, 400, "InvalidRequestException", "must be >= 0", nil},
		{"too many documents", `{"SamplingStatisticsDocuments":[` + strings.Repeat(`{"RuleName":"Default","ClientID":"`+client+`","Timestamp":1,"RequestCount":1,"SampledCount":0,"BorrowCount":0},`, 25) + `{"RuleName":"Default","ClientID":"` + client + `","Timestamp":1,"RequestCount":1,"SampledCount":0,"BorrowCount":0}]}`, 400, "InvalidRequestException", "at most 25", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := newServer(t, New(nil, Options{}))
			status, h, m := post(t, srv.URL+"/SamplingTargets", tt.body)
			if status != tt.wantStatus {
				t.Fatalf("status %d, want %d: %v", status, tt.wantStatus, m)
			}
			if tt.wantType != "" {
				if h.Get("X-Amzn-ErrorType") != tt.wantType || m["__type"] != tt.wantType || m["message"] == "" || m["Message"] != m["message"] {
					t.Fatalf("error shape: header %q body %v", h.Get("X-Amzn-ErrorType"), m)
				}
				if msg, _ := m["message"].(string); !strings.Contains(msg, tt.wantMsg) {
					t.Fatalf("message %q lacks %q", msg, tt.wantMsg)
				}
			}
			if tt.check != nil {
				tt.check(t, m)
			}
		})
	}
}

func TestQuotaSharing(t *testing.T) {
	now := time.Unix(1_700_000_000, 0)
	tests := []struct {
		name      string
		reservoir int64
		requests  map[string]int64 // client → RequestCount
		stale     []string         // clients last seen long ago
		want      map[string]int64
	}{
		{"single client gets everything", 5, map[string]int64{"a": 3}, nil, map[string]int64{"a": 5}},
		{"proportional", 10, map[string]int64{"a": 30, "b": 10}, nil, map[string]int64{"a": 8, "b": 2}},
		{"remainder to busiest", 1, map[string]int64{"a": 5, "b": 50}, nil, map[string]int64{"a": 0, "b": 1}},
		{"no requests: even split", 3, map[string]int64{"a": 0, "b": 0}, nil, map[string]int64{"a": 2, "b": 1}},
		{"stale clients drop out", 4, map[string]int64{"a": 1, "b": 100}, []string{"b"}, map[string]int64{"a": 4, "b": 0}},
		{"zero reservoir", 0, map[string]int64{"a": 9}, nil, map[string]int64{"a": 0}},
		{"huge counts do not overflow", 1 << 40, map[string]int64{"a": 1 << 40, "b": 1 << 40}, nil, map[string]int64{"a": 1 << 39, "b": 1 << 39}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cs := map[string]clientStat{}
			for id, n := range tt.requests {
				seen := now
				for _, s := range tt.stale {
					if s == id {
						seen = now.Add(-time.Hour)
					}
				}
				cs[id] = clientStat{requests: n, seen: seen}
			}
			active := mergeClients(cs, nil, now)
			var sum int64
			for id, want := range tt.want {
				got := quotaFor(active, id, tt.reservoir)
				if got != want {
					t.Errorf("quota(%s) = %d, want %d", id, got, want)
				}
				sum += got
			}
			if sum > tt.reservoir {
				t.Errorf("quotas sum to %d > reservoir %d", sum, tt.reservoir)
			}
		})
	}
}

func TestMergeClients(t *testing.T) {
	now := time.Unix(1_700_000_000, 0)
	local := map[string]clientStat{"a": {requests: 5, seen: now}, "b": {requests: 1, seen: now.Add(-5 * time.Second)}}
	peers := map[string]clientStat{
		"a": {requests: 50, seen: now.Add(-time.Second)},     // older than the local report
		"b": {requests: 70, seen: now.Add(-time.Second)},     // newer than the local report
		"c": {requests: 9, seen: now.Add(-10 * time.Second)}, // another collector's client
		"d": {requests: 9, seen: now.Add(-time.Minute)},      // gone quiet
	}
	got := mergeClients(local, peers, now)
	want := []activeClient{{"b", 70}, {"c", 9}, {"a", 5}}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("mergeClients = %v, want %v", got, want)
	}
}

// TestQuotaSharedAcrossServices: two Services (two collectors) over one
// store grant shares that add up to the reservoir.
func TestQuotaSharedAcrossServices(t *testing.T) {
	ctx := context.Background()
	clk := &clock{t: time.Unix(1_700_000_000, 0)}
	store := NewMemoryStore()
	opts := Options{Now: clk.Now, CacheTTL: time.Nanosecond, FlushEvery: time.Nanosecond}
	a, b := New(store, opts), New(store, opts)
	srv := newServer(t, a)
	status, _, m := post(t, srv.URL+"/CreateSamplingRule", `{"SamplingRule":{"RuleName":"r","ResourceARN":"*","Priority":1,"FixedRate":0,"ReservoirSize":10,"ServiceName":"*","ServiceType":"*","Host":"*","HTTPMethod":"*","URLPath":"*","Version":1}}`)
	if status != 200 {
		t.Fatalf("CreateSamplingRule: %d %v", status, m)
	}
	c1, c2 := strings.Repeat("1", 24), strings.Repeat("2", 24)
	report := func(s *Service, client string, n int64) int64 {
		t.Helper()
		clk.Add(time.Millisecond)
		out, err := s.Targets(ctx, []StatisticsDocument{{RuleName: "r", ClientID: client, Timestamp: clk.Now(), RequestCount: n}})
		if err != nil || len(out.SamplingTargetDocuments) != 1 {
			t.Fatalf("Targets: %+v, %v", out, err)
		}
		return out.SamplingTargetDocuments[0].ReservoirQuota
	}
	if q := report(a, c1, 30); q != 10 {
		t.Fatalf("first client alone: quota %d, want 10", q)
	}
	if q := report(b, c2, 10); q != 2 {
		t.Fatalf("second client on the other collector: quota %d, want 2 (10 × 10/40)", q)
	}
	if q := report(a, c1, 30); q != 8 {
		t.Fatalf("first client again: quota %d, want 8 (10 × 30/40, the other collector's client counted)", q)
	}
	clk.Add(activeWindow + time.Second)
	if q := report(b, c2, 10); q != 10 {
		t.Fatalf("after the first client went quiet: quota %d, want 10", q)
	}
}

func TestFlushCoalesces(t *testing.T) {
	ctx := context.Background()
	clk := &clock{t: time.Unix(1_700_000_000, 0)}
	store := &countingStore{MemoryStore: NewMemoryStore()}
	s := New(store, Options{Now: clk.Now})
	for i := range 50 {
		clk.Add(10 * time.Millisecond)
		if _, err := s.Targets(ctx, []StatisticsDocument{{RuleName: "Default", ClientID: fmt.Sprintf("%024d", i), Timestamp: clk.Now(), RequestCount: 1}}); err != nil {
			t.Fatal(err)
		}
	}
	// 50 reports over 0.5 s: the first is written at once, the rest wait
	// for a call at least FlushEvery (1 s) later, or Flush.
	if n := store.writes(); n != 1 {
		t.Fatalf("%d writes for 50 reports within a second, want 1", n)
	}
	if err := s.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	stats, _ := store.SamplingStatistics(ctx, time.Time{})
	if n := store.writes(); n != 2 || len(stats) != 50 {
		t.Fatalf("after Flush: %d writes, %d reports stored; want 2, 50", n, len(stats))
	}
}

type countingStore struct {
	*MemoryStore
	mu sync.Mutex
	n  int
}

func (c *countingStore) WriteSamplingStatistics(ctx context.Context, stats []Statistic) error {
	c.mu.Lock()
	c.n++
	c.mu.Unlock()
	return c.MemoryStore.WriteSamplingStatistics(ctx, stats)
}

func (c *countingStore) writes() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.n
}

const validRule = `"ResourceARN":"*","Priority":5,"FixedRate":0.1,"ReservoirSize":2,"ServiceName":"shop","ServiceType":"*","Host":"*","HTTPMethod":"GET","URLPath":"/cart*","Version":1`

func TestRuleValidation(t *testing.T) {
	long := strings.Repeat("x", 33)
	tests := []struct {
		name, path, body  string
		wantType, wantMsg string
	}{
		{"no rule", "/CreateSamplingRule", `{}`, "InvalidRequestException", "SamplingRule is required"},
		{"no name", "/CreateSamplingRule", `{"SamplingRule":{` + validRule + `}}`, "InvalidRequestException", "RuleName is required"},
		{"long name", "/CreateSamplingRule", `{"SamplingRule":{"RuleName":"` + long + `",` + validRule + `}}`, "InvalidRequestException", "1 to 32 characters"},
		{"slash in name", "/CreateSamplingRule", `{"SamplingRule":{"RuleName":"a/b",` + validRule + `}}`, "InvalidRequestException", "must not contain '/'"},
		{"Default reserved", "/CreateSamplingRule", `{"SamplingRule":{"RuleName":"Default",` + validRule + `}}`, "InvalidRequestException", "Default rule always exists"},
		{"missing members", "/CreateSamplingRule", `{"SamplingRule":{"RuleName":"r","Priority":1,"FixedRate":0.1}}`, "InvalidRequestException", "ResourceARN, ReservoirSize, ServiceName, ServiceType, Host, HTTPMethod, URLPath, Version"},
		{"priority 0", "/CreateSamplingRule", `{"SamplingRule":{"RuleName":"r",` + strings.Replace(validRule, `"Priority":5`, `"Priority":0`, 1) + `}}`, "InvalidRequestException", "Priority 0 must be a whole number from 1 to 9999"},
		{"priority 10000", "/CreateSamplingRule", `{"SamplingRule":{"RuleName":"r",` + strings.Replace(validRule, `"Priority":5`, `"Priority":10000`, 1) + `}}`, "InvalidRequestException", "from 1 to 9999"},
		{"fractional priority", "/CreateSamplingRule", `{"SamplingRule":{"RuleName":"r",` + strings.Replace(validRule, `"Priority":5`, `"Priority":1.5`, 1) + `}}`, "InvalidRequestException", "whole number"},
		{"rate above 1", "/CreateSamplingRule", `{"SamplingRule":{"RuleName":"r",` + strings.Replace(validRule, `"FixedRate":0.1`, `"FixedRate":5`, 1) + `}}`, "InvalidRequestException", "FixedRate 5 must be between 0 and 1"},
		{"negative reservoir", "/CreateSamplingRule", `{"SamplingRule":{"RuleName":"r",` + strings.Replace(validRule, `"ReservoirSize":2`, `"ReservoirSize":-1`, 1) + `}}`, "InvalidRequestException", "ReservoirSize -1"},
		{"version 0", "/CreateSamplingRule", `{"SamplingRule":{"RuleName":"r",` + strings.Replace(validRule, `"Version":1`, `"Version":0`, 1) + `}}`, "InvalidRequestException", "Version 0"},
		{"long method", "/CreateSamplingRule", `{"SamplingRule":{"RuleName":"r",` + strings.Replace(validRule, `"GET"`, `"GETGETGETGET"`, 1) + `}}`, "InvalidRequestException", "HTTPMethod is 12 characters long; at most 10"},
		{"long URL path", "/CreateSamplingRule", `{"SamplingRule":{"RuleName":"r",` + strings.Replace(validRule, `"/cart*"`, `"/`+strings.Repeat("p", 128)+`"`, 1) + `}}`, "InvalidRequestException", "URLPath is 129 characters long"},
		{"empty resource", "/CreateSamplingRule", `{"SamplingRule":{"RuleName":"r",` + strings.Replace(validRule, `"ResourceARN":"*"`, `"ResourceARN":""`, 1) + `}}`, "InvalidRequestException", "ResourceARN must not be empty"},
		{"six attributes", "/CreateSamplingRule", `{"SamplingRule":{"RuleName":"r",` + validRule + `,"Attributes":{"a":"1","b":"1","c":"1","d":"1","e":"1","f":"1"}}}`, "InvalidRequestException", "at most 5"},
		{"empty attribute value", "/CreateSamplingRule", `{"SamplingRule":{"RuleName":"r",` + validRule + `,"Attributes":{"a":""}}}`, "InvalidRequestException", "1 to 32 characters"},
		{"boost without cooldown", "/CreateSamplingRule", `{"SamplingRule":{"RuleName":"r",` + validRule + `,"SamplingRateBoost":{"MaxRate":0.5}}}`, "InvalidRequestException", "MaxRate and CooldownWindowMinutes"},
		{"priority as string", "/CreateSamplingRule", `{"SamplingRule":{"RuleName":"r",` + strings.Replace(validRule, `"Priority":5`, `"Priority":"5"`, 1) + `}}`, "InvalidRequestException", "member SamplingRule.Priority must be a number"},
		{"aws: tag", "/CreateSamplingRule", `{"SamplingRule":{"RuleName":"r",` + validRule + `},"Tags":[{"Key":"aws:x","Value":"1"}]}`, "InvalidRequestException", "prefix aws: is reserved"},
		{"bad tag character", "/CreateSamplingRule", `{"SamplingRule":{"RuleName":"r",` + validRule + `},"Tags":[{"Key":"k","Value":"a;b"}]}`, "InvalidRequestException", `character ";"`},
		{"tag without value", "/CreateSamplingRule", `{"SamplingRule":{"RuleName":"r",` + validRule + `},"Tags":[{"Key":"k"}]}`, "InvalidRequestException", "needs a Key and a Value"},
		{"update without rule", "/UpdateSamplingRule", `{}`, "InvalidRequestException", "SamplingRuleUpdate is required"},
		{"update nameless", "/UpdateSamplingRule", `{"SamplingRuleUpdate":{"FixedRate":0.5}}`, "InvalidRequestException", "RuleName or RuleARN"},
		{"update both names", "/UpdateSamplingRule", `{"SamplingRuleUpdate":{"RuleName":"Default","RuleARN":"arn:aws:xray:us-east-1:000000000000:sampling-rule/Default"}}`, "InvalidRequestException", "not both"},
		{"update unknown", "/UpdateSamplingRule", `{"SamplingRuleUpdate":{"RuleName":"nope","FixedRate":0.5}}`, "InvalidRequestException", "sampling rule nope does not exist"},
		{"update Default host", "/UpdateSamplingRule", `{"SamplingRuleUpdate":{"RuleName":"Default","Host":"example.com"}}`, "InvalidRequestException", "only FixedRate and ReservoirSize of the Default rule"},
		{"update Default priority", "/UpdateSamplingRule", `{"SamplingRuleUpdate":{"RuleName":"Default","Priority":1}}`, "InvalidRequestException", "not Priority"},
		{"update bad rate", "/UpdateSamplingRule", `{"SamplingRuleUpdate":{"RuleName":"Default","FixedRate":-0.5}}`, "InvalidRequestException", "between 0 and 1"},
		{"delete Default", "/DeleteSamplingRule", `{"RuleName":"Default"}`, "InvalidRequestException", "Default rule cannot be deleted"},
		{"delete Default by ARN", "/DeleteSamplingRule", `{"RuleARN":"arn:aws:xray:us-east-1:000000000000:sampling-rule/Default"}`, "InvalidRequestException", "Default rule cannot be deleted"},
		{"delete unknown", "/DeleteSamplingRule", `{"RuleARN":"arn:aws:xray:us-east-1:000000000000:sampling-rule/x"}`, "InvalidRequestException", "does not exist"},
		{"delete nameless", "/DeleteSamplingRule", `{}`, "InvalidRequestException", "RuleName or RuleARN"},
		{"bad rules token", "/GetSamplingRules", `{"NextToken":"garbage!"}`, "InvalidRequestException", "not a token this server issued"},
		{"bad summaries token", "/SamplingStatisticSummaries", `{"NextToken":"eyJ2IjoxfQ"}`, "InvalidRequestException", "not a token this server issued"},
		{"unknown path", "/Nope", `{}`, "UnknownOperationException", "no sampling operation at /Nope"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := newServer(t, New(nil, Options{}))
			status, h, m := post(t, srv.URL+tt.path, tt.body)
			if status < 400 || h.Get("X-Amzn-ErrorType") != tt.wantType || m["__type"] != tt.wantType {
				t.Fatalf("status %d, header %q, body %v; want %s", status, h.Get("X-Amzn-ErrorType"), m, tt.wantType)
			}
			if msg, _ := m["message"].(string); !strings.Contains(msg, tt.wantMsg) {
				t.Fatalf("message %q lacks %q", msg, tt.wantMsg)
			}
		})
	}
}

func TestRuleLifecycle(t *testing.T) {
	svc := New(nil, Options{MaxRules: 3, PageSize: 2})
	srv := newServer(t, svc)
	call := func(path, body string) map[string]any {
		t.Helper()
		status, _, m := post(t, srv.URL+path, body)
		if status != 200 {
			t.Fatalf("%s %s: %d %v", path, body, status, m)
		}
		return m
	}
	before := time.Now()
	m := call("/CreateSamplingRule", `{"SamplingRule":{"RuleName":"b",`+validRule+`,"Attributes":{"k":"v"},"SamplingRateBoost":{"MaxRate":0.5,"CooldownWindowMinutes":2}},"Tags":[{"Key":"team","Value":"x"}]}`)
	rec := m["SamplingRuleRecord"].(map[string]any)
	rule := rec["SamplingRule"].(map[string]any)
	if rule["RuleARN"] != "arn:aws:xray:us-east-1:000000000000:sampling-rule/b" || rule["ServiceName"] != "shop" || rule["URLPath"] != "/cart*" ||
		rule["Attributes"].(map[string]any)["k"] != "v" || rule["SamplingRateBoost"].(map[string]any)["CooldownWindowMinutes"] != 2.0 {
		t.Fatalf("created %v", rec)
	}
	if c := rec["CreatedAt"].(float64); c < float64(before.Unix()) || c != rec["ModifiedAt"] {
		t.Fatalf("times %v", rec)
	}
	call("/CreateSamplingRule", `{"SamplingRule":{"RuleName":"a",`+validRule+`}}`)
	call("/CreateSamplingRule", `{"SamplingRule":{"RuleName":"z",`+strings.Replace(validRule, `"Priority":5`, `"Priority":1`, 1)+`}}`)
	// Duplicates and the rule limit.
	if status, h, m := post(t, srv.URL+"/CreateSamplingRule", `{"SamplingRule":{"RuleName":"a",`+validRule+`}}`); status != 400 || !strings.Contains(m["message"].(string), "already exists") {
		t.Fatalf("duplicate: %d %v %v", status, h, m)
	}
	if status, h, m := post(t, srv.URL+"/CreateSamplingRule", `{"SamplingRule":{"RuleName":"d",`+validRule+`}}`); status != 400 || h.Get("X-Amzn-ErrorType") != "RuleLimitExceededException" {
		t.Fatalf("over the limit: %d %v %v", status, h, m)
	}
	// Pages of 2: z (priority 1), a, b (5), Default (10000).
	var names []string
	var tok string
	for page := 0; ; page++ {
		body := `{}`
		if tok != "" {
			body = `{"NextToken":"` + tok + `"}`
		}
		m := call("/GetSamplingRules", body)
		for _, r := range m["SamplingRuleRecords"].([]any) {
			names = append(names, r.(map[string]any)["SamplingRule"].(map[string]any)["RuleName"].(string))
		}
		next, _ := m["NextToken"].(string)
		if next == "" {
			break
		}
		tok = next
		if page > 5 {
			t.Fatal("paging does not end")
		}
	}
	if strings.Join(names, ",") != "z,a,b,Default" {
		t.Fatalf("rules in pages: %v", names)
	}
	// Update by ARN; members left out keep their values.
	m = call("/UpdateSamplingRule", `{"SamplingRuleUpdate":{"RuleARN":"arn:aws:xray:us-east-1:000000000000:sampling-rule/a","FixedRate":0.9,"Host":"shop.example.com"}}`)
	rule = m["SamplingRuleRecord"].(map[string]any)["SamplingRule"].(map[string]any)
	if rule["FixedRate"] != 0.9 || rule["Host"] != "shop.example.com" || rule["HTTPMethod"] != "GET" || rule["Priority"] != 5.0 {
		t.Fatalf("updated %v", rule)
	}
	// Default: FixedRate and ReservoirSize change; the other members may be
	// repeated unchanged.
	m = call("/UpdateSamplingRule", `{"SamplingRuleUpdate":{"RuleName":"Default","FixedRate":0.5,"ReservoirSize":7,"Host":"*"}}`)
	rule = m["SamplingRuleRecord"].(map[string]any)["SamplingRule"].(map[string]any)
	if rule["FixedRate"] != 0.5 || rule["ReservoirSize"] != 7.0 || rule["Priority"] != 10000.0 {
		t.Fatalf("Default updated %v", rule)
	}
	out, err := svc.Targets(context.Background(), []StatisticsDocument{{RuleName: "Default", ClientID: strings.Repeat("c", 24), RequestCount: 1}})
	if err != nil || out.SamplingTargetDocuments[0].FixedRate != 0.5 || out.SamplingTargetDocuments[0].ReservoirQuota != 7 {
		t.Fatalf("targets after the Default update: %+v, %v", out, err)
	}
	lastMod := out.LastRuleModification
	m = call("/DeleteSamplingRule", `{"RuleName":"z"}`)
	if m["SamplingRuleRecord"].(map[string]any)["SamplingRule"].(map[string]any)["RuleName"] != "z" {
		t.Fatalf("delete answered %v", m)
	}
	out, err = svc.Targets(context.Background(), []StatisticsDocument{{RuleName: "z", ClientID: strings.Repeat("c", 24), RequestCount: 1}})
	if err != nil || len(out.UnprocessedStatistics) != 1 || out.UnprocessedStatistics[0].ErrorCode != "400" || out.LastRuleModification <= lastMod {
		t.Fatalf("targets for the deleted rule: %+v, %v (last modification before %v)", out, err, lastMod)
	}
}

func TestStatisticSummaries(t *testing.T) {
	ctx := context.Background()
	clk := &clock{t: time.Unix(1_700_000_000, 0)}
	svc := New(nil, Options{Now: clk.Now, PageSize: 2})
	srv := newServer(t, svc)
	for i, n := range []int64{10, 20, 30} {
		for _, c := range []string{strings.Repeat("a", 24), strings.Repeat("b", 24)} {
			if _, err := svc.Targets(ctx, []StatisticsDocument{{RuleName: "Default", ClientID: c, Timestamp: clk.Now(), RequestCount: n, SampledCount: 1, BorrowCount: int64(i)}}); err != nil {
				t.Fatal(err)
			}
		}
		clk.Add(10 * time.Second)
	}
	var got []string
	body := `{}`
	for range 5 {
		status, _, m := post(t, srv.URL+"/SamplingStatisticSummaries", body)
		if status != 200 {
			t.Fatalf("%d %v", status, m)
		}
		for _, s := range m["SamplingStatisticSummaries"].([]any) {
			s := s.(map[string]any)
			got = append(got, fmt.Sprintf("%s@%v:%v/%v/%v", s["RuleName"], s["Timestamp"], s["RequestCount"], s["SampledCount"], s["BorrowCount"]))
		}
		next, _ := m["NextToken"].(string)
		if next == "" {
			break
		}
		body = `{"NextToken":"` + next + `"}`
	}
	want := "Default@1.70000002e+09:60/2/4 Default@1.70000001e+09:40/2/2 Default@1.7e+09:20/2/0"
	if strings.Join(got, " ") != want {
		t.Fatalf("summaries %v\nwant %v", got, want)
	}
}

// failingStore fails every call once broken is set.
type failingStore struct {
	*MemoryStore
	mu     sync.Mutex
	broken bool
}

func (f *failingStore) fail() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.broken {
		return fmt.Errorf("clickhouse: connection refused")
	}
	return nil
}

func (f *failingStore) SamplingRules(ctx context.Context) ([]RuleRecord, time.Time, error) {
	if err := f.fail(); err != nil {
		return nil, time.Time{}, err
	}
	return f.MemoryStore.SamplingRules(ctx)
}

func (f *failingStore) WriteSamplingStatistics(ctx context.Context, st []Statistic) error {
	if err := f.fail(); err != nil {
		return err
	}
	return f.MemoryStore.WriteSamplingStatistics(ctx, st)
}

func (f *failingStore) SamplingStatistics(ctx context.Context, since time.Time) ([]Statistic, error) {
	if err := f.fail(); err != nil {
		return nil, err
	}
	return f.MemoryStore.SamplingStatistics(ctx, since)
}

// TestStoreOutage: while the store fails, SDKs still get the last rules
// read and quotas for them; without any rules read, the error shows.
func TestStoreOutage(t *testing.T) {
	ctx := context.Background()
	clk := &clock{t: time.Unix(1_700_000_000, 0)}
	store := &failingStore{MemoryStore: NewMemoryStore()}
	fresh := New(store, Options{Now: clk.Now})
	svc := New(store, Options{Now: clk.Now})
	if _, err := store.PutSamplingRule(ctx, RuleRecord{Rule: Rule{RuleName: "r", RuleARN: "arn:r", ResourceARN: "*", Priority: 1, FixedRate: 0.5,
		ReservoirSize: 4, ServiceName: "*", ServiceType: "*", Host: "*", HTTPMethod: "*", URLPath: "*", Version: 1}}); err != nil {
		t.Fatal(err)
	}
	if rs, _, err := svc.Rules(ctx); err != nil || len(rs) != 2 {
		t.Fatalf("Rules: %v, %v", rs, err)
	}
	store.mu.Lock()
	store.broken = true
	store.mu.Unlock()
	clk.Add(time.Minute)
	out, err := svc.Targets(ctx, []StatisticsDocument{{RuleName: "r", ClientID: strings.Repeat("a", 24), Timestamp: clk.Now(), RequestCount: 3}})
	if err != nil || len(out.SamplingTargetDocuments) != 1 || out.SamplingTargetDocuments[0].ReservoirQuota != 4 {
		t.Fatalf("Targets during the outage: %+v, %v", out, err)
	}
	if _, _, err := fresh.Rules(ctx); err == nil || !strings.Contains(err.Error(), "connection refused") {
		t.Fatalf("Rules of a Service that never read any: %v, want the store's error", err)
	}
}
