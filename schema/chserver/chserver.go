package chserver

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"text/template"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"

	chdeploy "github.com/fluoro/fluoro/deploy/clickhouse"
)

// Config is the user-set configuration of the managed server.
type Config struct {
	// Binary is the clickhouse-server executable: a path, or a name looked up
	// in PATH, /usr/sbin and /usr/bin.
	Binary string
	// Dir holds config.xml, users.xml and the data/, tmp/ and log/ folders.
	Dir string
	// TCPPort is the native-protocol port Fluoro connects to (127.0.0.1).
	TCPPort int
	// HTTPPort is the server's HTTP port (127.0.0.1). Fluoro never uses it,
	// but clickhouse-server always opens one.
	HTTPPort int
	// Compression is the server-wide compression method of data parts:
	// "zstd" or "lz4".
	Compression string
	// StartTimeout bounds the wait for the first successful ping.
	StartTimeout time.Duration
	// StopTimeout is how long Stop waits after SIGTERM before SIGKILL.
	StopTimeout time.Duration
}

// Defaults of Config.
const (
	DefaultBinary       = "clickhouse-server"
	DefaultDir          = ".fluoro/clickhouse"
	DefaultTCPPort      = 19000
	DefaultHTTPPort     = 18123
	DefaultCompression  = "zstd"
	DefaultStartTimeout = 60 * time.Second
	DefaultStopTimeout  = 30 * time.Second
)

// DefaultConfig returns the configuration used when no flag is set.
func DefaultConfig() Config {
	return Config{
		Binary:       DefaultBinary,
		Dir:          DefaultDir,
		TCPPort:      DefaultTCPPort,
		HTTPPort:     DefaultHTTPPort,
		Compression:  DefaultCompression,
		StartTimeout: DefaultStartTimeout,
		StopTimeout:  DefaultStopTimeout,
	}
}

// RegisterFlags registers the managed server's flags on fs with their
// defaults: --clickhouse-binary, --clickhouse-dir, --clickhouse-tcp-port,
// --clickhouse-http-port, --clickhouse-compression,
// --clickhouse-start-timeout and --clickhouse-stop-timeout.
func (c *Config) RegisterFlags(fs *flag.FlagSet) {
	d := DefaultConfig()
	fs.StringVar(&c.Binary, "clickhouse-binary", d.Binary, "managed ClickHouse: clickhouse-server executable (path, or name looked up in PATH, /usr/sbin, /usr/bin)")
	fs.StringVar(&c.Dir, "clickhouse-dir", d.Dir, "managed ClickHouse: folder for its config, data and logs")
	fs.IntVar(&c.TCPPort, "clickhouse-tcp-port", d.TCPPort, "managed ClickHouse: native-protocol port on 127.0.0.1")
	fs.IntVar(&c.HTTPPort, "clickhouse-http-port", d.HTTPPort, "managed ClickHouse: HTTP port on 127.0.0.1 (used by the server only)")
	fs.StringVar(&c.Compression, "clickhouse-compression", d.Compression, "managed ClickHouse: compression of stored data, zstd or lz4")
	fs.DurationVar(&c.StartTimeout, "clickhouse-start-timeout", d.StartTimeout, "managed ClickHouse: how long to wait for the server to answer")
	fs.DurationVar(&c.StopTimeout, "clickhouse-stop-timeout", d.StopTimeout, "managed ClickHouse: how long to wait after SIGTERM before SIGKILL")
}

// Validate reports the first invalid field.
func (c *Config) Validate() error {
	switch {
	case c.Binary == "":
		return errors.New("clickhouse-binary: must not be empty")
	case c.Dir == "":
		return errors.New("clickhouse-dir: must not be empty")
	case c.TCPPort <= 0 || c.TCPPort > 65535:
		return fmt.Errorf("clickhouse-tcp-port: %d is not a port", c.TCPPort)
	case c.HTTPPort <= 0 || c.HTTPPort > 65535:
		return fmt.Errorf("clickhouse-http-port: %d is not a port", c.HTTPPort)
	case c.TCPPort == c.HTTPPort:
		return fmt.Errorf("clickhouse-http-port: %d is also the native port", c.HTTPPort)
	case c.Compression != "zstd" && c.Compression != "lz4":
		return fmt.Errorf("clickhouse-compression: %q is not zstd or lz4", c.Compression)
	case c.StartTimeout <= 0:
		return errors.New("clickhouse-start-timeout: must be positive")
	case c.StopTimeout <= 0:
		return errors.New("clickhouse-stop-timeout: must be positive")
	}
	return nil
}

