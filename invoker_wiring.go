package main

import (
	"context"
	"flag"
	"log/slog"
	"net/http"
)

// invokerConfig is the invoker's part of `fluoro up`. It is wired to
// invoker/ once that package exposes its top-level API.
type invokerConfig struct {
	enabled bool
	dataDir string
}

func newInvokerConfig() *invokerConfig { return &invokerConfig{} }

func (c *invokerConfig) RegisterFlags(fs *flag.FlagSet) {}
func (c *invokerConfig) Validate() error                { return nil }
func (c *invokerConfig) setDataDir(d string)            { c.dataDir = d }
func (c *invokerConfig) addr() string                   { return "" }

// invokerRuntime is a running invoker.
type invokerRuntime struct{}

func (c *invokerConfig) build(*slog.Logger) (*invokerRuntime, error) { return nil, nil }
func (r *invokerRuntime) handler() http.Handler                      { return nil }
func (r *invokerRuntime) run(ctx context.Context) error              { <-ctx.Done(); return nil }
func (r *invokerRuntime) demo(ctx context.Context, log *slog.Logger) {}
