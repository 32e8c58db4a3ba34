package api

import (
	"errors"
	"flag"
	"fmt"
	"net"
	"time"
)

// BatchGetTracesMaxIDs is how many trace ids one BatchGetTraces call may
// ask for, as in AWS ("Exceeding maximum query size: 5").
const BatchGetTracesMaxIDs = 5

// maxBodyBytes bounds request bodies; the largest X-Ray requests
// (PutTelemetryRecords, sampling documents) are far smaller.
const maxBodyBytes = 1 << 20

// defaultSamplingRate is the share of traces GetTraceSummaries returns when
// Sampling is true and no SamplingStrategy gives a rate.
const defaultSamplingRate = 0.1

// Config is the user-set configuration of the X-Ray API server.
type Config struct {
	// Addr is the TCP listen address.
	Addr string
	// MaxWindow is the longest EndTime-StartTime GetTraceSummaries accepts.
	MaxWindow time.Duration
	// PageSize is how many traces one GetTraceSummaries page looks at.
	PageSize int
	// IndexCandidates is the most traces a GetTraceSummaries filter that
	// names string annotation values (`annotation.k = "v"`) may find in
	// the annotation index for the search to check them one by one
	// (fetching their documents, as BatchGetTraces does); beyond it the
	// search scans spans instead. 0 turns the index off.
	IndexCandidates int
	// MaxTraceBytes caps the compiled documents of one trace in
	// BatchGetTraces; beyond it later segments are left out and
	// LimitExceeded is set. 0 means no limit.
	MaxTraceBytes int
	// MaxConcurrent bounds the X-Ray operations served at once; beyond it
	// requests get ThrottledException (HTTP 429), which SDKs retry with
	// back-off. It protects ClickHouse from request storms.
	MaxConcurrent int
	// ShutdownTimeout bounds how long Run waits for requests in flight.
	ShutdownTimeout time.Duration
}

// DefaultConfig returns the defaults the flags start from.
func DefaultConfig() Config {
	return Config{
		Addr:            "127.0.0.1:2001",
		MaxWindow:       24 * time.Hour,
		PageSize:        100,
		IndexCandidates: 5000,
		MaxTraceBytes:   16 << 20,
		MaxConcurrent:   32,
		ShutdownTimeout: 10 * time.Second,
	}
}

// RegisterFlags registers the API flags on fs with c's current values as
// defaults (call on a DefaultConfig).
func (c *Config) RegisterFlags(fs *flag.FlagSet) {
	fs.StringVar(&c.Addr, "api-addr", c.Addr, "listen address of the X-Ray API (BatchGetTraces, GetTraceSummaries, …); point AWS SDKs, the AWS CLI or Grafana here with --endpoint-url")
	fs.DurationVar(&c.MaxWindow, "api-max-window", c.MaxWindow, "longest time window GetTraceSummaries accepts (EndTime - StartTime)")
	fs.IntVar(&c.PageSize, "api-page-size", c.PageSize, "traces per GetTraceSummaries page (1-1000)")
	fs.IntVar(&c.IndexCandidates, "api-index-candidates", c.IndexCandidates, "GetTraceSummaries filters naming annotation values (annotation.k = \"v\") use the annotation index when it finds at most this many traces in the window, and scan spans otherwise (0 = never use the index)")
	fs.IntVar(&c.MaxTraceBytes, "api-max-trace-bytes", c.MaxTraceBytes, "largest compiled trace BatchGetTraces returns in bytes; beyond it LimitExceeded is set (0 = no limit)")
	fs.IntVar(&c.MaxConcurrent, "api-max-concurrent", c.MaxConcurrent, "X-Ray API operations served at once; more get ThrottledException (HTTP 429) and SDKs retry")
	fs.DurationVar(&c.ShutdownTimeout, "api-shutdown-timeout", c.ShutdownTimeout, "how long the API waits for requests in flight on shutdown")
}

// Validate reports every invalid setting.
func (c *Config) Validate() error {
	var errs []error
	if _, port, err := net.SplitHostPort(c.Addr); err != nil || port == "" {
		errs = append(errs, fmt.Errorf("--api-addr %q: want host:port", c.Addr))
	}
	if c.MaxWindow <= 0 {
		errs = append(errs, fmt.Errorf("--api-max-window %v: must be positive", c.MaxWindow))
	}
	if c.PageSize < 1 || c.PageSize > 1000 {
		errs = append(errs, fmt.Errorf("--api-page-size %d: must be 1-1000", c.PageSize))
	}
	if c.IndexCandidates < 0 || c.IndexCandidates > 100_000 {
		errs = append(errs, fmt.Errorf("--api-index-candidates %d: must be 0-100000", c.IndexCandidates))
	}
	if c.MaxTraceBytes < 0 {
		errs = append(errs, fmt.Errorf("--api-max-trace-bytes %d: must be ≥ 0", c.MaxTraceBytes))
	}
	if c.MaxConcurrent < 1 {
		errs = append(errs, fmt.Errorf("--api-max-concurrent %d: must be ≥ 1", c.MaxConcurrent))
	}
	if c.ShutdownTimeout <= 0 {
		errs = append(errs, fmt.Errorf("--api-shutdown-timeout %v: must be positive", c.ShutdownTimeout))
	}
	return errors.Join(errs...)
}
