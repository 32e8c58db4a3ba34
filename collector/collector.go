package collector

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/fluoro/fluoro/collector/otlp"
	"github.com/fluoro/fluoro/collector/sampling"
	"github.com/fluoro/fluoro/collector/segment"
	"github.com/fluoro/fluoro/collector/spool"
)

// Sink stores batches of documents; *chstore.Store satisfies it.
//
// WriteDocuments must return nil only once the documents are durably stored,
// must not keep docs (or anything it references) after returning, and must
// tolerate the same documents being written twice (the collector replays a
// batch whose outcome it does not know).
type Sink interface {
	WriteDocuments(ctx context.Context, docs []segment.Document) error
}

// Settings are the collector's developer-set dependencies.
type Settings struct {
	// Logger receives the collector's logs (nil discards them).
	Logger *slog.Logger
	// Sink stores the documents (required).
	Sink Sink
	// Sampling answers GetSamplingRules and SamplingTargets on the TCP
	// port. Share one Service (with a persistent Store) with the X-Ray API;
	// nil: a Service of its own with an in-memory store (only the Default
	// rule until rules are created through it).
	Sampling *sampling.Service
	// Limits are the decoder's limits (zero value: segment.DefaultLimits).
	Limits segment.Limits
	// Observers see every batch as soon as the batcher forms it, before it
	// is stored or spooled, so their latency does not depend on the
	// storage's (per-trace alert rules). Replays from the spool are not
	// observed again.
	Observers []Observer
}

// Observer is told about documents on their way to storage.
// ObserveDocuments runs on the batcher's goroutine: it must return quickly
// (hand the work to a goroutine of its own, dropping and counting when
// that falls behind) and copy what it keeps, because the documents' arrays
// are reused after it returns.
type Observer interface {
	ObserveDocuments(docs []segment.Document)
}

// Collector receives X-Ray segment documents over UDP and HTTP, batches them
// and writes them to a Sink, spooling to disk while the Sink fails. See the
// package documentation for the data flow.
type Collector struct {
	cfg  Config
	log  *slog.Logger
	sink Sink
	// observers see each batch before it is stored (Settings.Observers).
	observers []Observer
	limits    segment.Limits
	spool     *spool.Spool
	m         *collectorMetrics
	samp      *sampling.Service
	handler   http.Handler
	// decoders holds *segment.Decoder for HTTP requests; batchPool *batch.
	decoders, batchPool sync.Pool

	queue   chan segment.Document
	memUsed atomic.Int64 // estimated bytes of documents held in memory
	queued  atomic.Int64 // documents accepted, not yet stored, spooled or dropped

	// pipeline state between batcher and writer (see pipeline.go)
	pmu         sync.Mutex
	pending     *batch
	writerWake  chan struct{}
	batcherDone chan struct{}

	// inMu guards closed against HTTP handlers enqueueing during shutdown.
	inMu   sync.RWMutex
	closed bool

	ran    atomic.Bool
	ready  chan struct{}
	udpLn  net.PacketConn
	tcpLn  net.Listener
	otlpLn net.Listener
	otlp   *otlp.Handler

	warnMu   sync.Mutex
	lastWarn map[string]time.Time

	backoff [2]time.Duration // min and max retry delay after a sink failure
}

// New validates cfg, opens the spool and returns a collector ready to Run.
// Its Handler may be served before Run starts.
func New(cfg Config, set Settings) (*Collector, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("collector config: %w", err)
	}
	if set.Sink == nil {
		return nil, errors.New("collector: Settings.Sink is nil")
	}
	log := set.Logger
	if log == nil {
		log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	sp, err := spool.Open(spool.Options{Dir: cfg.SpoolDir, MaxBytes: cfg.SpoolMaxBytes})
	if err != nil {
		return nil, fmt.Errorf("collector: %w", err)
	}
	c := &Collector{
		cfg:         cfg,
		log:         log,
		sink:        set.Sink,
		observers:   set.Observers,
		limits:      set.Limits,
		spool:       sp,
		samp:        set.Sampling,
		queue:       make(chan segment.Document, cfg.QueueSize),
		writerWake:  make(chan struct{}, 1),
		batcherDone: make(chan struct{}),
		ready:       make(chan struct{}),
		lastWarn:    map[string]time.Time{},
		backoff:     [2]time.Duration{minBackoff, maxBackoff},
	}
	if c.samp == nil {
		c.samp = sampling.New(nil, sampling.Options{Logger: log})
	}
	c.decoders.New = func() any { return segment.NewDecoder(c.limits) }
	c.m = newMetrics(
		func() float64 { return float64(c.queued.Load()) },
		func() float64 { return float64(c.spool.Stats().Bytes) },
		func() float64 { return float64(c.spool.Stats().Records) },
		func() float64 { return float64(c.spool.Stats().TornBytes) },
	)
	c.handler = c.routes()
	c.otlp = &otlp.Handler{Consumer: c, Log: log}
	c.m.otlpStats(&c.otlp.Stats)
	if st := sp.Stats(); st.Records > 0 {
		log.Info("spool has documents from an earlier run; replaying them first",
			"records", st.Records, "bytes", st.Bytes, "torn_bytes", st.TornBytes)
	}
	return c, nil
}

