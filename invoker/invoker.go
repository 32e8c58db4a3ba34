package invoker

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/fluoro/fluoro/invoker/asyncq"
	"github.com/fluoro/fluoro/invoker/engine"
	"github.com/fluoro/fluoro/invoker/httpserve"
	"github.com/fluoro/fluoro/invoker/lambdaapi"
	"github.com/fluoro/fluoro/invoker/logs"
	"github.com/fluoro/fluoro/invoker/runtimes"
	"github.com/fluoro/fluoro/invoker/sampling"
	"github.com/fluoro/fluoro/invoker/sandbox"
	"github.com/fluoro/fluoro/invoker/store"
	"github.com/fluoro/fluoro/invoker/xrayemit"
)

// Config is the invoker's user-set configuration.
type Config struct {
	// LambdaAddr is where the Lambda REST API listens.
	LambdaAddr string
	// DataDir holds the durable state (functions, code, queued events).
	DataDir string
	// WorkDir holds extracted code and environment directories; "" picks
	// DataDir/work, or a directory under the system temp dir when the
	// function user could not reach DataDir.
	WorkDir string
	// XRayDaemonAddr is the collector's UDP segment address; functions get it
	// as AWS_XRAY_DAEMON_ADDRESS.
	XRayDaemonAddr string
	// SamplingAddr is the collector's TCP address for GetSamplingRules and
	// SamplingTargets; "" means XRayDaemonAddr, "off" disables polling.
	SamplingAddr string
	// Region and AccountID appear in ARNs and the environment.
	Region, AccountID string
	// MaxConcurrency is the engine-wide concurrency limit.
	MaxConcurrency int
	// IdleTimeout is how long unused environments are kept.
	IdleTimeout time.Duration
	// InitTimeout bounds an environment's Init phase.
	InitTimeout time.Duration
	// MaxAsyncPayload bounds Event payloads (256 KB historically, 1 MB now).
	MaxAsyncPayload int
	// AllowLocalCode enables Code.S3Bucket "local" (a host directory).
	AllowLocalCode bool
	// Sandbox selects the isolation.
	Sandbox sandbox.Config
	// Runtimes selects the interpreters of managed runtimes.
	Runtimes runtimes.Config
	// Async configures the durable queue of Event invocations.
	Async asyncq.Config
}

// RegisterFlags registers the invoker's flags on fs with their defaults.
func (c *Config) RegisterFlags(fs *flag.FlagSet) {
	fs.StringVar(&c.LambdaAddr, "invoker-addr", "127.0.0.1:3001", "listen address of the Lambda REST API")
	fs.StringVar(&c.DataDir, "invoker-data-dir", "fluoro-data/invoker", "folder of the invoker's durable state (functions, versions, code, queued events)")
	fs.StringVar(&c.WorkDir, "invoker-work-dir", "", "folder for extracted code and per-environment /tmp (default: <invoker-data-dir>/work, or under the system temp dir when the function user cannot reach it)")
	fs.StringVar(&c.XRayDaemonAddr, "invoker-xray-addr", "127.0.0.1:2000", "UDP address of the collector; functions get it as AWS_XRAY_DAEMON_ADDRESS")
	fs.StringVar(&c.SamplingAddr, "invoker-sampling-addr", "", `TCP address of the collector's sampling API ("" = invoker-xray-addr, "off" = fixed 1/s + 5 %)`)
	fs.StringVar(&c.Region, "invoker-region", "us-east-1", "region in ARNs and AWS_REGION")
	fs.StringVar(&c.AccountID, "invoker-account-id", "000000000000", "12-digit account id in ARNs")
	fs.IntVar(&c.MaxConcurrency, "invoker-max-concurrency", 1000, "engine-wide limit of concurrent executions (environments in use)")
	fs.DurationVar(&c.IdleTimeout, "invoker-idle-timeout", 10*time.Minute, "how long an unused execution environment is kept warm")
	fs.DurationVar(&c.InitTimeout, "invoker-init-timeout", 10*time.Second, "limit of an environment's Init phase")
	fs.IntVar(&c.MaxAsyncPayload, "invoker-async-payload-limit", 256*1024, "largest Event (asynchronous) payload in bytes (AWS: 262144, raised to 1048576 in 2025)")
	fs.BoolVar(&c.AllowLocalCode, "invoker-local-code", true, `allow Code.S3Bucket "local" with S3Key = a directory on this host`)
	c.Sandbox.RegisterFlags(fs)
	c.Runtimes.RegisterFlags(fs)
	c.Async.RegisterFlags(fs)
}

// DefaultConfig returns the flag defaults.
func DefaultConfig() Config {
	var c Config
	c.RegisterFlags(flag.NewFlagSet("", flag.ContinueOnError))
	return c
}

