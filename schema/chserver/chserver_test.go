package chserver

import (
	"context"
	"errors"
	"flag"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
)

func TestConfigValidate(t *testing.T) {
	tests := []struct {
		name string
		edit func(*Config)
		want string // substring of the error; "" for valid
	}{
		{"defaults", func(*Config) {}, ""},
		{"lz4", func(c *Config) { c.Compression = "lz4" }, ""},
		{"no binary", func(c *Config) { c.Binary = "" }, "clickhouse-binary"},
		{"no dir", func(c *Config) { c.Dir = "" }, "clickhouse-dir"},
		{"bad tcp port", func(c *Config) { c.TCPPort = 70000 }, "clickhouse-tcp-port"},
		{"zero http port", func(c *Config) { c.HTTPPort = 0 }, "clickhouse-http-port"},
		{"same ports", func(c *Config) { c.HTTPPort = c.TCPPort }, "also the native port"},
		{"bad compression", func(c *Config) { c.Compression = "brotli" }, "clickhouse-compression"},
		{"no start timeout", func(c *Config) { c.StartTimeout = 0 }, "start-timeout"},
		{"no stop timeout", func(c *Config) { c.StopTimeout = -1 }, "stop-timeout"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := DefaultConfig()
			tt.edit(&c)
			err := c.Validate()
			if tt.want == "" {
				if err != nil {
					t.Fatalf("Validate() = %v, want nil", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Validate() = %v, want error containing %q", err, tt.want)
			}
		})
	}
}

func TestRegisterFlags(t *testing.T) {
	var c Config
	fs := flag.NewFlagSet("test", flag.ContinueOnError)
	c.RegisterFlags(fs)
	if c != DefaultConfig() {
		t.Fatalf("after RegisterFlags: %+v, want defaults %+v", c, DefaultConfig())
	}
	err := fs.Parse([]string{"--clickhouse-tcp-port=29000", "--clickhouse-dir=/x", "--clickhouse-compression=lz4"})
	if err != nil {
		t.Fatal(err)
	}
	if c.TCPPort != 29000 || c.Dir != "/x" || c.Compression != "lz4" {
		t.Fatalf("parsed config %+v", c)
	}
}

func TestMissingBinary(t *testing.T) {
	cfg := testConfig(t)
	for _, bin := range []string{"fluoro-no-such-clickhouse-server", "/nonexistent/clickhouse-server"} {
		cfg.Binary = bin
		_, err := Start(context.Background(), cfg, nil)
		if !errors.Is(err, ErrBinaryNotFound) {
			t.Fatalf("Start with binary %q: %v, want ErrBinaryNotFound", bin, err)
		}
		for _, want := range []string{"apt-get install clickhouse-server", "--clickhouse clickhouse://"} {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("error %q does not mention %q", err, want)
			}
		}
	}
}

func TestPortInUse(t *testing.T) {
	cfg := testConfig(t)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	cfg.TCPPort = l.Addr().(*net.TCPAddr).Port
	_, err = Start(context.Background(), cfg, nil)
	if err == nil || !strings.Contains(err.Error(), "not free") {
		t.Fatalf("Start on a busy port: %v, want a 'not free' error", err)
	}
}

func TestServerExitsEarly(t *testing.T) {
	cfg := testConfig(t)
	// A "server" that exits at once: Start must report it with the log tail
	// instead of waiting for the timeout.
	script := filepath.Join(t.TempDir(), "fake-server")
	if err := os.WriteFile(script, []byte("#!/bin/sh\necho 'fake server: cannot start' >&2\nexit 3\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	cfg.Binary = script
	start := time.Now()
	_, err := Start(context.Background(), cfg, nil)
	if err == nil || !strings.Contains(err.Error(), "exited during start-up") || !strings.Contains(err.Error(), "fake server: cannot start") {
		t.Fatalf("Start: %v, want an early-exit error with the log tail", err)
	}
	if time.Since(start) > cfg.StartTimeout/2 {
		t.Fatalf("early exit took %v to detect", time.Since(start))
	}
}

func TestStartStopRestart(t *testing.T) {
	cfg := testConfig(t)
	ctx := context.Background()
	s, err := Start(ctx, cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Stop(context.Background()) })
	if !strings.HasPrefix(s.DSN(), "clickhouse://127.0.0.1:") {
		t.Fatalf("DSN %q", s.DSN())
	}
	mustExec(t, s, "CREATE DATABASE IF NOT EXISTS chserver_test")
	mustExec(t, s, "CREATE TABLE chserver_test.t (x UInt64) ENGINE = MergeTree ORDER BY x")
	// The compression setting must have reached the rendered config.
	data, err := os.ReadFile(filepath.Join(s.Dir(), "config.xml"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(data), "<method>zstd</method>") {
		t.Fatalf("config.xml lacks the compression method:\n%s", data)
	}
	if err := s.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	select {
	case <-s.Done():
	default:
		t.Fatal("Done not closed after Stop")
	}
	if err := s.Stop(ctx); err != nil {
		t.Fatalf("second Stop: %v", err)
	}
	// Same folder: the table survives the restart.
	s2, err := Start(ctx, cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s2.Stop(context.Background()) })
	var n uint64
	conn := connect(t, s2)
	if err := conn.QueryRow(ctx, "SELECT count() FROM system.tables WHERE database = 'chserver_test' AND name = 't'").Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != 1 {
		t.Fatalf("table lost across restart: count = %d", n)
	}
	conn.Close()
	// A second server on the same folder is refused by ClickHouse's lock on
	// <path>/status; Start reports it instead of pinging the first one.
	cfg2 := cfg
	cfg2.TCPPort, cfg2.HTTPPort = freePort(t), freePort(t)
	if s3, err := Start(ctx, cfg2, nil); err == nil {
		_ = s3.Stop(ctx)
		t.Fatal("second server on the same dir started")
	}
}

func testConfig(t *testing.T) Config {
	t.Helper()
	c := DefaultConfig()
	c.Dir = t.TempDir()
	c.TCPPort = freePort(t)
	c.HTTPPort = freePort(t)
	c.StartTimeout = 30 * time.Second
	c.StopTimeout = 20 * time.Second
	return c
}

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

func connect(t *testing.T, s *Server) clickhouse.Conn {
	t.Helper()
	conn, err := clickhouse.Open(&clickhouse.Options{Addr: []string{s.Addr()}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn
}

func mustExec(t *testing.T, s *Server, q string) {
	t.Helper()
	conn := connect(t, s)
	defer conn.Close()
	if err := conn.Exec(context.Background(), q); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
}

func TestForeignOwnedDir(t *testing.T) {
	cfg := testConfig(t)
	data := filepath.Join(cfg.Dir, "data")
	if err := os.MkdirAll(data, 0o777); err != nil {
		t.Fatal(err)
	}
	if os.Geteuid() == 0 {
		// Give the folder away, as a previous non-root run would have.
		if err := os.Chown(data, 4242, -1); err != nil {
			t.Fatal(err)
		}
		_, err := Start(context.Background(), cfg, nil)
		if err == nil || !strings.Contains(err.Error(), "chown -R") {
			t.Fatalf("Start on a foreign-owned dir: %v, want the chown hint", err)
		}
		return
	}
	// Not root: "/" belongs to root, not to us.
	if err := checkOwner("/"); err == nil || !strings.Contains(err.Error(), "chown -R") {
		t.Fatalf("checkOwner(/) = %v, want the chown hint", err)
	}
}
