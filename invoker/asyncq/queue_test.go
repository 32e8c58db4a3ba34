package asyncq

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"
)

// fakeClock is a Clock that only moves when the test advances it.
type fakeClock struct {
	mu      sync.Mutex
	now     time.Time
	waiters []fakeWaiter
}

type fakeWaiter struct {
	at time.Time
	ch chan time.Time
}

func newFakeClock() *fakeClock {
	return &fakeClock{now: time.Date(2024, 1, 31, 12, 0, 0, 0, time.UTC)}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) After(d time.Duration) <-chan time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	ch := make(chan time.Time, 1)
	if d <= 0 {
		ch <- c.now
		return ch
	}
	c.waiters = append(c.waiters, fakeWaiter{at: c.now.Add(d), ch: ch})
	return ch
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
	kept := c.waiters[:0]
	for _, w := range c.waiters {
		if !w.at.After(c.now) {
			w.ch <- c.now
		} else {
			kept = append(kept, w)
		}
	}
	c.waiters = kept
}

// waitTimer waits until the dispatcher waits on a timer of the fake clock
// (it has nothing due); it returns the earliest timer's remaining time.
func (c *fakeClock) waitTimer(t *testing.T) time.Duration {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		c.mu.Lock()
		if len(c.waiters) > 0 {
			at := c.waiters[0].at
			for _, w := range c.waiters {
				if w.at.Before(at) {
					at = w.at
				}
			}
			d := at.Sub(c.now)
			c.mu.Unlock()
			return d
		}
		c.mu.Unlock()
		time.Sleep(time.Millisecond)
	}
	t.Fatal("the dispatcher never waited on a timer")
	return 0
}

// attempt is one handler call seen by a test.
type attempt struct {
	ev  Event
	at  time.Time
	res chan Result // the test answers here
}

// harness runs a queue whose handler hands each attempt to the test.
type harness struct {
	q        *Queue
	dir      string
	clock    *fakeClock
	attempts chan attempt
	done     chan Completion
	cancel   context.CancelFunc
	runErr   chan error
}

func openHarness(t *testing.T, dir string, cfg Config, opt Options) *harness {
	t.Helper()
	h := &harness{dir: dir, clock: newFakeClock(), attempts: make(chan attempt, 100), done: make(chan Completion, 100)}
	if c, ok := opt.Clock.(*fakeClock); ok {
		h.clock = c
	}
	opt.Clock = h.clock
	opt.OnComplete = func(_ context.Context, c Completion) { h.done <- c }
	q, err := Open(dir, cfg, opt)
	if err != nil {
		t.Fatal(err)
	}
	h.q = q
	t.Cleanup(func() { h.stop(t) })
	return h
}

func (h *harness) run(t *testing.T) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	h.cancel = cancel
	h.runErr = make(chan error, 1)
	go func() {
		h.runErr <- h.q.Run(ctx, func(ctx context.Context, ev Event) Result {
			a := attempt{ev: ev, at: h.clock.Now(), res: make(chan Result, 1)}
			h.attempts <- a
			select {
			case r := <-a.res:
				return r
			case <-ctx.Done():
				return Result{Kind: Throttled, Message: "cancelled"}
			}
		})
	}()
}

