package alert

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/fluoro/fluoro/collector/segment"
	"github.com/fluoro/fluoro/schema/chstore"
)

// receiver is a real HTTP webhook receiver answering with status (after
// delay) and recording the bodies of successful requests.
type receiver struct {
	srv     *httptest.Server
	mu      sync.Mutex
	bodies  [][]byte
	headers []http.Header
	status  atomic.Int64
	delay   atomic.Int64
	calls   atomic.Int64
}

func newReceiver(t *testing.T) *receiver {
	r := &receiver{}
	r.status.Store(200)
	r.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		r.calls.Add(1)
		b, _ := io.ReadAll(req.Body)
		if d := time.Duration(r.delay.Load()); d > 0 {
			select {
			case <-time.After(d):
			case <-req.Context().Done():
				return
			}
		}
		code := int(r.status.Load())
		if code == 200 {
			r.mu.Lock()
			r.bodies = append(r.bodies, b)
			r.headers = append(r.headers, req.Header.Clone())
			r.mu.Unlock()
		}
		w.WriteHeader(code)
		_, _ = w.Write([]byte("receiver says " + http.StatusText(code)))
	}))
	t.Cleanup(r.srv.Close)
	return r
}

func (r *receiver) notifications(t *testing.T) []Notification {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []Notification
	for _, b := range r.bodies {
		var n Notification
		if err := json.Unmarshal(b, &n); err != nil {
			t.Fatalf("webhook body %s: %v", b, err)
		}
		out = append(out, n)
	}
	return out
}

func runEngine(t *testing.T, cfg Config, st Store) *Engine {
	t.Helper()
	e, err := New(cfg, Settings{Store: st})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- e.Run(ctx) }()
	<-e.Ready()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
	})
	return e
}

func fire(t *testing.T, e *Engine, n int) {
	t.Helper()
	if _, err := e.CreateRule(context.Background(), Rule{ID: "f", Name: "Faults", Filter: "fault", Severity: SeverityCritical,
		Condition: Condition{Kind: KindTrace, Window: Duration(time.Minute)}}); err != nil {
		t.Fatal(err)
	}
	for i := range n {
		id := tid(7000 + i)
		e.ObserveSpans(id, []segment.Span{span(id, "a", "", "api", true, true)})
	}
}

func deliveries(t *testing.T, e *Engine, st *memStore) []chstore.AlertDelivery {
	t.Helper()
	if err := e.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	return st.snapshotDeliveries()
}

func TestWebhookPayload(t *testing.T) {
	t.Parallel()
	rc := newReceiver(t)
	cfg := testConfig()
	cfg.WebhookURL = rc.srv.URL + "/hook"
	cfg.ExternalURL = "http://fluoro.example:2001/"
	st := newMemStore()
	e := runEngine(t, cfg, st)
	fire(t, e, 2)
	waitFor(t, 5*time.Second, "webhook", func() bool { return len(rc.notifications(t)) == 1 })
	n := rc.notifications(t)[0]
	if n.Version != "1" || n.State != StateFiring || n.Rule.ID != "f" || n.Rule.Kind != KindTrace || n.Rule.Severity != "critical" ||
		n.Counts.Matching != 2 || len(n.SampleTraceIDs) != 2 || n.Alert.ID == "" || n.ID == "" {
		t.Fatalf("notification %+v", n)
	}
	if n.Links.Traces != "http://fluoro.example:2001/traces?filter=fault" || n.Links.Alert != "http://fluoro.example:2001/alerts?rule=f" ||
		n.Links.Samples[0] != "http://fluoro.example:2001/traces/"+n.SampleTraceIDs[0] {
		t.Fatalf("links %+v", n.Links)
	}
	rc.mu.Lock()
	h := rc.headers[0]
	rc.mu.Unlock()
	if h.Get("Content-Type") != "application/json" || h.Get("X-Fluoro-Notification-Id") != n.ID {
		t.Fatalf("headers %v", h)
	}
	var ds []chstore.AlertDelivery
	waitFor(t, 5*time.Second, "delivery record", func() bool { ds = deliveries(t, e, st); return len(ds) > 0 })
	if len(ds) != 1 || ds[0].Outcome != "delivered" || ds[0].HTTPStatus != 200 || ds[0].Attempt != 1 || ds[0].NotificationID != n.ID {
		t.Fatalf("deliveries %+v", ds)
	}
}

