package runtimeapi

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

type fakeBackend struct {
	mu        sync.Mutex
	inv       *Invoke
	nextErr   error
	responses []*Response
	respErr   error
	initErr   []string
	waiters   []*Waiter
}

func (f *fakeBackend) Next(w *Waiter) (*Invoke, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.inv == nil && f.nextErr == nil {
		f.waiters = append(f.waiters, w)
	}
	return f.inv, f.nextErr
}

func (f *fakeBackend) Respond(r *Response) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.respErr != nil {
		return f.respErr
	}
	f.responses = append(f.responses, r)
	return nil
}

func (f *fakeBackend) InitError(t string, body []byte) error {
	f.initErr = append(f.initErr, t, string(body))
	return nil
}

type testServer struct{ URL string }

// newTestServer serves b on a loopback port with the package's own
// connection handling (Listen, Serve).
func newTestServer(t *testing.T, b Backend) *testServer {
	t.Helper()
	s, err := Listen("127.0.0.1:0", b, nil)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- s.Serve() }()
	t.Cleanup(func() {
		_ = s.Close()
		if err := <-done; err != nil {
			t.Error(err)
		}
	})
	return &testServer{URL: "http://" + s.Addr()}
}

// newHandlerServer serves b through Handler on net/http's server.
func newHandlerServer(t *testing.T, b Backend) *testServer {
	t.Helper()
	s := &Server{backend: b}
	ts := httptest.NewServer(s.Handler())
	t.Cleanup(ts.Close)
	return &testServer{URL: ts.URL}
}

func TestNextHeaders(t *testing.T) {
	b := &fakeBackend{inv: &Invoke{
		RequestID: "8476a536-e9f4-11e8-9739-2dfe598c3fcd", DeadlineMs: 1700000000123,
		FunctionARN: "arn:aws:lambda:us-east-1:000000000000:function:f:live", TraceID: "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1",
		ClientContext: `{"custom":{"a":"b"}}`, Payload: []byte(`{"x":1}`),
	}}
	ts := newTestServer(t, b)
	resp, err := http.Get(ts.URL + "/2018-06-01/runtime/invocation/next")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	want := map[string]string{
		"Lambda-Runtime-Aws-Request-Id":       "8476a536-e9f4-11e8-9739-2dfe598c3fcd",
		"Lambda-Runtime-Deadline-Ms":          "1700000000123",
		"Lambda-Runtime-Invoked-Function-Arn": "arn:aws:lambda:us-east-1:000000000000:function:f:live",
		"Lambda-Runtime-Trace-Id":             "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1",
		"Lambda-Runtime-Client-Context":       `{"custom":{"a":"b"}}`,
		"Content-Type":                        "application/json",
	}
	for k, v := range want {
		if got := resp.Header.Get(k); got != v {
			t.Errorf("%s = %q, want %q", k, got, v)
		}
	}
	if resp.Header.Get("Lambda-Runtime-Cognito-Identity") != "" {
		t.Error("empty Cognito identity must not be sent")
	}
	if resp.StatusCode != 200 || string(body) != `{"x":1}` {
		t.Errorf("status %d body %q", resp.StatusCode, body)
	}
}

func TestNextError(t *testing.T) {
	b := &fakeBackend{nextErr: StateTransitionError("Invoking", "Ready")}
	ts := newTestServer(t, b)
	resp, err := http.Get(ts.URL + "/2018-06-01/runtime/invocation/next")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var e struct{ ErrorType, ErrorMessage string }
	_ = json.NewDecoder(resp.Body).Decode(&e)
	if resp.StatusCode != 403 || e.ErrorType != "InvalidStateTransition" {
		t.Errorf("got %d %+v", resp.StatusCode, e)
	}
}

