package chstore_test

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/fluoro/fluoro/collector/segment"
	"github.com/fluoro/fluoro/schema/chstore"
)

func TestAlertRulesAndStates(t *testing.T) {
	t.Parallel()
	s, _ := open(t)
	ctx := context.Background()

	if rs, err := s.AlertRules(ctx); err != nil || len(rs) != 0 {
		t.Fatalf("AlertRules on an empty store = %v, %v", rs, err)
	}
	a, err := s.PutAlertRule(ctx, chstore.AlertRuleRecord{ID: "a", Body: []byte(`{"id":"a","v":1}`)})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.PutAlertRule(ctx, chstore.AlertRuleRecord{ID: "b", Body: []byte(`{"id":"b"}`)}); err != nil {
		t.Fatal(err)
	}
	a2, err := s.PutAlertRule(ctx, chstore.AlertRuleRecord{ID: "a", Body: []byte(`{"id":"a","v":2}`), CreatedAt: a.CreatedAt})
	if err != nil {
		t.Fatal(err)
	}
	if !a2.ModifiedAt.After(a.ModifiedAt) || !a2.CreatedAt.Equal(a.CreatedAt) {
		t.Fatalf("second version times: %+v after %+v", a2, a)
	}
	if err := s.DeleteAlertRule(ctx, "b"); err != nil {
		t.Fatal(err)
	}
	rs, err := s.AlertRules(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(rs) != 1 || !reflect.DeepEqual(rs[0], a2) {
		t.Fatalf("AlertRules = %+v, want [%+v]", rs, a2)
	}

	if err := s.PutAlertStates(ctx, []chstore.AlertStateRecord{
		{RuleID: "a", EpisodeID: "e1", State: "pending", Body: []byte(`{"n":1}`)},
		{RuleID: "b", EpisodeID: "e2", State: "firing", Body: []byte(`{}`)},
	}); err != nil {
		t.Fatal(err)
	}
	if err := s.PutAlertStates(ctx, []chstore.AlertStateRecord{
		{RuleID: "a", EpisodeID: "e1", State: "firing", Body: []byte(`{"n":2}`)},
		{RuleID: "b", Deleted: true},
	}); err != nil {
		t.Fatal(err)
	}
	sts, err := s.AlertStates(ctx)
	if err != nil {
		t.Fatal(err)
	}
	want := []chstore.AlertStateRecord{{RuleID: "a", EpisodeID: "e1", State: "firing", Body: []byte(`{"n":2}`)}}
	if !reflect.DeepEqual(sts, want) {
		t.Fatalf("AlertStates = %+v, want %+v", sts, want)
	}
}

func TestAlertHistoryAndDeliveries(t *testing.T) {
	t.Parallel()
	s, _ := open(t)
	ctx := context.Background()
	t0 := time.Now().UTC().Truncate(time.Millisecond).Add(-time.Hour)
	ev := func(d time.Duration, ep, state string, matching uint64) chstore.AlertEvent {
		return chstore.AlertEvent{Time: t0.Add(d), RuleID: "r1", RuleName: "Rule one", EpisodeID: ep, State: state, Severity: "critical",
			Value: float64(matching), Threshold: 2, Matching: matching, Total: 10, RootService: "api", RootServiceType: "AWS::EC2::Instance",
			TraceIDs: []string{fmt.Sprintf("1-00000000-%024d", matching)}, Message: state + " " + ep}
	}
	events := []chstore.AlertEvent{
		ev(0, "e1", "pending", 3), ev(time.Minute, "e1", "firing", 4), ev(2*time.Minute, "e1", "updated", 7), ev(10*time.Minute, "e1", "resolved", 0),
		ev(20*time.Minute, "e2", "pending", 3), ev(21*time.Minute, "e2", "inactive", 0), // never fired: no episode
		ev(30*time.Minute, "e3", "firing", 5),
	}
	events[6].RuleID = "r2"
	if err := s.AppendAlertEvents(ctx, events); err != nil {
		t.Fatal(err)
	}
	got, err := s.AlertEvents(ctx, chstore.AlertEventQuery{RuleID: "r1"})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 6 || got[0].State != "inactive" || got[5].State != "pending" || !got[5].Time.Equal(t0) {
		t.Fatalf("AlertEvents(r1) = %+v", got)
	}
	if !reflect.DeepEqual(got[5], events[0]) {
		t.Fatalf("round trip: %+v, want %+v", got[5], events[0])
	}
	got, err = s.AlertEvents(ctx, chstore.AlertEventQuery{EpisodeID: "e1", Oldest: true, Limit: 2})
	if err != nil || len(got) != 2 || got[0].State != "pending" || got[1].State != "firing" {
		t.Fatalf("AlertEvents(e1, oldest, 2) = %+v, %v", got, err)
	}
	got, err = s.AlertEvents(ctx, chstore.AlertEventQuery{Start: t0.Add(time.Minute), End: t0.Add(21 * time.Minute)})
	if err != nil || len(got) != 4 {
		t.Fatalf("AlertEvents(window) = %+v, %v", got, err)
	}

	eps, err := s.AlertEpisodes(ctx, chstore.AlertEpisodeQuery{})
	if err != nil {
		t.Fatal(err)
	}
	if len(eps) != 2 || eps[0].EpisodeID != "e3" || eps[1].EpisodeID != "e1" {
		t.Fatalf("AlertEpisodes = %+v", eps)
	}
	e1 := eps[1]
	if !e1.Start.Equal(t0) || !e1.FiredAt.Equal(t0.Add(time.Minute)) || !e1.End.Equal(t0.Add(10*time.Minute)) || e1.State != "resolved" ||
		e1.Matching != 7 || e1.RootService != "api" || e1.Message != "resolved e1" || e1.Events != 4 || e1.RuleName != "Rule one" {
		t.Fatalf("episode e1 = %+v", e1)
	}
	if !eps[0].End.IsZero() || eps[0].State != "firing" {
		t.Fatalf("open episode e3 = %+v", eps[0])
	}
	// Windows: e1 ended before t0+15m; e3 is open.
	eps, err = s.AlertEpisodes(ctx, chstore.AlertEpisodeQuery{Start: t0.Add(15 * time.Minute), End: time.Now()})
	if err != nil || len(eps) != 1 || eps[0].EpisodeID != "e3" {
		t.Fatalf("AlertEpisodes(after e1) = %+v, %v", eps, err)
	}
	eps, err = s.AlertEpisodes(ctx, chstore.AlertEpisodeQuery{Start: t0.Add(-time.Hour), End: t0.Add(5 * time.Minute)})
	if err != nil || len(eps) != 1 || eps[0].EpisodeID != "e1" {
		t.Fatalf("AlertEpisodes(before e3) = %+v, %v", eps, err)
	}
	eps, err = s.AlertEpisodes(ctx, chstore.AlertEpisodeQuery{EpisodeID: "e2"})
	if err != nil || len(eps) != 0 {
		t.Fatalf("AlertEpisodes(e2, never fired) = %+v, %v", eps, err)
	}

	ds := []chstore.AlertDelivery{
		{Time: t0, NotificationID: "n1", RuleID: "r1", EpisodeID: "e1", Receiver: "hook", ReceiverType: "webhook", State: "firing",
			Attempt: 1, Outcome: "failed", HTTPStatus: 500, Error: "HTTP 500", Duration: 1500 * time.Microsecond},
		{Time: t0.Add(time.Second), NotificationID: "n1", RuleID: "r1", EpisodeID: "e1", Receiver: "hook", ReceiverType: "webhook", State: "firing",
			Attempt: 2, Outcome: "delivered", HTTPStatus: 200, Duration: time.Millisecond},
	}
	if err := s.AppendAlertDeliveries(ctx, ds); err != nil {
		t.Fatal(err)
	}
	gd, err := s.AlertDeliveries(ctx, chstore.AlertDeliveryQuery{RuleID: "r1"})
	if err != nil {
		t.Fatal(err)
	}
	if len(gd) != 2 || !reflect.DeepEqual(gd[1], ds[0]) || !reflect.DeepEqual(gd[0], ds[1]) {
		t.Fatalf("AlertDeliveries = %+v, want %+v reversed", gd, ds)
	}
	if gd, err := s.AlertDeliveries(ctx, chstore.AlertDeliveryQuery{RuleID: "nope"}); err != nil || len(gd) != 0 {
		t.Fatalf("AlertDeliveries(nope) = %+v, %v", gd, err)
	}
}

// alertTrace is a two-span trace: a root segment of svc and a downstream
// segment of "db"; fault marks the db segment faulting.
func alertTrace(epoch int64, n int, svc string, rootDur float64, fault bool) []segment.Document {
	id := traceID(epoch, n)
	// Traces start in different seconds, so that a query reading only part
	// of a service's time range misses some.
	start := float64(epoch) + 0.1 + float64(n%4)
	root := mkDoc(id, fmt.Sprintf("%016x", 2*n+1), "", start, start+rootDur, false, 1, svc)
	db := mkDoc(id, fmt.Sprintf("%016x", 2*n+2), "", start+0.01, start+0.02, false, 1, "db")
	db.Spans[0].ParentID = root.ID
	db.ParentID = root.ID
	db.Spans[0].Fault = fault
	db.Spans[0].AnnStrKeys, db.Spans[0].AnnStrValues = []string{"tier"}, []string{fmt.Sprintf("t%d", n%2)}
	return []segment.Document{root, db}
}

func TestEvaluateAlert(t *testing.T) {
	t.Parallel()
	s, _ := open(t)
	ctx := context.Background()
	now := time.Now().Truncate(time.Second)
	epoch := now.Add(-30 * time.Second).Unix()
	var docs []segment.Document
	// 10 traces of api: 3 with a faulting db, response times 1..10 s
	// (quantileExact(q) is the element at floor(q·n) of the sorted values);
	// 2 traces of web (never faulting), one long ago.
	var faulting []string
	for i := range 10 {
		fault := i < 3
		docs = append(docs, alertTrace(epoch, i, "api", float64(i+1), fault)...)
		if fault {
			faulting = append(faulting, traceID(epoch, i))
		}
	}
	docs = append(docs, alertTrace(epoch, 100, "web", 0.5, false)...)
	docs = append(docs, alertTrace(now.Add(-2*time.Hour).Unix(), 101, "web", 0.5, true)...)
	if err := s.WriteDocuments(ctx, docs); err != nil {
		t.Fatal(err)
	}
	win := func(q chstore.AlertQuery) chstore.AlertQuery {
		q.Start, q.End = now.Add(-time.Minute), now.Add(time.Second)
		return q
	}
	const isAPI = "has(groupArrayIf(service, is_segment = 1), ?)"
	const dbFault = "countIf(service = 'db' AND fault = 1) > 0"
	cases := []struct {
		name string
		q    chstore.AlertQuery
		want chstore.AlertResult
	}{
		{"count all", win(chstore.AlertQuery{Kind: chstore.AlertCount, Samples: 100}), chstore.AlertResult{Total: 11, Matching: 11, Value: 11}},
		{"count faulting", win(chstore.AlertQuery{Kind: chstore.AlertCount, Having: dbFault}),
			chstore.AlertResult{Total: 3, Matching: 3, Value: 3, TraceIDs: faulting}},
		{"ratio api", win(chstore.AlertQuery{Kind: chstore.AlertRatio, Having: isAPI, HavingArgs: []any{"api"}, BadHaving: dbFault}),
			chstore.AlertResult{Total: 10, Matching: 3, Value: 0.3, TraceIDs: faulting}},
		{"count faulting, prefiltered", win(chstore.AlertQuery{Kind: chstore.AlertCount, Having: dbFault, Where: "service = 'db' AND fault = 1"}),
			chstore.AlertResult{Total: 3, Matching: 3, Value: 3, TraceIDs: faulting}},
		{"ratio api, prefiltered", win(chstore.AlertQuery{Kind: chstore.AlertRatio, Having: isAPI, HavingArgs: []any{"api"}, BadHaving: dbFault,
			Where: "is_segment = 1 AND service = ?", WhereArgs: []any{"api"}}),
			chstore.AlertResult{Total: 10, Matching: 3, Value: 0.3, TraceIDs: faulting}},
		{"count tier t0, by the annotation index", win(chstore.AlertQuery{Kind: chstore.AlertCount, Samples: 100,
			Having:      "max(arrayExists((k_, v_) -> k_ = 'tier' AND v_ = 't0', ann_str.key, ann_str.value)) = 1",
			Annotations: []chstore.Annotation{{Key: "tier", Value: "t0"}}}),
			chstore.AlertResult{Total: 6, Matching: 6, Value: 6, TraceIDs: []string{traceID(epoch, 0), traceID(epoch, 2), traceID(epoch, 4),
				traceID(epoch, 6), traceID(epoch, 8), traceID(epoch, 100)}}},
		{"count by the annotation index, no candidate", win(chstore.AlertQuery{Kind: chstore.AlertCount,
			Having:      "max(arrayExists((k_, v_) -> k_ = 'tier' AND v_ = 't9', ann_str.key, ann_str.value)) = 1",
			Annotations: []chstore.Annotation{{Key: "tier", Value: "t9"}}}), chstore.AlertResult{}},
		{"ratio, prefiltered, no candidate", win(chstore.AlertQuery{Kind: chstore.AlertRatio, Having: isAPI, HavingArgs: []any{"nobody"}, BadHaving: dbFault,
			Where: "is_segment = 1 AND service = ?", WhereArgs: []any{"nobody"}}), chstore.AlertResult{}},
		{"ratio without traffic", win(chstore.AlertQuery{Kind: chstore.AlertRatio, Having: isAPI, HavingArgs: []any{"nobody"}, BadHaving: dbFault}),
			chstore.AlertResult{}},
		{"latency traces p50", win(chstore.AlertQuery{Kind: chstore.AlertLatency, Having: isAPI, HavingArgs: []any{"api"}, Quantile: 0.5, ThresholdUS: 8_500_000}),
			chstore.AlertResult{Total: 10, Matching: 2, Value: 6, TraceIDs: []string{traceID(epoch, 9), traceID(epoch, 8)}}},
		{"latency service p90", win(chstore.AlertQuery{Kind: chstore.AlertLatency, Service: "api", Quantile: 0.9, ThresholdUS: 9_500_000}),
			chstore.AlertResult{Total: 10, Matching: 1, Value: 10, TraceIDs: []string{traceID(epoch, 9)}}},
		{"latency service with filter", win(chstore.AlertQuery{Kind: chstore.AlertLatency, Service: "db", Having: dbFault, Quantile: 0.5}),
			chstore.AlertResult{Total: 3, Matching: 3, Value: 0.01, TraceIDs: faulting}},
		{"latency service p50", win(chstore.AlertQuery{Kind: chstore.AlertLatency, Service: "api", Quantile: 0.5, ThresholdUS: 9_500_000}),
			chstore.AlertResult{Total: 10, Matching: 1, Value: 6, TraceIDs: []string{traceID(epoch, 9)}}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := s.EvaluateAlert(ctx, tc.q)
			if err != nil {
				t.Fatal(err)
			}
			slices.Sort(got.TraceIDs)
			slices.Sort(tc.want.TraceIDs)
			if tc.name == "count all" {
				if len(got.TraceIDs) != 11 {
					t.Fatalf("samples = %v", got.TraceIDs)
				}
				got.TraceIDs = nil
			}
			if len(got.TraceIDs) == 0 {
				got.TraceIDs = nil
			}
			if got.Value-tc.want.Value > 1e-6 || tc.want.Value-got.Value > 1e-6 {
				t.Fatalf("value = %v, want %v (%+v)", got.Value, tc.want.Value, got)
			}
			got.Value = tc.want.Value
			if !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("EvaluateAlert = %+v, want %+v", got, tc.want)
			}
		})
	}
	// The same queries at once: shared scans give the same answers, and a
	// broken condition fails only its own query.
	var qs []chstore.AlertQuery
	for _, tc := range cases {
		qs = append(qs, tc.q)
	}
	qs = append(qs, win(chstore.AlertQuery{Kind: chstore.AlertCount, Having: "no_such_column = 1"}),
		win(chstore.AlertQuery{Kind: chstore.AlertLatency, Service: "web", Quantile: 0.5}))
	rs, errs := s.EvaluateAlerts(ctx, qs)
	for i, tc := range cases {
		want, err := s.EvaluateAlert(ctx, tc.q)
		if err != nil || errs[i] != nil {
			t.Fatalf("%s: %v, %v", tc.name, err, errs[i])
		}
		slices.Sort(want.TraceIDs)
		slices.Sort(rs[i].TraceIDs)
		if len(want.TraceIDs) == 0 {
			want.TraceIDs = nil
		}
		if len(rs[i].TraceIDs) == 0 {
			rs[i].TraceIDs = nil
		}
		if !reflect.DeepEqual(rs[i], want) {
			t.Errorf("%s: EvaluateAlerts = %+v, EvaluateAlert = %+v", tc.name, rs[i], want)
		}
	}
	if errs[len(cases)] == nil || errs[len(cases)+1] != nil || rs[len(cases)+1].Total != 1 || rs[len(cases)+1].Value != 0.5 {
		t.Fatalf("batch with a broken query: %+v %v", rs[len(cases):], errs[len(cases):])
	}
	// A batch whose queries have no candidate answers zeros without the scan.
	var empty []chstore.AlertQuery
	for _, tc := range cases {
		if strings.Contains(tc.name, "no candidate") {
			empty = append(empty, tc.q)
		}
	}
	if rs, errs := s.EvaluateAlerts(ctx, empty); len(rs) != 2 || errs[0] != nil || errs[1] != nil || !reflect.DeepEqual(rs, []chstore.AlertResult{{}, {}}) {
		t.Errorf("batch without candidates: %+v, %v", rs, errs)
	}
	// A shared scan whose every query has a Where or Annotations reads only
	// the traces with a qualifying row or index entry, and answers the same.
	var pre []chstore.AlertQuery
	var preWant []chstore.AlertResult
	for _, tc := range cases {
		if tc.q.Where != "" || len(tc.q.Annotations) > 0 {
			pre, preWant = append(pre, tc.q), append(preWant, tc.want)
		}
	}
	pre = append(pre, win(chstore.AlertQuery{Kind: chstore.AlertCount, Having: "countIf(service = 'web') > 0", Where: "service = ?", WhereArgs: []any{"web"}}))
	preWant = append(preWant, chstore.AlertResult{Total: 1, Matching: 1, Value: 1, TraceIDs: []string{traceID(epoch, 100)}})
	rs, errs = s.EvaluateAlerts(ctx, pre)
	for i := range pre {
		if len(rs[i].TraceIDs) == 0 {
			rs[i].TraceIDs = nil
		}
		slices.Sort(rs[i].TraceIDs)
		if errs[i] != nil || !reflect.DeepEqual(rs[i], preWant[i]) {
			t.Errorf("prefiltered batch, query %d: %+v, %v; want %+v", i, rs[i], errs[i], preWant[i])
		}
	}
	// The same batch again answers the same (from the scan cache: its
	// candidates did not change); a new candidate span changes the answer.
	again, errs := s.EvaluateAlerts(ctx, pre)
	for i := range pre {
		if len(again[i].TraceIDs) == 0 {
			again[i].TraceIDs = nil
		}
		slices.Sort(again[i].TraceIDs)
		if errs[i] != nil || !reflect.DeepEqual(again[i], preWant[i]) {
			t.Errorf("prefiltered batch again, query %d: %+v, %v; want %+v", i, again[i], errs[i], preWant[i])
		}
	}
	// (Its spans start in the same seconds as trace 100's: the ranges are
	// unchanged, only the rows differ.)
	if err := s.WriteDocuments(ctx, alertTrace(epoch, 104, "web", 0.5, false)); err != nil {
		t.Fatal(err)
	}
	// After each write the candidates' fingerprint changes, so the scan
	// cache is not used: every query is recounted, those whose candidates
	// changed differently from the others.
	type counts struct {
		total, matching uint64
		value           float64
	}
	check := func(what string, want []counts) {
		t.Helper()
		rs, errs := s.EvaluateAlerts(ctx, pre)
		if len(pre) != len(want) {
			t.Fatalf("the prefiltered batch has %d queries, the test expects %d", len(pre), len(want))
		}
		for i := range pre {
			if got := (counts{rs[i].Total, rs[i].Matching, rs[i].Value}); errs[i] != nil || got != want[i] {
				t.Errorf("%s, query %d: %+v, %v; want %+v", what, i, got, errs[i], want[i])
			}
		}
	}
	// Queries: db faults (Where), api fault ratio (Where), tier t0 (index),
	// tier t9 and service nobody (no candidates), web count (Where). The
	// new web trace's db span is of tier t0.
	check("after a new web trace", []counts{{3, 3, 3}, {10, 3, 0.3}, {7, 7, 7}, {}, {}, {2, 2, 2}})
	if err := s.WriteDocuments(ctx, alertTrace(epoch, 20, "api", 1, true)); err != nil {
		t.Fatal(err)
	}
	check("after a new faulting api trace of tier t0", []counts{{4, 4, 4}, {11, 4, 4.0 / 11}, {8, 8, 8}, {}, {}, {2, 2, 2}})
	for _, q := range []chstore.AlertQuery{
		{Kind: "nope", Start: now.Add(-time.Minute), End: now},
		{Kind: chstore.AlertCount, Start: now, End: now},
		{Kind: chstore.AlertRatio, Start: now.Add(-time.Minute), End: now},
		{Kind: chstore.AlertLatency, Start: now.Add(-time.Minute), End: now, Quantile: 1},
	} {
		if _, err := s.EvaluateAlert(ctx, q); !errors.Is(err, chstore.ErrBadQuery) {
			t.Errorf("EvaluateAlert(%+v) = %v, want ErrBadQuery", q, err)
		}
	}
}
