package runtimes

import (
	"encoding/json"
	"strings"
	"testing"
)

const nodeRuntime = "nodejs20.x"

// largeJSON is a 300 KB event: the fake Runtime API sends it chunked.
var largeJSON = `"` + strings.Repeat("x", 300_000) + `"`

// TestNodeResponses runs handlers of every style and checks the exact
// response the bootstrap posts.
func TestNodeResponses(t *testing.T) {
	requireInterpreter(t, nodeRuntime)
	tests := []struct {
		name    string
		handler string
		files   map[string]string
		event   string
		want    string
	}{
		{
			name:    "commonjs async",
			handler: "index.handler",
			files:   map[string]string{"index.js": `exports.handler = async (event) => ({ ok: true, got: event });`},
			event:   `{"a":1}`,
			want:    `{"ok":true,"got":{"a":1}}`,
		},
		{
			name:    "esm mjs",
			handler: "app.handler",
			files:   map[string]string{"app.mjs": `export const handler = async (event) => [event.n * 2, "é"];`},
			event:   `{"n":21}`,
			want:    `[42,"é"]`,
		},
		{
			name:    "esm js with type module",
			handler: "src/main.run",
			files: map[string]string{
				"package.json": `{"type":"module"}`,
				"src/main.js":  `export async function run() { return typeof require; }`,
			},
			event: `{}`,
			want:  `"undefined"`,
		},
		{
			name:    "cjs extension and nested export",
			handler: "lib.api.handle",
			files:   map[string]string{"lib.cjs": `module.exports.api = { handle: async () => "nested" };`},
			event:   `null`,
			want:    `"nested"`,
		},
		{
			name:    "promise without async keyword",
			handler: "index.handler",
			files:   map[string]string{"index.js": `exports.handler = (e) => Promise.resolve(e.s + "!");`},
			event:   `{"s":"hi"}`,
			want:    `"hi!"`,
		},
		{
			name:    "large event and response (chunked transfer)",
			handler: "index.handler",
			files:   map[string]string{"index.js": `exports.handler = async (e) => e;`},
			event:   largeJSON,
			want:    largeJSON,
		},
		{
			name:    "undefined result is null",
			handler: "index.handler",
			files:   map[string]string{"index.js": `exports.handler = async () => {};`},
			event:   `{}`,
			want:    `null`,
		},
		{
			name:    "callback waits for the empty event loop",
			handler: "index.handler",
			files: map[string]string{"index.js": `
exports.handler = (event, context, callback) => {
  const res = { n: 1 };
  setTimeout(() => { res.n = 2; }, 30);
  callback(null, res);
};`},
			event: `{}`,
			want:  `{"n":2}`,
		},
		{
			name:    "callback without waiting",
			handler: "index.handler",
			files: map[string]string{"index.js": `
exports.handler = (event, context, callback) => {
  context.callbackWaitsForEmptyEventLoop = false;
  const res = { n: 1 };
  setTimeout(() => { res.n = 2; }, 30);
  callback(null, res);
};`},
			event: `{}`,
			want:  `{"n":1}`,
		},
		{
			name:    "context.succeed posts at once",
			handler: "index.handler",
			files: map[string]string{"index.js": `
exports.handler = (event, context) => {
  const res = { n: 1 };
  setTimeout(() => { res.n = 2; }, 30);
  context.succeed(res);
};`},
			event: `{}`,
			want:  `{"n":1}`,
		},
		{
			name:    "sync handler that never calls back yields null",
			handler: "index.handler",
			files:   map[string]string{"index.js": `exports.handler = (event) => ({ ignored: true });`},
			event:   `{}`,
			want:    `null`,
		},
		{
			name:    "only the first callback counts",
			handler: "index.handler",
			files:   map[string]string{"index.js": `exports.handler = (e, c, cb) => { c.callbackWaitsForEmptyEventLoop = false; cb(null, 1); cb(null, 2); };`},
			event:   `{}`,
			want:    `1`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			api := newFakeAPI(t)
			p := start(t, api, function{runtime: nodeRuntime, handler: tt.handler, files: tt.files})
			got := api.invoke(t, p, invocation{id: "req-1", body: tt.event})
			wantPath(t, got, "/2018-06-01/runtime/invocation/req-1/response")
			wantHeader(t, got, "Content-Type", "application/json")
			if string(got.body) != tt.want {
				t.Errorf("response body = %s, want %s", got.body, tt.want)
			}
		})
	}
}

