package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"runtime"

	"github.com/fluoro/fluoro/invoker"
)

func init() {
	commands["invoker"] = command{"run only the Lambda-compatible invoker (Lambda REST API on 3001)", runInvoker}
}

// invokerConfig is the invoker's part of `fluoro up`.
type invokerConfig struct {
	cfg     invoker.Config
	enabled bool
	fs      *flag.FlagSet
}

func newInvokerConfig() *invokerConfig { return &invokerConfig{} }

func (c *invokerConfig) RegisterFlags(fs *flag.FlagSet) {
	c.fs = fs
	c.cfg.RegisterFlags(fs)
	fs.BoolVar(&c.enabled, "invoker", true, "run the Lambda-compatible invoker")
}

func (c *invokerConfig) Validate() error {
	if !c.enabled {
		return nil
	}
	return c.cfg.Validate()
}

// setDataDir puts the invoker's state under dataDir unless its flag was set.
func (c *invokerConfig) setDataDir(dataDir string) {
	if c.fs == nil || !flagSet(c.fs, "invoker-data-dir") {
		c.cfg.DataDir = filepath.Join(dataDir, "invoker")
	}
}

// pointAt sends the invoker's segments and sampling calls to the collector.
func (c *invokerConfig) pointAt(udpAddr, tcpAddr string) {
	if c.fs == nil || !flagSet(c.fs, "invoker-xray-addr") {
		c.cfg.XRayDaemonAddr = udpAddr
	}
	if (c.fs == nil || !flagSet(c.fs, "invoker-sampling-addr")) && tcpAddr != "" {
		c.cfg.SamplingAddr = tcpAddr
	}
}

func (c *invokerConfig) addr() string { return c.cfg.LambdaAddr }

// invokerRuntime is a running invoker.
type invokerRuntime struct {
	inv *invoker.Invoker
}

func (c *invokerConfig) build(log *slog.Logger) (*invokerRuntime, error) {
	if !c.enabled {
		return nil, nil
	}
	inv, err := invoker.New(c.cfg, invoker.Settings{Logger: log.With("component", "invoker")})
	if err != nil {
		return nil, err
	}
	return &invokerRuntime{inv: inv}, nil
}

func (r *invokerRuntime) handler() http.Handler         { return r.inv.Handler() }
func (r *invokerRuntime) run(ctx context.Context) error { return r.inv.Run(ctx) }
func (r *invokerRuntime) endpoint() string              { return "http://" + r.inv.Addr() }

func runInvoker(ctx context.Context, args []string, _, stderr io.Writer) error {
	fs := newFlagSet("invoker", "Runs the Lambda-compatible invoker: Lambda REST API (3001), execution environments, traced invocations sent to the collector over UDP.", stderr)
	var lc logConfig
	lc.RegisterFlags(fs)
	var cfg invoker.Config
	cfg.RegisterFlags(fs)
	procs := fs.Int("invoker-procs", 1, "OS threads running Go code in the invoker process (GOMAXPROCS; 0 = one per CPU). The invoker's own work is hand-offs between the Lambda API, the Runtime API and the environments; on one thread they need no cross-thread wake-ups (warm invoke p50 0.53 -> 0.36 ms on 2 cores), while functions run on the CPUs the sandbox gives them. An explicit GOMAXPROCS environment variable wins.")
	if err := parseFlags(fs, args, &lc, &cfg); err != nil {
		return err
	}
	log := lc.logger(stderr)
	if *procs < 0 {
		return fmt.Errorf("--invoker-procs %d: must be ≥ 0", *procs)
	}
	if _, set := os.LookupEnv("GOMAXPROCS"); !set && *procs > 0 {
		runtime.GOMAXPROCS(*procs)
	}
	log.Debug("invoker threads", "gomaxprocs", runtime.GOMAXPROCS(0))
	inv, err := invoker.New(cfg, invoker.Settings{Logger: log.With("component", "invoker")})
	if err != nil {
		return err
	}
	return inv.Run(ctx)
}