// ErrBinaryNotFound is returned by Start when clickhouse-server is not
// installed (or Config.Binary does not name an executable).
var ErrBinaryNotFound = errors.New("clickhouse-server not found: install it with `apt-get install clickhouse-server` (Debian), or use an existing server with --clickhouse clickhouse://host:port/db")

// Server is a running managed clickhouse-server.
type Server struct {
	cfg    Config
	dir    string // absolute
	logger *slog.Logger

	mu   sync.Mutex
	cmd  *exec.Cmd
	done chan struct{} // closed when the process has exited
	err  error         // the process' exit status, valid after done
}

// LookBinary resolves name to an executable path: as given when it contains
// a slash, else from PATH, then /usr/sbin and /usr/bin (Debian installs
// clickhouse-server to /usr/sbin, often not in a user's PATH).
func LookBinary(name string) (string, error) {
	if strings.ContainsRune(name, '/') {
		if p, err := exec.LookPath(name); err == nil {
			return p, nil
		}
		return "", fmt.Errorf("%w (looked for %s)", ErrBinaryNotFound, name)
	}
	if p, err := exec.LookPath(name); err == nil {
		return p, nil
	}
	for _, d := range []string{"/usr/sbin", "/usr/bin", "/usr/local/bin"} {
		p := filepath.Join(d, name)
		if fi, err := os.Stat(p); err == nil && !fi.IsDir() && fi.Mode()&0o111 != 0 {
			return p, nil
		}
	}
	return "", fmt.Errorf("%w (looked for %s in PATH, /usr/sbin, /usr/bin)", ErrBinaryNotFound, name)
}

// Start writes the configuration into cfg.Dir, starts clickhouse-server and
// waits until it answers on the native port. Existing data in cfg.Dir is
// kept, so a server can be stopped and started again on the same folder.
// Start fails when cfg's ports are already in use, when the server exits
// early or does not answer within cfg.StartTimeout; the error then includes
// the tail of the server's logs. The server outlives ctx: end it with Stop.
func Start(ctx context.Context, cfg Config, logger *slog.Logger) (*Server, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	bin, err := LookBinary(cfg.Binary)
	if err != nil {
		return nil, err
	}
	dir, err := filepath.Abs(cfg.Dir)
	if err != nil {
		return nil, fmt.Errorf("clickhouse dir: %w", err)
	}
	for _, p := range []int{cfg.TCPPort, cfg.HTTPPort} {
		if err := checkPortFree(p); err != nil {
			return nil, fmt.Errorf("start clickhouse: %w (is another ClickHouse running? use it with --clickhouse clickhouse://127.0.0.1:%d/fluoro, or pick other ports)", err, cfg.TCPPort)
		}
	}
	if err := writeConfig(dir, cfg); err != nil {
		return nil, err
	}
	s := &Server{cfg: cfg, dir: dir, logger: logger.With("component", "clickhouse")}
	if err := s.spawn(bin); err != nil {
		return nil, err
	}
	if err := s.waitReady(ctx); err != nil {
		stopCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cfg.StopTimeout+5*time.Second)
		defer cancel()
		if serr := s.Stop(stopCtx); serr != nil {
			err = errors.Join(err, serr)
		}
		return nil, err
	}
	s.logger.Info("clickhouse started", "dsn", s.DSN(), "dir", dir, "pid", s.PID())
	return s, nil
}

// renderData is the data of the configuration templates.
type renderData struct {
	Dir                    string
	ListenHost             string
	TCPPort, HTTPPort      int
	LogLevel               string
	Compression            string
	MarkCacheBytes         int64
	UncompressedCacheBytes int64
	MaxMemoryUsageBytes    int64
}

