package runtimes

import (
	"encoding/json"
	"strings"
	"testing"
)

const pythonRuntime = "python3.12"

// TestPythonResponses checks the exact response bodies and content types.
func TestPythonResponses(t *testing.T) {
	requireInterpreter(t, pythonRuntime)
	tests := []struct {
		name        string
		handler     string
		files       map[string]string
		event       string
		contentType string
		want        string
		wantCT      string
	}{
		{
			name:    "dict",
			handler: "app.handler",
			files:   map[string]string{"app.py": "def handler(event, context):\n    return {'ok': True, 'got': event}\n"},
			event:   `{"a":1}`,
			want:    `{"ok": true, "got": {"a": 1}}`,
			wantCT:  "application/json",
		},
		{
			name:    "none",
			handler: "app.handler",
			files:   map[string]string{"app.py": "def handler(event, context):\n    pass\n"},
			event:   `{}`,
			want:    `null`,
			wantCT:  "application/json",
		},
		{
			name:    "non-ascii kept on python3.12",
			handler: "app.handler",
			files:   map[string]string{"app.py": "def handler(event, context):\n    return 'é'\n"},
			event:   `{}`,
			want:    `"é"`,
			wantCT:  "application/json",
		},
		{
			name:    "bytes",
			handler: "app.handler",
			files:   map[string]string{"app.py": "def handler(event, context):\n    return b'\\x00raw'\n"},
			event:   `{}`,
			want:    "\x00raw",
			wantCT:  "application/unknown",
		},
		{
			name:    "decimal",
			handler: "app.handler",
			files:   map[string]string{"app.py": "import decimal\ndef handler(event, context):\n    return [decimal.Decimal('3'), decimal.Decimal('1.5')]\n"},
			event:   `{}`,
			want:    `[3, 1.5]`,
			wantCT:  "application/json",
		},
		{
			name:    "package path handler",
			handler: "pkg/sub/mod.run",
			files: map[string]string{
				"pkg/__init__.py":     "",
				"pkg/sub/__init__.py": "",
				"pkg/sub/mod.py":      "from pkg import helper\ndef run(event, context):\n    return helper.double(event['n'])\n",
				"pkg/helper.py":       "def double(n):\n    return n * 2\n",
			},
			event:  `{"n":21}`,
			want:   `42`,
			wantCT: "application/json",
		},
		{
			name:    "large event and response (chunked transfer)",
			handler: "app.handler",
			files:   map[string]string{"app.py": "def handler(event, context):\n    return event\n"},
			event:   largeJSON,
			want:    largeJSON,
			wantCT:  "application/json",
		},
		{
			name:        "raw body when content type is not JSON",
			handler:     "app.handler",
			files:       map[string]string{"app.py": "def handler(event, context):\n    return event.decode()[::-1]\n"},
			event:       `abc`,
			contentType: "application/octet-stream",
			want:        `"cba"`,
			wantCT:      "application/json",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			api := newFakeAPI(t)
			p := start(t, api, function{runtime: pythonRuntime, handler: tt.handler, files: tt.files})
			got := api.invoke(t, p, invocation{id: "req-1", body: tt.event, contentType: tt.contentType})
			wantPath(t, got, "/2018-06-01/runtime/invocation/req-1/response")
			wantHeader(t, got, "Content-Type", tt.wantCT)
			if string(got.body) != tt.want {
				t.Errorf("response body = %q, want %q", got.body, tt.want)
			}
		})
	}
}