func (h *harness) stop(t *testing.T) {
	t.Helper()
	if h.cancel != nil {
		h.cancel()
		select {
		case err := <-h.runErr:
			if err != nil {
				t.Errorf("Run: %v", err)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("Run did not return")
		}
		h.cancel = nil
	}
	if h.q != nil {
		if err := h.q.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
		h.q = nil
	}
}

func (h *harness) next(t *testing.T) attempt {
	t.Helper()
	select {
	case a := <-h.attempts:
		return a
	case <-time.After(10 * time.Second):
		t.Fatal("no attempt")
	}
	return attempt{}
}

func (h *harness) completion(t *testing.T) Completion {
	t.Helper()
	select {
	case c := <-h.done:
		return c
	case <-time.After(10 * time.Second):
		t.Fatal("no completion")
	}
	return Completion{}
}

// noAttempt checks that no attempt starts (the dispatcher is parked).
func (h *harness) noAttempt(t *testing.T) {
	t.Helper()
	select {
	case a := <-h.attempts:
		t.Fatalf("unexpected attempt of %s (attempts %d)", a.ev.ID, a.ev.Attempts)
	case <-time.After(30 * time.Millisecond):
	}
}

func enqueue(t *testing.T, q *Queue, ev Event) {
	t.Helper()
	if err := q.Enqueue(context.Background(), ev); err != nil {
		t.Fatal(err)
	}
}

func ev(id string) Event {
	return Event{ID: id, Function: "fn", Payload: []byte(`{"id":"` + id + `"}`)}
}

func TestOrderAndSuccess(t *testing.T) {
	cfg := DefaultConfig()
	cfg.Concurrency = 1
	h := openHarness(t, t.TempDir(), cfg, Options{})
	var ids []string
	for i := range 20 {
		id := fmt.Sprintf("e%02d", i)
		ids = append(ids, id)
		enqueue(t, h.q, Event{ID: id, Function: "fn", Qualifier: "live", Payload: []byte(`{}`),
			ClientContext: `{"custom":{}}`, TraceHeader: "Root=1-5759e988-bd862e3fe1be46a994272793;Sampled=1",
			Meta: map[string]string{"k": id}})
	}
	h.run(t)
	var got []string
	for range ids {
		a := h.next(t)
		got = append(got, a.ev.ID)
		if a.ev.Attempts != 0 || a.ev.Qualifier != "live" || a.ev.Meta["k"] != a.ev.ID ||
			a.ev.TraceHeader == "" || a.ev.ClientContext != `{"custom":{}}` || !a.ev.EnqueuedAt.Equal(h.clock.Now()) {
			t.Errorf("attempt event = %+v", a.ev)
		}
		a.res <- Result{Kind: Succeeded, StatusCode: 200, ExecutedVersion: "3", Payload: []byte(`"ok"`)}
		c := h.completion(t)
		if c.Condition != ConditionSuccess || c.Attempts != 1 || c.Event.ID != a.ev.ID || string(c.Result.Payload) != `"ok"` {
			t.Errorf("completion = %+v", c)
		}
	}
	if !slices.Equal(got, ids) {
		t.Errorf("delivery order %v, want %v", got, ids)
	}
	st := waitStats(t, h.q, func(s Stats) bool { return s.Pending == 0 })
	if st.Enqueued != 20 || st.Succeeded != 20 || st.Pending != 0 || st.DeadLettered != 0 {
		t.Errorf("stats %+v", st)
	}
}

func TestRestartKeepsPendingEventsAndState(t *testing.T) {
	dir := t.TempDir()
	cfg := DefaultConfig()
	cfg.Concurrency = 1
	h := openHarness(t, dir, cfg, Options{})
	for i := range 5 {
		enqueue(t, h.q, ev(fmt.Sprintf("e%d", i)))
	}
	h.run(t)
	// e0 succeeds, e1 fails once (retry state must survive), then stop.
	a := h.next(t)
	a.res <- Result{Kind: Succeeded, StatusCode: 200}
	h.completion(t)
	a = h.next(t)
	a.res <- Result{Kind: FunctionError, StatusCode: 200, FunctionError: "Unhandled", Payload: []byte(`{"errorMessage":"x"}`)}
	// e2 is in flight when the queue stops: its attempt is interrupted and
	// it stays pending as it was.
	a = h.next(t)
	if a.ev.ID != "e2" {
		t.Fatalf("attempt of %s, want e2", a.ev.ID)
	}
	h.cancel()
	a.res <- Result{Kind: Throttled, Message: "interrupted"}
	h.stop(t)

	// Reopen: e1 (1 attempt, retry in a minute) … e4 remain, in order.
	clock := h.clock
	h2 := openHarness(t, dir, cfg, Options{Clock: clock})
	pending := h2.q.Pending("")
	var ids []string
	for _, p := range pending {
		ids = append(ids, fmt.Sprintf("%s/%d", p.ID, p.Attempts))
	}
	if want := []string{"e1/1", "e2/0", "e3/0", "e4/0"}; !slices.Equal(ids, want) {
		t.Fatalf("pending after restart %v, want %v", ids, want)
	}
	if st := h2.q.Stats(); st.Replayed != 4 || st.Pending != 4 || st.CorruptRecords != 0 {
		t.Errorf("stats %+v", st)
	}
	h2.run(t)
	for _, id := range []string{"e2", "e3", "e4"} {
		a := h2.next(t)
		if a.ev.ID != id {
			t.Fatalf("attempt %s, want %s", a.ev.ID, id)
		}
		a.res <- Result{Kind: Succeeded}
		h2.completion(t)
	}
	if d := h2.clock.waitTimer(t); d != time.Minute {
		t.Errorf("e1 retry in %v, want 1m", d)
	}
	h2.clock.Advance(time.Minute)
	a = h2.next(t)
	if a.ev.ID != "e1" || a.ev.Attempts != 1 {
		t.Fatalf("retry of %s with attempts %d", a.ev.ID, a.ev.Attempts)
	}
	a.res <- Result{Kind: Succeeded}
	if c := h2.completion(t); c.Attempts != 2 || c.Condition != ConditionSuccess {
		t.Errorf("completion %+v", c)
	}
	h2.stop(t)

	h3 := openHarness(t, dir, cfg, Options{})
	if p := h3.q.Pending(""); len(p) != 0 {
		t.Errorf("%d events pending after all succeeded", len(p))
	}
}

func TestFunctionErrorRetries(t *testing.T) {
	tests := []struct {
		retries   int
		attempts  int
		condition string
	}{
		{0, 1, ConditionRetriesExhausted},
		{1, 2, ConditionRetriesExhausted},
		{2, 3, ConditionRetriesExhausted},
		{5, 3, ConditionRetriesExhausted}, // clamped to 2
	}
	for _, tt := range tests {
		t.Run(fmt.Sprint(tt.retries), func(t *testing.T) {
			h := openHarness(t, t.TempDir(), DefaultConfig(), Options{
				Policy: func(fn, q string) Policy {
					if fn != "fn" || q != "prod" {
						t.Errorf("policy asked for %s:%s", fn, q)
					}
					return Policy{MaximumRetryAttempts: tt.retries}
				},
			})
			e := ev("e")
			e.Qualifier = "prod"
			enqueue(t, h.q, e)
			h.run(t)
			start := h.clock.Now()
			delays := []time.Duration{0, time.Minute, 2 * time.Minute}
			var elapsed time.Duration
			for i := range tt.attempts {
				if i > 0 {
					if d := h.clock.waitTimer(t); d != delays[i] {
						t.Fatalf("retry %d in %v, want %v", i, d, delays[i])
					}
					h.clock.Advance(delays[i] - time.Second)
					h.noAttempt(t)
					h.clock.Advance(time.Second)
				}
				elapsed += delays[i]
				a := h.next(t)
				if a.ev.Attempts != i || a.at.Sub(start) != elapsed {
					t.Fatalf("attempt %d: Attempts %d at +%v", i, a.ev.Attempts, a.at.Sub(start))
				}
				a.res <- Result{Kind: FunctionError, StatusCode: 200, FunctionError: "Unhandled",
					ExecutedVersion: "1", Payload: []byte(fmt.Sprintf(`{"errorMessage":"fail %d"}`, i))}
			}
			c := h.completion(t)
			if c.Condition != tt.condition || c.Attempts != tt.attempts ||
				string(c.Result.Payload) != fmt.Sprintf(`{"errorMessage":"fail %d"}`, tt.attempts-1) {
				t.Errorf("completion %+v", c)
			}
			h.noAttempt(t)
			waitStats(t, h.q, func(s Stats) bool { return s.Pending == 0 })
			dl, err := h.q.DeadLetters("fn")
			if err != nil || len(dl) != 1 || dl[0].Condition != tt.condition || dl[0].Event.ID != "e" ||
				dl[0].Attempts != tt.attempts || dl[0].Result.FunctionError != "Unhandled" || string(dl[0].Event.Payload) != `{"id":"e"}` {
				t.Errorf("dead letters %+v, %v", dl, err)
			}
			st := h.q.Stats()
			if st.FunctionErrors != uint64(tt.attempts) || st.Retries != uint64(tt.attempts-1) ||
				st.DeadLettered != 1 || st.RetriesExhausted != 1 || st.Pending != 0 {
				t.Errorf("stats %+v", st)
			}
		})
	}
}

func TestThrottleBackoff(t *testing.T) {
	h := openHarness(t, t.TempDir(), DefaultConfig(), Options{ThrottleBackoffMax: 8 * time.Second})
	enqueue(t, h.q, ev("e"))
	h.run(t)
	want := []time.Duration{time.Second, 2 * time.Second, 4 * time.Second, 8 * time.Second, 8 * time.Second}
	a := h.next(t)
	for _, d := range want {
		a.res <- Result{Kind: Throttled, StatusCode: 429, Message: "Rate Exceeded."}
		if got := h.clock.waitTimer(t); got != d {
			t.Fatalf("backoff %v, want %v", got, d)
		}
		h.clock.Advance(d)
		a = h.next(t)
		if a.ev.Attempts != 0 {
			t.Fatalf("throttles counted as attempts: %d", a.ev.Attempts)
		}
	}
	a.res <- Result{Kind: Succeeded}
	if c := h.completion(t); c.Condition != ConditionSuccess || c.Attempts != 1 {
		t.Errorf("completion %+v", c)
	}
	if st := h.q.Stats(); st.Throttles != 5 || st.Succeeded != 1 {
		t.Errorf("stats %+v", st)
	}
}

func TestEventAge(t *testing.T) {
	t.Run("throttled until too old", func(t *testing.T) {
		h := openHarness(t, t.TempDir(), DefaultConfig(), Options{
			Policy: func(string, string) Policy { return Policy{MaximumRetryAttempts: 2, MaximumEventAge: time.Minute} },
		})
		enqueue(t, h.q, ev("e"))
		h.run(t)
		// Backoff 1+2+4+8+16 = 31 s; the next 32 s would pass the 60 s age.
		for i := range 6 {
			a := h.next(t)
			a.res <- Result{Kind: Throttled, StatusCode: 429, Message: "Rate Exceeded."}
			if i < 5 {
				h.clock.Advance(h.clock.waitTimer(t))
			}
		}
		c := h.completion(t)
		if c.Condition != ConditionEventAgeExceeded || c.Attempts != 0 || c.Result.Message != "Rate Exceeded." {
			t.Errorf("completion %+v", c)
		}
		if st := h.q.Stats(); st.AgeExceeded != 1 || st.DeadLettered != 1 {
			t.Errorf("stats %+v", st)
		}
	})
	t.Run("retry delay beyond the age", func(t *testing.T) {
		h := openHarness(t, t.TempDir(), DefaultConfig(), Options{
			Policy: func(string, string) Policy { return Policy{MaximumRetryAttempts: 2, MaximumEventAge: 90 * time.Second} },
		})
		enqueue(t, h.q, ev("e"))
		h.run(t)
		h.next(t).res <- Result{Kind: FunctionError}
		h.clock.Advance(h.clock.waitTimer(t)) // retry 1 at +60 s
		h.next(t).res <- Result{Kind: FunctionError}
		// Retry 2 would be at +180 s > 90 s.
		if c := h.completion(t); c.Condition != ConditionEventAgeExceeded || c.Attempts != 2 {
			t.Errorf("completion %+v", c)
		}
	})
	t.Run("expired before the first attempt", func(t *testing.T) {
		dir := t.TempDir()
		cfg := DefaultConfig()
		cfg.Concurrency = 1
		h := openHarness(t, dir, cfg, Options{})
		enqueue(t, h.q, ev("a"))
		enqueue(t, h.q, ev("b"))
		h.clock.Advance(6*time.Hour + time.Second)
		h.run(t)
		for range 2 {
			if c := h.completion(t); c.Condition != ConditionEventAgeExceeded || c.Attempts != 0 || c.Result.Kind != NoAttempt {
				t.Errorf("completion %+v", c)
			}
		}
		h.noAttempt(t)
		dl, _ := h.q.DeadLetters("fn")
		if len(dl) != 2 || dl[0].Event.ID != "a" || dl[1].Event.ID != "b" {
			t.Errorf("dead letters %+v", dl)
		}
	})
}

func TestRejected(t *testing.T) {
	h := openHarness(t, t.TempDir(), DefaultConfig(), Options{})
	enqueue(t, h.q, ev("e"))
	h.run(t)
	h.next(t).res <- Result{Kind: Rejected, StatusCode: 404, Message: "Function not found"}
	if c := h.completion(t); c.Condition != ConditionRetriesExhausted || c.Result.StatusCode != 404 {
		t.Errorf("completion %+v", c)
	}
	h.noAttempt(t)
}

func TestDeadLettersBoundedAndPurged(t *testing.T) {
	dir := t.TempDir()
	cfg := DefaultConfig()
	cfg.MaxDeadLetters = 3
	cfg.Concurrency = 1
	h := openHarness(t, dir, cfg, Options{Policy: func(string, string) Policy { return Policy{} }})
	for i := range 10 {
		enqueue(t, h.q, ev(fmt.Sprintf("e%d", i)))
	}
	other := ev("x")
	other.Function = "other.fn:weird/name"
	enqueue(t, h.q, other)
	h.run(t)
	for range 11 {
		h.next(t).res <- Result{Kind: FunctionError}
		h.completion(t)
	}
	check := func(q *Queue) {
		dl, err := q.DeadLetters("fn")
		if err != nil {
			t.Fatal(err)
		}
		var ids []string
		for _, d := range dl {
			ids = append(ids, d.Event.ID)
		}
		if !slices.Equal(ids, []string{"e7", "e8", "e9"}) {
			t.Errorf("dead letters %v", ids)
		}
		if dl, _ := q.DeadLetters("other.fn:weird/name"); len(dl) != 1 || dl[0].Event.ID != "x" {
			t.Errorf("dead letters of the odd name: %+v", dl)
		}
	}
	check(h.q)
	h.stop(t)
	files, _ := filepath.Glob(filepath.Join(dir, "dlq", "*"))
	if len(files) != 2 {
		t.Errorf("dlq files %v", files)
	}
	h2 := openHarness(t, dir, cfg, Options{})
	check(h2.q)
	if err := h2.q.PurgeDeadLetters("fn"); err != nil {
		t.Fatal(err)
	}
	if dl, err := h2.q.DeadLetters("fn"); err != nil || len(dl) != 0 {
		t.Errorf("after purge: %d, %v", len(dl), err)
	}
}

func TestTornWriteRecovery(t *testing.T) {
	dir := t.TempDir()
	h := openHarness(t, dir, DefaultConfig(), Options{})
	for i := range 3 {
		enqueue(t, h.q, ev(fmt.Sprintf("e%d", i)))
	}
	h.stop(t)
	segs, _ := listSegments(dir)
	if len(segs) != 1 {
		t.Fatalf("segments %v", segs)
	}
	path := filepath.Join(dir, segName(segs[0]))
	// A crash in the middle of a write leaves half a record at the tail.
	partial := appendFrame(nil, recEvent, encodeEvent(&Event{ID: "torn", Function: "fn", Payload: make([]byte, 100)}))
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.Write(partial[:len(partial)/2])
	f.Close()

	h2 := openHarness(t, dir, DefaultConfig(), Options{})
	var ids []string
	for _, p := range h2.q.Pending("fn") {
		ids = append(ids, p.ID)
	}
	if !slices.Equal(ids, []string{"e0", "e1", "e2"}) {
		t.Errorf("pending %v", ids)
	}
	if st := h2.q.Stats(); st.CorruptRecords != 1 || st.DroppedBytes != uint64(len(partial)/2) {
		t.Errorf("stats %+v", st)
	}
	enqueue(t, h2.q, ev("e3"))
	h2.stop(t)

	// The torn tail is gone for good after the compaction on open.
	h3 := openHarness(t, dir, DefaultConfig(), Options{})
	if st := h3.q.Stats(); st.CorruptRecords != 0 || st.Pending != 4 {
		t.Errorf("stats after second reopen %+v", st)
	}
}

func TestDamagedRecord(t *testing.T) {
	dir := t.TempDir()
	h := openHarness(t, dir, DefaultConfig(), Options{})
	for i := range 3 {
		enqueue(t, h.q, ev(fmt.Sprintf("e%d", i)))
	}
	h.stop(t)
	segs, _ := listSegments(dir)
	path := filepath.Join(dir, segName(segs[0]))
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	// Flip one byte in the payload of the second record.
	first := frameHeader + len(encodeEvent(&Event{ID: "e0", Function: "fn", Payload: []byte(`{"id":"e0"}`), EnqueuedAt: h.clock.Now(), Seq: 0}))
	b[first+frameHeader+5] ^= 0xff
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
	h2 := openHarness(t, dir, DefaultConfig(), Options{})
	var ids []string
	for _, p := range h2.q.Pending("") {
		ids = append(ids, p.ID)
	}
	// Records after a damaged one in the same segment cannot be trusted.
	if !slices.Equal(ids, []string{"e0"}) {
		t.Errorf("pending %v", ids)
	}
	if st := h2.q.Stats(); st.CorruptRecords != 1 || st.DroppedBytes == 0 {
		t.Errorf("stats %+v", st)
	}
}

func TestCompaction(t *testing.T) {
	dir := t.TempDir()
	cfg := DefaultConfig()
	cfg.SegmentBytes = 1 << 16
	h := openHarness(t, dir, cfg, Options{})
	h.run(t)
	payload := make([]byte, 1000)
	// 200 events of ~1 KB pass through; 5 stay pending (function errors).
	go func() {
		for range 200 {
			a := <-h.attempts
			if a.ev.ID[0] == 'k' {
				a.res <- Result{Kind: FunctionError}
			} else {
				a.res <- Result{Kind: Succeeded}
			}
		}
	}()
	for i := range 200 {
		id := fmt.Sprintf("d%03d", i)
		if i%40 == 0 {
			id = fmt.Sprintf("k%03d", i)
		}
		enqueue(t, h.q, Event{ID: id, Function: "fn", Payload: payload})
	}
	for range 195 {
		h.completion(t)
	}
	st := waitStats(t, h.q, func(s Stats) bool { return s.Retries == 5 && s.InFlight == 0 && s.Pending == 5 })
	if st.Rotations < 3 || st.Pending != 5 {
		t.Errorf("stats %+v", st)
	}
	h.stop(t)
	segs, _ := listSegments(dir)
	if len(segs) != 1 {
		t.Errorf("segments after close: %v", segs)
	}
	h2 := openHarness(t, dir, cfg, Options{})
	p := h2.q.Pending("fn")
	if len(p) != 5 || p[0].ID != "k000" || p[0].Attempts != 1 {
		t.Errorf("pending after reopen: %d, first %+v", len(p), p[0])
	}
}

func TestGracefulShutdown(t *testing.T) {
	t.Run("attempt in flight finishes", func(t *testing.T) {
		dir := t.TempDir()
		h := openHarness(t, dir, DefaultConfig(), Options{})
		enqueue(t, h.q, ev("e"))
		h.run(t)
		a := h.next(t)
		h.cancel()
		select {
		case <-h.runErr:
			t.Fatal("Run returned with an attempt in flight")
		case <-time.After(30 * time.Millisecond):
		}
		a.res <- Result{Kind: Succeeded}
		if err := <-h.runErr; err != nil {
			t.Fatal(err)
		}
		h.cancel = nil
		h.stop(t)
		h2 := openHarness(t, dir, DefaultConfig(), Options{})
		if p := h2.q.Pending(""); len(p) != 0 {
			t.Errorf("pending %v", p)
		}
	})
	t.Run("drain timeout cancels and keeps the event", func(t *testing.T) {
		dir := t.TempDir()
		h := openHarness(t, dir, DefaultConfig(), Options{DrainTimeout: 20 * time.Millisecond})
		enqueue(t, h.q, ev("e"))
		h.run(t)
		h.next(t) // never answered: the handler returns when its ctx ends
		h.stop(t)
		h2 := openHarness(t, dir, DefaultConfig(), Options{})
		if p := h2.q.Pending(""); len(p) != 1 || p[0].Attempts != 0 {
			t.Errorf("pending %+v", p)
		}
	})
}

func TestEnqueueErrors(t *testing.T) {
	dir := t.TempDir()
	h := openHarness(t, dir, DefaultConfig(), Options{})
	enqueue(t, h.q, ev("e"))
	if err := h.q.Enqueue(context.Background(), ev("e")); !errors.Is(err, ErrDuplicate) {
		t.Errorf("duplicate: %v", err)
	}
	if err := h.q.Enqueue(context.Background(), Event{Payload: []byte("{}")}); err == nil {
		t.Error("event without function accepted")
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := h.q.Enqueue(ctx, ev("f")); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled ctx: %v", err)
	}
	if _, err := Open(dir, DefaultConfig(), Options{}); err == nil {
		t.Error("second Open of the same folder succeeded")
	}
	h.stop(t)
	q, err := Open(dir, DefaultConfig(), Options{})
	if err != nil {
		t.Fatal(err)
	}
	q.Close()
	if err := q.Enqueue(context.Background(), ev("g")); !errors.Is(err, ErrClosed) {
		t.Errorf("after Close: %v", err)
	}
	if err := q.Run(context.Background(), nil); !errors.Is(err, ErrClosed) {
		t.Errorf("Run after Close: %v", err)
	}
	e := ev("id-less")
	e.ID = ""
	q2, err := Open(dir, DefaultConfig(), Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer q2.Close()
	if err := q2.Enqueue(context.Background(), e); err != nil {
		t.Fatal(err)
	}
	var assigned string
	for _, p := range q2.Pending("") {
		if p.ID != "e" {
			assigned = p.ID
		}
	}
	if len(assigned) != 36 || assigned[14] != '4' {
		t.Errorf("assigned id %q is not a UUID v4", assigned)
	}
}

func TestDoubleRun(t *testing.T) {
	h := openHarness(t, t.TempDir(), DefaultConfig(), Options{})
	h.run(t)
	deadline := time.Now().Add(5 * time.Second)
	for {
		h.q.mu.Lock()
		running := h.q.running
		h.q.mu.Unlock()
		if running {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("Run did not start")
		}
		time.Sleep(time.Millisecond)
	}
	if err := h.q.Run(context.Background(), nil); !errors.Is(err, ErrRunning) {
		t.Fatalf("second Run: %v", err)
	}
}

func TestConcurrentEnqueueAndDelivery(t *testing.T) {
	dir := t.TempDir()
	cfg := DefaultConfig()
	cfg.Concurrency = 4
	q, err := Open(dir, cfg, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer q.Close()
	var mu sync.Mutex
	seen := map[string]int{}
	ctx, cancel := context.WithCancel(context.Background())
	runErr := make(chan error, 1)
	go func() {
		runErr <- q.Run(ctx, func(ctx context.Context, ev Event) Result {
			mu.Lock()
			seen[ev.ID]++
			mu.Unlock()
			return Result{Kind: Succeeded}
		})
	}()
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 40 {
				if err := q.Enqueue(context.Background(), ev(fmt.Sprintf("g%d-%d", g, i))); err != nil {
					t.Error(err)
				}
			}
		}()
	}
	wg.Wait()
	waitStats(t, q, func(s Stats) bool { return s.Succeeded == 320 && s.Pending == 0 })
	cancel()
	if err := <-runErr; err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(seen) != 320 {
		t.Errorf("delivered %d distinct events, want 320", len(seen))
	}
	for id, n := range seen {
		if n != 1 {
			t.Errorf("%s delivered %d times", id, n)
		}
	}
	st := q.Stats()
	if st.Pending != 0 || st.InFlight != 0 || st.Fsyncs == 0 {
		t.Errorf("stats %+v", st)
	}
}

func TestConfig(t *testing.T) {
	if err := DefaultConfig().Validate(); err != nil {
		t.Fatal(err)
	}
	bad := []Config{
		{Concurrency: 0, MaxDeadLetters: 1, SegmentBytes: 1 << 20},
		{Concurrency: 1, MaxDeadLetters: 0, SegmentBytes: 1 << 20},
		{Concurrency: 1, MaxDeadLetters: 1, SegmentBytes: 100},
	}
	for _, c := range bad {
		if c.Validate() == nil {
			t.Errorf("%+v accepted", c)
		}
		if _, err := Open(t.TempDir(), c, Options{}); err == nil {
			t.Errorf("Open with %+v succeeded", c)
		}
	}
}

// waitStats waits until cond holds for the queue's stats (completions are
// reported before the queue forgets the event) and returns them.
func waitStats(t *testing.T, q *Queue, cond func(Stats) bool) Stats {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		st := q.Stats()
		if cond(st) {
			return st
		}
		if time.Now().After(deadline) {
			t.Errorf("stats never reached the expected state: %+v", st)
			return st
		}
		time.Sleep(time.Millisecond)
	}
}

func TestHandlerPanic(t *testing.T) {
	q, err := Open(t.TempDir(), DefaultConfig(), Options{Clock: newFakeClock()})
	if err != nil {
		t.Fatal(err)
	}
	defer q.Close()
	enqueue(t, q, ev("e"))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- q.Run(ctx, func(context.Context, Event) Result { panic("bug") }) }()
	st := waitStats(t, q, func(s Stats) bool { return s.Errors == 1 && s.Throttles == 1 && s.InFlight == 0 })
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if p := q.Pending(""); len(p) != 1 || st.Pending != 1 {
		t.Errorf("pending %+v after a panic", p)
	}
}