// Validate checks the configuration.
func (c *Config) Validate() error {
	var errs []error
	if _, _, err := net.SplitHostPort(c.LambdaAddr); err != nil {
		errs = append(errs, fmt.Errorf("invoker-addr: %w", err))
	}
	if c.DataDir == "" {
		errs = append(errs, errors.New("invoker-data-dir: required"))
	}
	if _, _, err := net.SplitHostPort(c.XRayDaemonAddr); err != nil {
		errs = append(errs, fmt.Errorf("invoker-xray-addr: %w", err))
	}
	if c.SamplingAddr != "" && c.SamplingAddr != "off" {
		if _, _, err := net.SplitHostPort(c.SamplingAddr); err != nil {
			errs = append(errs, fmt.Errorf("invoker-sampling-addr: %w", err))
		}
	}
	if len(c.AccountID) != 12 || strings.Trim(c.AccountID, "0123456789") != "" {
		errs = append(errs, fmt.Errorf("invoker-account-id: %q is not 12 digits", c.AccountID))
	}
	if c.Region == "" {
		errs = append(errs, errors.New("invoker-region: required"))
	}
	if c.MaxConcurrency < 1 {
		errs = append(errs, errors.New("invoker-max-concurrency: must be ≥ 1"))
	}
	if c.IdleTimeout <= 0 || c.InitTimeout <= 0 {
		errs = append(errs, errors.New("invoker-idle-timeout and invoker-init-timeout must be > 0"))
	}
	if c.MaxAsyncPayload < 1024 || c.MaxAsyncPayload > 6*1024*1024 {
		errs = append(errs, errors.New("invoker-async-payload-limit: must be between 1024 and 6291456"))
	}
	if err := c.Sandbox.Validate(); err != nil {
		errs = append(errs, err)
	}
	if err := c.Runtimes.Validate(); err != nil {
		errs = append(errs, err)
	}
	if err := c.Async.Validate(); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// Settings are developer-set collaborators.
type Settings struct {
	Logger *slog.Logger
}

// Invoker is a running-capable invoker. Create with New, start with Run.
type Invoker struct {
	cfg     Config
	log     *slog.Logger
	store   *store.Store
	sandbox *sandbox.Manager
	emitter *xrayemit.UDPEmitter
	sampler *sampling.Sampler
	engine  *engine.Engine
	api     *lambdaapi.Server
	async   *asyncRunner
	ln      net.Listener
	handler http.Handler
}

// New opens the state and prepares every part; nothing listens until Run.
func New(cfg Config, set Settings) (*Invoker, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	log := set.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	log = log.With("component", "invoker")
	st, err := store.Open(cfg.DataDir)
	if err != nil {
		return nil, err
	}
	sb, err := sandbox.New(cfg.Sandbox, log)
	if err != nil {
		return nil, err
	}
	workDir, err := chooseWorkDir(cfg, sb)
	if err != nil {
		_ = sb.Close()
		return nil, err
	}
	em, err := xrayemit.NewUDPEmitter(cfg.XRayDaemonAddr, 0, log)
	if err != nil {
		_ = sb.Close()
		return nil, err
	}
	samplingAddr := cfg.SamplingAddr
	switch samplingAddr {
	case "":
		samplingAddr = cfg.XRayDaemonAddr
	case "off":
		samplingAddr = ""
	}
	sp := sampling.New(samplingAddr, log)
	_, _, switched := sb.Owner()
	rt := newRuntimeAdapter(cfg.Runtimes, filepath.Join(workDir, "runtimes"), switched)
	eng, err := engine.New(engine.Config{
		MaxConcurrency: cfg.MaxConcurrency, IdleTimeout: cfg.IdleTimeout, InitTimeout: cfg.InitTimeout,
		WorkDir: workDir, Region: cfg.Region, AccountID: cfg.AccountID, XRayDaemonAddr: cfg.XRayDaemonAddr,
		LambdaEndpoint: "http://" + cfg.LambdaAddr,
	}, engine.Settings{Logger: log, Sandbox: sb, Emitter: em, Logs: logs.NewRegistry(0), Runtimes: rt})
	if err != nil {
		_ = sb.Close()
		return nil, err
	}
	inv := &Invoker{cfg: cfg, log: log, store: st, sandbox: sb, emitter: em, sampler: sp, engine: eng}
	inv.async, err = newAsyncRunner(inv)
	if err != nil {
		_ = eng.Close()
		_ = sb.Close()
		return nil, err
	}
	api, err := lambdaapi.New(lambdaapi.Config{
		Region: cfg.Region, AccountID: cfg.AccountID, WorkDir: workDir, AllowLocalCode: cfg.AllowLocalCode,
		MaxAsyncPayload: cfg.MaxAsyncPayload,
	}, lambdaapi.Settings{
		Logger: log, Store: st, Engine: eng, Emitter: em, Sampler: sp, Async: inv.async,
		RuntimeSupported: rt.Supported,
	})
	if err != nil {
		_ = eng.Close()
		_ = sb.Close()
		return nil, err
	}
	inv.api = api
	inv.async.api = api
	inv.handler = api.Handler()
	log.Info("invoker ready", "isolation", sb.Describe(), "work_dir", workDir, "functions", len(st.List()))
	return inv, nil
}

// chooseWorkDir returns the configured work dir, or DataDir/work when the
// function user can traverse to it, else a directory under the temp dir.
func chooseWorkDir(cfg Config, sb *sandbox.Manager) (string, error) {
	dir := cfg.WorkDir
	if dir == "" {
		dir = filepath.Join(cfg.DataDir, "work")
		if _, _, switched := sb.Owner(); switched && !othersCanTraverse(cfg.DataDir) {
			abs, _ := filepath.Abs(cfg.DataDir)
			dir = filepath.Join(os.TempDir(), "fluoro-invoker-"+shortHash(abs))
		}
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", fmt.Errorf("invoker: work dir: %w", err)
	}
	if err := os.Chmod(dir, 0o755); err != nil {
		return "", fmt.Errorf("invoker: work dir: %w", err)
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return "", fmt.Errorf("invoker: work dir: %w", err)
	}
	return abs, nil
}

// othersCanTraverse reports whether every directory from / down to dir is
// searchable by other users (o+x).
func othersCanTraverse(dir string) bool {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return false
	}
	if err := os.MkdirAll(abs, 0o700); err != nil {
		return false
	}
	for p := abs; ; p = filepath.Dir(p) {
		fi, err := os.Stat(p)
		if err != nil || fi.Mode().Perm()&0o001 == 0 {
			return false
		}
		if p == filepath.Dir(p) {
			return true
		}
	}
}