// TestPythonContext checks the LambdaContext attributes and _X_AMZN_TRACE_ID
// across invocations of one process.
func TestPythonContext(t *testing.T) {
	requireInterpreter(t, pythonRuntime)
	api := newFakeAPI(t)
	p := start(t, api, function{runtime: pythonRuntime, handler: "app.handler", files: map[string]string{"app.py": `
import os
def handler(event, context):
    cc = context.client_context
    return {
        "aws_request_id": context.aws_request_id,
        "function_name": context.function_name,
        "function_version": context.function_version,
        "memory_limit_in_mb": context.memory_limit_in_mb,
        "log_group_name": context.log_group_name,
        "log_stream_name": context.log_stream_name,
        "invoked_function_arn": context.invoked_function_arn,
        "remaining_ok": 1000 < context.get_remaining_time_in_millis() <= 30000,
        "identity": [context.identity.cognito_identity_id, context.identity.cognito_identity_pool_id],
        "client": None if cc is None else [cc.custom, cc.env, cc.client.app_title, cc.client.installation_id],
        "trace": os.environ.get("_X_AMZN_TRACE_ID", "unset"),
        "custom": os.environ.get("MY_VAR"),
        "exec_env": os.environ.get("AWS_EXECUTION_ENV"),
    }
`}, env: []string{"MY_VAR=custom-value"}})
	const trace = "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1"
	got := api.invoke(t, p, invocation{
		id: "8476a536-e9f4-11e8-9739-2dfe598c3fcd", body: `{}`, traceID: trace,
		clientContext: `{"client":{"app_title":"demo"},"custom":{"k":"v"},"env":{"platform":"test"}}`,
		cognito:       `{"cognitoIdentityId":"id-1","cognitoIdentityPoolId":"pool-1"}`,
	})
	wantPath(t, got, "/2018-06-01/runtime/invocation/8476a536-e9f4-11e8-9739-2dfe598c3fcd/response")
	want := `{"aws_request_id": "8476a536-e9f4-11e8-9739-2dfe598c3fcd", "function_name": "fn", "function_version": "$LATEST", ` +
		`"memory_limit_in_mb": "256", "log_group_name": "/aws/lambda/fn", ` +
		`"log_stream_name": "2024/01/31/[$LATEST]0123456789abcdef0123456789abcdef", ` +
		`"invoked_function_arn": "` + testARN + `", "remaining_ok": true, "identity": ["id-1", "pool-1"], ` +
		`"client": [{"k": "v"}, {"platform": "test"}, "demo", null], "trace": "` + trace + `", "custom": "custom-value", ` +
		`"exec_env": "AWS_Lambda_python3.12"}`
	if string(got.body) != want {
		t.Errorf("context:\n got %s\nwant %s", got.body, want)
	}
	got = api.invoke(t, p, invocation{id: "req-2", body: `{}`})
	var doc struct {
		ID       string    `json:"aws_request_id"`
		Trace    string    `json:"trace"`
		Identity []*string `json:"identity"`
		Client   any       `json:"client"`
	}
	if err := json.Unmarshal(got.body, &doc); err != nil {
		t.Fatal(err)
	}
	if doc.ID != "req-2" || doc.Trace != "unset" || doc.Client != nil || len(doc.Identity) != 2 || doc.Identity[0] != nil {
		t.Errorf("second invocation: %s", got.body)
	}
}

// pythonError is AWS's Python error document.
type pythonError struct {
	ErrorMessage string   `json:"errorMessage"`
	ErrorType    string   `json:"errorType"`
	RequestID    string   `json:"requestId"`
	StackTrace   []string `json:"stackTrace"`
}

