package invoker

import (
	"archive/zip"
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"
	smithyhttp "github.com/aws/smithy-go/transport/http"
)

// The test function (testdata/gofunc: aws-lambda-go + aws-xray-sdk-go) is
// built once per test binary into a folder every user can read. Packages
// carry a two-line shell bootstrap that execs it, so uploads stay tiny (the
// 19 MB binary would make every CreateFunction cost seconds under -race)
// while the function itself runs unchanged.
var (
	buildOnce sync.Once
	binPath   string
	buildErr  error
)

func buildFunction(t testing.TB, pkg string) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "gofunc-")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "bootstrap")
	cmd := exec.Command("go", "build", "-trimpath", "-ldflags=-s -w", "-o", out, pkg)
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if msg, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build %s: %v\n%s", pkg, err, msg)
	}
	return out
}

func functionBinary(t testing.TB) string {
	t.Helper()
	buildOnce.Do(func() {
		defer func() {
			if binPath == "" && buildErr == nil {
				buildErr = fmt.Errorf("build of testdata/gofunc failed")
			}
		}()
		binPath = buildFunction(t, "./testdata/gofunc")
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return binPath
}

// zipBinary packages bin as an executable bootstrap.
func zipBinary(bin []byte) []byte {
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	h := &zip.FileHeader{Name: "bootstrap", Method: zip.Store}
	h.SetMode(0o755)
	w, _ := zw.CreateHeader(h)
	_, _ = w.Write(bin)
	_ = zw.Close()
	return buf.Bytes()
}

// functionZip packages the test function with a version marker.
func functionZip(t testing.TB, version string) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	h := &zip.FileHeader{Name: "bootstrap", Method: zip.Deflate}
	h.SetMode(0o755)
	w, err := zw.CreateHeader(h)
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprintf(w, "#!/bin/sh\nexec %s \"$@\"\n", functionBinary(t))
	w, _ = zw.Create("version.txt")
	_, _ = w.Write([]byte(version))
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func zipOf(t testing.TB, files map[string]string) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for name, body := range files {
		w, _ := zw.Create(name)
		_, _ = w.Write([]byte(body))
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// udpSink collects the X-Ray documents the invoker and functions send.
type udpSink struct {
	pc   net.PacketConn
	mu   sync.Mutex
	docs []map[string]any
}

func newUDPSink(t *testing.T) *udpSink {
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &udpSink{pc: pc}
	go func() {
		buf := make([]byte, 65536)
		for {
			n, _, err := pc.ReadFrom(buf)
			if err != nil {
				return
			}
			header, body, ok := bytes.Cut(buf[:n], []byte("\n"))
			if !ok || !strings.Contains(string(header), `"format"`) {
				continue
			}
			var doc map[string]any
			if json.Unmarshal(body, &doc) == nil {
				s.mu.Lock()
				s.docs = append(s.docs, doc)
				s.mu.Unlock()
			}
		}
	}()
	t.Cleanup(func() { pc.Close() })
	return s
}

// forTrace returns the documents of one trace.
func (s *udpSink) forTrace(root string) []map[string]any {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []map[string]any
	for _, d := range s.docs {
		if d["trace_id"] == root {
			out = append(out, d)
		}
	}
	return out
}

type harness struct {
	t      *testing.T
	cfg    Config
	inv    *Invoker
	cancel context.CancelFunc
	done   chan error
	client *lambda.Client
	sink   *udpSink
}

func startInvoker(t *testing.T, dataDir string, sink *udpSink) *harness {
	t.Helper()
	cfg := DefaultConfig()
	cfg.LambdaAddr = "127.0.0.1:0"
	cfg.DataDir = dataDir
	cfg.XRayDaemonAddr = sink.pc.LocalAddr().String()
	cfg.SamplingAddr = "off"
	cfg.MaxConcurrency = 40
	inv, err := New(cfg, Settings{Logger: slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))})
	if err != nil {
		t.Fatal(err)
	}
	if err := inv.Listen(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	h := &harness{t: t, cfg: cfg, inv: inv, cancel: cancel, done: make(chan error, 1), sink: sink}
	go func() { h.done <- inv.Run(ctx) }()
	h.client = lambda.New(lambda.Options{
		Region:           "us-east-1",
		BaseEndpoint:     aws.String("http://" + inv.Addr()),
		Credentials:      credentials.NewStaticCredentialsProvider("AKID", "SECRET", ""),
		RetryMaxAttempts: 1,
	})
	t.Cleanup(h.stop)
	return h
}

func (h *harness) stop() {
	if h.cancel == nil {
		return
	}
	h.cancel()
	h.cancel = nil
	if err := <-h.done; err != nil {
		h.t.Errorf("Run: %v", err)
	}
}

type fnResult struct {
	Op        string `json:"op"`
	Version   string `json:"version"`
	TraceID   string `json:"trace_id"`
	Subseg    string `json:"subsegment_id"`
	RequestID string `json:"request_id"`
	ARN       string `json:"arn"`
	Client    string `json:"client"`
	Env       string `json:"env"`
}

func (h *harness) invoke(t *testing.T, in *lambda.InvokeInput) (*lambda.InvokeOutput, fnResult) {
	t.Helper()
	out, err := h.client.Invoke(context.Background(), in)
	if err != nil {
		t.Fatalf("Invoke: %v", err)
	}
	var r fnResult
	if out.FunctionError == nil {
		if err := json.Unmarshal(out.Payload, &r); err != nil {
			t.Fatalf("payload %s: %v", out.Payload, err)
		}
	}
	return out, r
}

func dataDir(t *testing.T) string {
	d, err := os.MkdirTemp("", "invoker-test-data-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(d) })
	return d
}

func TestLambdaAPIEndToEnd(t *testing.T) {
	sink := newUDPSink(t)
	dir := dataDir(t)
	h := startInvoker(t, dir, sink)
	ctx := context.Background()
	c := h.client
	const fn = "orders"

	created, err := c.CreateFunction(ctx, &lambda.CreateFunctionInput{
		FunctionName:  aws.String(fn),
		Runtime:       types.RuntimeProvidedal2023,
		Role:          aws.String("arn:aws:iam::000000000000:role/lambda"),
		Handler:       aws.String("bootstrap"),
		Code:          &types.FunctionCode{ZipFile: functionZip(t, "v1")},
		Environment:   &types.Environment{Variables: map[string]string{"GREETING": "hello"}},
		TracingConfig: &types.TracingConfig{Mode: types.TracingModeActive},
		Timeout:       aws.Int32(5),
		MemorySize:    aws.Int32(128),
	})
	if err != nil {
		t.Fatalf("CreateFunction: %v", err)
	}
	arn := "arn:aws:lambda:us-east-1:000000000000:function:" + fn
	if aws.ToString(created.FunctionArn) != arn || created.State != types.StateActive || aws.ToString(created.Version) != "$LATEST" ||
		aws.ToString(created.CodeSha256) == "" || created.TracingConfig.Mode != types.TracingModeActive {
		t.Fatalf("created: %+v", created)
	}

	t.Run("read", func(t *testing.T) {
		got, err := c.GetFunction(ctx, &lambda.GetFunctionInput{FunctionName: aws.String(fn)})
		if err != nil || aws.ToString(got.Configuration.FunctionName) != fn || aws.ToString(got.Code.RepositoryType) != "S3" {
			t.Fatalf("GetFunction: %+v %v", got, err)
		}
		cfg, err := c.GetFunctionConfiguration(ctx, &lambda.GetFunctionConfigurationInput{FunctionName: aws.String(arn)})
		if err != nil || cfg.Environment.Variables["GREETING"] != "hello" || aws.ToInt32(cfg.Timeout) != 5 {
			t.Fatalf("GetFunctionConfiguration: %+v %v", cfg, err)
		}
		resp, err := http.Get(aws.ToString(got.Code.Location))
		if err != nil {
			t.Fatal(err)
		}
		pkg, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || !bytes.HasPrefix(pkg, []byte("PK")) {
			t.Errorf("Code.Location %s: %d, %d bytes", aws.ToString(got.Code.Location), resp.StatusCode, len(pkg))
		}
		list, err := c.ListFunctions(ctx, &lambda.ListFunctionsInput{})
		if err != nil || len(list.Functions) != 1 || aws.ToString(list.Functions[0].FunctionName) != fn {
			t.Fatalf("ListFunctions: %+v %v", list, err)
		}
	})

	t.Run("invoke tail client context", func(t *testing.T) {
		cc := base64.StdEncoding.EncodeToString([]byte(`{"custom":{"who":"tester"}}`))
		out, r := h.invoke(t, &lambda.InvokeInput{FunctionName: aws.String(fn), Payload: []byte(`{"op":"echo"}`),
			LogType: types.LogTypeTail, ClientContext: aws.String(cc)})
		if out.StatusCode != 200 || aws.ToString(out.ExecutedVersion) != "$LATEST" || r.Version != "v1" || r.Client != "tester" ||
			r.Env != "hello" || r.ARN != arn {
			t.Fatalf("out %+v result %+v", out, r)
		}
		logs, _ := base64.StdEncoding.DecodeString(aws.ToString(out.LogResult))
		for _, want := range []string{"START RequestId: " + r.RequestID, "handled echo", "END RequestId: " + r.RequestID, "REPORT RequestId: " + r.RequestID, "Init Duration"} {
			if !strings.Contains(string(logs), want) {
				t.Errorf("log tail lacks %q:\n%s", want, logs)
			}
		}
	})

	t.Run("active tracing", func(t *testing.T) {
		// An upstream caller's header (Sampled=1) decides sampling.
		upstream := "Root=1-" + fmt.Sprintf("%08x", time.Now().Unix()) + "-0123456789abcdef01234567;Parent=53995c3f42cd8ad8;Sampled=1"
		out, err := c.Invoke(ctx, &lambda.InvokeInput{FunctionName: aws.String(fn), Payload: []byte(`{"op":"trace"}`)},
			lambda.WithAPIOptions(smithyhttp.AddHeaderValue("X-Amzn-Trace-Id", upstream)))
		if err != nil {
			t.Fatal(err)
		}
		var r fnResult
		_ = json.Unmarshal(out.Payload, &r)
		if out.FunctionError != nil || r.TraceID == "" {
			t.Fatalf("trace invoke: %+v %+v", out, r)
		}
		root := strings.TrimPrefix(strings.Split(r.TraceID, ";")[0], "Root=")
		var service, function, sdk map[string]any
		deadline := time.Now().Add(10 * time.Second)
		for time.Now().Before(deadline) && (service == nil || function == nil || sdk == nil) {
			time.Sleep(20 * time.Millisecond)
			for _, d := range h.sink.forTrace(root) {
				switch {
				case d["origin"] == "AWS::Lambda":
					service = d
				case d["origin"] == "AWS::Lambda::Function":
					function = d
				case d["name"] == "work":
					sdk = d
				}
			}
		}
		if service == nil || function == nil || sdk == nil {
			t.Fatalf("segments of %s: service=%v function=%v sdk=%v", root, service != nil, function != nil, sdk != nil)
		}
		if service["parent_id"] != "53995c3f42cd8ad8" {
			t.Errorf("service segment parent %v", service["parent_id"])
		}
		if function["parent_id"] != service["id"] || service["name"] != fn || function["name"] != fn || service["resource_arn"] != arn {
			t.Errorf("service %v\nfunction %v", service, function)
		}
		var invocationID string
		for _, s := range function["subsegments"].([]any) {
			if sub := s.(map[string]any); sub["name"] == "Invocation" {
				invocationID = sub["id"].(string)
			}
		}
		if invocationID == "" || sdk["parent_id"] != invocationID || sdk["type"] != "subsegment" || sdk["id"] != r.Subseg {
			t.Errorf("SDK subsegment %v does not hang under Invocation %s", sdk, invocationID)
		}
		if !strings.Contains(r.TraceID, "Parent="+invocationID) || !strings.Contains(r.TraceID, "Sampled=1") {
			t.Errorf("_X_AMZN_TRACE_ID = %s", r.TraceID)
		}
	})

	t.Run("function error", func(t *testing.T) {
		out, _ := h.invoke(t, &lambda.InvokeInput{FunctionName: aws.String(fn), Payload: []byte(`{"op":"error"}`)})
		if aws.ToString(out.FunctionError) != "Unhandled" || !strings.Contains(string(out.Payload), `"errorMessage":"something broke"`) {
			t.Fatalf("error invoke: %v %s", aws.ToString(out.FunctionError), out.Payload)
		}
	})

	t.Run("versions and aliases", func(t *testing.T) {
		v1, err := c.PublishVersion(ctx, &lambda.PublishVersionInput{FunctionName: aws.String(fn), Description: aws.String("first")})
		if err != nil || aws.ToString(v1.Version) != "1" || aws.ToString(v1.FunctionArn) != arn+":1" {
			t.Fatalf("PublishVersion: %+v %v", v1, err)
		}
		again, err := c.PublishVersion(ctx, &lambda.PublishVersionInput{FunctionName: aws.String(fn)})
		if err != nil || aws.ToString(again.Version) != "1" {
			t.Fatalf("unchanged publish made version %v (%v)", aws.ToString(again.Version), err)
		}
		alias, err := c.CreateAlias(ctx, &lambda.CreateAliasInput{FunctionName: aws.String(fn), Name: aws.String("live"), FunctionVersion: aws.String("1")})
		if err != nil || aws.ToString(alias.AliasArn) != arn+":live" {
			t.Fatalf("CreateAlias: %+v %v", alias, err)
		}
		upd, err := c.UpdateFunctionCode(ctx, &lambda.UpdateFunctionCodeInput{FunctionName: aws.String(fn), ZipFile: functionZip(t, "v2")})
		if err != nil || aws.ToString(upd.CodeSha256) == aws.ToString(created.CodeSha256) {
			t.Fatalf("UpdateFunctionCode: %v", err)
		}
		out, r := h.invoke(t, &lambda.InvokeInput{FunctionName: aws.String(fn), Qualifier: aws.String("live"), Payload: []byte(`{}`)})
		if r.Version != "v1" || aws.ToString(out.ExecutedVersion) != "1" || r.ARN != arn+":live" {
			t.Errorf("alias after UpdateFunctionCode ran %s (executed %s, arn %s)", r.Version, aws.ToString(out.ExecutedVersion), r.ARN)
		}
		if _, r := h.invoke(t, &lambda.InvokeInput{FunctionName: aws.String(fn), Payload: []byte(`{}`)}); r.Version != "v2" {
			t.Errorf("$LATEST runs %s after UpdateFunctionCode", r.Version)
		}
		if _, r := h.invoke(t, &lambda.InvokeInput{FunctionName: aws.String(arn + ":1"), Payload: []byte(`{}`)}); r.Version != "v1" {
			t.Errorf("version 1 by ARN runs %s", r.Version)
		}
		v2, err := c.PublishVersion(ctx, &lambda.PublishVersionInput{FunctionName: aws.String(fn)})
		if err != nil || aws.ToString(v2.Version) != "2" {
			t.Fatalf("second PublishVersion: %v %v", aws.ToString(v2.Version), err)
		}
		if _, err := c.UpdateAlias(ctx, &lambda.UpdateAliasInput{FunctionName: aws.String(fn), Name: aws.String("live"),
			RoutingConfig: &types.AliasRoutingConfiguration{AdditionalVersionWeights: map[string]float64{"2": 0.5}}}); err != nil {
			t.Fatalf("UpdateAlias: %v", err)
		}
		seen := map[string]int{}
		for range 40 {
			out, r := h.invoke(t, &lambda.InvokeInput{FunctionName: aws.String(fn), Qualifier: aws.String("live"), Payload: []byte(`{}`)})
			seen[aws.ToString(out.ExecutedVersion)+"/"+r.Version]++
		}
		if seen["1/v1"] == 0 || seen["2/v2"] == 0 || len(seen) != 2 {
			t.Errorf("weighted alias executed %v", seen)
		}
		got, err := c.GetAlias(ctx, &lambda.GetAliasInput{FunctionName: aws.String(fn), Name: aws.String("live")})
		if err != nil || got.RoutingConfig.AdditionalVersionWeights["2"] != 0.5 {
			t.Fatalf("GetAlias: %+v %v", got, err)
		}
		versions, err := c.ListVersionsByFunction(ctx, &lambda.ListVersionsByFunctionInput{FunctionName: aws.String(fn)})
		if err != nil || len(versions.Versions) != 3 || aws.ToString(versions.Versions[1].Description) != "first" {
			t.Fatalf("ListVersionsByFunction: %+v %v", versions, err)
		}
		if _, err := c.CreateAlias(ctx, &lambda.CreateAliasInput{FunctionName: aws.String(fn), Name: aws.String("tmp"), FunctionVersion: aws.String("$LATEST")}); err != nil {
			t.Fatal(err)
		}
		aliases, err := c.ListAliases(ctx, &lambda.ListAliasesInput{FunctionName: aws.String(fn)})
		if err != nil || len(aliases.Aliases) != 2 {
			t.Fatalf("ListAliases: %+v %v", aliases, err)
		}
		if _, err := c.DeleteAlias(ctx, &lambda.DeleteAliasInput{FunctionName: aws.String(fn), Name: aws.String("tmp")}); err != nil {
			t.Fatal(err)
		}
		var conflict *types.ResourceConflictException
		if _, err := c.DeleteFunction(ctx, &lambda.DeleteFunctionInput{FunctionName: aws.String(fn), Qualifier: aws.String("1")}); !errors.As(err, &conflict) {
			t.Errorf("deleting an aliased version: %v", err)
		}
	})

	t.Run("timeout", func(t *testing.T) {
		if _, err := c.UpdateFunctionConfiguration(ctx, &lambda.UpdateFunctionConfigurationInput{FunctionName: aws.String(fn), Timeout: aws.Int32(1)}); err != nil {
			t.Fatal(err)
		}
		out, _ := h.invoke(t, &lambda.InvokeInput{FunctionName: aws.String(fn), Payload: []byte(`{"op":"sleep","ms":3000}`), LogType: types.LogTypeTail})
		if aws.ToString(out.FunctionError) != "Unhandled" || !strings.Contains(string(out.Payload), `"errorType":"Sandbox.Timedout"`) ||
			!strings.Contains(string(out.Payload), "Task timed out after 1.00 seconds") {
			t.Fatalf("timeout: %v %s", aws.ToString(out.FunctionError), out.Payload)
		}
		logs, _ := base64.StdEncoding.DecodeString(aws.ToString(out.LogResult))
		if !strings.Contains(string(logs), "Status: timeout") {
			t.Errorf("tail:\n%s", logs)
		}
		// The next invocation gets a fresh environment and succeeds.
		if out, _ := h.invoke(t, &lambda.InvokeInput{FunctionName: aws.String(fn), Payload: []byte(`{}`)}); out.FunctionError != nil {
			t.Errorf("after timeout: %s", out.Payload)
		}
		if _, err := c.UpdateFunctionConfiguration(ctx, &lambda.UpdateFunctionConfigurationInput{FunctionName: aws.String(fn), Timeout: aws.Int32(5)}); err != nil {
			t.Fatal(err)
		}
	})

	t.Run("reserved concurrency", func(t *testing.T) {
		put, err := c.PutFunctionConcurrency(ctx, &lambda.PutFunctionConcurrencyInput{FunctionName: aws.String(fn), ReservedConcurrentExecutions: aws.Int32(2)})
		if err != nil || aws.ToInt32(put.ReservedConcurrentExecutions) != 2 {
			t.Fatalf("PutFunctionConcurrency: %v", err)
		}
		var wg sync.WaitGroup
		var mu sync.Mutex
		ok, throttled := 0, 0
		for range 8 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, err := c.Invoke(ctx, &lambda.InvokeInput{FunctionName: aws.String(fn), Payload: []byte(`{"op":"sleep","ms":600}`)})
				var tm *types.TooManyRequestsException
				mu.Lock()
				defer mu.Unlock()
				switch {
				case err == nil:
					ok++
				case errors.As(err, &tm) && tm.Reason == types.ThrottleReasonReservedFunctionConcurrentInvocationLimitExceeded:
					throttled++
				default:
					t.Errorf("unexpected error: %v", err)
				}
			}()
		}
		wg.Wait()
		if ok < 2 || ok > 4 || throttled < 4 || ok+throttled != 8 {
			t.Errorf("ok=%d throttled=%d with reserved concurrency 2", ok, throttled)
		}
		got, err := c.GetFunctionConcurrency(ctx, &lambda.GetFunctionConcurrencyInput{FunctionName: aws.String(fn)})
		if err != nil || aws.ToInt32(got.ReservedConcurrentExecutions) != 2 {
			t.Fatalf("GetFunctionConcurrency: %+v %v", got, err)
		}
	})

	t.Run("event invoke config and dry run", func(t *testing.T) {
		put, err := c.PutFunctionEventInvokeConfig(ctx, &lambda.PutFunctionEventInvokeConfigInput{FunctionName: aws.String(fn),
			MaximumRetryAttempts: aws.Int32(1), MaximumEventAgeInSeconds: aws.Int32(120),
			DestinationConfig: &types.DestinationConfig{OnFailure: &types.OnFailure{Destination: aws.String("arn:aws:sqs:us-east-1:000000000000:dlq")}}})
		if err != nil || aws.ToInt32(put.MaximumRetryAttempts) != 1 || put.LastModified == nil {
			t.Fatalf("PutFunctionEventInvokeConfig: %+v %v", put, err)
		}
		got, err := c.GetFunctionEventInvokeConfig(ctx, &lambda.GetFunctionEventInvokeConfigInput{FunctionName: aws.String(fn)})
		if err != nil || aws.ToInt32(got.MaximumEventAgeInSeconds) != 120 || aws.ToString(got.DestinationConfig.OnFailure.Destination) == "" {
			t.Fatalf("GetFunctionEventInvokeConfig: %+v %v", got, err)
		}
		out, err := c.Invoke(ctx, &lambda.InvokeInput{FunctionName: aws.String(fn), InvocationType: types.InvocationTypeDryRun})
		if err != nil || out.StatusCode != 204 {
			t.Fatalf("DryRun: %+v %v", out, err)
		}
	})

	t.Run("restart keeps state", func(t *testing.T) {
		h.stop()
		h2 := startInvoker(t, dir, sink)
		c2 := h2.client
		got, err := c2.GetFunction(ctx, &lambda.GetFunctionInput{FunctionName: aws.String(fn)})
		if err != nil || aws.ToInt32(got.Concurrency.ReservedConcurrentExecutions) != 2 || aws.ToString(got.Configuration.CodeSha256) != aws.ToString(upd(t, c2, fn)) {
			t.Fatalf("after restart GetFunction: %+v %v", got, err)
		}
		out, r := h2.invoke(t, &lambda.InvokeInput{FunctionName: aws.String(fn), Qualifier: aws.String("1"), Payload: []byte(`{}`)})
		if r.Version != "v1" || aws.ToString(out.ExecutedVersion) != "1" {
			t.Errorf("version 1 after restart ran %s", r.Version)
		}
		if a, err := c2.GetAlias(ctx, &lambda.GetAliasInput{FunctionName: aws.String(fn), Name: aws.String("live")}); err != nil || aws.ToString(a.FunctionVersion) != "1" {
			t.Errorf("alias after restart: %+v %v", a, err)
		}
		if _, err := c2.DeleteFunctionConcurrency(ctx, &lambda.DeleteFunctionConcurrencyInput{FunctionName: aws.String(fn)}); err != nil {
			t.Fatal(err)
		}
		if _, err := c2.DeleteFunction(ctx, &lambda.DeleteFunctionInput{FunctionName: aws.String(fn)}); err != nil {
			t.Fatal(err)
		}
		var nf *types.ResourceNotFoundException
		if _, err := c2.GetFunction(ctx, &lambda.GetFunctionInput{FunctionName: aws.String(fn)}); !errors.As(err, &nf) {
			t.Errorf("GetFunction after delete: %v", err)
		}
	})
}

// upd returns $LATEST's CodeSha256 through ListVersionsByFunction.
func upd(t *testing.T, c *lambda.Client, fn string) *string {
	v, err := c.ListVersionsByFunction(context.Background(), &lambda.ListVersionsByFunctionInput{FunctionName: aws.String(fn)})
	if err != nil {
		t.Fatal(err)
	}
	return v.Versions[0].CodeSha256
}

// A real Go binary uploaded as the package's bootstrap (no wrapper).
func TestBinaryPackage(t *testing.T) {
	bin, err := os.ReadFile(buildFunction(t, "./testdata/noop"))
	if err != nil {
		t.Fatal(err)
	}
	h := startInvoker(t, dataDir(t), newUDPSink(t))
	ctx := context.Background()
	if _, err := h.client.CreateFunction(ctx, &lambda.CreateFunctionInput{
		FunctionName: aws.String("binary"), Runtime: types.RuntimeProvidedal2, Role: aws.String("arn:aws:iam::000000000000:role/r"),
		Code: &types.FunctionCode{ZipFile: zipBinary(bin)},
	}); err != nil {
		t.Fatal(err)
	}
	out, err := h.client.Invoke(ctx, &lambda.InvokeInput{FunctionName: aws.String("binary")})
	if err != nil || out.FunctionError != nil || string(out.Payload) != `{"ok":true}` {
		t.Fatalf("invoke: %v %s", err, out.Payload)
	}
}
