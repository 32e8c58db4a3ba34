package collector

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"runtime/debug"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/fluoro/fluoro/collector/loadgen"
	"github.com/fluoro/fluoro/collector/segment"
	"github.com/fluoro/fluoro/schema/chstore"
	"github.com/fluoro/fluoro/schema/chtest"
)

// benchPool is a pool of realistic datagrams whose trace ids are rewritten
// on every use, so each send is a new trace and stored counts are exact.
type benchPool struct {
	dgs    [][]byte
	traces [][]int // offsets of the 24-hex trace id tails in each datagram
	docs   []int   // documents per datagram
	spans  []int   // spans per datagram
	buf    []byte
	seq    uint64
	salt   uint64
}

func newBenchPool(b *testing.B, n int, seed uint64) *benchPool {
	g := loadgen.New(seed)
	// Every send rewrites the trace id, which would split an in-progress
	// document from its completion: leave that shape out of the pool.
	mix := loadgen.DefaultMix
	mix[loadgen.ShapeInProgress] = 0
	g.SetMix(mix)
	dec := segment.NewDecoder(segment.DefaultLimits())
	p := &benchPool{salt: uint64(time.Now().UnixNano()) & 0xffffff}
	var docs []segment.Document
	for range n {
		dg := g.Datagram(nil)
		body, err := segment.SplitDatagram(dg)
		if err != nil {
			b.Fatal(err)
		}
		docs, err = dec.Decode(body, 1, docs[:0])
		if err != nil {
			b.Fatalf("pool datagram rejected: %v", err)
		}
		spans := 0
		for i := range docs {
			spans += len(docs[i].Spans)
		}
		tid := docs[0].TraceID
		var offs []int
		for i := 0; ; {
			j := bytes.Index(dg[i:], []byte(tid))
			if j < 0 {
				break
			}
			offs = append(offs, i+j+len(tid)-24)
			i += j + len(tid)
		}
		p.dgs = append(p.dgs, dg)
		p.traces = append(p.traces, offs)
		p.docs = append(p.docs, len(docs))
		p.spans = append(p.spans, spans)
	}
	return p
}

// next returns the next datagram with a fresh trace id (valid until the
// following call) and its document and span counts.
func (p *benchPool) next() ([]byte, int, int) {
	i := int(p.seq % uint64(len(p.dgs)))
	p.seq++
	p.buf = append(p.buf[:0], p.dgs[i]...)
	var tail [24]byte
	v := p.seq<<24 | p.salt
	for k := 23; k >= 0; k-- {
		tail[k] = "0123456789abcdef"[v&15]
		v >>= 4
	}
	for _, off := range p.traces[i] {
		copy(p.buf[off:off+24], tail[:])
	}
	return p.buf, p.docs[i], p.spans[i]
}

// peakRSS returns the process's peak resident set (VmHWM) in MiB, and
// resetPeakRSS restarts the measurement (Linux).
func peakRSS() float64 {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), "VmHWM:"); ok {
			kb, _ := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 64)
			return kb / 1024
		}
	}
	return 0
}

func resetPeakRSS() {
	debug.FreeOSMemory() // return what earlier sub-benchmarks left behind
	os.WriteFile("/proc/self/clear_refs", []byte("5"), 0)
}

// ceilingDocsPerSec is the raw insert rate measured by the ceiling
// sub-benchmark, used by the others.
var ceilingDocsPerSec float64

// measureCeiling inserts n documents of the pool through chstore in
// batches of batch and returns documents and spans per second.
func measureCeiling(b *testing.B, store *chstore.Store, pool *benchPool, n, batch int) (float64, float64) {
	dec := segment.NewDecoder(segment.DefaultLimits())
	var docs []segment.Document
	spans := 0
	var took time.Duration
	for sent := 0; sent < n; {
		docs = docs[:0]
		for len(docs) < batch && sent < n {
			dg, _, _ := pool.next()
			body, _ := segment.SplitDatagram(dg)
			before := len(docs)
			var err error
			docs, err = dec.Decode(body, time.Now().UnixNano(), docs)
			if err != nil {
				b.Fatal(err)
			}
			sent += len(docs) - before
		}
		for i := range docs {
			spans += len(docs[i].Spans)
		}
		start := time.Now()
		if err := store.WriteDocuments(context.Background(), docs); err != nil {
			b.Fatal(err)
		}
		took += time.Since(start)
	}
	return float64(n) / took.Seconds(), float64(spans) / took.Seconds()
}