// TestPythonInvocationErrors checks the error document (key order included),
// headers and X-Ray cause of failing invocations.
func TestPythonInvocationErrors(t *testing.T) {
	requireInterpreter(t, pythonRuntime)
	api := newFakeAPI(t)
	p := start(t, api, function{runtime: pythonRuntime, handler: "app.handler", files: map[string]string{"app.py": `def helper():
    raise ValueError("boom")

def handler(event, context):
    if event.get("fail"):
        helper()
    return "fine"
`}})
	got := api.invoke(t, p, invocation{id: "req-e", body: `{"fail":true}`})
	wantPath(t, got, "/2018-06-01/runtime/invocation/req-e/error")
	wantHeader(t, got, "Content-Type", "application/json")
	wantHeader(t, got, "Lambda-Runtime-Function-Error-Type", "ValueError")
	task := p.cmd.Dir
	want := `{"errorMessage": "boom", "errorType": "ValueError", "requestId": "req-e", "stackTrace": [` +
		`"  File \"` + task + `/app.py\", line 6, in handler\n    helper()\n", ` +
		`"  File \"` + task + `/app.py\", line 2, in helper\n    raise ValueError(\"boom\")\n"]}`
	if string(got.body) != want {
		t.Errorf("error body:\n got %s\nwant %s", got.body, want)
	}
	var cause xrayCauseDoc
	if err := json.Unmarshal([]byte(got.header.Get("Lambda-Runtime-Function-XRay-Error-Cause")), &cause); err != nil {
		t.Fatalf("X-Ray cause header: %v", err)
	}
	if cause.WorkingDirectory != task || len(cause.Exceptions) != 1 || cause.Exceptions[0].Type != "ValueError" ||
		cause.Exceptions[0].Message != "boom" || len(cause.Exceptions[0].Stack) != 2 ||
		cause.Exceptions[0].Stack[1].Label != "helper" || cause.Exceptions[0].Stack[1].Line != 2 ||
		len(cause.Paths) != 1 || cause.Paths[0] != task+"/app.py" {
		t.Errorf("X-Ray cause = %+v", cause)
	}
	p.waitOutput(t, "(?m)^\\[ERROR\\] ValueError: boom\\rTraceback \\(most recent call last\\):\\r\u00a0\u00a0File ")

	// Unmarshal errors are runtime faults with an empty stack.
	got = api.invoke(t, p, invocation{id: "req-bad", body: `{not json`})
	wantPath(t, got, "/2018-06-01/runtime/invocation/req-bad/error")
	wantHeader(t, got, "Lambda-Runtime-Function-Error-Type", "Runtime.UnmarshalError")
	var e pythonError
	if err := json.Unmarshal(got.body, &e); err != nil {
		t.Fatal(err)
	}
	if e.ErrorType != "Runtime.UnmarshalError" || !strings.HasPrefix(e.ErrorMessage, "Unable to unmarshal input: ") ||
		e.RequestID != "req-bad" || e.StackTrace == nil || len(e.StackTrace) != 0 {
		t.Errorf("unmarshal error = %s", got.body)
	}

	// The process keeps serving.
	got = api.invoke(t, p, invocation{id: "req-ok", body: `{}`})
	wantPath(t, got, "/2018-06-01/runtime/invocation/req-ok/response")
	if string(got.body) != `"fine"` {
		t.Errorf("after errors: %s", got.body)
	}
}

// TestPythonInitErrors checks /init/error for every way loading can fail.
func TestPythonInitErrors(t *testing.T) {
	requireInterpreter(t, pythonRuntime)
	tests := []struct {
		name     string
		handler  string
		files    map[string]string
		wantType string
		wantMsg  string
		stack    bool
	}{
		{"module not found", "missing.handler", nil, "Runtime.ImportModuleError", "Unable to import module 'missing': No module named 'missing'", false},
		{"handler missing", "app.nope", map[string]string{"app.py": "x = 1\n"}, "Runtime.HandlerNotFound", "Handler 'nope' missing on module 'app'", false},
		{"malformed", "app", map[string]string{"app.py": ""}, "Runtime.MalformedHandlerName", "Bad handler 'app': not enough values to unpack (expected 2, got 1)", false},
		{"syntax error", "app.handler", map[string]string{"app.py": "def handler(:\n"}, "Runtime.UserCodeSyntaxError", "Syntax error in module 'app': ", true},
		{"built-in module", "sys.handler", nil, "Runtime.BuiltInModuleConflict", "Cannot use built-in module sys as a handler module", false},
		{"exception at import", "app.handler", map[string]string{"app.py": "raise RuntimeError('init boom')\n"}, "RuntimeError", "init boom", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			api := newFakeAPI(t)
			p := start(t, api, function{runtime: pythonRuntime, handler: tt.handler, files: tt.files})
			got := api.wait(t, p)
			wantPath(t, got, "/2018-06-01/runtime/init/error")
			wantHeader(t, got, "Lambda-Runtime-Function-Error-Type", tt.wantType)
			var e pythonError
			if err := json.Unmarshal(got.body, &e); err != nil {
				t.Fatalf("%v: %s", err, got.body)
			}
			if e.ErrorType != tt.wantType || !strings.HasPrefix(e.ErrorMessage, tt.wantMsg) || e.RequestID != "" ||
				e.StackTrace == nil || (len(e.StackTrace) > 0) != tt.stack {
				t.Errorf("init error = %s, want type %s message %q…", got.body, tt.wantType, tt.wantMsg)
			}
			if code := p.exitCode(t); code != 1 {
				t.Errorf("exit status %d, want 1", code)
			}
		})
	}
}