// writeConfig creates dir's folders and renders config.xml and users.xml.
func writeConfig(dir string, cfg Config) error {
	for _, sub := range []string{"", "data", "tmp", "log", "user_files", "format_schemas"} {
		if err := os.MkdirAll(filepath.Join(dir, sub), 0o750); err != nil {
			return fmt.Errorf("clickhouse dir: %w", err)
		}
	}
	if err := checkOwner(filepath.Join(dir, "data")); err != nil {
		return err
	}
	d := renderData{
		Dir:                    dir,
		ListenHost:             "127.0.0.1",
		TCPPort:                cfg.TCPPort,
		HTTPPort:               cfg.HTTPPort,
		LogLevel:               "information",
		Compression:            cfg.Compression,
		MarkCacheBytes:         256 << 20,
		UncompressedCacheBytes: 256 << 20,
		MaxMemoryUsageBytes:    4 << 30,
	}
	for name, text := range map[string]string{"config.xml": chdeploy.ConfigTemplate, "users.xml": chdeploy.UsersTemplate} {
		t, err := template.New(name).Option("missingkey=error").Parse(text)
		if err != nil {
			return fmt.Errorf("BUG: clickhouse %s template: %w", name, err)
		}
		var b bytes.Buffer
		if err := t.Execute(&b, d); err != nil {
			return fmt.Errorf("render clickhouse %s: %w", name, err)
		}
		if err := os.WriteFile(filepath.Join(dir, name), b.Bytes(), 0o640); err != nil {
			return fmt.Errorf("write clickhouse %s: %w", name, err)
		}
	}
	return nil
}

// checkPortFree fails when something already listens on 127.0.0.1:port.
func checkPortFree(port int) error {
	l, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
	if err != nil {
		return fmt.Errorf("port %d is not free: %w", port, err)
	}
	return l.Close()
}

// spawn starts the process. A dedicated goroutine, locked to its OS thread,
// starts and waits for it: Pdeathsig fires when the thread that started the
// child ends, so the thread must live exactly as long as the child.
func (s *Server) spawn(bin string) error {
	stderr, err := os.OpenFile(filepath.Join(s.dir, "log", "stderr.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o640)
	if err != nil {
		return fmt.Errorf("clickhouse stderr log: %w", err)
	}
	cmd := exec.Command(bin, "--config-file="+filepath.Join(s.dir, "config.xml"))
	cmd.Dir = s.dir
	cmd.Stdout = stderr
	cmd.Stderr = stderr
	cmd.SysProcAttr = sysProcAttr()
	started := make(chan error, 1)
	s.done = make(chan struct{})
	s.cmd = cmd
	go func() {
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		defer stderr.Close()
		if err := cmd.Start(); err != nil {
			started <- err
			return
		}
		started <- nil
		err := cmd.Wait()
		s.mu.Lock()
		s.err = err
		s.mu.Unlock()
		close(s.done)
	}()
	if err := <-started; err != nil {
		return fmt.Errorf("start %s: %w", bin, err)
	}
	return nil
}

// waitReady pings the native port until the server answers, the process
// exits, or the start timeout passes.
func (s *Server) waitReady(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, s.cfg.StartTimeout)
	defer cancel()
	opts := &clickhouse.Options{
		Addr:        []string{s.Addr()},
		Auth:        clickhouse.Auth{Database: "default", Username: "default"},
		DialTimeout: 2 * time.Second,
	}
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	var lastErr error
	for {
		select {
		case <-s.done:
			return fmt.Errorf("clickhouse-server exited during start-up (%v); log tail:\n%s", s.exitErr(), s.LogTail(30))
		case <-ctx.Done():
			return fmt.Errorf("clickhouse-server did not answer on %s within %s (last error: %v); log tail:\n%s",
				s.Addr(), s.cfg.StartTimeout, lastErr, s.LogTail(30))
		case <-tick.C:
		}
		if lastErr = ping(ctx, opts); lastErr == nil {
			return nil
		}
	}
}

func ping(ctx context.Context, opts *clickhouse.Options) error {
	conn, err := clickhouse.Open(opts)
	if err != nil {
		return err
	}
	defer conn.Close()
	pctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	return conn.Ping(pctx)
}

func (s *Server) exitErr() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.err == nil {
		return errors.New("exit status 0")
	}
	return s.err
}