// Handler returns the TCP side's HTTP handler: POST /TraceSegments,
// /TelemetryRecords, /GetSamplingRules, /SamplingTargets and GET /metrics.
func (c *Collector) Handler() http.Handler { return c.handler }

// OTLPHandler returns the OTLP/HTTP handler (POST /v1/traces), served on
// Config.OTLPAddr by Run.
func (c *Collector) OTLPHandler() http.Handler { return c.otlp }

// OTLPAddr returns the bound OTLP/HTTP address (nil before Ready or when
// disabled).
func (c *Collector) OTLPAddr() net.Addr {
	if c.otlpLn == nil {
		return nil
	}
	return c.otlpLn.Addr()
}

// WriteMetrics writes the collector's metrics in Prometheus text format.
func (c *Collector) WriteMetrics(w io.Writer) { c.m.set.WritePrometheus(w) }

// Ready is closed once Run has bound its sockets.
func (c *Collector) Ready() <-chan struct{} { return c.ready }

// UDPAddr returns the bound UDP address (nil before Ready or when disabled).
func (c *Collector) UDPAddr() net.Addr {
	if c.udpLn == nil {
		return nil
	}
	return c.udpLn.LocalAddr()
}

// TCPAddr returns the bound TCP address (nil before Ready or when disabled).
func (c *Collector) TCPAddr() net.Addr {
	if c.tcpLn == nil {
		return nil
	}
	return c.tcpLn.Addr()
}

// Run serves UDP and TCP until ctx is done, then stops reading, flushes
// every accepted document to the sink (or, failing that, to the spool),
// syncs and closes the spool. It can be called once.
func (c *Collector) Run(ctx context.Context) error {
	if !c.ran.CompareAndSwap(false, true) {
		return errors.New("collector: Run called twice")
	}
	defer c.spool.Close()
	var udp *net.UDPConn
	if c.cfg.UDPAddr != "" {
		addr, err := net.ResolveUDPAddr("udp", c.cfg.UDPAddr)
		if err != nil {
			return fmt.Errorf("collector: resolve %s: %w", c.cfg.UDPAddr, err)
		}
		udp, err = net.ListenUDP("udp", addr)
		if err != nil {
			return fmt.Errorf("collector: listen udp: %w", err)
		}
		if err := udp.SetReadBuffer(c.cfg.UDPReadBuffer); err != nil {
			c.log.Warn("cannot set UDP receive buffer", "bytes", c.cfg.UDPReadBuffer, "err", err)
		}
		c.udpLn = udp
	}
	var srv *http.Server
	if c.cfg.TCPAddr != "" {
		ln, err := net.Listen("tcp", c.cfg.TCPAddr)
		if err != nil {
			if udp != nil {
				udp.Close()
			}
			return fmt.Errorf("collector: listen tcp: %w", err)
		}
		c.tcpLn = ln
		srv = c.httpServer(c.handler)
	}
	var otlpSrv *http.Server
	if c.cfg.OTLPAddr != "" {
		ln, err := net.Listen("tcp", c.cfg.OTLPAddr)
		if err != nil {
			if udp != nil {
				udp.Close()
			}
			if c.tcpLn != nil {
				c.tcpLn.Close()
			}
			return fmt.Errorf("collector: listen otlp: %w", err)
		}
		c.otlpLn = ln
		otlpSrv = c.httpServer(c.otlp)
	}
	close(c.ready)
	c.log.Info("collector listening", "udp", c.UDPAddr(), "tcp", c.TCPAddr(), "otlp", c.OTLPAddr(),
		"readers", c.cfg.UDPReaders, "batch_size", c.cfg.BatchSize, "spool_dir", c.cfg.SpoolDir)

	// The writer's sink calls outlive ctx so the final flush works; they
	// are cut off ShutdownTimeout after shutdown began (then spooled).
	base := context.WithoutCancel(ctx)
	flushCtx, cancelFlush := context.WithCancel(base)
	defer cancelFlush()
	stopBatcher := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); c.batcher(stopBatcher) }()
	go func() { defer wg.Done(); c.writer(flushCtx) }()

	var readers sync.WaitGroup
	if udp != nil {
		for range c.cfg.UDPReaders {
			readers.Add(1)
			go func() { defer readers.Done(); c.readLoop(udp) }()
		}
	}
	srvErr := make(chan error, 2)
	if srv != nil {
		go func() { srvErr <- srv.Serve(c.tcpLn) }()
	}
	if otlpSrv != nil {
		go func() { srvErr <- otlpSrv.Serve(c.otlpLn) }()
	}

	var runErr error
	select {
	case <-ctx.Done():
	case err := <-srvErr:
		if !errors.Is(err, http.ErrServerClosed) {
			runErr = fmt.Errorf("collector: serve tcp: %w", err)
		}
	}

	// Stop accepting: drain and close the socket, let HTTP requests in
	// flight finish.
	hardStop := time.AfterFunc(c.cfg.ShutdownTimeout, cancelFlush)
	defer hardStop.Stop()
	if udp != nil {
		// Read what the socket already buffered, briefly, then stop.
		udp.SetReadDeadline(time.Now().Add(udpDrain))
	}
	for _, s := range []*http.Server{srv, otlpSrv} {
		if s == nil {
			continue
		}
		sctx, cancel := context.WithTimeout(base, c.cfg.ShutdownTimeout)
		if err := s.Shutdown(sctx); err != nil {
			s.Close()
		}
		cancel()
	}
	readers.Wait()
	if udp != nil {
		udp.Close()
	}
	c.inMu.Lock()
	c.closed = true
	c.inMu.Unlock()
	// Flush: the batcher drains the queue, the writer stores or spools.
	close(stopBatcher)
	wg.Wait()
	if err := c.spool.Sync(); err != nil {
		runErr = errors.Join(runErr, fmt.Errorf("collector: %w", err))
	}
	st := c.spool.Stats()
	c.log.Info("collector stopped", "spool_records", st.Records, "spool_bytes", st.Bytes)
	return runErr
}

