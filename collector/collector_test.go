package collector

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fluoro/fluoro/collector/loadgen"
	"github.com/fluoro/fluoro/collector/segment"
)

// fakeSink records every document it acknowledges, in order. It fails the
// first failFirst writes and every write while down is set.
type fakeSink struct {
	mu        sync.Mutex
	raws      []string
	writes    int
	failFirst int
	down      bool
	block     bool          // block until ctx is done, then fail
	delay     time.Duration // every write takes this long
}

func (s *fakeSink) WriteDocuments(ctx context.Context, docs []segment.Document) error {
	s.mu.Lock()
	block, delay := s.block, s.delay
	s.mu.Unlock()
	time.Sleep(delay)
	if block {
		<-ctx.Done()
		return ctx.Err()
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.writes++
	if s.writes <= s.failFirst || s.down {
		return errors.New("fake sink: unavailable")
	}
	for _, d := range docs {
		if len(d.Spans) == 0 || d.Spans[0].ID != d.ID {
			return fmt.Errorf("document %s has no spans", d.ID)
		}
		s.raws = append(s.raws, string(d.Raw))
	}
	return nil
}

func (s *fakeSink) set(f func(s *fakeSink)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	f(s)
}

func (s *fakeSink) got() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.raws...)
}

func testConfig(t *testing.T) Config {
	cfg := DefaultConfig()
	cfg.UDPAddr = "127.0.0.1:0"
	cfg.TCPAddr, cfg.OTLPAddr = "127.0.0.1:0", "127.0.0.1:0"
	cfg.UDPReaders = 2
	cfg.SpoolDir = t.TempDir()
	cfg.BatchSize = 100
	cfg.BatchWait = 20 * time.Millisecond
	cfg.WriteTimeout = 5 * time.Second
	cfg.ShutdownTimeout = 5 * time.Second
	return cfg
}

type running struct {
	c      *Collector
	cancel context.CancelFunc
	done   chan error
}

func start(t *testing.T, cfg Config, sink Sink) *running {
	t.Helper()
	c, err := New(cfg, Settings{Sink: sink})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	c.backoff = [2]time.Duration{10 * time.Millisecond, 100 * time.Millisecond}
	ctx, cancel := context.WithCancel(context.Background())
	r := &running{c: c, cancel: cancel, done: make(chan error, 1)}
	go func() { r.done <- c.Run(ctx) }()
	select {
	case <-c.Ready():
	case err := <-r.done:
		t.Fatalf("Run: %v", err)
	}
	t.Cleanup(func() { r.stop(t) })
	return r
}