func post(t *testing.T, url string, hdr map[string]string, body io.Reader) (int, string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, url, body)
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func TestResponseAndErrors(t *testing.T) {
	const base = "/2018-06-01/runtime/invocation/"
	tests := []struct {
		name       string
		path       string
		hdr        map[string]string
		body       string
		bodyReader io.Reader
		status     int
		replyType  string
		want       Response // RequestID, Error, ErrorType, ContentType checked
		wantBody   string
		wantCause  string
	}{
		{name: "success", path: base + "r1/response", hdr: map[string]string{"Content-Type": "application/json"}, body: `{"ok":true}`,
			status: 202, want: Response{RequestID: "r1", ContentType: "application/json"}, wantBody: `{"ok":true}`},
		{name: "error with header cause", path: base + "r2/error",
			hdr:  map[string]string{"Lambda-Runtime-Function-Error-Type": "Function.MyError", "Lambda-Runtime-Function-XRay-Error-Cause": `{"exceptions":[]}`},
			body: `{"errorMessage":"boom","errorType":"MyError"}`, status: 202,
			want: Response{RequestID: "r2", Error: true, ErrorType: "Function.MyError"}, wantBody: `{"errorMessage":"boom","errorType":"MyError"}`, wantCause: `{"exceptions":[]}`},
		{name: "error type normalised", path: base + "r3/error", hdr: map[string]string{"Lambda-Runtime-Function-Error-Type": "weird"},
			body: `{}`, status: 202, want: Response{RequestID: "r3", Error: true, ErrorType: "Runtime.Unknown"}, wantBody: `{}`},
		{name: "error cause content type", path: base + "r4/error", hdr: map[string]string{"Content-Type": "application/vnd.aws.lambda.error.cause+json"},
			body: `{"errorMessage":"m","errorType":"T","errorCause":{"paths":["a"]}}`, status: 202,
			want: Response{RequestID: "r4", Error: true, ContentType: "application/json"}, wantBody: `{"errorMessage":"m","errorType":"T"}`, wantCause: `{"paths":["a"]}`},
		{name: "too large", path: base + "r5/response", bodyReader: bytes.NewReader(make([]byte, MaxResponseBytes+1)),
			status: 413, replyType: "RequestEntityTooLarge", want: Response{RequestID: "r5", Error: true, ErrorType: "Function.ResponseSizeTooLarge", ContentType: "application/json"},
			wantBody: `{"errorMessage":"Response payload size exceeded maximum allowed payload size (6291556 bytes).","errorType":"Function.ResponseSizeTooLarge"}`},
		{name: "bad response mode", path: base + "r6/response", hdr: map[string]string{"Lambda-Runtime-Function-Response-Mode": "bogus"},
			body: `x`, status: 400, replyType: "InvalidFunctionResponseMode", want: Response{RequestID: "r6", Error: true, ErrorType: "Runtime.InvalidResponseModeHeader", ContentType: "application/json"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b := &fakeBackend{}
			ts := newTestServer(t, b)
			r := tc.bodyReader
			if r == nil {
				r = strings.NewReader(tc.body)
			}
			status, reply := post(t, ts.URL+tc.path, tc.hdr, r)
			if status != tc.status {
				t.Fatalf("status = %d (%s), want %d", status, reply, tc.status)
			}
			if tc.replyType != "" && !strings.Contains(reply, `"errorType":"`+tc.replyType+`"`) {
				t.Errorf("reply %s lacks %s", reply, tc.replyType)
			}
			if len(b.responses) != 1 {
				t.Fatalf("backend got %d responses", len(b.responses))
			}
			got := b.responses[0]
			if got.RequestID != tc.want.RequestID || got.Error != tc.want.Error || got.ErrorType != tc.want.ErrorType ||
				(tc.want.ContentType != "" && got.ContentType != tc.want.ContentType) {
				t.Errorf("response = %+v, want %+v", got, tc.want)
			}
			if tc.wantBody != "" && got.Body.String() != tc.wantBody {
				t.Errorf("body = %s, want %s", got.Body, tc.wantBody)
			}
			if string(got.XRayCause) != tc.wantCause {
				t.Errorf("cause = %s, want %s", got.XRayCause, tc.wantCause)
			}
		})
	}
}

// A streamed response whose trailers carry an error is a function error.
func TestStreamingErrorTrailer(t *testing.T) {
	b := &fakeBackend{}
	ts := newTestServer(t, b)
	pr, pw := io.Pipe()
	req, _ := http.NewRequest(http.MethodPost, ts.URL+"/2018-06-01/runtime/invocation/r7/response", pr)
	req.Header.Set("Lambda-Runtime-Function-Response-Mode", "streaming")
	req.Trailer = http.Header{"Lambda-Runtime-Function-Error-Type": nil, "Lambda-Runtime-Function-Error-Body": nil}
	go func() {
		_, _ = pw.Write([]byte("partial"))
		req.Trailer.Set("Lambda-Runtime-Function-Error-Type", "Runtime.StreamError")
		req.Trailer.Set("Lambda-Runtime-Function-Error-Body", "eyJlcnJvclR5cGUiOiJYIn0=") // {"errorType":"X"}
		pw.Close()
	}()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 202 || len(b.responses) != 1 {
		t.Fatalf("status %d, %d responses", resp.StatusCode, len(b.responses))
	}
	got := b.responses[0]
	if !got.Error || got.ErrorType != "Runtime.StreamError" || got.Body.String() != `{"errorType":"X"}` {
		t.Errorf("got %+v body %s", got, got.Body)
	}
}

