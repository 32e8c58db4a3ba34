package collector

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/fluoro/fluoro/collector/loadgen"
	"github.com/fluoro/fluoro/schema/chstore"
	"github.com/fluoro/fluoro/schema/chtest"
)

func TestMain(m *testing.M) { chtest.Main(m) }

// udpSender sends the realistic mix over UDP at a steady rate from its own
// goroutine until stopped, then sends the completions it still owes.
type udpSender struct {
	t    *testing.T
	g    *loadgen.Generator
	stop chan struct{}
	done chan struct{}

	mu   sync.Mutex
	addr *net.UDPAddr
	sent int
}

func newSender(t *testing.T, seed uint64, addr net.Addr, perSecond int) *udpSender {
	s := &udpSender{t: t, g: loadgen.New(seed), stop: make(chan struct{}), done: make(chan struct{}), addr: addr.(*net.UDPAddr)}
	go s.run(perSecond)
	return s
}

// retarget points the sender at a new collector (after a restart).
func (s *udpSender) retarget(addr net.Addr) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.addr = addr.(*net.UDPAddr)
}

func (s *udpSender) send(conn *net.UDPConn, dg []byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, err := conn.WriteToUDP(dg, s.addr); err != nil {
		s.t.Errorf("send: %v", err)
		return
	}
	s.sent++
}

func (s *udpSender) run(perSecond int) {
	defer close(s.done)
	conn, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		s.t.Errorf("sender socket: %v", err)
		return
	}
	defer conn.Close()
	const tick = 10 * time.Millisecond
	per := max(perSecond*int(tick)/int(time.Second), 1)
	tk := time.NewTicker(tick)
	defer tk.Stop()
	for {
		select {
		case <-s.stop:
			for _, b := range s.g.Flush() {
				s.send(conn, append([]byte(loadgen.Header+"\n"), b...))
			}
			return
		case <-tk.C:
			for range per {
				s.send(conn, s.g.Datagram(nil))
			}
		}
	}
}

// finish stops sending and returns the generator's counts and the number
// of datagrams sent.
func (s *udpSender) finish() (loadgen.Stats, int) {
	close(s.stop)
	<-s.done
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.g.Stats(), s.sent
}