// stop shuts the collector down and waits for Run (idempotent).
func (r *running) stop(t *testing.T) {
	t.Helper()
	r.cancel()
	select {
	case err, ok := <-r.done:
		if ok && err != nil {
			t.Errorf("Run: %v", err)
		}
		if ok {
			close(r.done)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("Run did not return after cancel")
	}
}

// metric returns the value of one series of the collector's metrics
// (0 when absent).
func metric(c *Collector, series string) float64 {
	var b bytes.Buffer
	c.WriteMetrics(&b)
	sc := bufio.NewScanner(&b)
	for sc.Scan() {
		name, val, ok := strings.Cut(sc.Text(), " ")
		if ok && name == series {
			f, _ := strconv.ParseFloat(val, 64)
			return f
		}
	}
	return 0
}

func waitFor(t *testing.T, what string, timeout time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func dialUDP(t *testing.T, c *Collector) *net.UDPConn {
	t.Helper()
	conn, err := net.DialUDP("udp", nil, c.UDPAddr().(*net.UDPAddr))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn
}

// decodeAll returns the raw documents the collector should store for body.
func decodeAll(t *testing.T, body []byte) []string {
	t.Helper()
	docs, err := segment.NewDecoder(segment.DefaultLimits()).Decode(body, 1, nil)
	if err != nil {
		t.Fatalf("test body rejected: %v\n%s", err, body)
	}
	out := make([]string, len(docs))
	for i, d := range docs {
		out[i] = string(d.Raw)
	}
	return out
}

func sameMultiset(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	m := map[string]int{}
	for _, x := range a {
		m[x]++
	}
	for _, x := range b {
		m[x]--
		if m[x] < 0 {
			return false
		}
	}
	return true
}

const hdr = `{"format": "json", "version": 1}` + "\n"

func validDoc(id string) string {
	return fmt.Sprintf(`{"trace_id":"1-5759e988-bd862e3fe1be46a994272793","id":%q,"name":"svc","start_time":%d.5,"end_time":%d.75}`,
		id, time.Now().Unix()-5, time.Now().Unix()-5)
}

// badDatagrams are rejected as a whole, each with the reason it is counted
// under.
func badDatagrams() []struct{ name, reason, pkt string } {
	now := time.Now().Unix()
	deep := strings.Repeat(`{"a":`, 10000) + "1" + strings.Repeat("}", 10000)
	var ann strings.Builder
	ann.WriteString(`{"trace_id":"1-5759e988-bd862e3fe1be46a994272793","id":"70de5b6f19ff9a0a","name":"a","start_time":` + strconv.FormatInt(now, 10) + `,"end_time":` + strconv.FormatInt(now, 10) + `,"annotations":{`)
	for i := range 100000 {
		if i > 0 {
			ann.WriteByte(',')
		}
		fmt.Fprintf(&ann, `"k%d":1`, i)
	}
	ann.WriteString("}}")
	manyAnn := ann.String()
	if len(manyAnn) > 60000 {
		// Keep it inside one datagram: 100,000 annotations do not fit, so
		// send as many as fit (still far above the limit of 1000).
		cut := strings.LastIndex(manyAnn[:60000], `,"k`)
		manyAnn = manyAnn[:cut] + "}}"
	}
	valid := validDoc("70de5b6f19ff9a0a")
	return []struct{ name, reason, pkt string }{
		{"not JSON", segment.ReasonNotJSON, hdr + `this is not json`},
		{"truncated", segment.ReasonNotJSON, hdr + valid[:len(valid)-10]},
		{"no header", segment.ReasonInvalidHeader, valid},
		{"wrong header version", segment.ReasonInvalidHeader, `{"format": "json", "version": 2}` + "\n" + valid},
		{"wrong header format", segment.ReasonInvalidHeader, `{"format": "xml", "version": 1}` + "\n" + valid},
		{"empty body", segment.ReasonEmptyBody, hdr},
		{"missing id", segment.ReasonMissingID, hdr + `{"trace_id":"1-5759e988-bd862e3fe1be46a994272793","name":"a","start_time":` + strconv.FormatInt(now, 10) + `,"end_time":` + strconv.FormatInt(now, 10) + `}`},
		{"bad id", segment.ReasonInvalidID, hdr + strings.Replace(valid, "70de5b6f19ff9a0a", "XYZ", 1)},
		{"bad trace id", segment.ReasonInvalidTraceID, hdr + strings.Replace(valid, "1-5759e988-bd862e3fe1be46a994272793", "2-xyz", 1)},
		{"NaN time", segment.ReasonNotJSON, hdr + strings.Replace(valid, `"start_time":`, `"start_time":NaN,"x":`, 1)},
		{"negative time", segment.ReasonInvalidTime, hdr + strings.Replace(valid, `"start_time":`, `"start_time":-`, 1)},
		{"absurd future time", segment.ReasonInvalidTime, hdr + strings.Replace(valid, `"end_time":`, `"end_time":9`, 1)},
		{"nesting 10,000 deep", segment.ReasonTooDeep, hdr + strings.Replace(valid, `"name":`, `"metadata":`+deep+`,"name":`, 1)},
		{"too many annotations", segment.ReasonTooManyAnnotations, hdr + manyAnn},
		{"annotation of wrong type", segment.ReasonInvalidAnnotation, hdr + strings.Replace(valid, `"name":`, `"annotations":{"k":{"nested":1}},"name":`, 1)},
		{"fills the whole buffer", segment.ReasonNotJSON, hdr + `{"trace_id":"` + strings.Repeat("x", 65507-len(hdr)-13)},
	}
}

func TestUDPMixedGoodAndBadDatagrams(t *testing.T) {
	sink := &fakeSink{}
	r := start(t, testConfig(t), sink)
	conn := dialUDP(t, r.c)
	g := loadgen.New(42)
	bad := badDatagrams()
	var want []string
	wantReasons := map[string]int{}
	sent := 0
	for i := range 600 {
		dg := g.Datagram(nil)
		want = append(want, decodeAll(t, dg[len(hdr):])...)
		if _, err := conn.Write(dg); err != nil {
			t.Fatal(err)
		}
		sent++
		if i%20 == 0 {
			b := bad[(i/20)%len(bad)]
			if _, err := conn.Write([]byte(b.pkt)); err != nil {
				t.Fatalf("%s: %v", b.name, err)
			}
			wantReasons[b.reason]++
			sent++
		}
		if i%50 == 0 {
			time.Sleep(time.Millisecond) // stay within the socket buffer
		}
	}
	for _, b := range g.Flush() {
		want = append(want, decodeAll(t, b)...)
		conn.Write(append([]byte(hdr), b...))
		sent++
	}
	waitFor(t, "all documents stored", 10*time.Second, func() bool {
		return len(sink.got()) >= len(want) && metric(r.c, `fluoro_collector_received_total{transport="udp"}`) == float64(sent)
	})
	time.Sleep(50 * time.Millisecond) // would-be duplicates have time to show up
	if got := sink.got(); !sameMultiset(got, want) {
		t.Fatalf("sink has %d documents, want exactly the %d good ones", len(got), len(want))
	}
	for reason, n := range wantReasons {
		if got := metric(r.c, fmt.Sprintf(`fluoro_collector_rejected_total{reason=%q}`, reason)); got != float64(n) {
			t.Errorf("rejected{reason=%q} = %v, want %d", reason, got, n)
		}
	}
	if got := metric(r.c, `fluoro_collector_accepted_total{transport="udp"}`); got != float64(len(want)) {
		t.Errorf("accepted = %v, want %d", got, len(want))
	}
	if got := metric(r.c, `fluoro_collector_inserted_total`); got != float64(len(want)) {
		t.Errorf("inserted = %v, want %d", got, len(want))
	}
}

// TestBadDatagramReasons checks each bad datagram alone, so a wrong reason
// names the case.
func TestBadDatagramReasons(t *testing.T) {
	sink := &fakeSink{}
	r := start(t, testConfig(t), sink)
	conn := dialUDP(t, r.c)
	total := 0
	for _, b := range badDatagrams() {
		t.Run(b.name, func(t *testing.T) {
			series := fmt.Sprintf(`fluoro_collector_rejected_total{reason=%q}`, b.reason)
			before := metric(r.c, series)
			if _, err := conn.Write([]byte(b.pkt)); err != nil {
				t.Fatal(err)
			}
			total++
			waitFor(t, "datagram received", 5*time.Second, func() bool {
				return metric(r.c, `fluoro_collector_received_total{transport="udp"}`) == float64(total)
			})
			waitFor(t, "rejection counted under "+b.reason, time.Second, func() bool {
				return metric(r.c, series) == before+1
			})
		})
	}
	if n := len(sink.got()); n != 0 {
		t.Fatalf("sink stored %d documents from bad datagrams", n)
	}
}

func TestArrayWithBadElementKeepsGoodOnes(t *testing.T) {
	sink := &fakeSink{}
	r := start(t, testConfig(t), sink)
	conn := dialUDP(t, r.c)
	sub := func(id string) string {
		return fmt.Sprintf(`{"type":"subsegment","trace_id":"1-5759e988-bd862e3fe1be46a994272793","parent_id":"53995c3f42cd8ad8","id":%q,"name":"S3","start_time":%d,"end_time":%d}`,
			id, time.Now().Unix()-1, time.Now().Unix())
	}
	body := "[" + sub("1111111111111111") + "," + sub("bad") + "," + sub("2222222222222222") + "]"
	conn.Write([]byte(hdr + body))
	waitFor(t, "two good elements stored", 5*time.Second, func() bool { return len(sink.got()) == 2 })
	if got := metric(r.c, `fluoro_collector_rejected_total{reason="invalid_id"}`); got != 1 {
		t.Fatalf("rejected invalid_id = %v, want 1", got)
	}
}

// TestSinkFailureSpoolRecovery: the sink fails for a while; every document
// is still delivered exactly once and in order (one reader keeps UDP order).
func TestSinkFailureSpoolRecovery(t *testing.T) {
	tests := []struct {
		name      string
		failFirst int
	}{
		{"first write fails", 1},
		{"many writes fail", 8},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sink := &fakeSink{failFirst: tt.failFirst}
			cfg := testConfig(t)
			cfg.UDPReaders = 1
			cfg.BatchSize = 50
			r := start(t, cfg, sink)
			conn := dialUDP(t, r.c)
			var want []string
			for i := range 1000 {
				doc := validDoc(fmt.Sprintf("%016x", i+1))
				want = append(want, doc)
				conn.Write([]byte(hdr + doc))
				if i%100 == 0 {
					time.Sleep(5 * time.Millisecond)
				}
			}
			waitFor(t, "all documents stored", 30*time.Second, func() bool { return len(sink.got()) >= len(want) })
			time.Sleep(50 * time.Millisecond)
			got := sink.got()
			if len(got) != len(want) {
				t.Fatalf("stored %d documents, want %d", len(got), len(want))
			}
			for i := range want {
				if got[i] != want[i] {
					t.Fatalf("document %d out of order or changed:\n got %s\nwant %s", i, got[i], want[i])
				}
			}
			if metric(r.c, "fluoro_collector_spooled_total") == 0 || metric(r.c, "fluoro_collector_replayed_total") == 0 {
				t.Errorf("spooled=%v replayed=%v, want both > 0", metric(r.c, "fluoro_collector_spooled_total"), metric(r.c, "fluoro_collector_replayed_total"))
			}
			if metric(r.c, "fluoro_collector_spool_records") != 0 {
				t.Errorf("spool not empty after recovery")
			}
		})
	}
}