// TestNodeContext checks every context field and the per-invocation
// _X_AMZN_TRACE_ID, over several invocations of one process.
func TestNodeContext(t *testing.T) {
	requireInterpreter(t, nodeRuntime)
	api := newFakeAPI(t)
	p := start(t, api, function{runtime: nodeRuntime, handler: "index.handler", files: map[string]string{"index.js": `
exports.handler = async (event, context) => ({
  keys: Object.keys(context),
  awsRequestId: context.awsRequestId,
  functionName: context.functionName,
  functionVersion: context.functionVersion,
  memoryLimitInMB: context.memoryLimitInMB,
  logGroupName: context.logGroupName,
  logStreamName: context.logStreamName,
  invokedFunctionArn: context.invokedFunctionArn,
  clientContext: context.clientContext === undefined ? "undefined" : context.clientContext,
  identity: context.identity === undefined ? "undefined" : context.identity,
  waits: context.callbackWaitsForEmptyEventLoop,
  remainingOK: context.getRemainingTimeInMillis() > 1000 && context.getRemainingTimeInMillis() <= 30000,
  trace: process.env._X_AMZN_TRACE_ID === undefined ? "unset" : process.env._X_AMZN_TRACE_ID,
  custom: process.env.MY_VAR,
});`}, env: []string{"MY_VAR=custom-value"}})

	type ctxDoc struct {
		Keys               []string        `json:"keys"`
		AwsRequestID       string          `json:"awsRequestId"`
		FunctionName       string          `json:"functionName"`
		FunctionVersion    string          `json:"functionVersion"`
		MemoryLimitInMB    string          `json:"memoryLimitInMB"`
		LogGroupName       string          `json:"logGroupName"`
		LogStreamName      string          `json:"logStreamName"`
		InvokedFunctionArn string          `json:"invokedFunctionArn"`
		ClientContext      json.RawMessage `json:"clientContext"`
		Identity           json.RawMessage `json:"identity"`
		Waits              bool            `json:"waits"`
		RemainingOK        bool            `json:"remainingOK"`
		Trace              string          `json:"trace"`
		Custom             string          `json:"custom"`
	}
	const trace = "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1"
	got := api.invoke(t, p, invocation{
		id: "8476a536-e9f4-11e8-9739-2dfe598c3fcd", body: `{}`, traceID: trace,
		clientContext: `{"client":{"app_title":"demo"},"custom":{"k":"v"},"env":{"platform":"test"}}`,
		cognito:       `{"cognitoIdentityId":"id-1","cognitoIdentityPoolId":"pool-1"}`,
	})
	wantPath(t, got, "/2018-06-01/runtime/invocation/8476a536-e9f4-11e8-9739-2dfe598c3fcd/response")
	var c ctxDoc
	if err := json.Unmarshal(got.body, &c); err != nil {
		t.Fatalf("%v: %s", err, got.body)
	}
	want := ctxDoc{
		Keys: []string{"callbackWaitsForEmptyEventLoop", "succeed", "fail", "done", "functionVersion", "functionName",
			"memoryLimitInMB", "logGroupName", "logStreamName", "clientContext", "identity", "invokedFunctionArn",
			"awsRequestId", "tenantId", "getRemainingTimeInMillis"},
		AwsRequestID: "8476a536-e9f4-11e8-9739-2dfe598c3fcd", FunctionName: "fn", FunctionVersion: "$LATEST",
		MemoryLimitInMB: "256", LogGroupName: "/aws/lambda/fn",
		LogStreamName:      "2024/01/31/[$LATEST]0123456789abcdef0123456789abcdef",
		InvokedFunctionArn: testARN,
		ClientContext:      json.RawMessage(`{"client":{"app_title":"demo"},"custom":{"k":"v"},"env":{"platform":"test"}}`),
		Identity:           json.RawMessage(`{"cognitoIdentityId":"id-1","cognitoIdentityPoolId":"pool-1"}`),
		Waits:              true, RemainingOK: true, Trace: trace, Custom: "custom-value",
	}
	if g, w := mustJSON(t, c), mustJSON(t, want); g != w {
		t.Errorf("context:\n got %s\nwant %s", g, w)
	}

	// Second invocation on the same process: no trace header, no client context.
	got = api.invoke(t, p, invocation{id: "req-2", body: `{}`})
	wantPath(t, got, "/2018-06-01/runtime/invocation/req-2/response")
	c = ctxDoc{}
	if err := json.Unmarshal(got.body, &c); err != nil {
		t.Fatal(err)
	}
	if c.Trace != "unset" || string(c.ClientContext) != `"undefined"` || string(c.Identity) != `"undefined"` || c.AwsRequestID != "req-2" {
		t.Errorf("second invocation: trace %q clientContext %s identity %s id %q", c.Trace, c.ClientContext, c.Identity, c.AwsRequestID)
	}
}

func mustJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// nodeError is AWS's Node.js error document.
type nodeError struct {
	ErrorType    string   `json:"errorType"`
	ErrorMessage string   `json:"errorMessage"`
	Trace        []string `json:"trace"`
}

// xrayCause is the Lambda-Runtime-Function-XRay-Error-Cause document.
type xrayCauseDoc struct {
	WorkingDirectory string `json:"working_directory"`
	Exceptions       []struct {
		Type    string `json:"type"`
		Message string `json:"message"`
		Stack   []struct {
			Path  string `json:"path"`
			Line  int    `json:"line"`
			Label string `json:"label"`
		} `json:"stack"`
	} `json:"exceptions"`
	Paths []string `json:"paths"`
}

// TestNodeInvocationErrors checks the error document, headers and X-Ray
// cause for failing invocations; the process keeps serving afterwards.
func TestNodeInvocationErrors(t *testing.T) {
	requireInterpreter(t, nodeRuntime)
	tests := []struct {
		name      string
		code      string
		event     string
		wantType  string
		wantMsg   string
		wantTrace string // first trace line
		userFrame bool   // the cause's first frame is in index.js
	}{
		{"async throw", `exports.handler = async () => { throw new TypeError("boom"); };`, `{}`, "TypeError", "boom", "TypeError: boom", true},
		{"callback error", `exports.handler = (e, c, cb) => { cb(new Error("cb failed")); };`, `{}`, "Error", "cb failed", "Error: cb failed", true},
		{"sync throw", `exports.handler = () => { throw new RangeError("sync"); };`, `{}`, "RangeError", "sync", "RangeError: sync", true},
		{"rejected with string", `exports.handler = async () => { throw "plain"; };`, `{}`, "string", "plain", "", false},
		{"context.fail without error", `exports.handler = (e, c) => { c.fail(); };`, `{}`, "string", "handled", "", false},
		{"non-JSON event", `exports.handler = async (e) => e;`, `not json`, "SyntaxError", "", "SyntaxError: ", false},
		{"non-ASCII error name", `exports.handler = async () => { const e = new Error("m"); e.name = "Érreur"; throw e; };`, `{}`, "Érreur", "m", "Érreur: m", true},
		{"custom error name", `class MyErr extends Error { constructor(m) { super(m); this.name = "MyErr"; } }
exports.handler = async () => { throw new MyErr("mine"); };`, `{}`, "MyErr", "mine", "MyErr: mine", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			api := newFakeAPI(t)
			p := start(t, api, function{runtime: nodeRuntime, handler: "index.handler", files: map[string]string{"index.js": tt.code}})
			got := api.invoke(t, p, invocation{id: "req-e", body: tt.event})
			wantPath(t, got, "/2018-06-01/runtime/invocation/req-e/error")
			wantHeader(t, got, "Content-Type", "application/json")
			wantHeader(t, got, "Lambda-Runtime-Function-Error-Type", asciiHeader(tt.wantType))
			var e nodeError
			if err := json.Unmarshal(got.body, &e); err != nil {
				t.Fatalf("%v: %s", err, got.body)
			}
			var keys map[string]json.RawMessage
			json.Unmarshal(got.body, &keys)
			if len(keys) != 3 || keys["trace"] == nil {
				t.Errorf("error document keys: %s, want errorType, errorMessage, trace", got.body)
			}
			if e.ErrorType != tt.wantType || !strings.HasPrefix(e.ErrorMessage, tt.wantMsg) {
				t.Errorf("error = %s", got.body)
			}
			if tt.wantTrace == "" && len(e.Trace) != 0 || tt.wantTrace != "" && (len(e.Trace) < 2 || !strings.HasPrefix(e.Trace[0], tt.wantTrace)) {
				t.Errorf("trace = %q, want first line %q", e.Trace, tt.wantTrace)
			}
			var cause xrayCauseDoc
			if err := json.Unmarshal([]byte(got.header.Get("Lambda-Runtime-Function-XRay-Error-Cause")), &cause); err != nil {
				t.Fatalf("X-Ray cause header: %v", err)
			}
			if len(cause.Exceptions) != 1 || cause.Exceptions[0].Type != tt.wantType || cause.WorkingDirectory == "" {
				t.Errorf("X-Ray cause = %+v", cause)
			}
			if tt.userFrame {
				st := cause.Exceptions[0].Stack
				if len(st) == 0 || !strings.HasSuffix(st[0].Path, "/index.js") || st[0].Line < 1 {
					t.Errorf("X-Ray cause stack = %+v, want first frame in index.js", st)
				}
			}
			// The runtime logged the error and keeps serving.
			p.waitOutput(t, `\treq-e\tERROR\tInvoke Error \t\{`)
			next := api.invoke(t, p, invocation{id: "req-after", body: `{}`})
			if next.path != "/2018-06-01/runtime/invocation/req-after/error" && next.path != "/2018-06-01/runtime/invocation/req-after/response" {
				t.Errorf("after an error the process posted to %s", next.path)
			}
		})
	}
}

