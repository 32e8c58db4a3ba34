package engine

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-lambda-go/lambdacontext"

	"github.com/fluoro/fluoro/invoker/logs"
	"github.com/fluoro/fluoro/invoker/sandbox"
	"github.com/fluoro/fluoro/invoker/xrayemit"
)

// The test binary doubles as the function: started with
// FLUORO_ENGINE_TEST_RUNTIME=1 it runs an aws-lambda-go runtime loop whose
// behaviour the payload selects.
const runtimeEnv = "FLUORO_ENGINE_TEST_RUNTIME"

var codeDir string

func TestMain(m *testing.M) {
	if os.Getenv(runtimeEnv) == "1" {
		testRuntime()
		return
	}
	dir, err := os.MkdirTemp("", "engine-test-code-")
	if err != nil {
		panic(err)
	}
	codeDir = dir
	if err := copyExecutable(os.Args[0], filepath.Join(dir, "bootstrap")); err != nil {
		panic(err)
	}
	_ = os.Chmod(dir, 0o755)
	code := m.Run()
	_ = os.RemoveAll(dir)
	os.Exit(code)
}

func copyExecutable(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_CREATE|os.O_WRONLY, 0o755)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

type op struct {
	Op    string `json:"op"`
	MS    int    `json:"ms"`
	MB    int    `json:"mb"`
	Bytes int    `json:"bytes"`
	Lines []string
}

func testRuntime() {
	switch os.Getenv("FLUORO_TEST_INIT") {
	case "crash":
		fmt.Println("crashing in init")
		os.Exit(3)
	case "initerror":
		url := "http://" + os.Getenv("AWS_LAMBDA_RUNTIME_API") + "/2018-06-01/runtime/init/error"
		req, _ := http.NewRequest(http.MethodPost, url, strings.NewReader(`{"errorMessage":"cannot import","errorType":"Runtime.ImportModuleError"}`))
		req.Header.Set("Lambda-Runtime-Function-Error-Type", "Runtime.ImportModuleError")
		if resp, err := http.DefaultClient.Do(req); err == nil {
			resp.Body.Close()
		}
		time.Sleep(time.Minute)
	case "slow":
		time.Sleep(time.Minute)
	}
	fmt.Println("init done")
	lambda.Start(func(ctx context.Context, in op) (any, error) {
		switch in.Op {
		case "log":
			for i, l := range in.Lines {
				if i%2 == 0 {
					fmt.Println(l)
				} else {
					fmt.Fprintln(os.Stderr, l)
				}
			}
			return "logged", nil
		case "sleep":
			time.Sleep(time.Duration(in.MS) * time.Millisecond)
			return "slept", nil
		case "error":
			return nil, errors.New("boom")
		case "exit":
			os.Exit(1)
		case "alloc":
			b := make([]byte, in.MB<<20)
			for i := 0; i < len(b); i += 4096 {
				b[i] = 1
			}
			return len(b), nil
		case "big":
			return strings.Repeat("x", in.Bytes), nil
		case "env":
			lc, _ := lambdacontext.FromContext(ctx)
			tmp := os.Getenv("TMPDIR")
			werr := os.WriteFile(filepath.Join(tmp, "probe"), []byte("x"), 0o600)
			return map[string]any{
				"name": os.Getenv("AWS_LAMBDA_FUNCTION_NAME"), "version": os.Getenv("AWS_LAMBDA_FUNCTION_VERSION"),
				"memory": os.Getenv("AWS_LAMBDA_FUNCTION_MEMORY_SIZE"), "handler": os.Getenv("_HANDLER"),
				"region": os.Getenv("AWS_REGION"), "xray": os.Getenv("AWS_XRAY_DAEMON_ADDRESS"),
				"task_root": os.Getenv("LAMBDA_TASK_ROOT"), "custom": os.Getenv("CUSTOM"),
				"uid": os.Getuid(), "tmp_write": werr == nil, "stream": os.Getenv("AWS_LAMBDA_LOG_STREAM_NAME"),
				"arn": lc.InvokedFunctionArn, "request_id": lc.AwsRequestID,
				"trace_env": os.Getenv("_X_AMZN_TRACE_ID"), "deadline_ok": deadlineOK(ctx),
			}, nil
		}
		return in, nil
	})
}

func deadlineOK(ctx context.Context) bool {
	d, ok := ctx.Deadline()
	return ok && time.Until(d) > 0 && time.Until(d) < 10*time.Second
}

type captureEmitter struct {
	mu   sync.Mutex
	docs []*xrayemit.Document
}

