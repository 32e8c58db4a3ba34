// Command loaddriver measures a Lambda Invoke endpoint on loopback: warm
// latency of sequential invokes, throughput with N concurrent callers, and
// cold start to first response. It speaks the Invoke API path
// (POST /2015-03-31/functions/{name}/invocations), which both Fluoro's
// invoker (127.0.0.1:3001) and the AWS Runtime Interface Emulator serve
// (the emulator's function name is "function").
//
//	loaddriver -endpoint http://127.0.0.1:3001 -function bench-noop -setup-bootstrap ./bootstrap
//	loaddriver -endpoint http://127.0.0.1:9000 -function function -server-cmd "aws-lambda-rie … ./bootstrap"
//
// With -server-cmd the driver starts the server itself before every phase and
// stops it afterwards (so a crash in one phase does not spoil the next), and
// measures cold starts by restarting it (-cold-method restart: the first
// invoke after the port accepts connections is timed). Otherwise cold starts
// are forced through UpdateFunctionConfiguration (-cold-method update: a new
// environment variable makes the engine discard warm environments). Requests are bounded by count
// and time; only loopback endpoints are accepted.
package main

import (
	"archive/zip"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

type options struct {
	endpoint, function, payload string
	name                        string
	warmup, sequential          int
	concurrency                 []int
	duration                    time.Duration
	maxRequests                 int
	timeout                     time.Duration
	coldRuns                    int
	coldMethod                  string
	serverCmd, serverLog        string
	setupBootstrap              string
	jsonOut                     string
	maxErrors                   int
	client                      string
}

func main() {
	var o options
	var conc string
	flag.StringVar(&o.endpoint, "endpoint", "http://127.0.0.1:3001", "Invoke API base URL (loopback only)")
	flag.StringVar(&o.function, "function", "bench-noop", "function name (\"function\" for the AWS emulator)")
	flag.StringVar(&o.name, "name", "", "label for the results (default: the endpoint)")
	flag.StringVar(&o.payload, "payload", `{"bench":true}`, "event payload")
	flag.IntVar(&o.warmup, "warmup", 200, "invokes before measuring")
	flag.IntVar(&o.sequential, "sequential", 2000, "sequential invokes for warm latency")
	flag.StringVar(&conc, "concurrency", "1,2,8,32", "concurrent caller counts for throughput")
	flag.DurationVar(&o.duration, "duration", 5*time.Second, "duration of each throughput level")
	flag.IntVar(&o.maxRequests, "max-requests", 100000, "cap on invokes per throughput level")
	flag.IntVar(&o.maxErrors, "max-errors", 200, "a level stops after this many failed invokes")
	flag.DurationVar(&o.timeout, "timeout", 10*time.Second, "per-invoke timeout")
	flag.IntVar(&o.coldRuns, "cold-runs", 10, "cold starts to measure (0: skip)")
	flag.StringVar(&o.coldMethod, "cold-method", "", `how to force a cold start: "restart" the managed server, or "update" the function configuration (default: restart with -server-cmd, else update)`)
	flag.StringVar(&o.serverCmd, "server-cmd", "", "command that starts the server (space-separated; the driver manages it)")
	flag.StringVar(&o.serverLog, "server-log", "", "append the managed server's output to this file (default: discard)")
	flag.StringVar(&o.setupBootstrap, "setup-bootstrap", "", "create the function (provided.al2023) with this executable as its bootstrap when it does not exist")
	flag.StringVar(&o.jsonOut, "json", "", "also write the results as JSON to this file")
	flag.StringVar(&o.client, "client", "raw", `HTTP client of the callers: "raw" (one connection per caller, requests written and answers parsed by the driver, as wrk does: the driver's own CPU stays small) or "nethttp" (Go's net/http client)`)
	flag.Parse()
	for _, f := range strings.Split(conc, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < 1 || n > 1024 {
			fatalf("bad -concurrency entry %q", f)
		}
		o.concurrency = append(o.concurrency, n)
	}
	if o.name == "" {
		o.name = o.endpoint
	}
	switch o.coldMethod {
	case "":
		o.coldMethod = "update"
		if o.serverCmd != "" {
			o.coldMethod = "restart"
		}
	case "restart":
		if o.serverCmd == "" {
			fatalf("-cold-method restart needs -server-cmd")
		}
	case "update":
	default:
		fatalf("-cold-method %q: want restart or update", o.coldMethod)
	}
	if o.client != "raw" && o.client != "nethttp" {
		fatalf("-client %q: want raw or nethttp", o.client)
	}
	if err := checkLoopback(o.endpoint); err != nil {
		fatalf("%v", err)
	}
	res, err := run(context.Background(), o)
	if res != nil {
		printReport(os.Stdout, res)
		if o.jsonOut != "" {
			b, _ := json.MarshalIndent(res, "", "  ")
			if werr := os.WriteFile(o.jsonOut, append(b, '\n'), 0o644); werr != nil {
				fatalf("write %s: %v", o.jsonOut, werr)
			}
		}
	}
	if err != nil {
		fatalf("%v", err)
	}
}

func fatalf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "loaddriver: "+format+"\n", args...)
	os.Exit(1)
}