func openStore(t *testing.T, dsn string) *chstore.Store {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	st, err := chstore.Open(ctx, dsn, chstore.Options{})
	if err != nil {
		t.Fatalf("chstore.Open: %v", err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

func integrationConfig(t *testing.T) Config {
	cfg := testConfig(t)
	cfg.BatchSize = 500
	cfg.BatchWait = 100 * time.Millisecond
	cfg.WriteTimeout = 5 * time.Second
	cfg.ShutdownTimeout = 3 * time.Second
	return cfg
}

func testLogger(t *testing.T) *slog.Logger {
	if testing.Verbose() {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	}
	return nil
}

func startWithLogger(t *testing.T, cfg Config, sink Sink) *running {
	t.Helper()
	c, err := New(cfg, Settings{Sink: sink, Logger: testLogger(t)})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	c.backoff = [2]time.Duration{50 * time.Millisecond, 500 * time.Millisecond}
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

// drained waits until the collector holds nothing: every accepted document
// is stored (or, on failure, the test fails on the counts below).
func drained(t *testing.T, r *running) {
	t.Helper()
	waitFor(t, "collector drained into ClickHouse", 90*time.Second, func() bool {
		return metric(r.c, "fluoro_collector_queued") == 0 && metric(r.c, "fluoro_collector_spool_records") == 0
	})
}

// checkStored asserts that ClickHouse holds every generated document and
// span exactly once (FINAL collapses in-progress versions into the complete
// one, and replays into one row).
func checkStored(t *testing.T, db *chtest.DB, st loadgen.Stats) {
	t.Helper()
	uniqueSpans := st.Spans - (st.Documents - st.Unique) // each completion repeats one span
	q := func(sql string) uint64 { return db.Count(t, fmt.Sprintf(sql, db.Name)) }
	if got := q("SELECT count() FROM %s.documents FINAL"); got != uint64(st.Unique) {
		t.Errorf("documents FINAL: %d rows, want %d", got, st.Unique)
	}
	if got := q("SELECT uniqExact(trace_id, id) FROM %s.documents"); got != uint64(st.Unique) {
		t.Errorf("documents: %d distinct (trace_id, id), want %d", got, st.Unique)
	}
	if got := q("SELECT count() FROM %s.spans FINAL"); got != uint64(uniqueSpans) {
		t.Errorf("spans FINAL: %d rows, want %d", got, uniqueSpans)
	}
	if got := q("SELECT uniqExact(trace_id, id) FROM %s.spans"); got != uint64(uniqueSpans) {
		t.Errorf("spans: %d distinct (trace_id, id), want %d", got, uniqueSpans)
	}
	if got := q("SELECT count() FROM %s.documents FINAL WHERE in_progress = 1"); got != 0 {
		t.Errorf("%d documents still in progress although every complete version was sent", got)
	}
}

// checkBooks asserts that nothing was rejected or dropped and that every
// datagram sent was received (so the stored counts are the generator's).
func checkBooks(t *testing.T, sent int, rs ...*running) {
	t.Helper()
	var received float64
	for _, r := range rs {
		received += metric(r.c, `fluoro_collector_received_total{transport="udp"}`)
		if d := metricSumDropped(r.c); d != 0 {
			t.Errorf("collector dropped %v documents", d)
		}
		if rej := metricSum(r.c, "fluoro_collector_rejected_total"); rej != 0 {
			t.Errorf("collector rejected %v documents of the realistic mix", rej)
		}
	}
	if received != float64(sent) {
		t.Fatalf("collectors received %v of %d datagrams (kernel drops?)", received, sent)
	}
}

func metricSumDropped(c *Collector) float64 {
	var sum float64
	for _, r := range []string{dropQueueFull, dropSpoolFull, dropSpoolError, dropReplayInvalid, dropShutdown} {
		sum += metric(c, `fluoro_collector_dropped_total{reason="`+r+`"}`)
	}
	return sum
}

// TestNoLossClickHouseRestart stops ClickHouse mid-ingest while datagrams
// keep arriving, starts it again, and checks that every accepted segment is
// stored exactly once.
func TestNoLossClickHouseRestart(t *testing.T) {
	t.Parallel()
	srv := chtest.NewServer(t)
	store := openStore(t, srv.DSN)
	r := startWithLogger(t, integrationConfig(t), store)
	ctx := context.Background()

	s := newSender(t, 11, r.c.UDPAddr(), 1000)
	time.Sleep(time.Second)
	if err := srv.Stop(ctx); err != nil {
		t.Fatalf("stop clickhouse: %v", err)
	}
	time.Sleep(2 * time.Second)
	if metric(r.c, "fluoro_collector_spooled_total") == 0 {
		t.Errorf("nothing spooled while ClickHouse was down")
	}
	if err := srv.Start(ctx); err != nil {
		t.Fatalf("start clickhouse: %v", err)
	}
	time.Sleep(time.Second)
	st, sent := s.finish()
	drained(t, r)
	checkBooks(t, sent, r)
	if metric(r.c, "fluoro_collector_replayed_total") == 0 {
		t.Errorf("nothing replayed")
	}
	checkStored(t, srv.DB, st)
	t.Logf("sent %d datagrams, %d documents (%d unique), spooled %v, replayed %v, sink errors %v",
		sent, st.Documents, st.Unique, metric(r.c, "fluoro_collector_spooled_total"),
		metric(r.c, "fluoro_collector_replayed_total"), metric(r.c, "fluoro_collector_sink_errors_total"))
}

// TestNoLossCollectorRestartWhileSpooled stops ClickHouse, keeps sending,
// restarts the collector while its spool holds data (ClickHouse still
// down), then brings ClickHouse back: the new collector replays the spool
// and every accepted segment is stored exactly once.
func TestNoLossCollectorRestartWhileSpooled(t *testing.T) {
	t.Parallel()
	srv := chtest.NewServer(t)
	store := openStore(t, srv.DSN)
	cfg := integrationConfig(t)
	r1 := startWithLogger(t, cfg, store)
	ctx := context.Background()

	s := newSender(t, 12, r1.c.UDPAddr(), 1000)
	time.Sleep(1500 * time.Millisecond)
	if err := srv.Stop(ctx); err != nil {
		t.Fatalf("stop clickhouse: %v", err)
	}
	time.Sleep(2 * time.Second)

	// Restart the collector on the same UDP port and spool, with ClickHouse
	// still down. The sender pauses while no collector listens (datagrams
	// sent then would be lost by the kernel, not by Fluoro).
	s.mu.Lock()
	waitFor(t, "datagrams sent so far read", 10*time.Second, func() bool {
		return metric(r1.c, `fluoro_collector_received_total{transport="udp"}`) == float64(s.sent)
	})
	r1.stop(t)
	if metric(r1.c, "fluoro_collector_spool_records") == 0 {
		t.Errorf("spool empty after stopping the collector with ClickHouse down")
	}
	cfg.UDPAddr = r1.c.UDPAddr().String()
	r2 := startWithLogger(t, cfg, store)
	s.mu.Unlock()
	if got, want := metric(r2.c, "fluoro_collector_spool_records"), metric(r1.c, "fluoro_collector_spool_records"); got != want {
		t.Errorf("restarted collector sees %v spooled records, the first left %v", got, want)
	}

	time.Sleep(2 * time.Second)
	if err := srv.Start(ctx); err != nil {
		t.Fatalf("start clickhouse: %v", err)
	}
	time.Sleep(1500 * time.Millisecond)
	st, sent := s.finish()
	drained(t, r2)
	checkBooks(t, sent, r1, r2)
	if metric(r2.c, "fluoro_collector_replayed_total") == 0 {
		t.Errorf("restarted collector replayed nothing")
	}
	checkStored(t, srv.DB, st)
	t.Logf("sent %d datagrams, %d documents (%d unique); first collector spooled %v, second replayed %v",
		sent, st.Documents, st.Unique, metric(r1.c, "fluoro_collector_spooled_total"), metric(r2.c, "fluoro_collector_replayed_total"))
}