// httpServer returns the server of one of the collector's HTTP listeners.
func (c *Collector) httpServer(h http.Handler) *http.Server {
	return &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       time.Minute,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          slog.NewLogLogger(c.log.Handler(), slog.LevelWarn),
	}
}

// readLoop reads datagrams until the socket is closed. Each reader owns its
// buffer, decoder and document slice; nothing here blocks on the sink.
func (c *Collector) readLoop(conn *net.UDPConn) {
	buf := make([]byte, segment.MaxDatagram)
	dec := segment.NewDecoder(c.limits)
	var docs []segment.Document
	for {
		n, err := conn.Read(buf)
		if err != nil {
			if errors.Is(err, net.ErrClosed) || errors.Is(err, os.ErrDeadlineExceeded) {
				return
			}
			c.m.readErrors.Inc()
			c.warn("udp_read", "UDP read failed", "err", err)
			time.Sleep(10 * time.Millisecond)
			continue
		}
		c.m.receivedUDP.Inc()
		c.m.receivedBytesUDP.Add(n)
		body, err := segment.SplitDatagram(buf[:n])
		if err != nil {
			c.m.reject(err)
			continue
		}
		// Decode reuses Spans arrays of documents in spare capacity: clear
		// the slots so documents handed to the queue are never reused.
		clear(docs[:cap(docs)])
		docs, err = dec.Decode(body, time.Now().UnixNano(), docs[:0])
		if err != nil {
			c.m.reject(err)
		}
		for i := range docs {
			c.m.acceptedUDP.Inc()
			c.enqueue(&docs[i])
		}
	}
}

// udpDrain is how long readers keep reading already-buffered datagrams
// after shutdown began.
const udpDrain = 200 * time.Millisecond

var spanSize = int64(unsafe.Sizeof(segment.Span{}))

// docMem estimates the memory a decoded document holds: its raw bytes, the
// copy its strings point into, and its spans.
func docMem(d *segment.Document) int64 {
	return 2*int64(len(d.Raw)) + int64(len(d.Spans))*spanSize + int64(unsafe.Sizeof(*d))
}

// enqueue hands a document to the batcher without blocking; when the queue
// or the memory budget is full it drops the document, counts it and returns
// false.
func (c *Collector) enqueue(d *segment.Document) bool {
	mem := docMem(d)
	if c.memUsed.Add(mem) > c.cfg.QueueBytes {
		c.memUsed.Add(-mem)
		c.m.drop(dropQueueFull, 1)
		c.warn(dropQueueFull, "collector queue full: dropping documents", "queue_bytes", c.cfg.QueueBytes)
		return false
	}
	c.queued.Add(1)
	select {
	case c.queue <- *d:
		return true
	default:
		c.memUsed.Add(-mem)
		c.queued.Add(-1)
		c.m.drop(dropQueueFull, 1)
		c.warn(dropQueueFull, "collector queue full: dropping documents", "queue_size", c.cfg.QueueSize)
		return false
	}
}

// warn logs at most once per 10 s per key (never per packet).
func (c *Collector) warn(key, msg string, args ...any) {
	now := time.Now()
	c.warnMu.Lock()
	last := c.lastWarn[key]
	ok := now.Sub(last) >= 10*time.Second
	if ok {
		c.lastWarn[key] = now
	}
	c.warnMu.Unlock()
	if ok {
		c.log.Warn(msg, args...)
	}
}