// checkLoopback refuses endpoints that are not on this machine.
func checkLoopback(endpoint string) error {
	u, err := url.Parse(endpoint)
	if err != nil || u.Scheme != "http" || u.Host == "" {
		return fmt.Errorf("-endpoint %q: want http://host:port", endpoint)
	}
	host := u.Hostname()
	if host == "localhost" {
		return nil
	}
	if ip := net.ParseIP(host); ip != nil && ip.IsLoopback() {
		return nil
	}
	return fmt.Errorf("-endpoint %q is not a loopback address", endpoint)
}

// Results of one run.
type Results struct {
	Name       string    `json:"name"`
	Endpoint   string    `json:"endpoint"`
	Function   string    `json:"function"`
	Time       time.Time `json:"time"`
	Sequential *Latency  `json:"sequential,omitempty"`
	Levels     []Level   `json:"throughput,omitempty"`
	Cold       *Latency  `json:"cold_start,omitempty"`
	ColdNote   string    `json:"cold_start_method,omitempty"`
}

// Latency summarises durations in milliseconds.
type Latency struct {
	N      int     `json:"n"`
	Errors int     `json:"errors"`
	P50    float64 `json:"p50_ms"`
	P90    float64 `json:"p90_ms"`
	P99    float64 `json:"p99_ms"`
	Max    float64 `json:"max_ms"`
	Mean   float64 `json:"mean_ms"`
	Error  string  `json:"first_error,omitempty"`
	// ServerCrash tells that a driver-managed server died during the phase.
	ServerCrash string `json:"server_crash,omitempty"`
}

// Level is one throughput measurement.
type Level struct {
	Callers    int     `json:"callers"`
	OK         int     `json:"ok"`
	Errors     int     `json:"errors"`
	Throttles  int     `json:"throttles"`
	Seconds    float64 `json:"seconds"`
	PerSecond  float64 `json:"invokes_per_second"`
	Latency    Latency `json:"latency"`
	FirstError string  `json:"first_error,omitempty"`
	// ServerCrash tells that a driver-managed server died during the level.
	ServerCrash string `json:"server_crash,omitempty"`
}

func summarize(d []time.Duration, errs int, firstErr string) Latency {
	l := Latency{N: len(d), Errors: errs, Error: firstErr}
	if len(d) == 0 {
		return l
	}
	slices.Sort(d)
	ms := func(x time.Duration) float64 { return math.Round(float64(x)/1e3) / 1e3 }
	pct := func(p float64) float64 {
		i := int(math.Ceil(p*float64(len(d)))) - 1
		return ms(d[max(0, min(i, len(d)-1))])
	}
	var sum time.Duration
	for _, x := range d {
		sum += x
	}
	l.P50, l.P90, l.P99, l.Max = pct(0.50), pct(0.90), pct(0.99), ms(d[len(d)-1])
	l.Mean = ms(sum / time.Duration(len(d)))
	return l
}

// caller sends Invoke requests; each caller goroutine has its own.
type caller interface {
	invoke(ctx context.Context) (time.Duration, error)
	// close drops the caller's connections (the next invoke dials).
	close()
}

// invoker makes callers for one endpoint and function.
type invoker struct {
	client   *http.Client
	endpoint string
	path     string // /2015-03-31/functions/{name}/invocations
	payload  []byte
	raw      bool
	timeout  time.Duration
}

func (iv *invoker) newCaller() caller {
	if iv.raw {
		c, err := newRawCaller(iv.endpoint, iv.path, iv.payload, iv.timeout)
		if err != nil {
			fatalf("%v", err)
		}
		return c
	}
	return &httpCaller{client: iv.client, url: iv.endpoint + iv.path, payload: iv.payload}
}

// httpCaller sends Invoke requests with net/http's client.
type httpCaller struct {
	client  *http.Client
	url     string
	payload []byte
}

