package alert_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-xray-sdk-go/header"
	"github.com/aws/aws-xray-sdk-go/strategy/sampling"
	"github.com/aws/aws-xray-sdk-go/xray"
	"github.com/aws/aws-xray-sdk-go/xraylog"

	"github.com/fluoro/fluoro/collector"
	"github.com/fluoro/fluoro/collector/segment"
	"github.com/fluoro/fluoro/query/alert"
	"github.com/fluoro/fluoro/query/live"
	"github.com/fluoro/fluoro/schema/chstore"
	"github.com/fluoro/fluoro/schema/chtest"
)

// The wiring README.md gives main.go.
var (
	_ collector.Sink  = (*alert.Engine)(nil)
	_ alert.Store     = (*chstore.Store)(nil)
	_ alert.Publisher = (*live.Hub)(nil)
	_ alert.QueryFunc = (*chstore.Store)(nil).EvaluateAlerts
	_ live.GraphSink  = (*alert.Engine)(nil).Observe
)

func TestMain(m *testing.M) {
	xray.SetLogger(xraylog.NewDefaultLogger(io.Discard, xraylog.LogLevelError))
	chtest.Main(m)
}

// hook is a real HTTP webhook receiver.
type hook struct {
	srv    *httptest.Server
	mu     sync.Mutex
	got    []alert.Notification
	at     []time.Time
	status atomic.Int64
	calls  atomic.Int64
}

func newHook(t testing.TB) *hook {
	h := &hook{}
	h.status.Store(200)
	h.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h.calls.Add(1)
		var n alert.Notification
		if err := json.NewDecoder(r.Body).Decode(&n); err != nil {
			t.Errorf("webhook body: %v", err)
		}
		code := int(h.status.Load())
		if code == 200 {
			h.mu.Lock()
			h.got, h.at = append(h.got, n), append(h.at, time.Now())
			h.mu.Unlock()
		}
		w.WriteHeader(code)
	}))
	t.Cleanup(h.srv.Close)
	return h
}

// find returns the notifications of rule in state.
func (h *hook) find(rule, state string) []alert.Notification {
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []alert.Notification
	for _, n := range h.got {
		if n.Rule.ID == rule && n.State == state {
			out = append(out, n)
		}
	}
	return out
}

func (h *hook) count() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.got)
}

// tee writes to the store, then hands the batch to the best-effort
// consumers (the live feed, the engine), as main's teeSink does.
type tee struct {
	store  *chstore.Store
	feed   *live.Feed // nil: none
	stored *atomic.Int64
	// seen, when set, is called with every stored document's trace id.
	seen func(traceID string)
}

func (t tee) WriteDocuments(ctx context.Context, docs []segment.Document) error {
	if err := t.store.WriteDocuments(ctx, docs); err != nil {
		return err
	}
	t.stored.Add(int64(len(docs)))
	if t.seen != nil {
		for i := range docs {
			t.seen(docs[i].TraceID)
		}
	}
	if t.feed != nil {
		_ = t.feed.WriteDocuments(ctx, docs)
	}
	return nil
}

// engineObserver hands each batch to the current engine before it is
// stored, as `fluoro up` wires it (collector.Settings.Observers).
type engineObserver struct{ eng *atomic.Pointer[alert.Engine] }

func (o engineObserver) ObserveDocuments(docs []segment.Document) {
	if e := o.eng.Load(); e != nil {
		e.ObserveDocuments(docs)
	}
}

// harness is Fluoro's ingest path with alerting: UDP → collector →
// ClickHouse, then the live feed; the engine sees each batch before it is
// stored (engine.ObserveDocuments as a collector.Observer, as README.md
// tells main to wire it; or, with viaFeed, through the live feed's
// GraphSink hook engine.Observe).
type harness struct {
	t       testing.TB
	col     *collector.Collector
	stored  atomic.Int64
	db      *chtest.DB
	store   *chstore.Store
	udp     string
	hook    *hook
	cfg     alert.Config
	eng     atomic.Pointer[alert.Engine]
	stopEng func()
}

func newHarness(t testing.TB, mut func(*alert.Config)) *harness {
	return newHarnessOpts(t, harnessOpts{alerting: true, mut: mut, batchWait: 200 * time.Millisecond})
}