// BenchmarkEndToEnd measures, against a real ClickHouse (FLUORO_TEST_CLICKHOUSE
// or a managed server), with the loadgen mix:
//
//   - ceiling: chstore.WriteDocuments of 10,000-document batches of already
//     decoded documents — the raw insert rate of the very rows the collector
//     writes;
//   - udp: datagrams sent as fast as the collector reads them (no kernel
//     drops), until every one is stored; the rate includes the drain and is
//     compared with the ceiling; stored counts are checked exactly;
//   - paced40: datagrams sent at 40 % of the ceiling; reports the loss.
//
// Each reports the process's peak RSS (sender, pool and collector).
//
//	FLUORO_TEST_CLICKHOUSE=clickhouse://127.0.0.1:19000 \
//	  go test -run '^$' -bench BenchmarkEndToEnd -benchtime 100000x ./collector/
func BenchmarkEndToEnd(b *testing.B) {
	pool := newBenchPool(b, 5000, 77)
	b.Run("ceiling", func(b *testing.B) {
		db := chtest.New(b)
		store := openStoreB(b, db.DSN)
		resetPeakRSS()
		var docsPerSec, spansPerSec float64
		n := 0
		for b.Loop() {
			n++
		}
		// b.Loop only counted; the insert runs in 10,000-document batches.
		docsPerSec, spansPerSec = measureCeiling(b, store, pool, max(n, 20000), 10000)
		ceilingDocsPerSec = docsPerSec
		b.ReportMetric(docsPerSec, "docs/s")
		b.ReportMetric(spansPerSec, "spans/s")
		b.ReportMetric(peakRSS(), "peakRSS-MiB")
	})
	b.Run("udp", func(b *testing.B) {
		ceiling := ensureCeiling(b, pool)
		db := chtest.New(b)
		store := openStoreB(b, db.DSN)
		resetPeakRSS()
		c, stop := startBench(b, store)
		conn, err := net.DialUDP("udp", nil, c.UDPAddr().(*net.UDPAddr))
		if err != nil {
			b.Fatal(err)
		}
		defer conn.Close()
		var docs, spans, sent int
		start := time.Now()
		cpu0 := cpuTime()
		for b.Loop() {
			dg, d, s := pool.next()
			sendWindowed(b, conn, c, dg, &sent, 1000)
			docs += d
			spans += s
		}
		waitStored(b, c, sent)
		elapsed := time.Since(start)
		b.ReportMetric(float64((cpuTime()-cpu0).Microseconds())/float64(docs), "cpu-µs/doc")
		stop()
		checkExact(b, db, c, docs, spans, sent)
		b.ReportMetric(100*metricSumDropped(c)/float64(docs), "%dropped")
		b.ReportMetric(100*float64(c.m.spooled.Get())/float64(docs), "%spooled")
		rate := float64(docs) / elapsed.Seconds()
		b.ReportMetric(rate, "docs/s")
		b.ReportMetric(float64(spans)/elapsed.Seconds(), "spans/s")
		b.ReportMetric(100*rate/ceiling, "%ceiling")
		b.ReportMetric(peakRSS(), "peakRSS-MiB")
	})
	b.Run("paced40", func(b *testing.B) {
		ceiling := ensureCeiling(b, pool)
		db := chtest.New(b)
		store := openStoreB(b, db.DSN)
		resetPeakRSS()
		c, stop := startBench(b, store)
		conn, err := net.DialUDP("udp", nil, c.UDPAddr().(*net.UDPAddr))
		if err != nil {
			b.Fatal(err)
		}
		defer conn.Close()
		avgDocs := 0.0
		for _, d := range pool.docs {
			avgDocs += float64(d)
		}
		avgDocs /= float64(len(pool.docs))
		dgPerSec := 0.4 * ceiling / avgDocs
		var docs, spans, sent int
		start := time.Now()
		for b.Loop() {
			// Pace: datagram k leaves at start + k/rate (bursts of 1 ms).
			if due := start.Add(time.Duration(float64(sent) / dgPerSec * float64(time.Second))); time.Until(due) > time.Millisecond {
				time.Sleep(time.Until(due))
			}
			dg, d, s := pool.next()
			if _, err := conn.Write(dg); err != nil {
				b.Fatal(err)
			}
			sent++
			docs += d
			spans += s
		}
		sendElapsed := time.Since(start)
		// Whatever the collector accepted gets stored; wait for it.
		deadline := time.Now().Add(2 * time.Minute)
		for (metric(c, "fluoro_collector_queued") > 0 || metric(c, "fluoro_collector_spool_records") > 0 ||
			c.m.receivedUDP.Get() < uint64(sent) && time.Since(start) < sendElapsed+5*time.Second) && time.Now().Before(deadline) {
			time.Sleep(20 * time.Millisecond)
		}
		stop()
		stored := db.Count(b, fmt.Sprintf("SELECT count() FROM %s.documents FINAL", db.Name))
		b.ReportMetric(float64(sent)/sendElapsed.Seconds(), "datagrams/s")
		b.ReportMetric(float64(docs)/sendElapsed.Seconds(), "docs/s")
		b.ReportMetric(100*(1-float64(stored)/float64(docs)), "%loss")
		b.ReportMetric(100*(1-float64(c.m.receivedUDP.Get())/float64(sent)), "%kernel-loss")
		b.ReportMetric(peakRSS(), "peakRSS-MiB")
	})
}

