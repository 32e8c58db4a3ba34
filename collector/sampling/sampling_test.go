package sampling

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

func newServer(t *testing.T, svc *Service) *httptest.Server {
	t.Helper()
	mux := http.NewServeMux()
	mux.HandleFunc("POST /GetSamplingRules", svc.ServeGetSamplingRules)
	mux.HandleFunc("POST /SamplingTargets", svc.ServeSamplingTargets)
	srv := httptest.NewServer(mux)
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

func TestGetSamplingRulesDefault(t *testing.T) {
	srv := newServer(t, NewService(nil, nil))
	for _, body := range []string{`{"NextToken": null}`, `{}`, ``} {
		status, _, m := post(t, srv.URL+"/GetSamplingRules", body)
		if status != 200 {
			t.Fatalf("body %q: status %d %v", body, status, m)
		}
		recs := m["SamplingRuleRecords"].([]any)
		if len(recs) != 1 {
			t.Fatalf("want 1 rule, got %v", recs)
		}
		rule := recs[0].(map[string]any)["SamplingRule"].(map[string]any)
		want := map[string]any{
			"RuleName": "Default", "ResourceARN": "*", "Priority": 10000.0, "FixedRate": 0.05,
			"ReservoirSize": 1.0, "ServiceName": "*", "ServiceType": "*", "Host": "*",
			"HTTPMethod": "*", "URLPath": "*", "Version": 1.0, "RuleARN": DefaultRuleARN,
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
			name:       "float timestamp (AWS SDKs)",
			body:       `{"SamplingStatisticsDocuments":[{"RuleName":"Default","ClientID":"` + client + `","Timestamp":1530922806.123,"RequestCount":0,"SampledCount":0,"BorrowCount":0}]}`,
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
		{"missing documents", `{}`, 400, "InvalidRequestException", nil},
		{"not JSON", `{"Sampling`, 400, "InvalidRequestException", nil},
		{"short client id", `{"SamplingStatisticsDocuments":[{"RuleName":"Default","ClientID":"abc","Timestamp":1,"RequestCount":1,"SampledCount":0,"BorrowCount":0}]}`, 400, "InvalidRequestException", nil},
		{"missing timestamp", `{"SamplingStatisticsDocuments":[{"RuleName":"Default","ClientID":"` + client + `","RequestCount":1,"SampledCount":0,"BorrowCount":0}]}`, 400, "InvalidRequestException", nil},
		{"string timestamp", `{"SamplingStatisticsDocuments":[{"RuleName":"Default","ClientID":"` + client + `","Timestamp":"2020-01-01","RequestCount":1,"SampledCount":0,"BorrowCount":0}]}`, 400, "InvalidRequestException", nil},
		{"negative count", `{"SamplingStatisticsDocuments":[{"RuleName":"Default","ClientID":"` + client + `","Timestamp":1,"RequestCount":-1,"SampledCount":0,"BorrowCount":0}]}`, 400, "InvalidRequestException", nil},
		{"too many documents", `{"SamplingStatisticsDocuments":[` + strings.Repeat(`{"RuleName":"Default","ClientID":"`+client+`","Timestamp":1,"RequestCount":1,"SampledCount":0,"BorrowCount":0},`, 25) + `{"RuleName":"Default","ClientID":"` + client + `","Timestamp":1,"RequestCount":1,"SampledCount":0,"BorrowCount":0}]}`, 400, "InvalidRequestException", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := newServer(t, NewService(nil, nil))
			status, h, m := post(t, srv.URL+"/SamplingTargets", tt.body)
			if status != tt.wantStatus {
				t.Fatalf("status %d, want %d: %v", status, tt.wantStatus, m)
			}
			if tt.wantType != "" {
				if h.Get("X-Amzn-ErrorType") != tt.wantType || m["__type"] != tt.wantType || m["message"] == "" {
					t.Fatalf("error shape: header %q body %v", h.Get("X-Amzn-ErrorType"), m)
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
		{"stale clients drop out", 4, map[string]int64{"a": 1, "b": 100}, []string{"b"}, map[string]int64{"a": 4}},
		{"zero reservoir", 0, map[string]int64{"a": 9}, nil, map[string]int64{"a": 0}},
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
			var sum int64
			for id, want := range tt.want {
				if got := quotaFor(cs, id, tt.reservoir, now); got != want {
					t.Errorf("quota(%s) = %d, want %d", id, got, want)
				}
				sum += want
			}
			if sum > tt.reservoir {
				t.Errorf("quotas sum to %d > reservoir %d", sum, tt.reservoir)
			}
			for _, s := range tt.stale {
				if _, ok := cs[s]; ok {
					t.Errorf("stale client %s kept", s)
				}
			}
		})
	}
}

type fixedSource struct{ recs []RuleRecord }

func (f fixedSource) SamplingRules(context.Context) ([]RuleRecord, error) { return f.recs, nil }

func TestCustomRulesKeepDefault(t *testing.T) {
	mod := time.Unix(1_700_000_123, 0)
	custom := DefaultRule()
	custom.Rule.RuleName, custom.Rule.Priority, custom.Rule.FixedRate, custom.ModifiedAt = "checkout", 5, 1, mod
	svc := NewService(fixedSource{[]RuleRecord{custom}}, nil)
	srv := newServer(t, svc)
	_, _, m := post(t, srv.URL+"/GetSamplingRules", `{}`)
	recs := m["SamplingRuleRecords"].([]any)
	if len(recs) != 2 {
		t.Fatalf("want custom + Default, got %v", recs)
	}
	out, err := svc.Targets(context.Background(), []StatisticsDocument{{RuleName: "checkout", ClientID: strings.Repeat("a", 24), RequestCount: 4}})
	if err != nil {
		t.Fatal(err)
	}
	if out.LastRuleModification != float64(mod.Unix()) || out.SamplingTargetDocuments[0].FixedRate != 1 {
		t.Fatalf("targets = %+v", out)
	}
}
