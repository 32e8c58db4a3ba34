package collector

import (
	"bytes"
	"context"
	"net"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/fluoro/fluoro/collector/loadgen"
	"github.com/fluoro/fluoro/collector/segment"
)

// discardSink counts what it is given.
type discardSink struct{ docs, spans atomic.Int64 }

func (s *discardSink) WriteDocuments(_ context.Context, docs []segment.Document) error {
	s.docs.Add(int64(len(docs)))
	n := 0
	for i := range docs {
		n += len(docs[i].Spans)
	}
	s.spans.Add(int64(n))
	return nil
}

// datagrams pre-generates n datagrams of the realistic mix.
func datagrams(n int, seed uint64) (dgs [][]byte, totalBytes int) {
	g := loadgen.New(seed)
	for range n {
		dg := g.Datagram(nil)
		dgs = append(dgs, dg)
		totalBytes += len(dg)
	}
	return dgs, totalBytes
}

// sendWindowed writes dg, first waiting until at most window datagrams sent
// earlier are still unread by the collector, so the socket buffer never
// overflows and the rate measured is the collector's.
func sendWindowed(b testing.TB, conn *net.UDPConn, c *Collector, dg []byte, sent *int, window int) {
	// Sleep rather than spin: a spinning sender delays the netpoller
	// that wakes the readers.
	for *sent-int(c.m.receivedUDP.Get()) >= window {
		time.Sleep(50 * time.Microsecond)
	}
	if _, err := conn.Write(dg); err != nil {
		b.Fatal(err)
	}
	*sent++
}

// BenchmarkUDPIngest measures datagrams per second through the UDP socket,
// the readers (split + decode) and the batcher into a discarding sink. The
// sender runs in the same process and shares the CPUs.
//
//	go test -run '^$' -bench BenchmarkUDPIngest -benchtime 200000x ./collector/
func BenchmarkUDPIngest(b *testing.B) {
	sink := &discardSink{}
	cfg := DefaultConfig()
	cfg.UDPAddr = "127.0.0.1:0"
	cfg.TCPAddr, cfg.OTLPAddr = "", ""
	cfg.SpoolDir = b.TempDir()
	c, err := New(cfg, Settings{Sink: sink})
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- c.Run(ctx) }()
	<-c.Ready()
	conn, err := net.DialUDP("udp", nil, c.UDPAddr().(*net.UDPAddr))
	if err != nil {
		b.Fatal(err)
	}
	defer conn.Close()

	dgs, total := datagrams(20000, 1)
	b.SetBytes(int64(total / len(dgs)))
	b.ReportAllocs()
	sent := 0
	cpu0 := cpuTime()
	for b.Loop() {
		sendWindowed(b, conn, c, dgs[sent%len(dgs)], &sent, 1000)
	}
	elapsed := b.Elapsed()
	cpu := cpuTime() - cpu0
	deadline := time.Now().Add(10 * time.Second)
	for int(c.m.receivedUDP.Get()) < sent && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	cancel()
	if err := <-done; err != nil {
		b.Fatal(err)
	}
	received := c.m.receivedUDP.Get()
	b.ReportMetric(float64(sent)/elapsed.Seconds(), "datagrams/s")
	b.ReportMetric(float64(sink.spans.Load())/elapsed.Seconds(), "spans/s")
	b.ReportMetric(100*float64(uint64(sent)-received)/float64(sent), "%lost")
	// CPU time of the whole process (sender included) per datagram: less
	// sensitive than the rate to other load on the machine.
	b.ReportMetric(float64(cpu.Microseconds())/float64(sent), "cpu-µs/datagram")
	if rejected := metricSum(c, "fluoro_collector_rejected_total"); rejected != 0 {
		var buf bytes.Buffer
		c.WriteMetrics(&buf)
		b.Fatalf("%v datagrams of the realistic mix were rejected:\n%s", rejected, buf.String())
	}
}

// cpuTime returns the process's user+system CPU time.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// metricSum adds all series of a metric family.
func metricSum(c *Collector, family string) float64 {
	var sum float64
	for _, r := range append([]string(nil), segment.Reasons...) {
		sum += metric(c, family+`{reason="`+r+`"}`)
	}
	return sum
}
