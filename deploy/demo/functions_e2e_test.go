package demo

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
)

// lockedBuffer is a goroutine-safe bytes.Buffer for a child's output.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// startInvoker builds the fluoro binary and runs `fluoro invoker` on a free
// loopback port, sending segments to daemon. It returns the Lambda endpoint.
// (deploy/ must not import invoker/, so the real invoker runs as a process.)
func startInvoker(t *testing.T, daemon string) string {
	t.Helper()
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Fatalf("the end-to-end test builds the fluoro binary and needs the go command: %v", err)
	}
	tmp := t.TempDir()
	bin := filepath.Join(tmp, "fluoro")
	build := exec.Command(goBin, "build", "-o", bin, "github.com/fluoro/fluoro")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build fluoro: %v\n%s", err, out)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	// The work dir must be reachable by the function user when the test
	// runs as root (t.TempDir is private); given explicitly, it is removed
	// with the test instead of being left under the system temp dir.
	work, err := os.MkdirTemp("", "fluoro-demo-e2e-")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(work, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(work) })
	var logs lockedBuffer
	cmd := exec.Command(bin, "invoker",
		"--invoker-addr", addr,
		"--invoker-data-dir", filepath.Join(tmp, "data"),
		"--invoker-work-dir", work,
		"--invoker-xray-addr", daemon,
		"--invoker-sampling-addr", "off",
		"--log-level", "warn")
	cmd.Env = slices.DeleteFunc(os.Environ(), func(kv string) bool { return strings.HasPrefix(kv, "FLUORO_") })
	cmd.Stdout, cmd.Stderr = &logs, &logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(20 * time.Second):
			_ = cmd.Process.Kill()
			<-exited
		}
		if t.Failed() {
			t.Logf("invoker output:\n%s", logs.String())
		}
	})
	for deadline := time.Now().Add(20 * time.Second); ; {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			c.Close()
			return "http://" + addr
		}
		select {
		case err := <-exited:
			t.Fatalf("fluoro invoker exited: %v\n%s", err, logs.String())
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("fluoro invoker did not listen on %s within 20 s:\n%s", addr, logs.String())
		}
	}
}