// harnessOpts: alerting false runs only collector → ClickHouse (and the
// idle live feed), the ingest baseline; viaFeed feeds the engine from the
// live feed's GraphSink instead of the tee.
type harnessOpts struct {
	alerting, viaFeed bool
	mut               func(*alert.Config)
	batchWait         time.Duration
	seen              func(traceID string)
}

func newHarnessOpts(t testing.TB, o harnessOpts) *harness {
	t.Helper()
	mut := o.mut
	h := &harness{t: t, db: chtest.New(t), hook: newHook(t)}
	ctx, cancel := context.WithCancel(context.Background())
	var err error
	if h.store, err = chstore.Open(ctx, h.db.DSN, chstore.Options{}); err != nil {
		t.Fatal(err)
	}
	hub := live.NewHub(live.DefaultHubConfig(), nil, nil)
	var hooks []live.GraphSink
	if o.viaFeed {
		hooks = append(hooks, func(u *live.TraceUpdate) {
			if e := h.eng.Load(); e != nil {
				e.Observe(u)
			}
		})
	}
	feed := live.NewFeed(live.DefaultFeedConfig(), hub, nil, hooks...)
	cc := collector.DefaultConfig()
	cc.UDPAddr, cc.TCPAddr, cc.OTLPAddr, cc.SpoolDir = "127.0.0.1:0", "", "", t.TempDir()
	if o.batchWait > 0 {
		cc.BatchWait = o.batchWait
	}
	sink := tee{store: h.store, feed: feed, stored: &h.stored, seen: o.seen}
	var observers []collector.Observer
	if o.alerting && !o.viaFeed {
		observers = append(observers, engineObserver{&h.eng})
	}
	col, err := collector.New(cc, collector.Settings{Sink: sink, Observers: observers})
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for _, run := range []func(context.Context) error{col.Run, feed.Run, hub.Run} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := run(ctx); err != nil {
				t.Error(err)
			}
		}()
	}
	select {
	case <-col.Ready():
	case <-time.After(30 * time.Second):
		t.Fatal("the collector did not start (see its error above)")
	}
	h.col = col
	h.udp = col.UDPAddr().String()
	t.Cleanup(func() {
		if h.stopEng != nil {
			h.stopEng()
		}
		cancel()
		wg.Wait()
		h.store.Close()
	})
	h.cfg = alert.DefaultConfig()
	h.cfg.WebhookURL = h.hook.srv.URL + "/alerts"
	h.cfg.ExternalURL = "http://fluoro.test:2001"
	h.cfg.TraceSettle = 500 * time.Millisecond
	h.cfg.GroupWait = 500 * time.Millisecond
	h.cfg.GroupInterval = time.Second
	h.cfg.FlushInterval = 200 * time.Millisecond
	h.cfg.NotifyBackoff = 100 * time.Millisecond
	h.cfg.Samples = 1000
	if mut != nil {
		mut(&h.cfg)
	}
	if o.alerting {
		h.startEngine()
	}
	return h
}

