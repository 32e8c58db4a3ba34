package alert

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/fluoro/fluoro/collector/segment"
	"github.com/fluoro/fluoro/query/filter"
	"github.com/fluoro/fluoro/schema/chstore"
)

// capture is a NotifyFunc recording what it is sent.
type capture struct {
	mu   sync.Mutex
	got  []*Notification
	fail int // fail this many attempts first
}

func (c *capture) notify(_ context.Context, _ *Receiver, n *Notification) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.fail > 0 {
		c.fail--
		return 500, errors.New("HTTP 500")
	}
	c.got = append(c.got, n)
	return 200, nil
}

func (c *capture) all() []*Notification {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.got)
}

// waitFor polls cond until it holds or d passes.
func waitFor(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", d, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func testConfig() Config {
	c := DefaultConfig()
	c.WebhookURL = "http://127.0.0.1:9/hook"
	c.TraceSettle = 50 * time.Millisecond
	c.TraceMemory = 2 * time.Second
	c.GroupWait = 200 * time.Millisecond
	c.GroupInterval = 400 * time.Millisecond
	c.FlushInterval = 50 * time.Millisecond
	c.NotifyBackoff = 10 * time.Millisecond
	return c
}

// startEngine runs an engine over st with a capturing webhook receiver
// until the test ends (or stop is called).
func startEngine(t *testing.T, cfg Config, st Store) (*Engine, *capture, func()) {
	t.Helper()
	c := &capture{}
	e, err := New(cfg, Settings{Store: st, Notifiers: map[string]NotifyFunc{ReceiverWebhook: c.notify}})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- e.Run(ctx) }()
	select {
	case <-e.Ready():
	case err := <-done:
		t.Fatalf("Run: %v", err)
	}
	var once sync.Once
	stop := func() {
		once.Do(func() {
			cancel()
			if err := <-done; err != nil {
				t.Errorf("Run: %v", err)
			}
		})
	}
	t.Cleanup(stop)
	return e, c, stop
}

// span builds a span of trace tid.
func span(tid, id, parent, service string, seg bool, fault bool) segment.Span {
	now := float64(time.Now().UnixNano()) / 1e9
	return segment.Span{TraceID: tid, ID: id, ParentID: parent, SegmentID: id, Service: service, Name: service, Origin: "AWS::EC2::Instance",
		IsSegment: seg, StartTime: now - 0.1, EndTime: now, Fault: fault}
}

// testEpoch is the epoch of the test traces' ids (one for the whole run,
// so that tid(n) names the same trace every time).
var testEpoch = time.Now().Unix()

func tid(n int) string { return fmt.Sprintf("1-%08x-%024x", testEpoch, n) }

