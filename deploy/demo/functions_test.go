package demo

import (
	"archive/zip"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// unzipTo extracts a deployment package into a new temporary folder.
func unzipTo(t *testing.T, data []byte) (dir string, names []string) {
	t.Helper()
	zr, err := zip.NewReader(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		t.Fatalf("zip: %v", err)
	}
	dir = t.TempDir()
	for _, f := range zr.File {
		if strings.Contains(f.Name, "/") || strings.Contains(f.Name, "..") {
			t.Fatalf("zip entry %q is not at the root", f.Name)
		}
		rc, err := f.Open()
		if err != nil {
			t.Fatal(err)
		}
		b, err := io.ReadAll(rc)
		rc.Close()
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, f.Name), b, 0o644); err != nil {
			t.Fatal(err)
		}
		names = append(names, f.Name)
	}
	slices.Sort(names)
	return dir, names
}

func TestFunctionZips(t *testing.T) {
	for _, fn := range demoFunctions {
		t.Run(fn.base, func(t *testing.T) {
			data, err := functionZip(fn.base)
			if err != nil {
				t.Fatal(err)
			}
			again, err := functionZip(fn.base)
			if err != nil {
				t.Fatal(err)
			}
			if codeSha256(data) != codeSha256(again) {
				t.Error("two builds of the same sources differ: redeploys would not be no-ops")
			}
			dir, names := unzipTo(t, data)
			if want := []string{"app.py", "calls.py", "xraylite.py"}; !slices.Equal(names, want) {
				t.Fatalf("zip holds %v, want %v", names, want)
			}
			args := append([]string{"-m", "py_compile"}, names...)
			cmd := exec.Command("python3", args...)
			cmd.Dir = dir
			if out, err := cmd.CombinedOutput(); err != nil {
				t.Fatalf("py_compile: %v\n%s", err, out)
			}
			// The handler named in the configuration imports and is callable
			// (top-level code reads only the environment).
			mod, fnName, _ := strings.Cut(handler, ".")
			cmd = exec.Command("python3", "-c", "import "+mod+"; assert callable("+mod+"."+fnName+")")
			cmd.Dir = dir
			if out, err := cmd.CombinedOutput(); err != nil {
				t.Fatalf("handler %s: %v\n%s", handler, err, out)
			}
		})
	}
}

// udpSink collects daemon datagrams.
type udpSink struct {
	conn *net.UDPConn
	mu   sync.Mutex
	pkts [][]byte
}

func newUDPSink(t *testing.T) *udpSink {
	t.Helper()
	conn, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	s := &udpSink{conn: conn}
	done := make(chan struct{})
	go func() {
		defer close(done)
		buf := make([]byte, 65536)
		for {
			n, _, err := conn.ReadFromUDP(buf)
			if err != nil {
				return
			}
			s.mu.Lock()
			s.pkts = append(s.pkts, bytes.Clone(buf[:n]))
			s.mu.Unlock()
		}
	}()
	t.Cleanup(func() { conn.Close(); <-done })
	return s
}

func (s *udpSink) addr() string { return s.conn.LocalAddr().String() }

// docs returns the documents received so far, checking every datagram's
// daemon header.
func (s *udpSink) docs(t *testing.T) []map[string]any {
	t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []map[string]any
	for _, p := range s.pkts {
		head, body, ok := bytes.Cut(p, []byte("\n"))
		if !ok {
			t.Fatalf("datagram without header line: %q", p)
		}
		var h struct {
			Format  string `json:"format"`
			Version int    `json:"version"`
		}
		if err := json.Unmarshal(head, &h); err != nil || h.Format != "json" || h.Version != 1 {
			t.Fatalf("bad daemon header %q (%v)", head, err)
		}
		var d map[string]any
		if err := json.Unmarshal(body, &d); err != nil {
			t.Fatalf("body %q: %v", body, err)
		}
		out = append(out, d)
	}
	return out
}

func str(m map[string]any, path ...string) string {
	var v any = m
	for _, k := range path {
		mm, ok := v.(map[string]any)
		if !ok {
			return ""
		}
		v = mm[k]
	}
	switch x := v.(type) {
	case string:
		return x
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64)
	case bool:
		if x {
			return "true"
		}
		return "false"
	}
	return ""
}