func (c *httpCaller) close() { c.client.Transport.(*http.Transport).CloseIdleConnections() }

// errThrottled marks a 429 answer.
var errThrottled = errors.New("429 TooManyRequestsException")

func (c *httpCaller) invoke(ctx context.Context) (time.Duration, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.url, bytes.NewReader(c.payload))
	if err != nil {
		return 0, err
	}
	req.Header.Set("Content-Type", "application/json")
	start := time.Now()
	resp, err := c.client.Do(req)
	if err != nil {
		return 0, err
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	took := time.Since(start)
	if err != nil {
		return 0, err
	}
	switch {
	case resp.StatusCode == http.StatusTooManyRequests:
		return took, errThrottled
	case resp.StatusCode != http.StatusOK:
		return took, fmt.Errorf("HTTP %d: %.200s", resp.StatusCode, body)
	case resp.Header.Get("X-Amz-Function-Error") != "":
		return took, fmt.Errorf("function error %s: %.200s", resp.Header.Get("X-Amz-Function-Error"), body)
	}
	return took, nil
}

func run(ctx context.Context, o options) (*Results, error) {
	base := strings.TrimRight(o.endpoint, "/")
	tr := &http.Transport{
		MaxIdleConns: 2048, MaxIdleConnsPerHost: 2048, IdleConnTimeout: time.Minute,
		DisableCompression: true, DialContext: (&net.Dialer{Timeout: 2 * time.Second}).DialContext,
	}
	client := &http.Client{Transport: tr, Timeout: o.timeout}
	iv := &invoker{client: client, endpoint: base, path: "/2015-03-31/functions/" + url.PathEscape(o.function) + "/invocations",
		payload: []byte(o.payload), raw: o.client == "raw", timeout: o.timeout}
	seq := iv.newCaller() // warm-ups, sequential latency and cold starts
	defer seq.close()
	res := &Results{Name: o.name, Endpoint: o.endpoint, Function: o.function, Time: time.Now().UTC()}

	// Phase 1: warm sequential latency.
	srv, err := startServer(o)
	if err != nil {
		return res, err
	}
	if o.setupBootstrap != "" {
		if err := setupFunction(ctx, client, base, o.function, o.setupBootstrap); err != nil {
			srv.stop()
			return nil, err
		}
	}
	for range o.warmup {
		seq.invoke(ctx)
	}
	var lat []time.Duration
	var errs int
	var firstErr string
	deadline := time.Now().Add(o.duration * 6)
	for i := 0; i < o.sequential && time.Now().Before(deadline); i++ {
		d, err := seq.invoke(ctx)
		if err != nil {
			errs++
			if firstErr == "" {
				firstErr = err.Error()
			}
			if errs >= o.maxErrors {
				break
			}
			continue
		}
		lat = append(lat, d)
	}
	s := summarize(lat, errs, firstErr)
	s.ServerCrash = srv.stop()
	res.Sequential = &s

	// Phase 2: throughput per caller count.
	for _, c := range o.concurrency {
		srv, err := startServer(o)
		if err != nil {
			return res, err
		}
		for range min(o.warmup, 50) {
			seq.invoke(ctx)
		}
		l := throughput(ctx, iv, c, o)
		l.ServerCrash = srv.stop()
		res.Levels = append(res.Levels, l)
	}

	// Phase 3: cold starts.
	if o.coldRuns > 0 {
		if o.coldMethod == "update" && o.serverCmd != "" {
			// A managed server is stopped after each phase: start it
			// for the configuration updates (and warm the function up).
			srv, err := startServer(o)
			if err != nil {
				return nil, err
			}
			defer srv.stop()
			seq.invoke(ctx)
		}
		var cold []time.Duration
		var errs int
		var firstErr string
		for i := range o.coldRuns {
			var d time.Duration
			var err error
			if o.coldMethod == "restart" {
				res.ColdNote = "server process started, port open, then the first invoke timed (includes the runtime's init)"
				d, err = coldByRestart(ctx, seq, o)
			} else {
				res.ColdNote = "UpdateFunctionConfiguration (new environment variable), then the first invoke timed"
				d, err = coldByUpdate(ctx, client, base, seq, o.function, i)
			}
			if err != nil {
				errs++
				if firstErr == "" {
					firstErr = err.Error()
				}
				continue
			}
			cold = append(cold, d)
		}
		s := summarize(cold, errs, firstErr)
		res.Cold = &s
	}
	return res, nil
}