// TestRestartReplaysSpool: documents spooled while the sink was down are
// delivered, in order, by the next collector using the same spool.
func TestRestartReplaysSpool(t *testing.T) {
	down := &fakeSink{down: true}
	cfg := testConfig(t)
	cfg.UDPReaders = 1
	r := start(t, cfg, down)
	conn := dialUDP(t, r.c)
	var want []string
	for i := range 300 {
		doc := validDoc(fmt.Sprintf("%016x", i+1))
		want = append(want, doc)
		conn.Write([]byte(hdr + doc))
	}
	waitFor(t, "documents spooled", 10*time.Second, func() bool {
		return metric(r.c, "fluoro_collector_spool_records") == float64(len(want))
	})
	r.stop(t)
	if got := len(down.got()); got != 0 {
		t.Fatalf("down sink stored %d", got)
	}

	up := &fakeSink{}
	cfg.UDPAddr = "127.0.0.1:0"
	r2 := start(t, cfg, up)
	waitFor(t, "spool replayed after restart", 10*time.Second, func() bool {
		return metric(r2.c, "fluoro_collector_replayed_total") >= float64(len(want))
	})
	got := up.got()
	if len(got) != len(want) {
		t.Fatalf("replayed %d documents, want %d", len(got), len(want))
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("document %d out of order after restart", i)
		}
	}
	if metric(r2.c, "fluoro_collector_replayed_total") != float64(len(want)) {
		t.Errorf("replayed_total = %v", metric(r2.c, "fluoro_collector_replayed_total"))
	}
}