const tracerScript = `
import json, os, sys
import calls, xraylite
t = xraylite.Tracer.from_env()
out = {}
with t.subsegment("outer") as s:
    s.annotate("k", "v")
    out["outer"] = s.id
    r = calls.invoke(s, "callee", {"x": 1})
    out["status"] = r.status
    out["payload"] = r.payload
    out["function_error"] = r.function_error
    try:
        calls.invoke(s, "busy", {})
    except calls.LambdaError as e:
        out["busy"] = [e.status, e.code]
    st, body = calls.http_call(s, "partner", "POST", sys.argv[1] + "/v1/charges", {"amount": 5})
    out["partner"] = st
print(json.dumps(out))
`

// TestTracer runs the functions' tracer and clients against a stand-in of
// the Lambda Invoke API and a UDP daemon: independent subsegments with the
// header line, trace and parent ids from _X_AMZN_TRACE_ID, aws/remote
// namespaces, throttle flags, and X-Amzn-Trace-Id naming the Invoke
// subsegment as Parent.
func TestTracer(t *testing.T) {
	data, err := functionZip(FunctionAPI)
	if err != nil {
		t.Fatal(err)
	}
	dir, _ := unzipTo(t, data)
	if err := os.WriteFile(filepath.Join(dir, "script.py"), []byte(tracerScript), 0o644); err != nil {
		t.Fatal(err)
	}
	partner, err := StartPartner(PartnerConfig{})
	if err != nil {
		t.Fatal(err)
	}
	defer partner.Close()

	var mu sync.Mutex
	got := map[string]string{} // function → X-Amzn-Trace-Id received
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		name := strings.TrimSuffix(strings.TrimPrefix(r.URL.Path, "/2015-03-31/functions/"), "/invocations")
		mu.Lock()
		got[name] = r.Header.Get("X-Amzn-Trace-Id")
		mu.Unlock()
		if r.Method != http.MethodPost || r.Header.Get("X-Amz-Invocation-Type") != "RequestResponse" {
			http.Error(w, "bad request", http.StatusBadRequest)
			return
		}
		w.Header().Set("x-amzn-RequestId", "req-"+name)
		if name == "busy" {
			w.Header().Set("X-Amzn-ErrorType", "TooManyRequestsException")
			w.WriteHeader(http.StatusTooManyRequests)
			io.WriteString(w, `{"Type":"User","message":"Rate Exceeded.","Reason":"ReservedFunctionConcurrentInvocationLimitExceeded"}`)
			return
		}
		w.Header().Set("X-Amz-Function-Error", "Unhandled")
		io.WriteString(w, `{"errorMessage":"boom","errorType":"ValueError"}`)
	}))
	defer api.Close()

	const root = "1-67a0b1c2-0123456789abcdef01234567"
	const parent = "53995c3f42cd8ad8"
	tests := []struct {
		name, header, daemonForm string
		sampled                  bool
	}{
		{"sampled", "Root=" + root + ";Parent=" + parent + ";Sampled=1;Lineage=1:36680206:0", "%s", true},
		{"two-address daemon form", "Root=" + root + ";Parent=" + parent + ";Sampled=1", "tcp:127.0.0.1:9 udp:%s", true},
		{"not sampled", "Root=" + root + ";Parent=" + parent + ";Sampled=0", "%s", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			sink := newUDPSink(t)
			cmd := exec.Command("python3", "script.py", partner.URL)
			cmd.Dir = dir
			cmd.Env = append(os.Environ(),
				"_X_AMZN_TRACE_ID="+tc.header,
				"AWS_XRAY_DAEMON_ADDRESS="+strings.ReplaceAll(tc.daemonForm, "%s", sink.addr()),
				"DEMO_LAMBDA_ENDPOINT="+api.URL, "AWS_REGION=eu-west-1")
			out, err := cmd.Output()
			if err != nil {
				t.Fatalf("script: %v\n%s", err, out)
			}
			var res struct {
				Outer         string         `json:"outer"`
				Status        int            `json:"status"`
				Payload       map[string]any `json:"payload"`
				FunctionError string         `json:"function_error"`
				Busy          []any          `json:"busy"`
				Partner       int            `json:"partner"`
			}
			if err := json.Unmarshal(out, &res); err != nil {
				t.Fatalf("script output %q: %v", out, err)
			}
			if res.Status != 200 || res.FunctionError != "Unhandled" || res.Payload["errorMessage"] != "boom" {
				t.Errorf("invoke result %+v", res)
			}
			if len(res.Busy) != 2 || res.Busy[0] != float64(429) || res.Busy[1] != "TooManyRequestsException" {
				t.Errorf("throttled invoke: %v", res.Busy)
			}
			if res.Partner != http.StatusCreated {
				t.Errorf("partner status %d", res.Partner)
			}

			var docs []map[string]any
			deadline := time.Now().Add(5 * time.Second)
			for {
				docs = sink.docs(t)
				if !tc.sampled || len(docs) >= 4 || time.Now().After(deadline) {
					break
				}
				time.Sleep(10 * time.Millisecond)
			}
			mu.Lock()
			calleeHdr := got["callee"]
			mu.Unlock()
			if !tc.sampled {
				time.Sleep(100 * time.Millisecond)
				if docs = sink.docs(t); len(docs) != 0 {
					t.Errorf("unsampled invocation sent %d documents", len(docs))
				}
				if want := "Root=" + root + ";Parent="; !strings.HasPrefix(calleeHdr, want) || !strings.HasSuffix(calleeHdr, ";Sampled=0") {
					t.Errorf("propagated header %q, want Root kept and Sampled=0", calleeHdr)
				}
				return
			}
			if len(docs) != 4 {
				t.Fatalf("got %d documents, want 4: %v", len(docs), docs)
			}
			byName := map[string][]map[string]any{}
			for _, d := range docs {
				if d["type"] != "subsegment" || d["trace_id"] != root || len(str(d, "id")) != 16 {
					t.Errorf("not an independent subsegment of the trace: %v", d)
				}
				if _, ok := d["end_time"].(float64); !ok || d["end_time"].(float64) < d["start_time"].(float64) {
					t.Errorf("bad times: %v", d)
				}
				byName[str(d, "name")] = append(byName[str(d, "name")], d)
			}
			outer := byName["outer"]
			if len(outer) != 1 || str(outer[0], "parent_id") != parent || str(outer[0], "id") != res.Outer ||
				str(outer[0], "annotations", "k") != "v" {
				t.Fatalf("outer subsegment: %v", outer)
			}
			lambdas := byName["Lambda"]
			if len(lambdas) != 2 {
				t.Fatalf("Lambda subsegments: %v", lambdas)
			}
			for _, l := range lambdas {
				fn := str(l, "aws", "function_name")
				if str(l, "parent_id") != res.Outer || str(l, "namespace") != "aws" || str(l, "aws", "operation") != "Invoke" ||
					str(l, "aws", "region") != "eu-west-1" || str(l, "aws", "request_id") != "req-"+fn {
					t.Errorf("Lambda subsegment: %v", l)
				}
				switch fn {
				case "callee":
					want := "Root=" + root + ";Parent=" + str(l, "id") + ";Sampled=1"
					if strings.Contains(tc.header, "Lineage") {
						want += ";Lineage=1:36680206:0"
					}
					if calleeHdr != want {
						t.Errorf("propagated header %q, want %q", calleeHdr, want)
					}
					if str(l, "http", "response", "status") != "200" || l["error"] != nil || l["fault"] != nil {
						t.Errorf("function error must not flag the Invoke subsegment: %v", l)
					}
				case "busy":
					ex, _ := l["cause"].(map[string]any)["exceptions"].([]any)
					if str(l, "http", "response", "status") != "429" || l["throttle"] != true || l["error"] != true ||
						l["fault"] != nil || len(ex) != 1 || ex[0].(map[string]any)["remote"] != true {
						t.Errorf("throttled Invoke subsegment: %v", l)
					}
				default:
					t.Errorf("unexpected function %q", fn)
				}
			}
			p := byName["partner"]
			if len(p) != 1 || str(p[0], "namespace") != "remote" || str(p[0], "parent_id") != res.Outer ||
				str(p[0], "http", "request", "method") != "POST" || str(p[0], "http", "request", "url") != partner.URL+"/v1/charges" ||
				str(p[0], "http", "response", "status") != "201" {
				t.Errorf("remote subsegment: %v", p)
			}
		})
	}
}

