// Package chtest is the ClickHouse harness of Fluoro's integration tests.
//
// New gives each test its own freshly migrated database on a real server and
// drops it when the test ends. The server is the one named by the
// environment variable FLUORO_TEST_CLICKHOUSE (e.g.
// clickhouse://127.0.0.1:19000); when it is unset, the first New of a test
// binary starts a managed clickhouse-server (schema/chserver) in a temporary
// folder on free ports, shared by the whole binary. Call chtest.Main from
// TestMain so that server is stopped and its folder removed:
//
//	func TestMain(m *testing.M) { chtest.Main(m) }
//
// NewServer gives a test its own managed server that it can Stop and Start
// again (data kept), for tests that take ClickHouse away mid-flight.
//
// No test is skipped for lack of a server: without clickhouse-server
// installed and without FLUORO_TEST_CLICKHOUSE, New fails the test with the
// install hint.
package chtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net"
	"net/url"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/fluoro/fluoro/schema"
	"github.com/fluoro/fluoro/schema/chserver"
)

// EnvDSN is the environment variable naming an existing server for tests.
const EnvDSN = "FLUORO_TEST_CLICKHOUSE"

// DB is one test's database: created, migrated, and dropped in t.Cleanup.
type DB struct {
	// DSN is clickhouse://host:port/<Name>, for chstore.Open and the like.
	DSN string
	// Name is the database name (unique per test).
	Name string
	// Addr is the server's host:port.
	Addr string
	// Conn is a connection to the server without a default database
	// (qualify tables with Name); closed in t.Cleanup.
	Conn driver.Conn
}

var shared struct {
	mu   sync.Mutex
	addr string
	srv  *chserver.Server
	dir  string
	err  error
}

// Main runs the package's tests, then stops the shared managed server (if
// one was started) and exits with the tests' status.
func Main(m *testing.M) {
	code := m.Run()
	shared.mu.Lock()
	if shared.srv != nil {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		if err := shared.srv.Stop(ctx); err != nil {
			fmt.Fprintln(os.Stderr, "chtest: stop clickhouse:", err)
		}
		cancel()
		os.RemoveAll(shared.dir)
		shared.srv = nil
	}
	shared.mu.Unlock()
	os.Exit(code)
}

// serverAddr returns the address of the server tests use, starting the
// shared managed server on first use when EnvDSN is unset.
func serverAddr() (string, error) {
	if dsn := os.Getenv(EnvDSN); dsn != "" {
		u, err := url.Parse(dsn)
		if err != nil || u.Host == "" {
			return "", fmt.Errorf("%s=%q: want clickhouse://host:port", EnvDSN, dsn)
		}
		return u.Host, nil
	}
	shared.mu.Lock()
	defer shared.mu.Unlock()
	if shared.addr != "" || shared.err != nil {
		return shared.addr, shared.err
	}
	dir, err := os.MkdirTemp("", "fluoro-chtest-")
	if err != nil {
		shared.err = err
		return "", err
	}
	srv, err := startManaged(dir)
	if err != nil {
		os.RemoveAll(dir)
		shared.err = fmt.Errorf("chtest: no %s set and the managed clickhouse-server did not start: %w", EnvDSN, err)
		return "", shared.err
	}
	shared.srv, shared.dir, shared.addr = srv, dir, srv.Addr()
	return shared.addr, nil
}

// startManaged starts a managed server in dir on free ports, retrying with
// other ports if a parallel test binary grabbed them first.
func startManaged(dir string) (*chserver.Server, error) {
	var lastErr error
	for range 3 {
		cfg := chserver.DefaultConfig()
		cfg.Dir = dir
		ports, err := freePorts(2)
		if err != nil {
			return nil, err
		}
		cfg.TCPPort, cfg.HTTPPort = ports[0], ports[1]
		cfg.StopTimeout = 20 * time.Second
		srv, err := chserver.Start(context.Background(), cfg, nil)
		if err == nil {
			return srv, nil
		}
		lastErr = err
		if !strings.Contains(err.Error(), "not free") && !strings.Contains(err.Error(), "Address already in use") {
			break
		}
	}
	return nil, lastErr
}