func (c *captureEmitter) Emit(_ context.Context, d *xrayemit.Document) error {
	c.mu.Lock()
	c.docs = append(c.docs, d)
	c.mu.Unlock()
	return nil
}

func (c *captureEmitter) all() []*xrayemit.Document {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]*xrayemit.Document(nil), c.docs...)
}

func newEngine(t *testing.T, mod func(*Config)) (*Engine, *captureEmitter) {
	t.Helper()
	sb, err := sandbox.New(sandbox.Config{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	work, err := os.MkdirTemp("", "engine-test-work-")
	if err != nil {
		t.Fatal(err)
	}
	_ = os.Chmod(work, 0o755)
	cfg := Config{WorkDir: work, Region: "us-east-1", AccountID: "000000000000", XRayDaemonAddr: "127.0.0.1:2000",
		InitTimeout: 5 * time.Second, MaxConcurrency: 50}
	if mod != nil {
		mod(&cfg)
	}
	em := &captureEmitter{}
	e, err := New(cfg, Settings{Sandbox: sb, Emitter: em, Logs: logs.NewRegistry(0)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := e.Close(); err != nil {
			t.Error(err)
		}
		_ = sb.Close()
		_ = os.RemoveAll(work)
	})
	return e, em
}

var specSeq int

func newSpec(mod func(*Spec)) *Spec {
	specSeq++
	s := &Spec{
		FunctionName: fmt.Sprintf("fn%d", specSeq), Version: "$LATEST", Revision: "r1", Runtime: "provided.al2023",
		Handler: "bootstrap", MemoryMB: 128, Timeout: 3 * time.Second, CodeDir: codeDir,
		Env: map[string]string{runtimeEnv: "1", "CUSTOM": "yes"},
	}
	s.FunctionARN = "arn:aws:lambda:us-east-1:000000000000:function:" + s.FunctionName
	if mod != nil {
		mod(s)
	}
	return s
}

var reqSeq int
var reqMu sync.Mutex

func newReq(payload string) *Request {
	reqMu.Lock()
	reqSeq++
	n := reqSeq
	reqMu.Unlock()
	return &Request{RequestID: fmt.Sprintf("00000000-0000-4000-8000-%012d", n), Payload: []byte(payload)}
}

func invoke(t *testing.T, e *Engine, s *Spec, r *Request) *Result {
	t.Helper()
	if r.InvokedARN == "" {
		r.InvokedARN = s.FunctionARN
	}
	res, err := e.Invoke(context.Background(), s, r)
	if err != nil {
		t.Fatalf("Invoke: %v", err)
	}
	t.Cleanup(res.Release)
	return res
}

func TestWarmReuseAndEnvironment(t *testing.T) {
	e, _ := newEngine(t, nil)
	s := newSpec(nil)
	r1 := invoke(t, e, s, newReq(`{"op":"echo"}`))
	if !r1.Cold || r1.FunctionError != "" || r1.Payload.String() != `{"op":"echo","ms":0,"mb":0,"bytes":0,"Lines":null}` {
		t.Fatalf("first: cold=%v err=%q payload=%s", r1.Cold, r1.FunctionError, r1.Payload)
	}
	req := newReq(`{"op":"env"}`)
	r2 := invoke(t, e, s, req)
	if r2.Cold {
		t.Error("second invocation was cold")
	}
	var got map[string]any
	if err := json.Unmarshal(r2.Payload.Bytes(), &got); err != nil {
		t.Fatalf("%v: %s", err, r2.Payload)
	}
	want := map[string]any{"name": s.FunctionName, "version": "$LATEST", "memory": "128", "handler": "bootstrap",
		"region": "us-east-1", "xray": "127.0.0.1:2000", "task_root": codeDir, "custom": "yes", "tmp_write": true,
		"arn": s.FunctionARN, "request_id": req.RequestID, "deadline_ok": true}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %v, want %v", k, got[k], v)
		}
	}
	if os.Geteuid() == 0 && got["uid"] != float64(65534) {
		t.Errorf("function runs as uid %v, want 65534", got["uid"])
	}
	waitFor(t, func() bool { st := e.Stats(); return st.Environments == 1 && st.Idle == 1 && st.InUse == 0 })
}