func (h *harness) startEngine() {
	h.t.Helper()
	e, err := alert.New(h.cfg, alert.Settings{Store: h.store, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		h.t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- e.Run(ctx) }()
	select {
	case <-e.Ready():
	case err := <-done:
		h.t.Fatalf("engine: %v", err)
	}
	h.eng.Store(e)
	h.stopEng = func() {
		h.eng.Store(nil)
		cancel()
		if err := <-done; err != nil {
			h.t.Errorf("engine: %v", err)
		}
		h.stopEng = nil
	}
}

func (h *harness) engine() *alert.Engine { return h.eng.Load() }

func (h *harness) status(rule string) alert.Status {
	rs, err := h.engine().Rule(rule)
	if err != nil {
		h.t.Fatal(err)
	}
	return rs.Status
}

func waitFor(t testing.TB, d time.Duration, what string, cond func() bool) time.Duration {
	t.Helper()
	start := time.Now()
	for !cond() {
		if time.Since(start) > d {
			t.Fatalf("timed out after %v waiting for %s", d, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
	return time.Since(start)
}

// shop is two services instrumented with aws-xray-sdk-go: checkout calls
// payments, which answers 500 while faulting is set (checkout then
// answers 502).
type shop struct {
	url      string
	faulting atomic.Bool
	phase    atomic.Int64
	mu       sync.Mutex
	traces   map[string]bool // trace id → the request failed
	phases   map[string]int64
}

func (s *shop) setPhase(p int64) { s.phase.Store(p) }

func (s *shop) phaseOf(id string) int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.phases[id]
}

func startShop(t *testing.T, daemon string) *shop {
	s := &shop{traces: map[string]bool{}, phases: map[string]int64{}}
	raddr, err := net.ResolveUDPAddr("udp", daemon)
	if err != nil {
		t.Fatal(err)
	}
	em, err := xray.NewDefaultEmitter(raddr)
	if err != nil {
		t.Fatal(err)
	}
	strat, err := sampling.NewLocalizedStrategyFromJSONBytes([]byte(`{"version":2,"default":{"fixed_target":1000,"rate":1.0},"rules":[]}`))
	if err != nil {
		t.Fatal(err)
	}
	xctx, err := xray.ContextWithConfig(context.Background(), xray.Config{DaemonAddr: daemon, Emitter: em, SamplingStrategy: strat, ServiceVersion: "test"})
	if err != nil {
		t.Fatal(err)
	}
	payments := httptest.NewServer(xray.HandlerWithContext(xctx, xray.NewFixedSegmentNamer("payments"), http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if s.faulting.Load() {
			http.Error(w, "card processor down", http.StatusInternalServerError)
			return
		}
		_, _ = io.WriteString(w, "paid")
	})))
	t.Cleanup(payments.Close)
	client := xray.Client(&http.Client{Timeout: 5 * time.Second})
	checkout := httptest.NewServer(xray.HandlerWithContext(xctx, xray.NewFixedSegmentNamer("checkout"), http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		req, _ := http.NewRequestWithContext(r.Context(), http.MethodPost, payments.URL+"/pay", nil)
		resp, err := client.Do(req)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		resp.Body.Close()
		if resp.StatusCode != 200 {
			http.Error(w, "payment failed", http.StatusBadGateway)
			return
		}
		_, _ = io.WriteString(w, "ordered")
	})))
	t.Cleanup(checkout.Close)
	s.url = checkout.URL
	return s
}

// drive sends requests at rate per second until ctx is done, recording
// each trace id and whether it failed.
func (s *shop) drive(ctx context.Context, t *testing.T, rate int) {
	tick := time.NewTicker(time.Second / time.Duration(rate))
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
			phase := s.phase.Load()
			resp, err := http.Get(s.url + "/order")
			if err != nil {
				t.Errorf("order: %v", err)
				return
			}
			resp.Body.Close()
			h := header.FromString(resp.Header.Get("X-Amzn-Trace-Id"))
			if h.TraceID == "" {
				t.Errorf("no trace header in %v", resp.Header)
				return
			}
			s.mu.Lock()
			s.traces[h.TraceID] = resp.StatusCode != 200
			s.phases[h.TraceID] = max(phase, s.phase.Load())
			s.mu.Unlock()
		}
	}
}

func (s *shop) failed() map[string]bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := map[string]bool{}
	for id, f := range s.traces {
		if f {
			out[id] = true
		}
	}
	return out
}

