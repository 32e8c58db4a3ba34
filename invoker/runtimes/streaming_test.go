package runtimes

import (
	"encoding/base64"
	"encoding/json"
	"strings"
	"testing"
)

// TestNodeStreaming runs awslambda.streamifyResponse handlers: the response
// is posted in streaming mode, errors travel in the trailers.
func TestNodeStreaming(t *testing.T) {
	requireInterpreter(t, nodeRuntime)
	tests := []struct {
		name      string
		code      string
		wantCT    string
		wantBody  string
		wantError string // errorType in the trailer
	}{
		{
			name: "chunks",
			code: `export const handler = awslambda.streamifyResponse(async (event, stream, context) => {
  stream.setContentType("text/plain");
  stream.write("hello ");
  await new Promise((r) => setTimeout(r, 10));
  stream.write(context.awsRequestId + " ");
  stream.end(String(event.n));
});`,
			wantCT:   "text/plain",
			wantBody: "hello req-s 7",
		},
		{
			name: "http integration prelude",
			code: `export const handler = awslambda.streamifyResponse(async (event, stream) => {
  stream = awslambda.HttpResponseStream.from(stream, { statusCode: 201, headers: { "x-a": "b" } });
  stream.end("body");
});`,
			wantCT:   "application/vnd.awslambda.http-integration-response",
			wantBody: `{"statusCode":201,"headers":{"x-a":"b"}}` + strings.Repeat("\x00", 8) + "body",
		},
		{
			name: "error after the stream started",
			code: `export const handler = awslambda.streamifyResponse(async (event, stream) => {
  stream.write("partial");
  throw new TypeError("mid-stream");
});`,
			wantCT:    "application/octet-stream",
			wantBody:  "partial",
			wantError: "TypeError",
		},
		{
			name:      "stream not finished",
			code:      `export const handler = awslambda.streamifyResponse(async (event, stream) => { stream.write("x"); });`,
			wantCT:    "application/octet-stream",
			wantBody:  "x",
			wantError: "Error",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			api := newFakeAPI(t)
			p := start(t, api, function{runtime: nodeRuntime, handler: "index.handler", files: map[string]string{"index.mjs": tt.code}})
			got := api.invoke(t, p, invocation{id: "req-s", body: `{"n":7}`})
			wantPath(t, got, "/2018-06-01/runtime/invocation/req-s/response")
			wantHeader(t, got, "Lambda-Runtime-Function-Response-Mode", "streaming")
			wantHeader(t, got, "Content-Type", tt.wantCT)
			if string(got.body) != tt.wantBody {
				t.Errorf("body %q, want %q", got.body, tt.wantBody)
			}
			if typ := got.trailer.Get("Lambda-Runtime-Function-Error-Type"); typ != tt.wantError {
				t.Errorf("error type trailer %q, want %q", typ, tt.wantError)
			}
			if tt.wantError != "" {
				raw, err := base64.StdEncoding.DecodeString(got.trailer.Get("Lambda-Runtime-Function-Error-Body"))
				var e nodeError
				if err != nil || json.Unmarshal(raw, &e) != nil || e.ErrorType != tt.wantError || len(e.Trace) == 0 {
					t.Errorf("error body trailer %q (%v)", raw, err)
				}
			}
			// The process keeps serving.
			if next := api.invoke(t, p, invocation{id: "req-s2", body: `{"n":8}`}); next.path != "/2018-06-01/runtime/invocation/req-s2/response" {
				t.Errorf("second invocation posted to %s", next.path)
			}
		})
	}
}