// TestNodeUncaught: an exception thrown outside the handler's promise fails
// the invocation and ends the process with status 129, as AWS's runtime does.
func TestNodeUncaught(t *testing.T) {
	requireInterpreter(t, nodeRuntime)
	api := newFakeAPI(t)
	p := start(t, api, function{runtime: nodeRuntime, handler: "index.handler", files: map[string]string{"index.js": `
exports.handler = (e, c, cb) => { setTimeout(() => { throw new Error("late"); }, 5); };`}})
	got := api.invoke(t, p, invocation{id: "req-u", body: `{}`})
	wantPath(t, got, "/2018-06-01/runtime/invocation/req-u/error")
	var e nodeError
	json.Unmarshal(got.body, &e)
	if e.ErrorType != "Error" || e.ErrorMessage != "late" {
		t.Errorf("error = %s", got.body)
	}
	if code := p.exitCode(t); code != 129 {
		t.Errorf("exit status %d, want 129", code)
	}
}

// TestNodeInitErrors checks /init/error for every way loading can fail.
func TestNodeInitErrors(t *testing.T) {
	requireInterpreter(t, nodeRuntime)
	tests := []struct {
		name     string
		handler  string
		files    map[string]string
		wantType string
		wantMsg  string // prefix
	}{
		{"module not found", "missing.handler", map[string]string{"index.js": ``}, "Runtime.ImportModuleError", "Error: Cannot find module 'missing'"},
		{"handler not exported", "index.nope", map[string]string{"index.js": `exports.handler = async () => 1;`}, "Runtime.HandlerNotFound", "index.nope is undefined or not exported"},
		{"handler not a function", "index.value", map[string]string{"index.js": `exports.value = 42;`}, "Runtime.HandlerNotFound", "index.value is not a function"},
		{"malformed handler", "index", map[string]string{"index.js": ``}, "Runtime.MalformedHandlerName", "Bad handler"},
		{"relative path", "../x.handler", map[string]string{"index.js": ``}, "Runtime.MalformedHandlerName", "'../x.handler' is not a valid handler name"},
		{"syntax error cjs", "index.handler", map[string]string{"index.js": `exports.handler = async () => {;`}, "Runtime.UserCodeSyntaxError", "SyntaxError: "},
		{"syntax error esm", "index.handler", map[string]string{"index.mjs": `export const handler = ) =>;`}, "Runtime.UserCodeSyntaxError", "SyntaxError: "},
		{"throw at import", "index.handler", map[string]string{"index.js": `throw new Error("init boom");`}, "Error", "init boom"},
		{"esm missing dependency", "index.handler", map[string]string{"index.mjs": `import x from "not-installed-pkg"; export const handler = x;`}, "Runtime.ImportModuleError", "Error"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			api := newFakeAPI(t)
			p := start(t, api, function{runtime: nodeRuntime, handler: tt.handler, files: tt.files})
			got := api.wait(t, p)
			wantPath(t, got, "/2018-06-01/runtime/init/error")
			wantHeader(t, got, "Lambda-Runtime-Function-Error-Type", tt.wantType)
			wantHeader(t, got, "Content-Type", "application/json")
			var e nodeError
			if err := json.Unmarshal(got.body, &e); err != nil {
				t.Fatalf("%v: %s", err, got.body)
			}
			if e.ErrorType != tt.wantType || !strings.HasPrefix(e.ErrorMessage, tt.wantMsg) || len(e.Trace) == 0 {
				t.Errorf("init error = %s, want type %s message %q…", got.body, tt.wantType, tt.wantMsg)
			}
			if code := p.exitCode(t); code != 129 {
				t.Errorf("exit status %d, want 129", code)
			}
		})
	}
}