// TestSlowSinkGrowsBatches: a slow (not failing) sink makes the waiting
// batch grow instead of sending batches through the spool.
func TestSlowSinkGrowsBatches(t *testing.T) {
	sink := &fakeSink{delay: 300 * time.Millisecond}
	cfg := testConfig(t)
	cfg.UDPReaders = 1
	cfg.BatchSize = 50
	r := start(t, cfg, sink)
	conn := dialUDP(t, r.c)
	var want []string
	for i := range 600 {
		doc := validDoc(fmt.Sprintf("%016x", i+1))
		want = append(want, doc)
		conn.Write([]byte(hdr + doc))
		if i%25 == 24 {
			time.Sleep(50 * time.Millisecond) // ~125 documents per write, below the merge bound of 200
		}
	}
	waitFor(t, "all documents stored", 20*time.Second, func() bool { return len(sink.got()) >= len(want) })
	got := sink.got()
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("document %d out of order", i)
		}
	}
	if n := metric(r.c, "fluoro_collector_spooled_total"); n != 0 {
		t.Errorf("spooled %v documents for a merely slow sink", n)
	}
	sink.mu.Lock()
	writes := sink.writes
	sink.mu.Unlock()
	if writes > len(want)/cfg.BatchSize/2 {
		t.Errorf("%d writes for %d documents: batches did not grow while the sink was busy", writes, len(want))
	}
}