func TestPerTraceExactlyOnce(t *testing.T) {
	t.Parallel()
	st := newMemStore()
	e, c, _ := startEngine(t, testConfig(), st)
	ctx := context.Background()
	if _, err := e.CreateRule(ctx, Rule{Name: "payments faults", Filter: `service("payments") { fault }`,
		Condition: Condition{Kind: KindTrace, Window: Duration(time.Minute)}}); err != nil {
		t.Fatal(err)
	}
	want := map[string]bool{}
	// 5 traces whose payments segment faults, in one document.
	for i := range 5 {
		id := tid(i)
		want[id] = true
		e.ObserveSpans(id, []segment.Span{span(id, "a1", "", "frontend", true, true), span(id, "b1", "a1", "payments", true, true)})
	}
	// 5 traces whose failing payments segment arrives after the root,
	// in a later update (the live feed publishes them separately).
	for i := 5; i < 10; i++ {
		id := tid(i)
		want[id] = true
		e.ObserveSpans(id, []segment.Span{span(id, "a1", "", "frontend", true, false)})
	}
	// Non-matching: payments fine, or another service faulting.
	for i := 10; i < 15; i++ {
		id := tid(i)
		e.ObserveSpans(id, []segment.Span{span(id, "a1", "", "frontend", true, true), span(id, "b1", "a1", "payments", true, false)})
		e.ObserveSpans(id, []segment.Span{span(id, "c1", "a1", "orders", true, true)})
	}
	// The roots alone are evaluated (no match) while the first five are
	// notified.
	waitFor(t, 3*time.Second, "first notification", func() bool { return len(c.all()) == 1 })
	for i := 5; i < 10; i++ {
		id := tid(i)
		e.ObserveSpans(id, []segment.Span{span(id, "b1", "a1", "payments", true, true)})
	}
	// Documents of matching traces arriving again (retries) or later:
	// no second match.
	for i := range 3 {
		id := tid(i)
		e.ObserveSpans(id, []segment.Span{span(id, "b1", "a1", "payments", true, true), span(id, "x1", "b1", "db", false, true)})
	}
	waitFor(t, 5*time.Second, "10 matching traces notified", func() bool {
		n := 0
		for _, x := range c.all() {
			n += len(x.SampleTraceIDs)
		}
		return n >= 10
	})
	time.Sleep(700 * time.Millisecond) // a group interval: nothing more comes
	seen := map[string]int{}
	for _, n := range c.all() {
		if n.State != StateFiring || n.Rule.ID != "payments-faults" {
			t.Fatalf("unexpected notification %+v", n)
		}
		for _, id := range n.SampleTraceIDs {
			seen[id]++
		}
	}
	for id := range want {
		if seen[id] != 1 {
			t.Errorf("trace %s notified %d times, want once", id, seen[id])
		}
	}
	for id, n := range seen {
		if !want[id] {
			t.Errorf("trace %s does not match but was notified %d times", id, n)
		}
	}
	// A burst is grouped: the first 5 in the first notification (group
	// wait), the late ones in one more.
	if got := len(c.all()); got != 2 {
		t.Errorf("%d notifications, want 2 (grouped)", got)
	}
	rs, err := e.Rule("payments-faults")
	if err != nil {
		t.Fatal(err)
	}
	if rs.Status.State != StateFiring || rs.Status.Counts.Matching != 10 || rs.Status.RootCause == nil || rs.Status.RootCause.Name != "payments" {
		t.Fatalf("status = %+v", rs.Status)
	}
	if s := e.Stats(); s.TraceMatches != 10 {
		t.Fatalf("stats %+v: want 10 matches", s)
	}
}

func TestPerTraceResolvesAndGroups(t *testing.T) {
	t.Parallel()
	st := newMemStore()
	cfg := testConfig()
	cfg.Samples = 3
	e, c, _ := startEngine(t, cfg, st)
	if _, err := e.CreateRule(context.Background(), Rule{ID: "f", Name: "faults", Filter: "fault", Severity: "critical",
		Labels: map[string]string{"team": "shop"}, Condition: Condition{Kind: KindTrace, Window: Duration(time.Second)}}); err != nil {
		t.Fatal(err)
	}
	// A burst of 100 faulting traces: one notification, 3 samples, 100 counted.
	for i := range 100 {
		id := tid(1000 + i)
		e.ObserveSpans(id, []segment.Span{span(id, "a", "", "api", true, true)})
	}
	waitFor(t, 3*time.Second, "firing", func() bool { return len(c.all()) >= 1 })
	waitFor(t, 5*time.Second, "resolved", func() bool { return len(c.all()) >= 2 })
	ns := c.all()
	f, r := ns[0], ns[1]
	if f.State != StateFiring || f.Counts.Matching != 100 || f.Counts.New != 100 || len(f.SampleTraceIDs) != 3 ||
		len(f.Links.Samples) != 3 || f.Rule.Labels["team"] != "shop" || f.Alert.Seq != 1 || f.Update {
		t.Fatalf("firing notification %+v", f)
	}
	if r.State != StateResolved || r.Alert.ID != f.Alert.ID || r.Alert.EndsAt.IsZero() || r.Alert.Seq != 2 {
		t.Fatalf("resolved notification %+v", r)
	}
	if len(ns) != 2 {
		t.Fatalf("%d notifications, want 2", len(ns))
	}
	e.Flush(context.Background())
	var states []string
	for _, ev := range st.snapshotEvents() {
		states = append(states, ev.State)
	}
	if !slices.Equal(states, []string{StateFiring, StateResolved}) {
		t.Fatalf("history %v", states)
	}
}