func shortHash(s string) string {
	var h uint32 = 2166136261
	for i := 0; i < len(s); i++ {
		h = (h ^ uint32(s[i])) * 16777619
	}
	return fmt.Sprintf("%08x", h)
}

// Handler returns the Lambda REST API handler (Run serves it on LambdaAddr).
func (inv *Invoker) Handler() http.Handler { return inv.handler }

// Addr returns the API's listen address once Run has started listening.
func (inv *Invoker) Addr() string {
	if inv.ln == nil {
		return inv.cfg.LambdaAddr
	}
	return inv.ln.Addr().String()
}

// Listen opens the API listener (Run calls it when not done before); call it
// first to learn the address of a ":0" LambdaAddr.
func (inv *Invoker) Listen() error {
	if inv.ln != nil {
		return nil
	}
	ln, err := net.Listen("tcp", inv.cfg.LambdaAddr)
	if err != nil {
		return fmt.Errorf("invoker: listen %s: %w", inv.cfg.LambdaAddr, err)
	}
	inv.ln = ln
	return nil
}

// Run serves the API and runs the background parts until ctx is done, then
// stops accepting requests, finishes in-flight ones (bounded), stops every
// environment, and flushes queued segments.
func (inv *Invoker) Run(ctx context.Context) error {
	if err := inv.Listen(); err != nil {
		return err
	}
	// The API's own connection handling (package httpserve) instead of
	// net/http's server: less work per Invoke on the hot path.
	srv := &httpserve.Server{Handler: inv.handler, ReadHeaderTimeout: 30 * time.Second, IdleTimeout: 5 * time.Minute,
		Logger: inv.log}
	bgCtx, bgCancel := context.WithCancel(context.WithoutCancel(ctx))
	var wg sync.WaitGroup
	errs := make(chan error, 4)
	wg.Add(3)
	go func() { defer wg.Done(); errs <- inv.emitter.Run(bgCtx) }()
	go func() { defer wg.Done(); errs <- inv.sampler.Run(bgCtx) }()
	go func() { defer wg.Done(); errs <- inv.async.run(bgCtx) }()
	serveErr := make(chan error, 1)
	go func() { serveErr <- srv.Serve(inv.ln) }()
	inv.log.Info("lambda API listening", "addr", inv.ln.Addr().String())

	var err error
	select {
	case <-ctx.Done():
	case err = <-serveErr:
		if errors.Is(err, http.ErrServerClosed) {
			err = nil
		}
	}
	shutCtx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	_ = srv.Shutdown(shutCtx)
	cancel()
	inv.async.stop()
	_ = inv.engine.Close()
	bgCancel() // emitter flushes what is queued
	wg.Wait()
	close(errs)
	for e := range errs {
		if e != nil && err == nil {
			err = e
		}
	}
	if cerr := inv.sandbox.Close(); cerr != nil && err == nil {
		err = cerr
	}
	if err := inv.async.close(); err != nil {
		inv.log.Warn("close event queue", "err", err)
	}
	return err
}