func TestBackendRejectsRequestID(t *testing.T) {
	b := &fakeBackend{respErr: ErrInvalidRequestID}
	ts := newTestServer(t, b)
	status, reply := post(t, ts.URL+"/2018-06-01/runtime/invocation/nope/response", nil, strings.NewReader("{}"))
	if status != 400 || !strings.Contains(reply, "InvalidRequestID") {
		t.Errorf("got %d %s", status, reply)
	}
}

func TestInitErrorAndSkeletons(t *testing.T) {
	b := &fakeBackend{}
	ts := newTestServer(t, b)
	status, _ := post(t, ts.URL+"/2018-06-01/runtime/init/error", map[string]string{"Lambda-Runtime-Function-Error-Type": "Runtime.ImportModuleError"}, strings.NewReader(`{"errorMessage":"no module"}`))
	if status != 202 || len(b.initErr) != 2 || b.initErr[0] != "Runtime.ImportModuleError" {
		t.Errorf("init error: %d %v", status, b.initErr)
	}
	status, reply := post(t, ts.URL+"/2020-01-01/extension/register", map[string]string{"Lambda-Extension-Name": "x"}, strings.NewReader(`{"events":["INVOKE"]}`))
	if status != 404 || !strings.Contains(reply, "Extension.NotSupported") {
		t.Errorf("register: %d %s", status, reply)
	}
	req, _ := http.NewRequest(http.MethodPut, ts.URL+"/2022-07-01/telemetry", strings.NewReader(`{}`))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 202 || !strings.Contains(string(body), "Telemetry.NotSupported") {
		t.Errorf("telemetry: %d %s", resp.StatusCode, body)
	}
}

func TestNormalizeErrorType(t *testing.T) {
	for in, want := range map[string]string{
		"": "", "Runtime.ExitError": "Runtime.ExitError", "Function.MyError": "Function.MyError",
		"Function.bad": "Function.Unknown", "Function.A1": "Function.Unknown", "MyError": "Runtime.Unknown",
	} {
		if got := NormalizeErrorType(in); got != want {
			t.Errorf("NormalizeErrorType(%q) = %q, want %q", in, got, want)
		}
	}
}

// waitWaiter returns the backend's first pending /next.
func (f *fakeBackend) waitWaiter(t *testing.T, n int) *Waiter {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for ctx.Err() == nil {
		f.mu.Lock()
		if len(f.waiters) >= n {
			w := f.waiters[n-1]
			f.mu.Unlock()
			return w
		}
		f.mu.Unlock()
		time.Sleep(time.Millisecond)
	}
	t.Fatal("no pending /next")
	return nil
}

// A /next that finds no invocation is answered later by whoever claims its
// Waiter, on both the package's server and Handler under net/http.
func TestNextParked(t *testing.T) {
	for _, tc := range []struct {
		name  string
		serve func(*testing.T, Backend) *testServer
	}{{"own", newTestServer}, {"handler", newHandlerServer}} {
		t.Run(tc.name, func(t *testing.T) {
			b := &fakeBackend{}
			ts := tc.serve(t, b)
			type result struct {
				resp *http.Response
				body string
				err  error
			}
			got := make(chan result, 1)
			go func() {
				resp, err := http.Get(ts.URL + "/2018-06-01/runtime/invocation/next")
				if err != nil {
					got <- result{err: err}
					return
				}
				body, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				got <- result{resp: resp, body: string(body)}
			}()
			w := b.waitWaiter(t, 1)
			if !w.Claim() {
				t.Fatal("Claim failed")
			}
			if w.Claim() {
				t.Fatal("second Claim succeeded")
			}
			if !w.Send(&Invoke{RequestID: "r1", DeadlineMs: 5, FunctionARN: "arn", ClientContext: "{\n\"a\":1}", Payload: []byte(`{"p":1}`)}) {
				t.Fatal("Send failed")
			}
			r := <-got
			if r.err != nil {
				t.Fatal(r.err)
			}
			if r.resp.StatusCode != 200 || r.body != `{"p":1}` || r.resp.Header.Get("Lambda-Runtime-Aws-Request-Id") != "r1" ||
				r.resp.Header.Get("Lambda-Runtime-Deadline-Ms") != "5" || r.resp.Header.Get("Lambda-Runtime-Client-Context") != `{ "a":1}` ||
				r.resp.Header.Get("Content-Type") != "application/json" {
				t.Errorf("got %d %q %v", r.resp.StatusCode, r.body, r.resp.Header)
			}
			// The connection goes on with the response post.
			status, _ := post(t, ts.URL+"/2018-06-01/runtime/invocation/r1/response", nil, strings.NewReader(`{}`))
			if status != 202 || len(b.responses) != 1 {
				t.Errorf("response post: %d, %d responses", status, len(b.responses))
			}
		})
	}
}