func TestThresholdStates(t *testing.T) {
	t.Parallel()
	st := newMemStore()
	cfg := testConfig()
	e, c, stop := startEngine(t, cfg, st)
	ctx := context.Background()
	st.setResult(chstore.AlertRatio, chstore.AlertResult{Total: 10, Matching: 1, Value: 0.1})
	if _, err := e.CreateRule(ctx, Rule{ID: "r", Name: "api faults", Condition: Condition{Kind: KindRatio, Service: "api", Threshold: 0.5, Window: Duration(time.Minute), MinRequests: 5},
		Interval: Duration(time.Second), For: Duration(1500 * time.Millisecond)}); err != nil {
		t.Fatal(err)
	}
	state := func() string {
		rs, err := e.Rule("r")
		if err != nil {
			t.Fatal(err)
		}
		return rs.Status.State
	}
	waitFor(t, 3*time.Second, "an evaluation", func() bool {
		rs, _ := e.Rule("r")
		return !rs.Status.LastEvalAt.IsZero()
	})
	if s := state(); s != StateInactive {
		t.Fatalf("state %s, want inactive", s)
	}
	st.setResult(chstore.AlertRatio, chstore.AlertResult{Total: 10, Matching: 8, Value: 0.8, TraceIDs: []string{"1-a", "1-b"}})
	waitFor(t, 3*time.Second, "pending", func() bool { return state() == StatePending })
	if len(c.all()) != 0 {
		t.Fatal("notified while pending")
	}
	waitFor(t, 4*time.Second, "firing", func() bool { return state() == StateFiring })
	waitFor(t, time.Second, "notification", func() bool { return len(c.all()) == 1 })
	n := c.all()[0]
	if n.State != StateFiring || n.Counts.Matching != 8 || n.Counts.Total != 10 || n.Alert.Value != 0.8 || !slices.Equal(n.SampleTraceIDs, []string{"1-a", "1-b"}) ||
		n.RootCauseService == nil || n.RootCauseService.Name != "api" {
		t.Fatalf("notification %+v", n)
	}
	// Restart while firing: no second notification, still firing.
	stop()
	e2, c2, _ := startEngine(t, cfg, st)
	if rs, _ := e2.Rule("r"); rs.Status.State != StateFiring || rs.Status.AlertID != n.Alert.ID {
		t.Fatalf("after restart: %+v", rs.Status)
	}
	time.Sleep(1500 * time.Millisecond)
	if len(c2.all()) != 0 {
		t.Fatalf("re-notified after restart: %+v", c2.all()[0])
	}
	// Below the minimum of requests: resolves.
	st.setResult(chstore.AlertRatio, chstore.AlertResult{Total: 3, Matching: 3, Value: 1})
	waitFor(t, 3*time.Second, "resolved", func() bool { return len(c2.all()) == 1 })
	if r := c2.all()[0]; r.State != StateResolved || r.Alert.ID != n.Alert.ID {
		t.Fatalf("resolved notification %+v", r)
	}
	// The query: service block over the window, bound arguments.
	st.mu.Lock()
	q := st.queries[0]
	st.mu.Unlock()
	if q.Kind != chstore.AlertRatio || q.End.Sub(q.Start) != time.Minute || q.Having == "" || q.BadHaving == "" || !slices.Contains(q.HavingArgs, any("api")) {
		t.Fatalf("query %+v", q)
	}
}

func TestMuted(t *testing.T) {
	t.Parallel()
	st := newMemStore()
	e, c, _ := startEngine(t, testConfig(), st)
	ctx := context.Background()
	now := time.Now()
	r, err := e.CreateRule(ctx, Rule{ID: "m", Name: "muted", Filter: "fault", Condition: Condition{Kind: KindTrace, Window: Duration(time.Minute)},
		Mute: []MuteWindow{{Start: now.Add(-time.Hour), End: now.Add(time.Hour)}}})
	if err != nil {
		t.Fatal(err)
	}
	id := tid(5000)
	e.ObserveSpans(id, []segment.Span{span(id, "a", "", "api", true, true)})
	waitFor(t, 3*time.Second, "firing", func() bool { rs, _ := e.Rule("m"); return rs.Status.State == StateFiring })
	time.Sleep(500 * time.Millisecond)
	if len(c.all()) != 0 {
		t.Fatal("notified while muted")
	}
	e.Flush(ctx)
	ds := st.snapshotDeliveries()
	if len(ds) != 1 || ds[0].Outcome != "muted" {
		t.Fatalf("deliveries %+v", ds)
	}
	// The mute is lifted: the firing alert is notified.
	r.Mute = nil
	if _, err := e.PutRule(ctx, "m", r); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 3*time.Second, "notified after the mute", func() bool { return len(c.all()) == 1 })
	if n := c.all()[0]; n.State != StateFiring || len(n.SampleTraceIDs) != 1 || n.SampleTraceIDs[0] != id {
		t.Fatalf("notification %+v", n)
	}
}