func throughput(ctx context.Context, iv *invoker, callers int, o options) Level {
	var (
		mu        sync.Mutex
		lat       = make([]time.Duration, 0, 1<<14)
		issued    atomic.Int64
		errs      atomic.Int64
		throttles atomic.Int64
		firstErr  atomic.Value
	)
	start := time.Now()
	end := start.Add(o.duration)
	ctx, cancel := context.WithDeadline(ctx, end)
	defer cancel()
	var wg sync.WaitGroup
	for range callers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := iv.newCaller()
			defer c.close()
			local := make([]time.Duration, 0, 1024)
			for ctx.Err() == nil && time.Now().Before(end) && issued.Add(1) <= int64(o.maxRequests) {
				d, err := c.invoke(ctx)
				if err != nil && (ctx.Err() != nil || !time.Now().Before(end)) {
					break // cut by the end of the level
				}
				switch {
				case errors.Is(err, errThrottled):
					throttles.Add(1)
				case err != nil:
					firstErr.CompareAndSwap(nil, err.Error())
					if errs.Add(1) >= int64(o.maxErrors) {
						cancel()
					}
				default:
					local = append(local, d)
				}
			}
			mu.Lock()
			lat = append(lat, local...)
			mu.Unlock()
		}()
	}
	wg.Wait()
	elapsed := time.Since(start).Seconds()
	l := Level{Callers: callers, OK: len(lat), Errors: int(errs.Load()), Throttles: int(throttles.Load()), Seconds: math.Round(elapsed*1000) / 1000}
	if fe, ok := firstErr.Load().(string); ok {
		l.FirstError = fe
	}
	l.PerSecond = math.Round(float64(len(lat)) / elapsed)
	l.Latency = summarize(lat, l.Errors, "")
	return l
}

// server is a server process managed by the driver (or nothing).
type server struct {
	cmd    *exec.Cmd
	exited chan struct{}
	err    error // the process's exit status, once exited
	log    *os.File
}

func startServer(o options) (*server, error) {
	if o.serverCmd == "" {
		return &server{}, nil
	}
	args := strings.Fields(o.serverCmd)
	cmd := exec.Command(args[0], args[1:]...)
	s := &server{cmd: cmd, exited: make(chan struct{})}
	cmd.Stdout, cmd.Stderr = io.Discard, io.Discard
	if o.serverLog != "" {
		f, err := os.OpenFile(o.serverLog, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
		if err != nil {
			return nil, err
		}
		s.log = f
		cmd.Stdout, cmd.Stderr = f, f
	}
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start server: %w", err)
	}
	go func() { s.err = cmd.Wait(); close(s.exited) }()
	if err := waitPort(o.endpoint, 10*time.Second); err != nil {
		s.stop()
		return nil, err
	}
	return s, nil
}

// stop ends the server's process group (SIGTERM, then SIGKILL after 2 s).
// It returns a description when the server had already died on its own.
func (s *server) stop() string {
	if s.cmd == nil {
		return ""
	}
	defer func() {
		s.cmd = nil
		if s.log != nil {
			s.log.Close()
		}
	}()
	select {
	case <-s.exited:
		return fmt.Sprintf("server exited during the phase (%v)", s.err)
	default:
	}
	pgid := s.cmd.Process.Pid
	syscall.Kill(-pgid, syscall.SIGTERM)
	select {
	case <-s.exited:
	case <-time.After(2 * time.Second):
		syscall.Kill(-pgid, syscall.SIGKILL)
		<-s.exited
	}
	return ""
}

func waitPort(endpoint string, limit time.Duration) error {
	u, _ := url.Parse(endpoint)
	deadline := time.Now().Add(limit)
	for {
		c, err := net.DialTimeout("tcp", u.Host, 100*time.Millisecond)
		if err == nil {
			c.Close()
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("server did not listen on %s: %w", u.Host, err)
		}
		time.Sleep(500 * time.Microsecond)
	}
}

func coldByRestart(ctx context.Context, c caller, o options) (time.Duration, error) {
	srv, err := startServer(o)
	if err != nil {
		return 0, err
	}
	defer srv.stop()
	c.close()
	return c.invoke(ctx)
}

func coldByUpdate(ctx context.Context, client *http.Client, base string, c caller, function string, n int) (time.Duration, error) {
	body, _ := json.Marshal(map[string]any{"Environment": map[string]any{"Variables": map[string]string{"BENCH_COLD_RUN": strconv.Itoa(n)}}})
	if _, err := call(ctx, client, http.MethodPut, base+"/2015-03-31/functions/"+url.PathEscape(function)+"/configuration", body, http.StatusOK); err != nil {
		return 0, fmt.Errorf("UpdateFunctionConfiguration: %w", err)
	}
	if err := waitActive(ctx, client, base, function); err != nil {
		return 0, err
	}
	return c.invoke(ctx)
}