func TestPartner(t *testing.T) {
	tests := []struct {
		name string
		cfg  PartnerConfig
		body string
		want int
	}{
		{"charge", PartnerConfig{}, `{"amount":12.5,"currency":"EUR"}`, http.StatusCreated},
		{"declined", PartnerConfig{}, `{"amount":5000}`, http.StatusPaymentRequired},
		{"bad body", PartnerConfig{}, `{"amount":"x"}`, http.StatusBadRequest},
		{"throttled", PartnerConfig{ThrottleRate: 1}, `{"amount":1}`, http.StatusTooManyRequests},
		{"fault", PartnerConfig{FaultRate: 1}, `{"amount":1}`, http.StatusServiceUnavailable},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p, err := StartPartner(tc.cfg)
			if err != nil {
				t.Fatal(err)
			}
			defer p.Close()
			resp, err := http.Post(p.URL+"/v1/charges", "application/json", strings.NewReader(tc.body))
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != tc.want || !json.Valid(b) {
				t.Errorf("status %d body %q, want %d with JSON", resp.StatusCode, b, tc.want)
			}
		})
	}
	if _, err := StartPartner(PartnerConfig{SlowRate: 2}); err == nil {
		t.Error("probability 2 accepted")
	}
}

func TestRandomEvent(t *testing.T) {
	for _, throttle := range []float64{0, 0.1} {
		cfg := DefaultFunctionsConfig()
		cfg.LambdaEndpoint = "http://127.0.0.1:1"
		cfg.ThrottleRate = throttle
		f, err := NewFunctions(cfg, nil)
		if err != nil {
			t.Fatal(err)
		}
		seen := map[string]int{}
		for range 5000 {
			ev := f.RandomEvent()
			if _, err := json.Marshal(ev); err != nil {
				t.Fatal(err)
			}
			kind := ev.Route
			switch {
			case strings.HasPrefix(ev.Route, "GET /orders/o-"):
				kind = "get"
			case ev.Route == "POST /orders" && len(ev.Items) > cfg.InventoryConcurrency:
				kind = "bulk"
			case ev.Route == "POST /orders" && len(ev.Items) == 0:
				kind = "invalid"
			case ev.Route == "POST /orders":
				kind = "order"
			}
			seen[kind]++
		}
		for _, k := range []string{"order", "get", "invalid", "GET /orders/unknown", "DELETE /orders"} {
			if seen[k] == 0 {
				t.Errorf("throttle rate %v: no %q events in 5000: %v", throttle, k, seen)
			}
		}
		if (seen["bulk"] > 0) != (throttle > 0) {
			t.Errorf("throttle rate %v: %d bulk orders", throttle, seen["bulk"])
		}
	}
}