func TestRuleAPI(t *testing.T) {
	t.Parallel()
	st := newMemStore()
	cfg := testConfig()
	e, c, _ := startEngine(t, cfg, st)
	ctx := context.Background()
	r := Rule{Name: "Count", Condition: Condition{Kind: KindCount, Threshold: 1}}
	got, err := e.CreateRule(ctx, r)
	if err != nil {
		t.Fatal(err)
	}
	if got.ID != "count" || got.Source != SourceAPI || got.CreatedAt.IsZero() {
		t.Fatalf("CreateRule = %+v", got)
	}
	if _, err := e.CreateRule(ctx, r); !errors.Is(err, ErrConflict) {
		t.Fatalf("second CreateRule = %v, want ErrConflict", err)
	}
	var ve *ValidationError
	if _, err := e.PutRule(ctx, "count", Rule{Name: "x", Condition: Condition{Kind: "nope"}}); !errors.As(err, &ve) {
		t.Fatalf("PutRule(bad) = %v", err)
	}
	if _, err := e.PutRule(ctx, "other", got); !errors.As(err, &ve) {
		t.Fatalf("PutRule(id mismatch) = %v", err)
	}
	if err := e.DeleteRule(ctx, "nope"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("DeleteRule(nope) = %v", err)
	}
	// It fires (count 5 > 1), then is deleted: resolved notification.
	st.setResult(chstore.AlertCount, chstore.AlertResult{Total: 5, Matching: 5, Value: 5})
	got.Interval = Duration(time.Second)
	if _, err := e.PutRule(ctx, "count", got); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 40*time.Second, "firing", func() bool { return len(c.all()) == 1 })
	if err := e.DeleteRule(ctx, "count"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 3*time.Second, "resolved", func() bool { return len(c.all()) == 2 })
	if n := c.all()[1]; n.State != StateResolved {
		t.Fatalf("after delete: %+v", n)
	}
	if len(e.Rules()) != 0 {
		t.Fatalf("rules left: %+v", e.Rules())
	}
	// Rules survive a restart (stored).
	if _, err := e.CreateRule(ctx, Rule{ID: "keep", Name: "Keep", Filter: "error", Condition: Condition{Kind: KindTrace}}); err != nil {
		t.Fatal(err)
	}
	e2, _, _ := startEngine(t, cfg, st)
	if _, err := e2.Rule("keep"); err != nil {
		t.Fatal(err)
	}
}

func TestRootCauseService(t *testing.T) {
	for _, tc := range []struct {
		name  string
		spans []segment.Span
		want  *ServiceRef
	}{
		{"ok trace: entry point", []segment.Span{span("t", "a", "", "web", true, false), span("t", "b", "a", "api", true, false)},
			&ServiceRef{Name: "web", Type: "AWS::EC2::Instance"}},
		{"deepest fault", []segment.Span{span("t", "a", "", "web", true, true), span("t", "b", "a", "api", true, true), span("t", "c", "b", "db", true, false)},
			&ServiceRef{Name: "api", Type: "AWS::EC2::Instance"}},
		{"inferred node", []segment.Span{span("t", "a", "", "web", true, true),
			func() segment.Span {
				s := span("t", "s", "a", "web", false, true)
				s.Name, s.Namespace = "DynamoDB", "aws"
				return s
			}()}, &ServiceRef{Name: "DynamoDB", Type: "AWS::DynamoDB"}},
		{"error only", []segment.Span{span("t", "a", "", "web", true, false),
			func() segment.Span { s := span("t", "b", "a", "auth", true, false); s.HTTPStatus = 403; return s }()},
			&ServiceRef{Name: "auth", Type: "AWS::EC2::Instance"}},
	} {
		got := rootCauseService(tc.spans)
		if got == nil || *got != *tc.want {
			t.Errorf("%s: rootCauseService = %+v, want %+v", tc.name, got, tc.want)
		}
	}
}

// failingStore fails every read until ok is set.
type failingStore struct {
	*memStore
	ok atomic.Bool
}