func TestLogsAndTail(t *testing.T) {
	e, _ := newEngine(t, nil)
	s := newSpec(nil)
	req := newReq(`{"op":"log","Lines":["line one","line two","line three"]}`)
	req.Tail = true
	res := invoke(t, e, s, req)
	if res.LogTail == "" {
		t.Fatal("no tail")
	}
	tail := decode(t, res.LogTail)
	order := []string{"START RequestId: " + req.RequestID + " Version: $LATEST", "line one", "line two", "line three",
		"END RequestId: " + req.RequestID, "REPORT RequestId: " + req.RequestID, "Init Duration: "}
	pos := 0
	for _, w := range order {
		i := strings.Index(tail[pos:], w)
		if i < 0 {
			t.Fatalf("tail lacks %q after offset %d:\n%s", w, pos, tail)
		}
		pos += i
	}
	evs := e.Logs().Recent(s.FunctionName, 0, 0)
	if len(evs) < 6 || !strings.HasPrefix(evs[0].Message, "INIT_START Runtime Version: provided.al2023") {
		t.Errorf("recent logs: %+v", evs)
	}
	// Warm: no Init Duration.
	req2 := newReq(`{"op":"echo"}`)
	req2.Tail = true
	tail2 := decode(t, invoke(t, e, s, req2).LogTail)
	if strings.Contains(tail2, "Init Duration") || !strings.Contains(tail2, "Max Memory Used: ") {
		t.Errorf("warm tail:\n%s", tail2)
	}
}

func decode(t *testing.T, b64 string) string {
	t.Helper()
	b, err := base64Decode(b64)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestFunctionErrorKeepsEnvironment(t *testing.T) {
	e, _ := newEngine(t, nil)
	s := newSpec(nil)
	res := invoke(t, e, s, newReq(`{"op":"error"}`))
	if res.FunctionError != "Unhandled" || !strings.Contains(res.Payload.String(), `"errorMessage":"boom"`) || res.ErrorType != "errorString" {
		t.Fatalf("error result: %q %q %s", res.FunctionError, res.ErrorType, res.Payload)
	}
	if r := invoke(t, e, s, newReq(`{"op":"echo"}`)); r.Cold {
		t.Error("environment not reused after a function error")
	}
}

func TestTimeoutResetsEnvironment(t *testing.T) {
	e, _ := newEngine(t, nil)
	s := newSpec(func(s *Spec) { s.Timeout = time.Second })
	req := newReq(`{"op":"sleep","ms":3000}`)
	req.Tail = true
	res := invoke(t, e, s, req)
	want := `{"errorType":"Sandbox.Timedout","errorMessage":"RequestId: ` + req.RequestID + ` Error: Task timed out after 1.00 seconds"}`
	if res.FunctionError != "Unhandled" || res.Payload.String() != want || res.Status != "timeout" {
		t.Fatalf("timeout result: %q %s", res.FunctionError, res.Payload)
	}
	if tail := decode(t, res.LogTail); !strings.Contains(tail, "Duration: 1000.00 ms") || !strings.Contains(tail, "Status: timeout") {
		t.Errorf("tail:\n%s", tail)
	}
	if r := invoke(t, e, s, newReq(`{"op":"echo"}`)); !r.Cold || r.FunctionError != "" {
		t.Errorf("after timeout: cold=%v err=%q", r.Cold, r.FunctionError)
	}
}

func TestCrashDuringInvoke(t *testing.T) {
	e, _ := newEngine(t, nil)
	s := newSpec(nil)
	invoke(t, e, s, newReq(`{"op":"echo"}`))
	req := newReq(`{"op":"exit"}`)
	res := invoke(t, e, s, req)
	want := `{"errorType":"Runtime.ExitError","errorMessage":"RequestId: ` + req.RequestID + ` Error: Runtime exited with error: exit status 1"}`
	if res.Payload.String() != want || res.Status != "error" {
		t.Fatalf("crash result: %s", res.Payload)
	}
	if r := invoke(t, e, s, newReq(`{"op":"echo"}`)); !r.Cold {
		t.Error("crashed environment reused")
	}
}

func TestInitFailures(t *testing.T) {
	tests := []struct {
		init     string
		wantType string
		wantBody string
	}{
		{"crash", "Runtime.ExitError", "Runtime exited with error: exit status 3"},
		{"initerror", "Runtime.ImportModuleError", `"errorMessage":"cannot import"`},
		{"slow", "Sandbox.Timedout", "Task timed out after 0.50 seconds"},
	}
	for _, tc := range tests {
		t.Run(tc.init, func(t *testing.T) {
			e, _ := newEngine(t, func(c *Config) { c.InitTimeout = 500 * time.Millisecond })
			s := newSpec(func(s *Spec) { s.Env["FLUORO_TEST_INIT"] = tc.init })
			req := newReq(`{}`)
			req.Tail = true
			res := invoke(t, e, s, req)
			if res.FunctionError != "Unhandled" || res.ErrorType != tc.wantType || !strings.Contains(res.Payload.String(), tc.wantBody) {
				t.Errorf("got %q %q %s", res.FunctionError, res.ErrorType, res.Payload)
			}
			if tail := decode(t, res.LogTail); !strings.Contains(tail, "INIT_REPORT Init Duration: ") || !strings.Contains(tail, "REPORT RequestId: "+req.RequestID) {
				t.Errorf("tail:\n%s", tail)
			}
			waitFor(t, func() bool { return e.Stats().Environments == 0 })
		})
	}
}

func TestMissingBootstrap(t *testing.T) {
	e, _ := newEngine(t, nil)
	s := newSpec(func(s *Spec) { s.CodeDir = t.TempDir() })
	res := invoke(t, e, s, newReq(`{}`))
	if res.ErrorType != "Runtime.InvalidEntrypoint" {
		t.Errorf("got %q %s", res.ErrorType, res.Payload)
	}
	if st := e.Stats(); st.Environments != 0 || st.InUse != 0 {
		t.Errorf("stats %+v", st)
	}
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not reached")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestScaleOutAndReservedConcurrency(t *testing.T) {
	e, _ := newEngine(t, nil)
	s := newSpec(nil)
	const n = 4
	var wg sync.WaitGroup
	var mu sync.Mutex
	cold := 0
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			res, err := e.Invoke(context.Background(), s, newReq(`{"op":"sleep","ms":1000}`))
			if err != nil {
				t.Error(err)
				return
			}
			defer res.Release()
			mu.Lock()
			if res.Cold {
				cold++
			}
			mu.Unlock()
		}()
	}
	wg.Wait()
	if cold != n || e.Stats().Environments != n {
		t.Errorf("cold=%d envs=%d, want %d parallel environments", cold, e.Stats().Environments, n)
	}

	// Reserved concurrency 1: the second parallel invocation is throttled.
	s2 := newSpec(nil)
	if err := e.SetReserved(s2.FunctionName, 1); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	slow := newReq(`{"op":"sleep","ms":1500}`)
	go func() {
		defer close(done)
		res, err := e.Invoke(context.Background(), s2, slow)
		if err == nil {
			res.Release()
		}
	}()
	waitFor(t, func() bool { // the slow invocation holds s2's only slot
		for _, ev := range e.Logs().Recent(s2.FunctionName, 0, 0) {
			if strings.HasPrefix(ev.Message, "START RequestId: "+slow.RequestID) {
				return true
			}
		}
		return false
	})
	_, err := e.Invoke(context.Background(), s2, newReq(`{"op":"echo"}`))
	var te *ThrottleError
	if !errors.As(err, &te) || te.Reason != ReasonReserved {
		t.Errorf("err = %v, want reserved throttle", err)
	}
	<-done
	if err := e.SetReserved(s2.FunctionName, 0); err != nil {
		t.Fatal(err)
	}
	if _, err := e.Invoke(context.Background(), s2, newReq(`{}`)); !errors.As(err, &te) {
		t.Errorf("reserved 0: err = %v", err)
	}
	if err := e.SetReserved(s2.FunctionName, 46); !errors.Is(err, ErrReservation) {
		t.Errorf("reservation leaving < MinUnreserved accepted: %v", err)
	}
	if err := e.SetReserved(s2.FunctionName, -1); err != nil {
		t.Fatal(err)
	}
	invoke(t, e, s2, newReq(`{}`))
}