func TestFunctionsConfigValidate(t *testing.T) {
	ok := DefaultFunctionsConfig()
	ok.LambdaEndpoint = "http://127.0.0.1:3001"
	tests := []struct {
		name   string
		mutate func(*FunctionsConfig)
		valid  bool
	}{
		{"defaults", func(*FunctionsConfig) {}, true},
		{"no endpoint", func(c *FunctionsConfig) { c.LambdaEndpoint = "" }, false},
		{"endpoint without scheme", func(c *FunctionsConfig) { c.LambdaEndpoint = "127.0.0.1:3001" }, false},
		{"zero rate", func(c *FunctionsConfig) { c.Rate = 0 }, false},
		{"no in-flight", func(c *FunctionsConfig) { c.MaxInFlight = 0 }, false},
		{"no inventory concurrency", func(c *FunctionsConfig) { c.InventoryConcurrency = 0 }, false},
		{"node runtime", func(c *FunctionsConfig) { c.Runtime = "nodejs20.x" }, false},
		{"probability", func(c *FunctionsConfig) { c.FaultRate = 1.5 }, false},
		{"long prefix", func(c *FunctionsConfig) { c.Prefix = strings.Repeat("x", 41) }, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := ok
			tc.mutate(&c)
			if err := c.Validate(); (err == nil) != tc.valid {
				t.Errorf("Validate() = %v, valid %v", err, tc.valid)
			}
		})
	}
}

// TestRunFunctionsWaitsForInvoker: while nothing answers at the endpoint,
// RunFunctions keeps retrying the deployment and returns nil when ctx ends.
func TestRunFunctionsWaitsForInvoker(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // nothing listens there now
	cfg := DefaultFunctionsConfig()
	cfg.LambdaEndpoint = "http://" + addr
	ctx, cancel := context.WithTimeout(context.Background(), 1500*time.Millisecond)
	defer cancel()
	start := time.Now()
	if err := RunFunctions(ctx, cfg, nil); err != nil {
		t.Fatalf("RunFunctions = %v, want nil at the end of ctx", err)
	}
	if time.Since(start) < time.Second {
		t.Errorf("RunFunctions gave up after %v, before ctx ended", time.Since(start))
	}
}
