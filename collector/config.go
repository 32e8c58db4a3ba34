package collector

import (
	"errors"
	"flag"
	"fmt"
	"net"
	"runtime"
	"time"
)

// Config is the collector's user-set configuration. Register its flags with
// RegisterFlags; New calls Validate.
type Config struct {
	// UDPAddr receives X-Ray daemon datagrams ("" disables UDP).
	UDPAddr string
	// TCPAddr serves Handler: PutTraceSegments, sampling, metrics ("" disables).
	TCPAddr string
	// OTLPAddr serves OTLP/HTTP trace exports, POST /v1/traces ("" disables).
	OTLPAddr string
	// UDPReaders is the number of goroutines reading the UDP socket, each
	// with its own 64 KiB buffer and decoder.
	UDPReaders int
	// UDPReadBuffer is the requested socket receive buffer (SO_RCVBUF) in
	// bytes. The kernel caps it at net.core.rmem_max.
	UDPReadBuffer int
	// QueueSize bounds the documents waiting between the readers and the
	// batcher.
	QueueSize int
	// QueueBytes bounds the estimated memory of every document the collector
	// holds (queue, batch being filled, batches waiting or being written).
	// Documents beyond it are dropped and counted.
	QueueBytes int64
	// BatchSize is the number of documents that triggers a write.
	BatchSize int
	// BatchWait is the longest a document waits for its batch to fill.
	BatchWait time.Duration
	// WriteTimeout bounds one Sink.WriteDocuments call; a batch that takes
	// longer goes to the spool.
	WriteTimeout time.Duration
	// SpoolDir holds the on-disk spool (created if missing).
	SpoolDir string
	// SpoolMaxBytes bounds the spool's size on disk.
	SpoolMaxBytes int64
	// ShutdownTimeout bounds the final flush to the sink on shutdown; what
	// is not written by then is spooled.
	ShutdownTimeout time.Duration
}

// DefaultConfig returns the defaults that RegisterFlags installs.
func DefaultConfig() Config {
	return Config{
		UDPAddr:         "127.0.0.1:2000",
		TCPAddr:         "127.0.0.1:2000",
		OTLPAddr:        "127.0.0.1:4318",
		UDPReaders:      runtime.NumCPU(),
		UDPReadBuffer:   8 << 20,
		QueueSize:       100_000,
		QueueBytes:      256 << 20,
		BatchSize:       10_000,
		BatchWait:       time.Second,
		WriteTimeout:    30 * time.Second,
		SpoolDir:        ".fluoro/spool",
		SpoolMaxBytes:   1 << 30,
		ShutdownTimeout: 10 * time.Second,
	}
}

// RegisterFlags registers the collector's flags on fs with DefaultConfig's
// values as defaults.
func (c *Config) RegisterFlags(fs *flag.FlagSet) {
	d := DefaultConfig()
	fs.StringVar(&c.UDPAddr, "udp-addr", d.UDPAddr, "UDP `address` for X-Ray daemon-protocol segment datagrams (empty disables)")
	fs.StringVar(&c.TCPAddr, "tcp-addr", d.TCPAddr, "TCP `address` for PutTraceSegments, GetSamplingRules, SamplingTargets and /metrics (empty disables)")
	fs.StringVar(&c.OTLPAddr, "otlp-addr", d.OTLPAddr, "TCP `address` for OTLP/HTTP trace exports, POST /v1/traces, protobuf or JSON (empty disables)")
	fs.IntVar(&c.UDPReaders, "udp-readers", d.UDPReaders, "goroutines reading and decoding UDP datagrams (default: number of CPUs)")
	fs.IntVar(&c.UDPReadBuffer, "udp-read-buffer", d.UDPReadBuffer, "UDP socket receive buffer in `bytes` (capped by the kernel's net.core.rmem_max)")
	fs.IntVar(&c.QueueSize, "collector-queue-size", d.QueueSize, "documents waiting to be batched; more are dropped and counted")
	fs.Int64Var(&c.QueueBytes, "collector-queue-bytes", d.QueueBytes, "estimated memory in `bytes` of all documents held before they are stored or spooled; more are dropped and counted")
	fs.IntVar(&c.BatchSize, "collector-batch-size", d.BatchSize, "documents per ClickHouse insert")
	fs.DurationVar(&c.BatchWait, "collector-batch-wait", d.BatchWait, "longest time a document waits for its batch to fill")
	fs.DurationVar(&c.WriteTimeout, "collector-write-timeout", d.WriteTimeout, "timeout of one batch insert; slower batches go to the spool")
	fs.StringVar(&c.SpoolDir, "spool-dir", d.SpoolDir, "`directory` of the on-disk spool that holds batches while ClickHouse is slow or down")
	fs.Int64Var(&c.SpoolMaxBytes, "spool-max-bytes", d.SpoolMaxBytes, "maximum spool size on disk in `bytes`; when full, new batches are dropped and counted")
	fs.DurationVar(&c.ShutdownTimeout, "collector-shutdown-timeout", d.ShutdownTimeout, "time allowed on shutdown for the last inserts before the rest is spooled")
}

// Validate reports every invalid setting.
func (c *Config) Validate() error {
	var errs []error
	check := func(ok bool, format string, args ...any) {
		if !ok {
			errs = append(errs, fmt.Errorf(format, args...))
		}
	}
	for _, a := range []struct{ flag, addr string }{{"udp-addr", c.UDPAddr}, {"tcp-addr", c.TCPAddr}, {"otlp-addr", c.OTLPAddr}} {
		if a.addr == "" {
			continue
		}
		if _, _, err := net.SplitHostPort(a.addr); err != nil {
			errs = append(errs, fmt.Errorf("--%s %q: %w", a.flag, a.addr, err))
		}
	}
	check(c.UDPAddr != "" || c.TCPAddr != "", "--udp-addr and --tcp-addr are both empty: nothing to listen on")
	check(c.UDPReaders >= 1 && c.UDPReaders <= 1024, "--udp-readers %d: must be 1..1024", c.UDPReaders)
	check(c.UDPReadBuffer >= 64<<10, "--udp-read-buffer %d: must be at least 65536", c.UDPReadBuffer)
	check(c.QueueSize >= 1, "--collector-queue-size %d: must be positive", c.QueueSize)
	check(c.QueueBytes >= 1<<20, "--collector-queue-bytes %d: must be at least 1 MiB", c.QueueBytes)
	check(c.BatchSize >= 1, "--collector-batch-size %d: must be positive", c.BatchSize)
	check(c.BatchWait > 0, "--collector-batch-wait %v: must be positive", c.BatchWait)
	check(c.WriteTimeout > 0, "--collector-write-timeout %v: must be positive", c.WriteTimeout)
	check(c.SpoolDir != "", "--spool-dir: must not be empty")
	check(c.SpoolMaxBytes >= 1<<20, "--spool-max-bytes %d: must be at least 1 MiB", c.SpoolMaxBytes)
	check(c.ShutdownTimeout > 0, "--collector-shutdown-timeout %v: must be positive", c.ShutdownTimeout)
	return errors.Join(errs...)
}