// Addr returns the native-protocol address, 127.0.0.1:<tcp port>.
func (s *Server) Addr() string {
	return net.JoinHostPort("127.0.0.1", strconv.Itoa(s.cfg.TCPPort))
}

// DefaultDatabase is the database DSN names.
const DefaultDatabase = "fluoro"

// DSN returns clickhouse://127.0.0.1:<tcp port>/fluoro, the DSN Fluoro uses
// with its managed server. The database is created by schema.Migrate.
func (s *Server) DSN() string { return s.DSNFor(DefaultDatabase) }

// DSNFor returns the DSN of the given database on this server.
func (s *Server) DSNFor(database string) string {
	return "clickhouse://" + s.Addr() + "/" + database
}

// Config returns the server's configuration (Dir made absolute).
func (s *Server) Config() Config {
	c := s.cfg
	c.Dir = s.dir
	return c
}

// Dir returns the server's folder (absolute).
func (s *Server) Dir() string { return s.dir }

// PID returns the server's process id.
func (s *Server) PID() int { return s.cmd.Process.Pid }

// Done is closed when the server process has exited (after Stop, or on a
// crash); Fluoro's `up` can watch it to fail instead of running without
// storage.
func (s *Server) Done() <-chan struct{} { return s.done }

// Stop sends SIGTERM to the server's process group and waits for it to exit;
// after Config.StopTimeout (or when ctx ends first) it sends SIGKILL. Stop
// is idempotent and returns nil once the process is gone.
func (s *Server) Stop(ctx context.Context) error {
	select {
	case <-s.done:
		return nil
	default:
	}
	pid := s.cmd.Process.Pid
	// Negative pid: the whole process group (the server has no children of
	// its own today, but ODBC bridges and the like would be).
	if err := syscall.Kill(-pid, syscall.SIGTERM); err != nil && !errors.Is(err, syscall.ESRCH) {
		return fmt.Errorf("stop clickhouse: %w", err)
	}
	t := time.NewTimer(s.cfg.StopTimeout)
	defer t.Stop()
	select {
	case <-s.done:
		s.logger.Info("clickhouse stopped")
		return nil
	case <-t.C:
	case <-ctx.Done():
	}
	s.logger.Warn("clickhouse did not stop in time, killing it", "timeout", s.cfg.StopTimeout)
	if err := syscall.Kill(-pid, syscall.SIGKILL); err != nil && !errors.Is(err, syscall.ESRCH) {
		return fmt.Errorf("kill clickhouse: %w", err)
	}
	<-s.done
	return nil
}

// LogTail returns up to n last lines of the server's error log, main log and
// captured stderr, for error messages.
func (s *Server) LogTail(n int) string {
	var b strings.Builder
	for _, name := range []string{"stderr.log", "clickhouse-server.err.log", "clickhouse-server.log"} {
		data := readTail(filepath.Join(s.dir, "log", name), 64<<10)
		if len(bytes.TrimSpace(data)) == 0 {
			continue
		}
		lines := strings.Split(strings.TrimRight(string(data), "\n"), "\n")
		if len(lines) > n {
			lines = lines[len(lines)-n:]
		}
		fmt.Fprintf(&b, "==> %s <==\n%s\n", filepath.Join(s.dir, "log", name), strings.Join(lines, "\n"))
	}
	if b.Len() == 0 {
		return "(no log output)"
	}
	return b.String()
}

// readTail returns at most max last bytes of the file at path (nil on error).
func readTail(path string, max int64) []byte {
	f, err := os.Open(path)
	if err != nil {
		return nil
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil
	}
	off := fi.Size() - max
	if off < 0 {
		off = 0
	}
	buf := make([]byte, fi.Size()-off)
	n, _ := f.ReadAt(buf, off)
	return buf[:n]
}