func (f *failingStore) AlertRules(ctx context.Context) ([]chstore.AlertRuleRecord, error) {
	if !f.ok.Load() {
		return nil, errors.New("clickhouse: connection refused")
	}
	return f.memStore.AlertRules(ctx)
}

// TestRunRetriesLoad: ClickHouse unavailable at start does not stop the
// engine (nor the process): it retries and then runs.
func TestRunRetriesLoad(t *testing.T) {
	t.Parallel()
	st := &failingStore{memStore: newMemStore()}
	e, err := New(testConfig(), Settings{Store: st})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- e.Run(ctx) }()
	time.Sleep(300 * time.Millisecond)
	select {
	case err := <-done:
		t.Fatalf("Run returned while the store fails: %v", err)
	case <-e.Ready():
		t.Fatal("ready without loading")
	default:
	}
	st.ok.Store(true)
	select {
	case <-e.Ready():
	case <-time.After(5 * time.Second):
		t.Fatal("not ready after the store recovered")
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

// TestPerTraceAnnotationRules: rules naming annotation values are screened
// with the trace's annotations before matching; the screen never hides a
// match, also when the annotation arrives in a later document than the
// failure, and rules without annotations still see every trace.
func TestPerTraceAnnotationRules(t *testing.T) {
	t.Parallel()
	e, c, _ := startEngine(t, testConfig(), newMemStore())
	ctx := context.Background()
	for _, r := range []Rule{
		{ID: "tenant-faults", Name: "t1 faults", Filter: `annotation.tenant = "t1" AND fault`},
		{ID: "gold-or-t2", Name: "gold or t2", Filter: `annotation.tier = "gold" OR annotation.tenant = "t2"`},
		{ID: "faults", Name: "faults", Filter: `fault`},
	} {
		r.Condition = Condition{Kind: KindTrace, Window: Duration(time.Minute)}
		if _, err := e.CreateRule(ctx, r); err != nil {
			t.Fatal(err)
		}
	}
	annotated := func(sp segment.Span, k, v string) segment.Span {
		sp.AnnStrKeys, sp.AnnStrValues = []string{k}, []string{v}
		return sp
	}
	// 0: faults, tenant t1 on a subsegment that comes later.
	e.ObserveSpans(tid(9100), []segment.Span{span(tid(9100), "a1", "", "api", true, true)})
	// 1: faults, tenant t3.
	e.ObserveSpans(tid(9101), []segment.Span{annotated(span(tid(9101), "a1", "", "api", true, true), "tenant", "t3")})
	// 2: no fault, tier gold.
	e.ObserveSpans(tid(9102), []segment.Span{annotated(span(tid(9102), "a1", "", "api", true, false), "tier", "gold")})
	// 3: no fault, tenant T2 (values are case-sensitive).
	e.ObserveSpans(tid(9103), []segment.Span{annotated(span(tid(9103), "a1", "", "api", true, false), "tenant", "T2")})
	time.Sleep(200 * time.Millisecond) // trace 0 settles and is evaluated without its annotation
	e.ObserveSpans(tid(9100), []segment.Span{annotated(span(tid(9100), "b1", "a1", "db", false, false), "tenant", "t1")})
	want := map[string][]string{
		"tenant-faults": {tid(9100)},
		"gold-or-t2":    {tid(9102)},
		"faults":        {tid(9100), tid(9101)},
	}
	got := func() map[string][]string { return c.tracesByRule() }
	waitFor(t, 5*time.Second, "the three rules notified", func() bool { return len(got()) == 3 && len(got()["faults"]) == 2 })
	time.Sleep(700 * time.Millisecond) // a group interval: nothing more comes
	if g := got(); !reflect.DeepEqual(g, want) {
		t.Errorf("notified %v, want %v", g, want)
	}
}

// TestWriteDocumentsCopies: a batch's documents, their traces interleaved,
// are grouped by trace and copied, so changing the batch afterwards (the
// collector reuses it) changes nothing the rules see.
func TestWriteDocumentsCopies(t *testing.T) {
	t.Parallel()
	e, c, _ := startEngine(t, testConfig(), newMemStore())
	if _, err := e.CreateRule(context.Background(), Rule{ID: "t1", Name: "t1 faults", Filter: `annotation.tenant = "t1" AND fault AND annotation.n = 7`,
		Condition: Condition{Kind: KindTrace, Window: Duration(time.Minute)}}); err != nil {
		t.Fatal(err)
	}
	a, b := tid(9200), tid(9201)
	doc := func(spans ...segment.Span) segment.Document {
		return segment.Document{TraceID: spans[0].TraceID, ID: spans[0].ID, Spans: spans}
	}
	withAnn := func(sp segment.Span, k, v string) segment.Span {
		sp.AnnStrKeys, sp.AnnStrValues = []string{k}, []string{v}
		sp.AnnNumKeys, sp.AnnNumValues = []string{"n"}, []float64{7}
		return sp
	}
	docs := []segment.Document{
		doc(span(a, "a1", "", "api", true, true)),
		doc(withAnn(span(b, "b1", "", "api", true, false), "tenant", "t1")),
		doc(span(a, "a2", "a1", "api", true, false), withAnn(span(a, "a3", "a2", "db", false, false), "tenant", "t1")),
	}
	if err := e.WriteDocuments(context.Background(), docs); err != nil {
		t.Fatal(err)
	}
	for i := range docs {
		for j := range docs[i].Spans {
			sp := &docs[i].Spans[j]
			for k := range sp.AnnStrValues {
				sp.AnnStrValues[k] = "clobbered"
			}
			for k := range sp.AnnNumValues {
				sp.AnnNumValues[k] = -1
			}
			sp.Fault = !sp.Fault
		}
	}
	waitFor(t, 5*time.Second, "a notification", func() bool { return len(c.all()) == 1 })
	time.Sleep(500 * time.Millisecond)
	if n := c.all(); len(n) != 1 || !slices.Equal(n[0].SampleTraceIDs, []string{a}) {
		t.Fatalf("notifications %+v, want one for %s", n, a)
	}
}

// decodeDocs decodes segment documents as the collector does, so that
// they carry their JSON (Raw) like the collector's batches.
func decodeDocs(t *testing.T, jsons ...string) []segment.Document {
	t.Helper()
	dec := segment.NewDecoder(segment.Limits{})
	var docs []segment.Document
	for _, j := range jsons {
		var err error
		if docs, err = dec.Decode([]byte(j), time.Now().UnixNano(), docs); err != nil {
			t.Fatalf("decode %s: %v", j, err)
		}
	}
	return docs
}

// TestHeldAsJSON: documents no rule can match on what they carry are held
// as JSON and never evaluated; a later document that meets a rule's needs
// (a failing subsegment after its root, the annotation after the failure)
// has the trace decoded and evaluated whole, and the match is found.
func TestHeldAsJSON(t *testing.T) {
	t.Parallel()
	cfg := testConfig()
	cfg.TraceMemory = 300 * time.Millisecond
	e, c, _ := startEngine(t, cfg, newMemStore())
	ctx := context.Background()
	for _, r := range []Rule{
		{ID: "payments-faults", Name: "payments faults", Filter: `service("payments") { fault } AND annotation.tenant = "t1"`},
		{ID: "slow-errors", Name: "slow errors", Filter: `error AND responsetime > 0.05`},
	} {
		r.Condition = Condition{Kind: KindTrace, Window: Duration(time.Minute)}
		if _, err := e.CreateRule(ctx, r); err != nil {
			t.Fatal(err)
		}
	}
	now := float64(time.Now().UnixNano()) / 1e9
	seg := func(trace, id, parent, name string, fault bool, extra string) string {
		p := ""
		if parent != "" {
			p = fmt.Sprintf(`"parent_id":%q,`, parent)
		}
		return fmt.Sprintf(`{"trace_id":%q,"id":%q,%s"name":%q,"start_time":%.6f,"end_time":%.6f,"fault":%t%s}`,
			trace, id, p, name, now-0.2, now, fault, extra)
	}
	a, b, c2, d := tid(9300), tid(9301), tid(9302), tid(9303)
	// a: root with the tenant, then (later) the payments segment faults.
	// b: the payments fault first, the tenant later, on another document.
	// c2: tenant t1, faults elsewhere (never matches payments-faults).
	// d: nothing failing at all (held as JSON, never evaluated).
	e.ObserveDocuments(decodeDocs(t,
		seg(a, "00000000000000a1", "", "api", false, `,"annotations":{"tenant":"t1"}`),
		seg(b, "00000000000000b1", "", "payments", true, ""),
		seg(c2, "00000000000000c1", "", "api", false, `,"annotations":{"tenant":"t1"}`),
		seg(d, "00000000000000d1", "", "api", false, `,"annotations":{"tenant":"t1"}`),
	))
	time.Sleep(150 * time.Millisecond) // past the settle time
	e.ObserveDocuments(decodeDocs(t,
		seg(a, "00000000000000a2", "00000000000000a1", "payments", true, ""),
		seg(b, "00000000000000b2", "00000000000000b1", "db", false, `,"annotations":{"tenant":"t1"}`),
		seg(c2, "00000000000000c2", "00000000000000c1", "orders", true, ""),
		seg(d, "00000000000000d2", "00000000000000d1", "orders", false, ""),
	))
	got := func() map[string][]string { return c.tracesByRule() }
	want := map[string][]string{"payments-faults": {a, b}}
	waitFor(t, 5*time.Second, "payments-faults notified for both traces", func() bool { return len(got()["payments-faults"]) == 2 })
	waitFor(t, 5*time.Second, "trace d forgotten unevaluated", func() bool { return e.Stats().TracesSkipped >= 1 })
	if g := got(); !reflect.DeepEqual(g, want) {
		t.Errorf("notified %v, want %v", g, want)
	}
	// a, b and c2 were evaluated (they fault), d never was.
	if s := e.Stats(); s.TracesEvaluated != 3 || s.TracesSkipped != 1 || s.DecodeErrors != 0 {
		t.Errorf("evaluated %d and skipped %d traces with %d decode errors, want 3, 1 and 0", s.TracesEvaluated, s.TracesSkipped, s.DecodeErrors)
	}
}

// TestHeldAsJSONRuleChange: a trace held as JSON under one set of rules is
// decoded and evaluated by the rules installed after it arrived, when its
// next document comes.
func TestHeldAsJSONRuleChange(t *testing.T) {
	t.Parallel()
	e, c, _ := startEngine(t, testConfig(), newMemStore())
	ctx := context.Background()
	rule := func(id, filter string) {
		if _, err := e.CreateRule(ctx, Rule{ID: id, Name: id, Filter: filter, Condition: Condition{Kind: KindTrace, Window: Duration(time.Minute)}}); err != nil {
			t.Fatal(err)
		}
	}
	rule("tenant-z", `annotation.tenant = "z"`)
	now := float64(time.Now().UnixNano()) / 1e9
	a := tid(9400)
	e.ObserveDocuments(decodeDocs(t, fmt.Sprintf(`{"trace_id":%q,"id":"00000000000000a1","name":"api","start_time":%.6f,"end_time":%.6f,"annotations":{"tier":"gold"}}`, a, now-0.2, now)))
	time.Sleep(100 * time.Millisecond)
	rule("gold", `annotation.tier = "gold"`)
	e.ObserveDocuments(decodeDocs(t, fmt.Sprintf(`{"trace_id":%q,"id":"00000000000000a2","parent_id":"00000000000000a1","name":"db","start_time":%.6f,"end_time":%.6f}`, a, now-0.1, now)))
	waitFor(t, 5*time.Second, "the new rule notified", func() bool { return len(c.all()) == 1 })
	if n := c.all()[0]; n.Rule.ID != "gold" || !slices.Equal(n.SampleTraceIDs, []string{a}) {
		t.Errorf("notified %s for %v, want gold for %s", n.Rule.ID, n.SampleTraceIDs, a)
	}
}

func TestDueFIFO(t *testing.T) {
	var q dueFIFO
	t0 := time.Unix(1000, 0)
	const n = 5000
	for i := range n {
		q.push(dueItem{at: t0.Add(time.Duration(i) * time.Millisecond), id: fmt.Sprint(i)})
	}
	if q.due(t0.Add(-time.Nanosecond)) {
		t.Fatal("due before the first item's time")
	}
	for i := range n {
		if !q.due(t0.Add(time.Duration(i) * time.Millisecond)) {
			t.Fatalf("item %d not due at its time", i)
		}
		if it := q.pop(); it.id != fmt.Sprint(i) {
			t.Fatalf("pop %d = %s", i, it.id)
		}
		if i == n/2 {
			q.push(dueItem{at: t0.Add(time.Hour), id: "late"}) // pushed while the queue compacts
		}
	}
	if q.due(t0.Add(time.Hour-time.Nanosecond)) || !q.due(t0.Add(time.Hour)) || q.pop().id != "late" || q.due(t0.Add(2*time.Hour)) {
		t.Fatal("the item pushed midway is not the last one, due at its time")
	}
}

// TestTraceScreenGeneration: a rebuild that looks for the same annotation
// values keeps the screen's generation (held documents' features stay
// valid); one that looks for other values starts a new one.
func TestTraceScreenGeneration(t *testing.T) {
	rule := func(expr string) *traceRule {
		x, err := filter.Parse(expr)
		if err != nil {
			t.Fatal(err)
		}
		return &traceRule{id: expr, expr: x, needs: x.SpanNeeds()}
	}
	a := newTraceScreen([]*traceRule{rule(`annotation.t = "1" AND fault`)}, nil)
	tests := []struct {
		name  string
		rules []*traceRule
		same  bool
	}{
		{"same rules", []*traceRule{rule(`annotation.t = "1" AND fault`)}, true},
		{"other classes, same values", []*traceRule{rule(`annotation.t = "1" AND error`), rule(`throttle`)}, true},
		{"a new value", []*traceRule{rule(`annotation.t = "1" AND fault`), rule(`annotation.t = "2"`)}, false},
		{"no values", []*traceRule{rule(`fault`)}, false},
	}
	for _, tt := range tests {
		if b := newTraceScreen(tt.rules, a); (b.gen == a.gen) != tt.same {
			t.Errorf("%s: generation %d after %d, want same=%v", tt.name, b.gen, a.gen, tt.same)
		}
	}
}

// TestQuietEvaluationsWriteNothing: threshold evaluations that change
// nothing but the evaluation time write no state to the store; a changed
// value does.
func TestQuietEvaluationsWriteNothing(t *testing.T) {
	t.Parallel()
	st := newMemStore()
	st.setResult(chstore.AlertCount, chstore.AlertResult{Total: 1, Matching: 1, Value: 1})
	e, _, _ := startEngine(t, testConfig(), st)
	if _, err := e.CreateRule(context.Background(), Rule{ID: "quiet", Name: "quiet", Filter: "fault", Interval: Duration(time.Second),
		Condition: Condition{Kind: KindCount, Window: Duration(time.Minute), Threshold: 5}}); err != nil {
		t.Fatal(err)
	}
	writes := func() int {
		st.mu.Lock()
		defer st.mu.Unlock()
		return st.stateWrites["quiet"]
	}
	waitFor(t, 5*time.Second, "three evaluations", func() bool { return e.Stats().Evaluations >= 3 })
	time.Sleep(200 * time.Millisecond) // a flush interval and more
	if n := writes(); n != 1 {
		t.Errorf("%d state writes after 3 equal evaluations, want 1 (the first result)", n)
	}
	st.setResult(chstore.AlertCount, chstore.AlertResult{Total: 2, Matching: 2, Value: 2})
	waitFor(t, 5*time.Second, "the changed value written", func() bool { return writes() == 2 })
}

// TestHistoryReadsBufferedEvents: history and deliveries not yet written
// by the flusher (it writes them every few intervals) are written before
// the API reads them.
func TestHistoryReadsBufferedEvents(t *testing.T) {
	t.Parallel()
	cfg := testConfig()
	cfg.FlushInterval = time.Hour // the flusher never runs during the test
	st := newMemStore()
	e, c, _ := startEngine(t, cfg, st)
	fire(t, e, 1)
	waitFor(t, 5*time.Second, "a notification", func() bool { return len(c.all()) == 1 })
	evs, err := e.History(context.Background(), chstore.AlertEventQuery{RuleID: "f", Limit: 10})
	if err != nil {
		t.Fatal(err)
	}
	if len(evs) == 0 || evs[0].State != StateFiring {
		t.Fatalf("history %+v, want the firing event", evs)
	}
	waitFor(t, 5*time.Second, "a delivery recorded", func() bool {
		ds, err := e.Deliveries(context.Background(), chstore.AlertDeliveryQuery{RuleID: "f", Limit: 10})
		return err == nil && len(ds) > 0
	})
}

// tracesByRule returns the sample trace ids notified so far, by rule,
// sorted.
func (c *capture) tracesByRule() map[string][]string {
	m := map[string][]string{}
	for _, n := range c.all() {
		m[n.Rule.ID] = append(m[n.Rule.ID], n.SampleTraceIDs...)
	}
	for k := range m {
		slices.Sort(m[k])
	}
	return m
}