func TestShutdownFlushesQueue(t *testing.T) {
	sink := &fakeSink{}
	cfg := testConfig(t)
	cfg.BatchSize = 1_000_000
	cfg.BatchWait = time.Hour // nothing is written before shutdown
	r := start(t, cfg, sink)
	conn := dialUDP(t, r.c)
	for i := range 200 {
		conn.Write([]byte(hdr + validDoc(fmt.Sprintf("%016x", i+1))))
	}
	waitFor(t, "documents queued", 5*time.Second, func() bool {
		return metric(r.c, `fluoro_collector_accepted_total{transport="udp"}`) == 200
	})
	if n := len(sink.got()); n != 0 {
		t.Fatalf("sink got %d documents before shutdown", n)
	}
	r.stop(t)
	if n := len(sink.got()); n != 200 {
		t.Fatalf("after shutdown sink has %d documents, want 200", n)
	}
}

// TestShutdownSpoolsWhenSinkHangs: a sink that never answers cannot hold
// shutdown longer than the timeout; the documents end up in the spool.
func TestShutdownSpoolsWhenSinkHangs(t *testing.T) {
	sink := &fakeSink{block: true}
	cfg := testConfig(t)
	cfg.ShutdownTimeout = 300 * time.Millisecond
	cfg.WriteTimeout = time.Hour
	r := start(t, cfg, sink)
	conn := dialUDP(t, r.c)
	for i := range 50 {
		conn.Write([]byte(hdr + validDoc(fmt.Sprintf("%016x", i+1))))
	}
	waitFor(t, "documents accepted", 5*time.Second, func() bool {
		return metric(r.c, `fluoro_collector_accepted_total{transport="udp"}`) == 50
	})
	time.Sleep(100 * time.Millisecond) // the batch is in the hanging write
	began := time.Now()
	r.stop(t)
	if d := time.Since(began); d > 5*time.Second {
		t.Fatalf("shutdown took %v with a hanging sink", d)
	}
	if got := metric(r.c, "fluoro_collector_spool_records"); got != 50 {
		t.Fatalf("spool has %v records after shutdown, want 50", got)
	}
}

// TestSpoolFullDropsAndCounts: with the sink down and a tiny spool, new
// batches are dropped and counted, senders never block, and the books
// balance.
func TestSpoolFullDropsAndCounts(t *testing.T) {
	sink := &fakeSink{down: true}
	cfg := testConfig(t)
	cfg.SpoolMaxBytes = 1 << 20
	r := start(t, cfg, sink)
	conn := dialUDP(t, r.c)
	g := loadgen.New(3)
	for i := range 3000 {
		conn.Write(g.Datagram(nil))
		if i%100 == 0 {
			time.Sleep(2 * time.Millisecond)
		}
	}
	accepted := func() float64 { return metric(r.c, `fluoro_collector_accepted_total{transport="udp"}`) }
	dropped := func() float64 { return metric(r.c, `fluoro_collector_dropped_total{reason="spool_full"}`) }
	spooled := func() float64 { return metric(r.c, "fluoro_collector_spool_records") }
	waitFor(t, "books balance", 10*time.Second, func() bool {
		return metric(r.c, "fluoro_collector_queued") == 0 && accepted() > 0 && accepted() == dropped()+spooled()
	})
	if dropped() == 0 {
		t.Fatal("nothing dropped although the spool is far too small")
	}
	if b := metric(r.c, "fluoro_collector_spool_bytes"); b > 1<<20 || b == 0 {
		t.Fatalf("spool_bytes = %v, bound 1 MiB", b)
	}
}