// TestEndToEnd: an instrumented service starts faulting → notifications
// within 10 s carrying its trace ids; Fluoro's alerting restarts while
// firing → no duplicate, still firing; the service recovers → resolved
// notifications. The per-trace rule notifies every failed trace exactly
// once and no other (traces sent while the engine restarts aside).
func TestEndToEnd(t *testing.T) {
	t.Parallel()
	h := newHarness(t, nil)
	ctx := context.Background()
	eng := h.engine()
	if _, err := eng.CreateRule(ctx, alert.Rule{ID: "payments-faults", Name: "Payments faults", Filter: `service("payments") { fault }`,
		Severity: alert.SeverityCritical, Condition: alert.Condition{Kind: alert.KindTrace, Window: alert.Duration(5 * time.Second)}}); err != nil {
		t.Fatal(err)
	}
	if _, err := eng.CreateRule(ctx, alert.Rule{ID: "payments-ratio", Name: "Payments fault ratio",
		Condition: alert.Condition{Kind: alert.KindRatio, Service: "payments", Threshold: 0.5, Window: alert.Duration(6 * time.Second), MinRequests: 5},
		Interval:  alert.Duration(time.Second)}); err != nil {
		t.Fatal(err)
	}
	s := startShop(t, h.udp)
	lctx, stopLoad := context.WithCancel(ctx)
	loadDone := make(chan struct{})
	go func() { defer close(loadDone); s.drive(lctx, t, 20) }()
	defer func() { stopLoad(); <-loadDone }()
	time.Sleep(2 * time.Second) // healthy traffic: nothing fires
	waitFor(t, 5*time.Second, "a ratio evaluation with traffic", func() bool { return h.status("payments-ratio").Counts.Total > 0 })
	if st := h.status("payments-ratio"); st.State != alert.StateInactive {
		t.Fatalf("healthy: ratio status %+v", st)
	}

	// Faulting: both rules notify within 10 s.
	s.setPhase(1)
	s.faulting.Store(true)
	faultStart := time.Now()
	waitFor(t, 10*time.Second, "firing notifications", func() bool {
		return len(h.hook.find("payments-faults", alert.StateFiring)) > 0 && len(h.hook.find("payments-ratio", alert.StateFiring)) > 0
	})
	t.Logf("firing notifications %v after the first fault", time.Since(faultStart).Round(time.Millisecond))
	time.Sleep(time.Second)
	failed := s.failed()
	for _, rule := range []string{"payments-faults", "payments-ratio"} {
		n := h.hook.find(rule, alert.StateFiring)[0]
		if len(n.SampleTraceIDs) == 0 || n.Rule.Severity == "" || n.Alert.ID == "" || !strings.HasPrefix(n.Links.Samples[0], "http://fluoro.test:2001/traces/1-") {
			t.Fatalf("%s notification %+v", rule, n)
		}
		for _, id := range n.SampleTraceIDs {
			if !failed[id] {
				t.Errorf("%s: sample trace %s did not fail", rule, id)
			}
		}
	}
	firingAlert := h.status("payments-faults").AlertID
	ratioAlert := h.status("payments-ratio").AlertID

	// Restart while firing (the service keeps faulting): the ratio alert
	// is not notified again, the per-trace alert only with new traces.
	s.setPhase(2) // traces from now until after the restart may be missed
	time.Sleep(3 * time.Second)
	h.stopEng()
	h.startEngine()
	if st := h.status("payments-faults"); st.State != alert.StateFiring || st.AlertID != firingAlert {
		t.Fatalf("per-trace rule after restart: %+v", st)
	}
	if st := h.status("payments-ratio"); st.State != alert.StateFiring || st.AlertID != ratioAlert {
		t.Fatalf("ratio rule after restart: %+v", st)
	}
	time.Sleep(1500 * time.Millisecond)
	s.setPhase(3)
	time.Sleep(2 * time.Second)
	if n := len(h.hook.find("payments-ratio", alert.StateFiring)); n != 1 {
		t.Fatalf("ratio alert notified %d times, want once", n)
	}
	if st := h.status("payments-ratio"); st.State != alert.StateFiring || st.AlertID != ratioAlert {
		t.Fatalf("ratio rule after restart: %+v", st)
	}

	// Recovery: resolved notifications for both.
	s.setPhase(4)
	s.faulting.Store(false)
	waitFor(t, 20*time.Second, "resolved notifications", func() bool {
		return len(h.hook.find("payments-faults", alert.StateResolved)) == 1 && len(h.hook.find("payments-ratio", alert.StateResolved)) == 1
	})
	for rule, id := range map[string]string{"payments-faults": firingAlert, "payments-ratio": ratioAlert} {
		r := h.hook.find(rule, alert.StateResolved)[0]
		if r.Alert.ID != id || r.Alert.EndsAt.IsZero() {
			t.Errorf("%s resolved notification %+v", rule, r)
		}
	}
	fs := h.hook.find("payments-faults", alert.StateFiring)
	for i, n := range fs {
		if n.Alert.ID != firingAlert || n.Update != (i > 0) || n.Alert.Seq != i+1 {
			t.Errorf("per-trace notification %d: id %s update %v seq %d", i, n.Alert.ID, n.Update, n.Alert.Seq)
		}
	}
	notified := map[string]int{}
	for _, n := range fs {
		for _, id := range n.SampleTraceIDs {
			notified[id]++
		}
	}
	failed = s.failed()
	for id, n := range notified {
		if n != 1 || !failed[id] {
			t.Errorf("trace %s notified %d times (failed: %v)", id, n, failed[id])
		}
	}
	missed := 0
	for id := range failed {
		if notified[id] == 0 {
			if p := s.phaseOf(id); p != 2 {
				t.Errorf("failed trace %s (phase %d) not notified", id, p)
			}
			missed++
		}
	}
	t.Logf("%d failed traces, %d notified in %d notifications, %d sent during the restart not seen", len(failed), len(notified), len(fs), missed)
	// History: firing, then resolved, for the same alert.
	if err := h.engine().Flush(ctx); err != nil {
		t.Fatal(err)
	}
	evs, err := h.engine().History(ctx, chstore.AlertEventQuery{EpisodeID: ratioAlert, Oldest: true})
	if err != nil {
		t.Fatal(err)
	}
	if len(evs) != 2 || evs[0].State != alert.StateFiring || evs[1].State != alert.StateResolved || evs[0].RootService != "payments" {
		t.Fatalf("ratio history %+v", evs)
	}
}