// TestNodeLogs checks AWS's console line format and log-level filtering.
func TestNodeLogs(t *testing.T) {
	requireInterpreter(t, nodeRuntime)
	code := `
console.log("at init");
exports.handler = async () => {
  console.log("hello %s", "world", 42);
  console.warn("multi\nline");
  console.debug("hidden at INFO");
  return 1;
};`
	t.Run("text", func(t *testing.T) {
		api := newFakeAPI(t)
		p := start(t, api, function{runtime: nodeRuntime, handler: "index.handler", files: map[string]string{"index.js": code},
			env: []string{"AWS_LAMBDA_LOG_LEVEL=INFO"}})
		api.invoke(t, p, invocation{id: "req-log", body: `{}`})
		for _, re := range []string{
			`(?m)^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z\tundefined\tINFO\tat init$`,
			`(?m)^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z\treq-log\tINFO\thello world 42$`,
			`(?m)^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z\treq-log\tWARN\tmulti\rline$`,
		} {
			p.waitOutput(t, re)
		}
		if out := p.stdout.String(); strings.Contains(out, "hidden") {
			t.Errorf("DEBUG line printed at level INFO:\n%s", out)
		}
	})
	t.Run("json", func(t *testing.T) {
		api := newFakeAPI(t)
		p := start(t, api, function{runtime: nodeRuntime, handler: "index.handler", files: map[string]string{"index.js": code},
			env: []string{"AWS_LAMBDA_LOG_FORMAT=JSON"}})
		api.invoke(t, p, invocation{id: "req-json", body: `{}`})
		p.waitOutput(t, `"message":"hello world 42"`)
		var found bool
		for _, line := range strings.Split(p.stdout.String(), "\n") {
			var rec struct{ Timestamp, Level, RequestID, Message string }
			if json.Unmarshal([]byte(line), &rec) == nil && rec.Message == "hello world 42" {
				found = rec.Level == "INFO" && rec.RequestID == "req-json" && rec.Timestamp != ""
			}
		}
		if !found {
			t.Errorf("JSON log record for the handler's line lacks level/requestId/timestamp:\n%s", p.stdout.String())
		}
	})
}

// asciiHeader is what the bootstraps make of a value for an HTTP header:
// characters outside printable ASCII become '?'.
func asciiHeader(s string) string {
	return strings.Map(func(r rune) rune {
		if r < 0x20 || r > 0x7e {
			return '?'
		}
		return r
	}, s)
}