func TestConfigValidate(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(c *Config)
		ok     bool
	}{
		{"defaults", func(c *Config) {}, true},
		{"udp only", func(c *Config) { c.TCPAddr = "" }, true},
		{"nothing to listen on", func(c *Config) { c.TCPAddr, c.UDPAddr = "", "" }, false},
		{"bad udp addr", func(c *Config) { c.UDPAddr = "localhost" }, false},
		{"zero readers", func(c *Config) { c.UDPReaders = 0 }, false},
		{"tiny read buffer", func(c *Config) { c.UDPReadBuffer = 1024 }, false},
		{"zero batch", func(c *Config) { c.BatchSize = 0 }, false},
		{"zero wait", func(c *Config) { c.BatchWait = 0 }, false},
		{"no spool dir", func(c *Config) { c.SpoolDir = "" }, false},
		{"tiny spool", func(c *Config) { c.SpoolMaxBytes = 10 }, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := DefaultConfig()
			tt.mutate(&c)
			if err := c.Validate(); (err == nil) != tt.ok {
				t.Fatalf("Validate() = %v, want ok=%v", err, tt.ok)
			}
		})
	}
}

func TestNewRequiresSink(t *testing.T) {
	cfg := testConfig(t)
	if _, err := New(cfg, Settings{}); err == nil {
		t.Fatal("New without a Sink succeeded")
	}
}

// recordingObserver keeps copies of the ids of the documents it sees.
type recordingObserver struct {
	mu  sync.Mutex
	ids []string
}

func (o *recordingObserver) ObserveDocuments(docs []segment.Document) {
	o.mu.Lock()
	defer o.mu.Unlock()
	for _, d := range docs {
		o.ids = append(o.ids, d.ID)
	}
}

func (o *recordingObserver) seen() []string {
	o.mu.Lock()
	defer o.mu.Unlock()
	return append([]string(nil), o.ids...)
}

// TestObserversSeeBatchesBeforeTheStore: observers get every accepted
// document once, in order, as soon as it is batched, even while the sink
// is down (its batches wait in the spool), and spool replays are not
// observed again.
func TestObserversSeeBatchesBeforeTheStore(t *testing.T) {
	sink := &fakeSink{down: true}
	obs := &recordingObserver{}
	cfg := testConfig(t)
	cfg.UDPReaders = 1
	c, err := New(cfg, Settings{Sink: sink, Observers: []Observer{obs}})
	if err != nil {
		t.Fatal(err)
	}
	c.backoff = [2]time.Duration{10 * time.Millisecond, 50 * time.Millisecond}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- c.Run(ctx) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	}()
	<-c.Ready()
	conn := dialUDP(t, c)
	var want []string
	for i := range 300 {
		id := fmt.Sprintf("%016x", i+1)
		want = append(want, id)
		if _, err := conn.Write([]byte(hdr + validDoc(id))); err != nil {
			t.Fatal(err)
		}
		if i%50 == 0 {
			time.Sleep(2 * time.Millisecond)
		}
	}
	waitFor(t, "every document observed", 10*time.Second, func() bool { return len(obs.seen()) >= len(want) })
	if got := sink.got(); len(got) != 0 {
		t.Fatalf("the sink is down but stored %d documents", len(got))
	}
	sink.set(func(s *fakeSink) { s.down = false })
	waitFor(t, "every document stored", 10*time.Second, func() bool { return len(sink.got()) >= len(want) })
	if got := obs.seen(); !slices.Equal(got, want) {
		t.Errorf("observed %d documents (replays included?), want the %d sent, in order", len(got), len(want))
	}
}