// A runtime that disconnects while waiting in /next leaves a Waiter that
// cannot be claimed.
func TestNextParkedDisconnect(t *testing.T) {
	b := &fakeBackend{}
	ts := newTestServer(t, b)
	c, err := net.Dial("tcp", strings.TrimPrefix(ts.URL, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	_, _ = io.WriteString(c, "GET /2018-06-01/runtime/invocation/next HTTP/1.1\r\nHost: x\r\n\r\n")
	w := b.waitWaiter(t, 1)
	c.Close()
	select {
	case <-w.done:
	case <-time.After(10 * time.Second):
		t.Fatal("waiter not cancelled")
	}
	if w.Claim() {
		t.Error("Claim of a gone waiter succeeded")
	}
}

// Requests sent behind a pending /next are answered after it, in order;
// Expect: 100-continue is honoured.
func TestPipelinedBehindNext(t *testing.T) {
	b := &fakeBackend{}
	ts := newTestServer(t, b)
	c, err := net.Dial("tcp", strings.TrimPrefix(ts.URL, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_, _ = io.WriteString(c, "GET /2018-06-01/runtime/invocation/next HTTP/1.1\r\nHost: x\r\n\r\n"+
		"POST /2018-06-01/runtime/invocation/r1/response HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\nExpect: 100-continue\r\n\r\n{}")
	w := b.waitWaiter(t, 1)
	time.Sleep(20 * time.Millisecond) // the post has arrived and waits
	if !w.Claim() || !w.Send(&Invoke{RequestID: "r1", Payload: []byte(`{}`)}) {
		t.Fatal("delivery failed")
	}
	br := bufio.NewReader(c)
	resp, err := http.ReadResponse(br, nil)
	if err != nil || resp.StatusCode != 200 || resp.Header.Get("Lambda-Runtime-Aws-Request-Id") != "r1" {
		t.Fatalf("first answer: %v %v", resp, err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	line, err := br.ReadString('\n')
	if err != nil || !strings.HasPrefix(line, "HTTP/1.1 100 ") {
		t.Fatalf("want 100 Continue, got %q %v", line, err)
	}
	if _, err := br.ReadString('\n'); err != nil { // blank line after 100
		t.Fatal(err)
	}
	resp, err = http.ReadResponse(br, nil)
	if err != nil || resp.StatusCode != 202 {
		t.Fatalf("second answer: %v %v", resp, err)
	}
	if len(b.responses) != 1 || b.responses[0].RequestID != "r1" {
		t.Errorf("responses %+v", b.responses)
	}
}

// Malformed requests get 400 and oversized headers 431.
func TestBadRequests(t *testing.T) {
	b := &fakeBackend{}
	ts := newTestServer(t, b)
	for _, tc := range []struct {
		req  string
		want string
	}{
		{"BOGUS\r\n\r\n", "HTTP/1.1 400 "},
		{"GET /2018-06-01/ping HTTP/1.1\r\nX: " + strings.Repeat("a", 1<<20) + "\r\n\r\n", "HTTP/1.1 431 "},
		{"GET /2018-06-01/ping HTTP/1.0\r\n\r\n", "HTTP/1.1 200 "},
		{"GET /nowhere HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", "HTTP/1.1 404 "},
	} {
		c, err := net.Dial("tcp", strings.TrimPrefix(ts.URL, "http://"))
		if err != nil {
			t.Fatal(err)
		}
		go func() { _, _ = io.WriteString(c, tc.req) }()
		_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
		all, _ := io.ReadAll(c) // every case ends with the connection closed
		c.Close()
		if !strings.HasPrefix(string(all), tc.want) {
			t.Errorf("%.40q: got %.80q, want %q", tc.req, all, tc.want)
		}
	}
}
