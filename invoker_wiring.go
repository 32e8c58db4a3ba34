package main

import (
	"context"
	"flag"
	"io"
	"log/slog"
	"net/http"
	"path/filepath"

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
	if err := parseFlags(fs, args, &lc, &cfg); err != nil {
		return err
	}
	inv, err := invoker.New(cfg, invoker.Settings{Logger: lc.logger(stderr).With("component", "invoker")})
	if err != nil {
		return err
	}
	return inv.Run(ctx)
}