// traceDocs waits until done(docs of the trace) holds, returning the docs.
func traceDocs(t *testing.T, sink *udpSink, traceID string, done func([]map[string]any) bool) []map[string]any {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		var docs []map[string]any
		for _, d := range sink.docs(t) {
			if d["trace_id"] == traceID {
				docs = append(docs, d)
			}
		}
		if done(docs) {
			return docs
		}
		if time.Now().After(deadline) {
			var b strings.Builder
			for _, d := range docs {
				fmt.Fprintf(&b, "  %v\n", d)
			}
			t.Fatalf("trace %s incomplete after 15 s; %d documents:\n%s", traceID, len(docs), b.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// trace is one trace's documents, indexed.
type trace struct {
	segs []map[string]any // top-level segments
	subs []map[string]any // independent subsegments
	// owner maps an id (segment, embedded or independent subsegment) to the
	// name of the function segment it belongs to.
	owner map[string]string
}

func indexTrace(docs []map[string]any) *trace {
	tr := &trace{owner: map[string]string{}}
	var walk func(d map[string]any, fn string)
	walk = func(d map[string]any, fn string) {
		tr.owner[str(d, "id")] = fn
		subs, _ := d["subsegments"].([]any)
		for _, s := range subs {
			if m, ok := s.(map[string]any); ok {
				walk(m, fn)
			}
		}
	}
	for _, d := range docs {
		if d["type"] == "subsegment" {
			tr.subs = append(tr.subs, d)
			continue
		}
		tr.segs = append(tr.segs, d)
		if d["origin"] == "AWS::Lambda::Function" {
			walk(d, str(d, "name"))
		}
	}
	// Independent subsegments belong to the function whose tree holds
	// their parent.
	for changed := true; changed; {
		changed = false
		for _, s := range tr.subs {
			if _, done := tr.owner[str(s, "id")]; done {
				continue
			}
			if fn, ok := tr.owner[str(s, "parent_id")]; ok {
				walk(s, fn)
				changed = true
			}
		}
	}
	return tr
}

func (tr *trace) segments(origin, name string) []map[string]any {
	var out []map[string]any
	for _, s := range tr.segs {
		if s["origin"] == origin && s["name"] == name {
			out = append(out, s)
		}
	}
	return out
}

// subsegmentsOf returns the independent subsegments of function fn named name.
func (tr *trace) subsegmentsOf(fn, name string) []map[string]any {
	var out []map[string]any
	for _, s := range tr.subs {
		if tr.owner[str(s, "id")] == fn && s["name"] == name {
			out = append(out, s)
		}
	}
	return out
}

func (tr *trace) count(origin, name string) int { return len(tr.segments(origin, name)) }

// TestFunctionsEndToEnd deploys the demo into a real invoker (the fluoro
// binary) and checks what one driven request produces on the daemon port:
// AWS::Lambda and AWS::Lambda::Function segments of api, orders and
// inventory chained through the callers' Invoke subsegments, the functions'
// own subsegments under their function segments, and the remote partner
// subsegment; then redeploys (no-op, then an update), a fault, a throttle
// and a short drive.
func TestFunctionsEndToEnd(t *testing.T) {
	sink := newUDPSink(t)
	endpoint := startInvoker(t, sink.addr())
	partner, err := StartPartner(PartnerConfig{})
	if err != nil {
		t.Fatal(err)
	}
	defer partner.Close()
	cfg := DefaultFunctionsConfig()
	cfg.LambdaEndpoint = endpoint
	cfg.Prefix = "e2e-"
	cfg.PartnerURL = partner.URL
	cfg.FaultRate, cfg.ThrottleRate, cfg.SlowRate = 0, 0, 0
	log := slog.New(slog.NewTextHandler(tWriter{t}, &slog.HandlerOptions{Level: slog.LevelWarn}))
	f, err := NewFunctions(cfg, log)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Second)
	defer cancel()
	if err := f.Deploy(ctx); err != nil {
		t.Fatal(err)
	}
	api, orders, inventory := f.Name(FunctionAPI), f.Name(FunctionOrders), f.Name(FunctionInventory)

	// Deploying again changes nothing.
	revisions := func() map[string]string {
		m := map[string]string{}
		for _, n := range []string{api, orders, inventory} {
			c, err := f.client.GetFunctionConfiguration(ctx, &lambda.GetFunctionConfigurationInput{FunctionName: aws.String(n)})
			if err != nil {
				t.Fatal(err)
			}
			if c.TracingConfig == nil || c.TracingConfig.Mode != "Active" {
				t.Errorf("%s: tracing %v, want Active", n, c.TracingConfig)
			}
			m[n] = aws.ToString(c.RevisionId) + " " + aws.ToString(c.CodeSha256)
		}
		return m
	}
	before := revisions()
	if err := f.Deploy(ctx); err != nil {
		t.Fatal(err)
	}
	if after := revisions(); fmt.Sprint(after) != fmt.Sprint(before) {
		t.Errorf("second Deploy changed the functions:\n%v\n%v", before, after)
	}

	t.Run("order", func(t *testing.T) {
		res, err := f.Call(ctx, Event{Route: "POST /orders", User: "alice", Items: []Item{{"p-100", 1}, {"p-300", 2}}})
		if err != nil {
			t.Fatal(err)
		}
		if res.StatusCode != 201 || !strings.Contains(res.Body, `"order_id"`) {
			t.Fatalf("order: %+v", res)
		}
		docs := traceDocs(t, sink, res.TraceID, func(docs []map[string]any) bool {
			tr := indexTrace(docs)
			return tr.count("AWS::Lambda::Function", inventory) == 2 && tr.count("AWS::Lambda::Function", orders) == 1 &&
				tr.count("AWS::Lambda::Function", api) == 1 && tr.count("AWS::Lambda", api) == 1 &&
				len(tr.subsegmentsOf(orders, "payments-partner")) == 1 && len(tr.subsegmentsOf(api, "## handler")) == 1 &&
				len(tr.subsegmentsOf(inventory, "stock ledger")) == 2 && len(tr.subsegmentsOf(orders, "Lambda")) == 2
		})
		tr := indexTrace(docs)

		// client → api: the api's AWS::Lambda segment is the root.
		apiSvc := tr.segments("AWS::Lambda", api)
		if len(apiSvc) != 1 || apiSvc[0]["parent_id"] != nil {
			t.Fatalf("api AWS::Lambda segment: %v", apiSvc)
		}
		// AWS::Lambda → AWS::Lambda::Function of the same function.
		for _, fn := range []string{api, orders, inventory} {
			svc := map[string]bool{}
			for _, s := range tr.segments("AWS::Lambda", fn) {
				svc[str(s, "id")] = true
			}
			for _, s := range tr.segments("AWS::Lambda::Function", fn) {
				if !svc[str(s, "parent_id")] {
					t.Errorf("%s: function segment %s has parent %s, not an AWS::Lambda segment of it", fn, str(s, "id"), str(s, "parent_id"))
				}
			}
		}
		// Every subsegment the functions sent hangs under a function
		// segment (its id or, as the invoker passes it, its Invocation
		// subsegment's), directly or through another of their subsegments.
		for _, s := range tr.subs {
			if _, ok := tr.owner[str(s, "id")]; !ok {
				t.Errorf("subsegment %s %q: parent %s is in no function segment", str(s, "id"), str(s, "name"), str(s, "parent_id"))
			}
		}
		for _, c := range []struct{ fn, name string }{{api, "## handler"}, {orders, "reserve stock"}, {orders, "price order"}, {orders, "payments-partner"}, {inventory, "stock ledger"}} {
			for _, s := range tr.subsegmentsOf(c.fn, c.name) {
				parent := str(s, "parent_id")
				fseg := tr.segments("AWS::Lambda::Function", c.fn)
				found := false
				for _, fs := range fseg {
					if str(fs, "id") == parent {
						found = true
					}
					for _, sub := range fs["subsegments"].([]any) {
						if str(sub.(map[string]any), "id") == parent {
							found = true
						}
					}
				}
				if !found {
					t.Errorf("%s %q: parent_id %s is not its function segment or one of that segment's subsegments", c.fn, c.name, parent)
				}
			}
		}
		// caller Invoke subsegment → callee AWS::Lambda segment.
		checkInvokes := func(caller, callee string, want int) {
			t.Helper()
			ids := map[string]bool{}
			for _, s := range tr.subsegmentsOf(caller, "Lambda") {
				if str(s, "namespace") != "aws" || str(s, "aws", "operation") != "Invoke" || str(s, "aws", "function_name") != callee ||
					str(s, "http", "response", "status") != "200" || str(s, "aws", "request_id") == "" {
					t.Errorf("%s Invoke subsegment: %v", caller, s)
				}
				ids[str(s, "id")] = true
			}
			svc := tr.segments("AWS::Lambda", callee)
			if len(ids) != want || len(svc) != want {
				t.Errorf("%s → %s: %d Invoke subsegments, %d AWS::Lambda segments, want %d", caller, callee, len(ids), len(svc), want)
			}
			for _, s := range svc {
				if !ids[str(s, "parent_id")] {
					t.Errorf("%s AWS::Lambda segment has parent %s, not an Invoke subsegment of %s", callee, str(s, "parent_id"), caller)
				}
			}
		}
		checkInvokes(api, orders, 1)
		checkInvokes(orders, inventory, 2)
		// The remote HTTP dependency.
		p := tr.subsegmentsOf(orders, "payments-partner")[0]
		if str(p, "namespace") != "remote" || str(p, "http", "request", "method") != "POST" ||
			str(p, "http", "request", "url") != partner.URL+"/v1/charges" || str(p, "http", "response", "status") != "201" {
			t.Errorf("remote subsegment: %v", p)
		}
		if s := tr.subsegmentsOf(api, "## handler")[0]; str(s, "annotations", "user") != "alice" || str(s, "annotations", "route") != "POST /orders" {
			t.Errorf("api handler annotations: %v", s)
		}
	})

	t.Run("throttle", func(t *testing.T) {
		if _, err := f.client.PutFunctionConcurrency(ctx, &lambda.PutFunctionConcurrencyInput{
			FunctionName: aws.String(inventory), ReservedConcurrentExecutions: aws.Int32(0),
		}); err != nil {
			t.Fatal(err)
		}
		res, err := f.Call(ctx, Event{Route: "POST /orders", User: "bob", Items: []Item{{"p-200", 1}}})
		if err != nil {
			t.Fatal(err)
		}
		if res.StatusCode != 429 {
			t.Fatalf("order with inventory throttled: %+v", res)
		}
		docs := traceDocs(t, sink, res.TraceID, func(docs []map[string]any) bool {
			tr := indexTrace(docs)
			return len(tr.subsegmentsOf(orders, "Lambda")) == 2 && tr.count("AWS::Lambda", inventory) == 2 &&
				tr.count("AWS::Lambda::Function", orders) == 1
		})
		tr := indexTrace(docs)
		for _, s := range tr.subsegmentsOf(orders, "Lambda") { // first try and retry
			if s["throttle"] != true || s["error"] != true || str(s, "http", "response", "status") != "429" {
				t.Errorf("throttled Invoke subsegment: %v", s)
			}
		}
		if n := tr.count("AWS::Lambda::Function", inventory); n != 0 {
			t.Errorf("%d inventory function segments for throttled invokes", n)
		}
		// Deploy restores the configured reserved concurrency.
		if err := f.Deploy(ctx); err != nil {
			t.Fatal(err)
		}
		c, err := f.client.GetFunctionConcurrency(ctx, &lambda.GetFunctionConcurrencyInput{FunctionName: aws.String(inventory)})
		if err != nil || aws.ToInt32(c.ReservedConcurrentExecutions) != int32(cfg.InventoryConcurrency) {
			t.Errorf("reserved concurrency after Deploy: %v, %v", c, err)
		}
	})

	t.Run("fault", func(t *testing.T) {
		broken, err := StartPartner(PartnerConfig{FaultRate: 1})
		if err != nil {
			t.Fatal(err)
		}
		defer broken.Close()
		fcfg := cfg
		fcfg.PartnerURL = broken.URL
		g, err := NewFunctions(fcfg, log)
		if err != nil {
			t.Fatal(err)
		}
		if err := g.Deploy(ctx); err != nil { // updates orders' configuration
			t.Fatal(err)
		}
		defer func() {
			if err := f.Deploy(ctx); err != nil {
				t.Error(err)
			}
		}()
		res, err := g.Call(ctx, Event{Route: "POST /orders", User: "carol", Items: []Item{{"p-300", 1}}})
		if err != nil {
			t.Fatal(err)
		}
		if res.StatusCode != 502 || !strings.Contains(res.Body, "payment partner answered 503") {
			t.Fatalf("order with a failing partner: %+v", res)
		}
		docs := traceDocs(t, sink, res.TraceID, func(docs []map[string]any) bool {
			tr := indexTrace(docs)
			return tr.count("AWS::Lambda::Function", orders) == 1 && len(tr.subsegmentsOf(orders, "payments-partner")) == 1
		})
		tr := indexTrace(docs)
		fs := tr.segments("AWS::Lambda::Function", orders)[0]
		if fs["error"] != true || !strings.Contains(fmt.Sprint(fs["cause"]), "PaymentError") {
			t.Errorf("orders function segment of an unhandled error: %v", fs)
		}
		if p := tr.subsegmentsOf(orders, "payments-partner")[0]; p["fault"] != true || str(p, "http", "response", "status") != "503" {
			t.Errorf("remote subsegment of a 503: %v", p)
		}
	})

	t.Run("run", func(t *testing.T) {
		rcfg := DefaultFunctionsConfig()
		rcfg.LambdaEndpoint, rcfg.Prefix, rcfg.Rate = endpoint, "run-", 10
		rctx, rcancel := context.WithTimeout(ctx, 2*time.Second)
		defer rcancel()
		if err := RunFunctions(rctx, rcfg, log); err != nil {
			t.Fatalf("RunFunctions: %v", err)
		}
		for _, base := range []string{FunctionAPI, FunctionOrders, FunctionInventory} {
			if _, err := f.client.GetFunction(ctx, &lambda.GetFunctionInput{FunctionName: aws.String("run-" + base)}); err != nil {
				t.Errorf("after RunFunctions: %v", err)
			}
		}
		// A refusal of the API (unsupported runtime) ends RunFunctions.
		rcfg.Prefix, rcfg.Runtime = "bad-", "python3.99"
		if err := RunFunctions(ctx, rcfg, log); err == nil || !strings.Contains(err.Error(), "InvalidParameterValueException") {
			t.Errorf("RunFunctions with runtime python3.99: %v, want InvalidParameterValueException", err)
		}
	})

	t.Run("drive", func(t *testing.T) {
		// Warm the environments first (the fault test's redeploys restarted
		// them), so the drive's calls finish within its window.
		if _, err := f.Call(ctx, Event{Route: "POST /orders", User: "dave", Items: []Item{{"p-100", 1}}}); err != nil {
			t.Fatal(err)
		}
		dcfg := cfg
		dcfg.Rate, dcfg.MaxInFlight = 20, 4
		d, err := NewFunctions(dcfg, log)
		if err != nil {
			t.Fatal(err)
		}
		dctx, dcancel := context.WithTimeout(ctx, 2*time.Second)
		defer dcancel()
		if err := d.Drive(dctx); err != nil {
			t.Fatal(err)
		}
		sent, failed := d.sent.Load(), d.failed.Load()
		if sent < 3 || failed != 0 || d.ok.Load()+d.clientErr.Load()+d.throttled.Load() != sent {
			t.Errorf("drive: sent %d ok %d client errors %d throttled %d failed %d", sent, d.ok.Load(), d.clientErr.Load(), d.throttled.Load(), failed)
		}
	})
}

// tWriter sends log output to t.Log.
type tWriter struct{ t *testing.T }

func (w tWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimSpace(string(p)))
	return len(p), nil
}