// TestPythonLogs checks AWS's logging format, print passthrough and
// log-level filtering.
func TestPythonLogs(t *testing.T) {
	requireInterpreter(t, pythonRuntime)
	code := `import logging
logger = logging.getLogger()
def handler(event, context):
    print("plain print")
    logger.info("info %s", 42)
    logger.debug("hidden")
    context.log("via context\n")
    return 1
`
	t.Run("text", func(t *testing.T) {
		api := newFakeAPI(t)
		p := start(t, api, function{runtime: pythonRuntime, handler: "app.handler", files: map[string]string{"app.py": code},
			env: []string{"AWS_LAMBDA_LOG_LEVEL=INFO"}})
		api.invoke(t, p, invocation{id: "req-log", body: `{}`})
		p.waitOutput(t, `(?m)^plain print$`)
		p.waitOutput(t, `(?m)^\[INFO\]\t\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z\treq-log\tinfo 42$`)
		p.waitOutput(t, `(?m)^via context$`)
		if strings.Contains(p.stdout.String(), "hidden") {
			t.Errorf("DEBUG record printed at level INFO:\n%s", p.stdout.String())
		}
	})
	t.Run("json", func(t *testing.T) {
		api := newFakeAPI(t)
		p := start(t, api, function{runtime: pythonRuntime, handler: "app.handler", files: map[string]string{"app.py": code},
			env: []string{"AWS_LAMBDA_LOG_FORMAT=JSON"}})
		api.invoke(t, p, invocation{id: "req-json", body: `{}`})
		p.waitOutput(t, `"message": "info 42"`)
		var found bool
		for _, line := range strings.Split(p.stdout.String(), "\n") {
			var rec struct{ Timestamp, Level, Message, Logger, RequestID string }
			if json.Unmarshal([]byte(line), &rec) == nil && rec.Message == "info 42" {
				found = rec.Level == "INFO" && rec.RequestID == "req-json" && rec.Logger == "root" && rec.Timestamp != ""
			}
		}
		if !found {
			t.Errorf("JSON record lacks fields:\n%s", p.stdout.String())
		}
	})
}

// TestPythonNonASCIIError: error names outside ASCII stay intact in the
// body and become '?' in the header.
func TestPythonNonASCIIError(t *testing.T) {
	requireInterpreter(t, pythonRuntime)
	api := newFakeAPI(t)
	p := start(t, api, function{runtime: pythonRuntime, handler: "app.handler", files: map[string]string{"app.py": `class Érreur(Exception):
    pass

def handler(event, context):
    raise Érreur("déjà")
`}})
	got := api.invoke(t, p, invocation{id: "req-u", body: `{}`})
	wantPath(t, got, "/2018-06-01/runtime/invocation/req-u/error")
	wantHeader(t, got, "Lambda-Runtime-Function-Error-Type", "?rreur")
	var e pythonError
	if err := json.Unmarshal(got.body, &e); err != nil || e.ErrorType != "Érreur" || e.ErrorMessage != "déjà" {
		t.Errorf("error = %s (%v)", got.body, err)
	}
	var cause xrayCauseDoc
	if err := json.Unmarshal([]byte(got.header.Get("Lambda-Runtime-Function-XRay-Error-Cause")), &cause); err != nil ||
		len(cause.Exceptions) != 1 || cause.Exceptions[0].Message != "déjà" {
		t.Errorf("X-Ray cause %+v (%v)", cause, err)
	}
}