func TestEngineWideLimit(t *testing.T) {
	e, _ := newEngine(t, func(c *Config) { c.MaxConcurrency = 1 })
	s := newSpec(nil)
	done := make(chan struct{})
	go func() {
		defer close(done)
		if res, err := e.Invoke(context.Background(), s, newReq(`{"op":"sleep","ms":1000}`)); err == nil {
			res.Release()
		}
	}()
	waitFor(t, func() bool { return e.Stats().InUse == 1 })
	_, err := e.Invoke(context.Background(), newSpec(nil), newReq(`{}`))
	var te *ThrottleError
	if !errors.As(err, &te) || te.Reason != ReasonConcurrent {
		t.Errorf("err = %v", err)
	}
	<-done
}

func TestOversizeResponse(t *testing.T) {
	e, _ := newEngine(t, nil)
	s := newSpec(nil)
	res := invoke(t, e, s, newReq(`{"op":"big","bytes":7000000}`))
	if res.FunctionError != "Unhandled" || res.ErrorType != "Function.ResponseSizeTooLarge" {
		t.Errorf("got %q %q %.200s", res.FunctionError, res.ErrorType, res.Payload)
	}
}

func TestMemoryLimit(t *testing.T) {
	e, _ := newEngine(t, nil)
	s := newSpec(func(s *Spec) { s.MemoryMB = 64 })
	req := newReq(`{"op":"alloc","mb":200}`)
	req.Tail = true
	res := invoke(t, e, s, req)
	if res.FunctionError != "Unhandled" {
		t.Fatalf("allocating 200 MB in 64 MB succeeded: %s", res.Payload)
	}
	t.Logf("%s %s", res.ErrorType, res.Payload)
	// Max Memory Used is measured, not the configured size.
	small := newReq(`{"op":"echo"}`)
	small.Tail = true
	tail := decode(t, invoke(t, e, s, small).LogTail)
	if strings.Contains(tail, "Max Memory Used: 64 MB") || !strings.Contains(tail, "Max Memory Used: ") {
		t.Errorf("tail:\n%s", tail)
	}
}