// send writes documents to the collector as daemon-protocol datagrams.
func send(t *testing.T, addr string, docs ...string) {
	t.Helper()
	conn, err := net.Dial("udp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	for _, d := range docs {
		if _, err := conn.Write([]byte("{\"format\":\"json\",\"version\":1}\n" + d)); err != nil {
			t.Fatal(err)
		}
	}
}

// TestLateSubsegment: a trace whose failing subsegment arrives well after
// its root segment (after the root was evaluated alone) fires once; the
// traces that do not match never fire. The engine is fed by the live
// feed's hook here (the other tests use the tee).
func TestLateSubsegment(t *testing.T) {
	t.Parallel()
	h := newHarnessOpts(t, harnessOpts{alerting: true, viaFeed: true, batchWait: 200 * time.Millisecond,
		mut: func(c *alert.Config) { c.TraceSettle = 200 * time.Millisecond }})
	if _, err := h.engine().CreateRule(context.Background(), alert.Rule{ID: "partner", Name: "Partner API faults",
		Filter: `service("partner-api") { fault }`, Condition: alert.Condition{Kind: alert.KindTrace, Window: alert.Duration(time.Minute)}}); err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	sec := float64(now.UnixNano()) / 1e9
	trace := func(n int) string { return fmt.Sprintf("1-%08x-%024x", now.Unix(), 0xa1e0+n) }
	root := func(n int, status int) string {
		return fmt.Sprintf(`{"trace_id":%q,"id":"%016x","name":"checkout","start_time":%.6f,"end_time":%.6f,"http":{"response":{"status":%d}}%s}`,
			trace(n), 0x100+n, sec-1, sec, status, map[bool]string{true: `,"fault":true`}[status >= 500])
	}
	sub := func(n int, status int) string {
		return fmt.Sprintf(`{"type":"subsegment","trace_id":%q,"id":"%016x","parent_id":"%016x","name":"partner-api","namespace":"remote","start_time":%.6f,"end_time":%.6f,"http":{"request":{"method":"POST","url":"https://partner.example/pay"},"response":{"status":%d}}%s}`,
			trace(n), 0x200+n, 0x100+n, sec-0.5, sec-0.1, status, map[bool]string{true: `,"fault":true`}[status >= 500])
	}
	// Trace 1: root now, failing partner call later. Trace 2: partner call
	// fine. Trace 3: the root faults, no partner call at all.
	send(t, h.udp, root(1, 502), root(2, 200), root(3, 500))
	waitFor(t, 10*time.Second, "the roots evaluated", func() bool { return h.engine().Stats().TracesEvaluated >= 3 })
	if n := h.engine().Stats().TraceMatches; n != 0 {
		t.Fatalf("%d matches on roots alone", n)
	}
	send(t, h.udp, sub(1, 503), sub(2, 200))
	waitFor(t, 10*time.Second, "the late trace to fire", func() bool { return len(h.hook.find("partner", alert.StateFiring)) == 1 })
	// The same late document again (a retry) and one more document of
	// trace 1: no second match.
	send(t, h.udp, sub(1, 503))
	time.Sleep(2500 * time.Millisecond)
	ns := h.hook.find("partner", alert.StateFiring)
	if len(ns) != 1 || len(ns[0].SampleTraceIDs) != 1 || ns[0].SampleTraceIDs[0] != trace(1) || ns[0].Counts.Matching != 1 {
		t.Fatalf("notifications %+v", ns)
	}
	if st := h.status("partner"); st.Counts.Matching != 1 || st.RootCause == nil || st.RootCause.Name != "partner-api" {
		t.Fatalf("status %+v", st)
	}
}