func TestWebhook500Retries(t *testing.T) {
	t.Parallel()
	rc := newReceiver(t)
	rc.status.Store(500)
	cfg := testConfig()
	cfg.WebhookURL = rc.srv.URL
	st := newMemStore()
	e := runEngine(t, cfg, st)
	fire(t, e, 1)
	waitFor(t, 5*time.Second, "two failed attempts", func() bool { return rc.calls.Load() >= 2 })
	rc.status.Store(200)
	waitFor(t, 5*time.Second, "delivery after retries", func() bool { return len(rc.notifications(t)) == 1 })
	var ds []chstore.AlertDelivery
	waitFor(t, 5*time.Second, "delivery record", func() bool {
		ds = deliveries(t, e, st)
		return len(ds) > 0 && ds[len(ds)-1].Outcome == "delivered"
	})
	var outcomes []string
	for i := range ds { // oldest first
		outcomes = append(outcomes, ds[i].Outcome)
		if ds[i].Outcome == "failed" && (ds[i].HTTPStatus != 500 || !strings.Contains(ds[i].Error, "HTTP 500: receiver says Internal Server Error")) {
			t.Fatalf("failed attempt %+v", ds[i])
		}
	}
	if len(outcomes) < 3 || outcomes[len(outcomes)-1] != "delivered" || outcomes[0] != "failed" {
		t.Fatalf("outcomes %v", outcomes)
	}
	if rs, _ := e.Rule("f"); rs.Status.Undelivered != 0 {
		t.Fatalf("outbox not empty: %+v", rs.Status)
	}
}

func TestWebhookUnreachableAndSlow(t *testing.T) {
	t.Parallel()
	// Unreachable: a closed port; every attempt fails, then it gives up.
	ln := httptest.NewServer(http.NotFoundHandler())
	dead := ln.URL
	ln.Close()
	slow := newReceiver(t)
	slow.delay.Store(int64(5 * time.Second))
	dir := t.TempDir()
	f := filepath.Join(dir, "rules.json")
	file := `{"receivers": [
  {"name": "dead", "type": "webhook", "url": "` + dead + `", "max_attempts": 3},
  {"name": "slow", "type": "webhook", "url": "` + slow.srv.URL + `", "timeout": "200ms", "max_attempts": 2}]}`
	if err := os.WriteFile(f, []byte(file), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg := testConfig()
	cfg.WebhookURL = ""
	cfg.RulesFile = f
	st := newMemStore()
	e := runEngine(t, cfg, st)
	fire(t, e, 1)
	// Ingestion is never held up: observing goes on while receivers hang.
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := range 20000 {
			id := tid(100000 + i)
			e.ObserveSpans(id, []segment.Span{span(id, "a", "", "api", true, false)})
		}
	}()
	select {
	case <-done:
	case <-time.After(20 * time.Second):
		t.Fatal("ObserveSpans blocked")
	}
	waitFor(t, 30*time.Second, "both receivers gave up", func() bool {
		n := 0
		for _, d := range deliveries(t, e, st) {
			if d.Outcome == "gave_up" {
				n++
			}
		}
		return n == 2
	})
	for _, d := range deliveries(t, e, st) {
		switch d.Receiver {
		case "dead":
			if !strings.Contains(d.Error, "connection refused") {
				t.Errorf("dead receiver attempt %+v", d)
			}
		case "slow":
			if !strings.Contains(d.Error, "timed out after 200ms") {
				t.Errorf("slow receiver attempt %+v", d)
			}
		}
	}
	if rs, _ := e.Rule("f"); rs.Status.State != StateFiring || rs.Status.Undelivered != 0 {
		t.Fatalf("status %+v", rs.Status)
	}
}