func TestIdleReapingAndDrop(t *testing.T) {
	e, _ := newEngine(t, func(c *Config) { c.IdleTimeout = 200 * time.Millisecond })
	s := newSpec(nil)
	invoke(t, e, s, newReq(`{}`))
	waitFor(t, func() bool { return e.Stats().Environments == 0 })

	e2, _ := newEngine(t, nil)
	invoke(t, e2, s, newReq(`{}`))
	e2.DropVersion(s.FunctionName, "$LATEST")
	waitFor(t, func() bool { return e2.Stats().Environments == 0 })
	if r := invoke(t, e2, s, newReq(`{}`)); !r.Cold {
		t.Error("dropped environment reused")
	}
}

func TestTracing(t *testing.T) {
	e, em := newEngine(t, nil)
	s := newSpec(nil)
	root := xrayemit.NewTraceID(time.Now())
	req := newReq(`{"op":"env"}`)
	req.Tail = true
	req.Trace = Trace{Header: xrayemit.Header{Root: root, Parent: "53995c3f42cd8ad8", Sampled: '1'}, Sampled: true, ServiceSegmentID: "1111111111111111"}
	res := invoke(t, e, s, req)
	var got struct {
		TraceEnv string `json:"trace_env"`
	}
	_ = json.Unmarshal(res.Payload.Bytes(), &got)
	h, err := xrayemit.ParseHeader(got.TraceEnv)
	if err != nil || h.Root != root || h.Sampled != '1' {
		t.Fatalf("_X_AMZN_TRACE_ID = %q (%v)", got.TraceEnv, err)
	}
	waitFor(t, func() bool { return len(em.all()) == 1 })
	d := em.all()[0]
	if d.Origin != xrayemit.OriginLambdaFunction || d.TraceID != root || d.ParentID != "1111111111111111" || d.Name != s.FunctionName {
		t.Fatalf("function segment: %+v", d)
	}
	names := map[string]*xrayemit.Document{}
	for _, sub := range d.Subsegments {
		names[sub.Name] = sub
	}
	if names["Initialization"] == nil || names["Invocation"] == nil {
		t.Fatalf("subsegments: %v", names)
	}
	if names["Invocation"].ID != h.Parent {
		t.Errorf("runtime Parent %s != Invocation id %s", h.Parent, names["Invocation"].ID)
	}
	if tail := decode(t, res.LogTail); !strings.Contains(tail, "XRAY TraceId: "+root+"\tSegmentId: "+d.ID+"\tSampled: true") {
		t.Errorf("tail:\n%s", tail)
	}
	// A function error is flagged with its cause.
	req2 := newReq(`{"op":"error"}`)
	req2.Trace = Trace{Header: xrayemit.Header{Root: root}, Sampled: true, ServiceSegmentID: "2222222222222222"}
	invoke(t, e, s, req2)
	waitFor(t, func() bool { return len(em.all()) == 2 })
	d2 := em.all()[1]
	if !d2.Error || d2.Cause == nil || !strings.Contains(string(d2.Cause.Raw), "boom") {
		t.Errorf("error segment: error=%v cause=%+v", d2.Error, d2.Cause)
	}
	// Unsampled: nothing emitted, Sampled=0 passed on.
	req3 := newReq(`{"op":"env"}`)
	res3 := invoke(t, e, s, req3)
	_ = json.Unmarshal(res3.Payload.Bytes(), &got)
	if !strings.Contains(got.TraceEnv, "Sampled=0") {
		t.Errorf("unsampled header %q", got.TraceEnv)
	}
	time.Sleep(50 * time.Millisecond)
	if n := len(em.all()); n != 2 {
		t.Errorf("%d documents after an unsampled invocation", n)
	}
}