func call(ctx context.Context, client *http.Client, method, u string, body []byte, want int) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, method, u, bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != want {
		return b, fmt.Errorf("%s %s: HTTP %d: %.300s", method, u, resp.StatusCode, b)
	}
	return b, nil
}

// setupFunction creates the function from a bootstrap executable unless it
// exists.
func setupFunction(ctx context.Context, client *http.Client, base, function, bootstrap string) error {
	fnURL := base + "/2015-03-31/functions/" + url.PathEscape(function)
	if _, err := call(ctx, client, http.MethodGet, fnURL, nil, http.StatusOK); err == nil {
		return waitActive(ctx, client, base, function)
	}
	zip, err := zipBootstrap(bootstrap)
	if err != nil {
		return err
	}
	body, _ := json.Marshal(map[string]any{
		"FunctionName": function, "Runtime": "provided.al2023", "Handler": "bootstrap",
		"Role": "arn:aws:iam::123456789012:role/bench", "Code": map[string]any{"ZipFile": zip},
		"MemorySize": 128, "Timeout": 30,
	})
	if _, err := call(ctx, client, http.MethodPost, base+"/2015-03-31/functions", body, http.StatusCreated); err != nil {
		return fmt.Errorf("CreateFunction: %w", err)
	}
	return waitActive(ctx, client, base, function)
}

// zipBootstrap packs an executable as "bootstrap" (mode 0755) in a zip.
func zipBootstrap(path string) ([]byte, error) {
	exe, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	h := &zip.FileHeader{Name: "bootstrap", Method: zip.Deflate}
	h.SetMode(0o755)
	w, err := zw.CreateHeader(h)
	if err != nil {
		return nil, err
	}
	if _, err := w.Write(exe); err != nil {
		return nil, err
	}
	if err := zw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

func waitActive(ctx context.Context, client *http.Client, base, function string) error {
	deadline := time.Now().Add(30 * time.Second)
	for {
		b, err := call(ctx, client, http.MethodGet, base+"/2015-03-31/functions/"+url.PathEscape(function)+"/configuration", nil, http.StatusOK)
		if err != nil {
			return err
		}
		var cfg struct{ State, LastUpdateStatus string }
		json.Unmarshal(b, &cfg)
		if (cfg.State == "" || cfg.State == "Active") && (cfg.LastUpdateStatus == "" || cfg.LastUpdateStatus == "Successful") {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("function %s not Active: %s", function, b)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func printReport(w io.Writer, r *Results) {
	fmt.Fprintf(w, "== %s (%s, function %s)\n", r.Name, r.Endpoint, r.Function)
	if s := r.Sequential; s != nil {
		fmt.Fprintf(w, "warm sequential: n=%d errors=%d p50=%.3f ms p90=%.3f ms p99=%.3f ms max=%.3f ms mean=%.3f ms\n",
			s.N, s.Errors, s.P50, s.P90, s.P99, s.Max, s.Mean)
		if s.Error != "" {
			fmt.Fprintf(w, "  first error: %s\n", s.Error)
		}
		if s.ServerCrash != "" {
			fmt.Fprintf(w, "  %s\n", s.ServerCrash)
		}
	}
	for _, l := range r.Levels {
		fmt.Fprintf(w, "throughput callers=%-3d %8.0f invokes/s  ok=%d errors=%d throttles=%d  p50=%.3f ms p99=%.3f ms (%.1fs)\n",
			l.Callers, l.PerSecond, l.OK, l.Errors, l.Throttles, l.Latency.P50, l.Latency.P99, l.Seconds)
		if l.FirstError != "" {
			fmt.Fprintf(w, "  first error: %s\n", l.FirstError)
		}
		if l.ServerCrash != "" {
			fmt.Fprintf(w, "  %s\n", l.ServerCrash)
		}
	}
	if c := r.Cold; c != nil {
		fmt.Fprintf(w, "cold start to first response: n=%d errors=%d p50=%.3f ms max=%.3f ms mean=%.3f ms\n  method: %s\n",
			c.N, c.Errors, c.P50, c.Max, c.Mean, r.ColdNote)
		if c.Error != "" {
			fmt.Fprintf(w, "  first error: %s\n", c.Error)
		}
	}
}