func TestSlackAndCommand(t *testing.T) {
	t.Parallel()
	rc := newReceiver(t)
	dir := t.TempDir()
	out := filepath.Join(dir, "out.json")
	script := filepath.Join(dir, "notify.sh")
	if err := os.WriteFile(script, []byte("#!/bin/sh\ncat > \"$1\"\necho \"$FLUORO_ALERT_STATE $FLUORO_ALERT_RULE\" > \"$1.env.tmp\" && mv \"$1.env.tmp\" \"$1.env\"\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	cfg := testConfig()
	cfg.WebhookURL = ""
	cfg.SlackURL = rc.srv.URL + "/services/T000/B000/XXXX"
	// Through sh, not exec'ing the script: a file just written cannot be
	// exec'd while a parallel test's fork still holds it open (ETXTBSY).
	// The script renames its .env file into place, so the test never reads
	// it half-written.
	cfg.Command = "/bin/sh " + script + " " + out
	st := newMemStore()
	e := runEngine(t, cfg, st)
	fire(t, e, 1)
	waitFor(t, 30*time.Second, "slack", func() bool { rc.mu.Lock(); defer rc.mu.Unlock(); return len(rc.bodies) == 1 })
	var msg struct {
		Text        string `json:"text"`
		Attachments []struct {
			Color, Title, Text string
		} `json:"attachments"`
	}
	rc.mu.Lock()
	err := json.Unmarshal(rc.bodies[0], &msg)
	rc.mu.Unlock()
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(msg.Text, "[FIRING] Faults") || len(msg.Attachments) != 1 || msg.Attachments[0].Color != "#d93025" ||
		!strings.Contains(msg.Attachments[0].Text, "<http://127.0.0.1:2001/traces/1-") {
		t.Fatalf("slack message %+v", msg)
	}
	waitFor(t, 30*time.Second, "command", func() bool {
		_, err := os.Stat(out + ".env")
		if err != nil {
			for _, d := range deliveries(t, e, st) {
				if d.Receiver == "command" && d.Error != "" {
					t.Logf("command attempt: %+v", d)
				}
			}
		}
		return err == nil
	})
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	var n Notification
	if err := json.Unmarshal(b, &n); err != nil || n.Rule.ID != "f" || n.State != StateFiring {
		t.Fatalf("command stdin %s: %v", b, err)
	}
	if env, _ := os.ReadFile(out + ".env"); strings.TrimSpace(string(env)) != "firing f" {
		t.Fatalf("command env %q", env)
	}
	// A command that fails or hangs: clear errors.
	for _, tc := range []struct {
		cmd  []string
		want string
	}{
		{[]string{"sh", "-c", "echo broken pipe >&2; exit 3"}, "exit status 3: broken pipe"},
		{[]string{"sleep", "10"}, "context deadline exceeded"},
		{[]string{filepath.Join(dir, "missing")}, "no such file"},
	} {
		ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
		_, err := NotifyCommand(ctx, &Receiver{Name: "c", Type: ReceiverCommand, Command: tc.cmd}, &n)
		cancel()
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("NotifyCommand(%v) = %v, want %q", tc.cmd, err, tc.want)
		}
	}
	if got := redactURL(cfg.SlackURL); got != rc.srv.URL+"/services/…" {
		t.Errorf("redactURL = %s", got)
	}
}

func TestNewErrors(t *testing.T) {
	dir := t.TempDir()
	write := func(s string) string {
		f := filepath.Join(dir, "r.json")
		if err := os.WriteFile(f, []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
		return f
	}
	for _, tc := range []struct {
		name string
		edit func(c *Config)
		want string
	}{
		{"missing file", func(c *Config) { c.RulesFile = filepath.Join(dir, "none.json") }, "no such file"},
		{"bad rule in file", func(c *Config) {
			c.RulesFile = write(`{"rules": [{"name": "x", "filter": "fault AND", "condition": {"kind": "trace"}}]}`)
		}, `rule "x": filter: expected`},
		{"unknown receiver", func(c *Config) {
			c.RulesFile = write(`{"rules": [{"name": "x", "filter": "fault", "condition": {"kind": "trace"}, "receivers": ["pager"]}]}`)
		}, `unknown receiver "pager"`},
		{"bad receiver", func(c *Config) { c.RulesFile = write(`{"receivers": [{"name": "p", "type": "email"}]}`) }, `unknown type "email"`},
		{"duplicate receiver", func(c *Config) {
			c.RulesFile = write(`{"receivers": [{"name": "webhook", "type": "webhook", "url": "http://x/"}]}`)
		}, `two receivers are named "webhook"`},
		{"bad flag", func(c *Config) { c.WebhookURL = "ftp://x" }, "--alert-webhook-url"},
	} {
		cfg := testConfig()
		tc.edit(&cfg)
		if _, err := New(cfg, Settings{Store: newMemStore()}); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: New = %v, want %q", tc.name, err, tc.want)
		}
	}
}

// A receiver finishing its delivery (deliveryDone edits the outbox entry)
// while dispatch still walks the notification's receivers must not change
// the list dispatch walks: a shared array once made the "command"
// receiver's job vanish when "slack" was delivered first.
func TestOutboxDoesNotShareTheDispatchList(t *testing.T) {
	cfg := testConfig()
	cfg.WebhookURL = ""
	cfg.SlackURL = "http://127.0.0.1:9/services/T/B/X"
	cfg.Command = "true"
	e, err := New(cfg, Settings{Store: newMemStore()})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	ent := &ruleEntry{rule: Rule{ID: "f", Name: "Faults", Filter: "fault", Condition: Condition{Kind: KindTrace, Window: Duration(time.Minute)}}}
	st := &alertState{RuleID: "f", EpisodeID: "ep", State: StateFiring, ActiveAt: now, FiredAt: now.Add(-time.Minute), LastMatchAt: now}
	e.mu.Lock()
	e.states["f"] = st
	acts := e.reconcileLocked(ent, st, now)
	e.mu.Unlock()
	if len(acts) != 1 || len(acts[0].recvs) != 2 || len(st.Outbox) != 1 {
		t.Fatalf("actions %+v, outbox %+v", acts, st.Outbox)
	}
	before := slices.Clone(acts[0].recvs)
	e.deliveryDone(&outboxJob{ruleID: "f", receiver: before[0], n: acts[0].n})
	if !slices.Equal(acts[0].recvs, before) {
		t.Errorf("dispatch list changed to %v by a delivery (was %v)", acts[0].recvs, before)
	}
	if p := st.Outbox[0].Pending; len(p) != 1 || p[0] != before[1] {
		t.Errorf("outbox pending %v, want [%s]", p, before[1])
	}
}