// TestFailingReceiversDoNotBlockIngestion: with the webhook answering 500
// and a second receiver hanging, a burst of faulting traces is stored in
// full, deliveries are retried and recorded, and evaluation goes on.
func TestFailingReceiversDoNotBlockIngestion(t *testing.T) {
	quit := make(chan struct{})
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-time.After(30 * time.Second):
		case <-r.Context().Done():
		case <-quit:
		}
	}))
	t.Cleanup(slow.Close)
	t.Cleanup(func() { close(quit) })
	h := newHarness(t, func(c *alert.Config) {
		c.ShutdownTimeout = time.Second
		c.SlackURL = slow.URL
		c.NotifyTimeout = 300 * time.Millisecond
		c.NotifyAttempts = 3
		c.GroupInterval = 200 * time.Millisecond
	})
	h.hook.status.Store(500)
	if _, err := h.engine().CreateRule(context.Background(), alert.Rule{ID: "all-faults", Name: "Faults", Filter: "fault",
		Condition: alert.Condition{Kind: alert.KindTrace, Window: alert.Duration(time.Minute)}}); err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	sec := float64(now.UnixNano()) / 1e9
	const n = 3000
	var docs []string
	for i := range n {
		docs = append(docs, fmt.Sprintf(`{"trace_id":"1-%08x-%024x","id":"%016x","name":"api","start_time":%.6f,"end_time":%.6f,"fault":true,"http":{"response":{"status":500}}}`,
			now.Unix(), 0xb000+i, 0x300+i, sec-1, sec))
	}
	for i := 0; i < n; i += 100 {
		send(t, h.udp, docs[i:i+100]...)
		time.Sleep(5 * time.Millisecond)
	}
	waitFor(t, 20*time.Second, "every document stored", func() bool {
		return h.db.Count(t, "SELECT count() FROM "+h.db.Name+".documents") == n
	})
	waitFor(t, 20*time.Second, "every trace evaluated", func() bool { return h.engine().Stats().TraceMatches == n })
	waitFor(t, 20*time.Second, "retries recorded", func() bool {
		if err := h.engine().Flush(context.Background()); err != nil {
			t.Fatal(err)
		}
		ds, err := h.engine().Deliveries(context.Background(), chstore.AlertDeliveryQuery{RuleID: "all-faults", Limit: 1000})
		if err != nil {
			t.Fatal(err)
		}
		var hookGaveUp, slowTimedOut bool
		for _, d := range ds {
			hookGaveUp = hookGaveUp || d.Receiver == "webhook" && d.Outcome == "gave_up" && d.Attempt == 3 && d.HTTPStatus == 500
			slowTimedOut = slowTimedOut || d.Receiver == "slack" && d.Outcome == "failed" && strings.Contains(d.Error, "timed out after 300ms")
		}
		return hookGaveUp && slowTimedOut
	})
	if st := h.status("all-faults"); st.State != alert.StateFiring || st.Counts.Matching != n {
		t.Fatalf("status %+v", st)
	}
	if s := h.engine().Stats(); s.TraceUpdatesDropped != 0 {
		t.Fatalf("dropped %d trace updates", s.TraceUpdatesDropped)
	}
}