func openStoreB(b *testing.B, dsn string) *chstore.Store {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	st, err := chstore.Open(ctx, dsn, chstore.Options{})
	if err != nil {
		b.Fatalf("chstore.Open: %v", err)
	}
	b.Cleanup(func() { st.Close() })
	return st
}

// ensureCeiling returns the ceiling measured by the ceiling sub-benchmark,
// measuring a short one when it did not run.
func ensureCeiling(b *testing.B, pool *benchPool) float64 {
	if ceilingDocsPerSec == 0 {
		db := chtest.New(b)
		ceilingDocsPerSec, _ = measureCeiling(b, openStoreB(b, db.DSN), pool, 30000, 10000)
	}
	return ceilingDocsPerSec
}

// startBench runs a collector with default settings writing to store.
func startBench(b *testing.B, store Sink) (*Collector, func()) {
	cfg := DefaultConfig()
	cfg.UDPAddr = "127.0.0.1:0"
	cfg.TCPAddr, cfg.OTLPAddr = "", ""
	cfg.SpoolDir = b.TempDir()
	c, err := New(cfg, Settings{Sink: store})
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- c.Run(ctx) }()
	<-c.Ready()
	return c, func() {
		cancel()
		if err := <-done; err != nil {
			b.Error(err)
		}
	}
}

// waitStored waits until every datagram sent was read (failing on kernel
// drops) and the collector holds nothing more.
func waitStored(b *testing.B, c *Collector, sent int) {
	deadline := time.Now().Add(10 * time.Second)
	for c.m.receivedUDP.Get() < uint64(sent) {
		if time.Now().After(deadline) {
			b.Fatalf("the kernel dropped %d of %d datagrams", uint64(sent)-c.m.receivedUDP.Get(), sent)
		}
		time.Sleep(time.Millisecond)
	}
	deadline = time.Now().Add(5 * time.Minute)
	accepted := func() uint64 { return uint64(metric(c, `fluoro_collector_accepted_total{transport="udp"}`)) }
	for c.m.inserted.Get()+uint64(metricSumDropped(c)) < accepted() ||
		metric(c, "fluoro_collector_queued") > 0 || metric(c, "fluoro_collector_spool_records") > 0 {
		if time.Now().After(deadline) {
			var buf bytes.Buffer
			c.WriteMetrics(&buf)
			b.Fatalf("only %d of %d documents stored after 5 minutes:\n%s", c.m.inserted.Get(), accepted(), buf.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func checkExact(b *testing.B, db *chtest.DB, c *Collector, docs, spans, sent int) {
	if got := c.m.receivedUDP.Get(); got != uint64(sent) {
		b.Errorf("received %d of %d datagrams", got, sent)
	}
	if got := db.Count(b, fmt.Sprintf("SELECT count() FROM %s.documents FINAL", db.Name)); got != uint64(docs) {
		b.Errorf("documents stored: %d, want %d", got, docs)
	}
	if got := db.Count(b, fmt.Sprintf("SELECT count() FROM %s.spans FINAL", db.Name)); got != uint64(spans) {
		b.Errorf("spans stored: %d, want %d", got, spans)
	}
}