func freePorts(n int) ([]int, error) {
	var (
		ports []int
		ls    []net.Listener
	)
	defer func() {
		for _, l := range ls {
			l.Close()
		}
	}()
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, fmt.Errorf("free port: %w", err)
		}
		ls = append(ls, l)
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}

// New creates a unique database for t on the test server, applies Fluoro's
// migrations to it and drops it when t ends.
func New(t testing.TB) *DB {
	t.Helper()
	addr, err := serverAddr()
	if err != nil {
		t.Fatal(err)
	}
	return newDB(t, addr, UniqueName(t))
}

func newDB(t testing.TB, addr, name string) *DB {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	conn, err := clickhouse.Open(&clickhouse.Options{Addr: []string{addr}, DialTimeout: 5 * time.Second})
	if err != nil {
		t.Fatalf("chtest: open %s: %v", addr, err)
	}
	db := &DB{DSN: "clickhouse://" + addr + "/" + name, Name: name, Addr: addr, Conn: conn}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if err := conn.Exec(ctx, "DROP DATABASE IF EXISTS "+name); err != nil {
			t.Errorf("chtest: drop database %s: %v", name, err)
		}
		conn.Close()
	})
	if _, err := schema.Migrate(ctx, conn, schema.Options{Database: name}); err != nil {
		t.Fatalf("chtest: migrate %s on %s: %v", name, addr, err)
	}
	return db
}

// UniqueName returns a database name derived from t's name, unique across
// tests, packages and runs.
func UniqueName(t testing.TB) string {
	var b strings.Builder
	b.WriteString("t_")
	for _, r := range strings.ToLower(t.Name()) {
		if b.Len() >= 40 {
			break
		}
		if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' {
			b.WriteRune(r)
		} else {
			b.WriteByte('_')
		}
	}
	var rnd [5]byte
	if _, err := rand.Read(rnd[:]); err != nil {
		t.Fatal(err)
	}
	b.WriteByte('_')
	b.WriteString(hex.EncodeToString(rnd[:]))
	return b.String()
}

// Exec runs a statement, failing the test on error.
func (db *DB) Exec(t testing.TB, query string, args ...any) {
	t.Helper()
	if err := db.Conn.Exec(context.Background(), query, args...); err != nil {
		t.Fatalf("%s: %v", query, err)
	}
}

// Count runs a query returning one UInt64 (e.g. SELECT count() …), failing
// the test on error.
func (db *DB) Count(t testing.TB, query string, args ...any) uint64 {
	t.Helper()
	var n uint64
	if err := db.Conn.QueryRow(context.Background(), query, args...).Scan(&n); err != nil {
		t.Fatalf("%s: %v", query, err)
	}
	return n
}

// Server is a test's private managed clickhouse-server.
type Server struct {
	// DB is the migrated database on the server (DB.Conn reconnects by
	// itself after a restart).
	*DB
	mu  sync.Mutex
	cfg chserver.Config
	srv *chserver.Server
}

// NewServer starts a private managed server for t with a migrated
// database, stopped and removed when t ends.
func NewServer(t testing.TB) *Server {
	t.Helper()
	dir := t.TempDir()
	srv, err := startManaged(dir)
	if err != nil {
		t.Fatalf("chtest: start private clickhouse: %v", err)
	}
	s := &Server{cfg: srv.Config(), srv: srv}
	// Registered before newDB's cleanup, so it runs after the database is
	// dropped (cleanups run last-in first-out).
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if err := s.Stop(ctx); err != nil {
			t.Errorf("chtest: stop clickhouse: %v", err)
		}
	})
	s.DB = newDB(t, srv.Addr(), "fluoro")
	return s
}

// Stop stops the server (SIGTERM, then SIGKILL after its stop timeout).
// Stopping a stopped server is a no-op.
func (s *Server) Stop(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.srv == nil {
		return nil
	}
	err := s.srv.Stop(ctx)
	s.srv = nil
	return err
}

// Start starts the server again on the same folder and ports (data kept).
// Starting a running server is a no-op.
func (s *Server) Start(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.srv != nil {
		return nil
	}
	srv, err := chserver.Start(ctx, s.cfg, nil)
	if err != nil {
		return err
	}
	s.srv = srv
	return nil
}
