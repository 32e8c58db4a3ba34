package main

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

func TestReadAnswer(t *testing.T) {
	for _, tc := range []struct {
		name, in       string
		status         int
		body, funcErr  string
		close, wantErr bool
		rest           string // what must be left unread (the next answer)
	}{
		{name: "content-length", in: "HTTP/1.1 200 OK\r\nContent-Length: 11\r\n\r\n{\"ok\":true}HTTP/1.1", status: 200, body: `{"ok":true}`, rest: "HTTP/1.1"},
		{name: "function error", in: "HTTP/1.1 200 OK\r\nx-amz-function-error: Unhandled\r\ncontent-length: 2\r\n\r\n{}", status: 200, body: "{}", funcErr: "Unhandled"},
		{name: "chunked with extension and trailer", in: "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5;x=y\r\nhello\r\n6\r\n world\r\n0\r\nX-T: 1\r\n\r\nnext", status: 200, body: "hello world", rest: "next"},
		{name: "throttled, empty body", in: "HTTP/1.1 429 Too Many Requests\r\nContent-Length: 0\r\n\r\n", status: 429},
		{name: "no content", in: "HTTP/1.1 204 No Content\r\n\r\nnext", status: 204, rest: "next"},
		{name: "body to EOF", in: "HTTP/1.1 200 OK\r\n\r\nall of it", status: 200, body: "all of it", close: true},
		{name: "HTTP/1.0 closes", in: "HTTP/1.0 200 OK\r\nContent-Length: 1\r\n\r\nx", status: 200, body: "x", close: true},
		{name: "Connection: close", in: "HTTP/1.1 500 Internal Server Error\r\nConnection: close\r\nContent-Length: 1\r\n\r\nx", status: 500, body: "x", close: true},
		{name: "bad status line", in: "HTTP/2 200\r\n\r\n", wantErr: true},
		{name: "bad status code", in: "HTTP/1.1 2x0 OK\r\n\r\n", wantErr: true},
		{name: "header without colon", in: "HTTP/1.1 200 OK\r\nnonsense\r\n\r\n", wantErr: true},
		{name: "bad length", in: "HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n", wantErr: true},
		{name: "short body", in: "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc", wantErr: true},
		{name: "bad chunk size", in: "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", wantErr: true},
		{name: "chunk without CRLF", in: "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1\r\nab\r\n0\r\n\r\n", wantErr: true},
		{name: "unknown transfer encoding", in: "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n", wantErr: true},
		{name: "truncated headers", in: "HTTP/1.1 200 OK\r\nContent-Len", wantErr: true},
		{name: "empty", in: "", wantErr: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			br := bufio.NewReaderSize(strings.NewReader(tc.in), 4096)
			a, err := readAnswer(br, nil)
			if (err != nil) != tc.wantErr {
				t.Fatalf("err = %v, want error %v", err, tc.wantErr)
			}
			if tc.wantErr {
				return
			}
			if a.status != tc.status || string(a.body) != tc.body || a.functionError != tc.funcErr || a.close != tc.close {
				t.Errorf("got %d %q %q close=%v", a.status, a.body, a.functionError, a.close)
			}
			if rest, _ := io.ReadAll(br); string(rest) != tc.rest {
				t.Errorf("left %q, want %q", rest, tc.rest)
			}
		})
	}
}

// The raw caller against net/http's server: answers framed either way, kept
// connections, function errors, throttles, and a server that closes.
func TestRawCaller(t *testing.T) {
	var conns atomic.Int64
	mux := http.NewServeMux()
	mux.HandleFunc("POST /2015-03-31/functions/{name}/invocations", func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		if string(body) != `{"n":1}` || r.Header.Get("Content-Type") != "application/json" {
			t.Errorf("request body %q, Content-Type %q", body, r.Header.Get("Content-Type"))
		}
		switch r.PathValue("name") {
		case "chunked":
			io.WriteString(w, "part one,")
			w.(http.Flusher).Flush()
			io.WriteString(w, "part two")
		case "error":
			w.Header().Set("X-Amz-Function-Error", "Unhandled")
			io.WriteString(w, `{"errorMessage":"boom"}`)
		case "throttle":
			w.WriteHeader(http.StatusTooManyRequests)
		case "close":
			w.Header().Set("Connection", "close")
			io.WriteString(w, "{}")
		case "slow":
			time.Sleep(300 * time.Millisecond)
		default:
			io.WriteString(w, `{"ok":true}`)
		}
	})
	srv := httptest.NewUnstartedServer(mux)
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			conns.Add(1)
		}
	}
	srv.Start()
	defer srv.Close()
	ctx := context.Background()
	call := func(name string, timeout time.Duration) error {
		c, err := newRawCaller(srv.URL, "/2015-03-31/functions/"+name+"/invocations", []byte(`{"n":1}`), timeout)
		if err != nil {
			t.Fatal(err)
		}
		defer c.close()
		for range 3 { // the second and third reuse the connection
			if _, err := c.invoke(ctx); err != nil {
				return err
			}
		}
		return nil
	}
	if err := call("ok", time.Second); err != nil {
		t.Errorf("ok: %v", err)
	}
	if err := call("chunked", time.Second); err != nil {
		t.Errorf("chunked: %v", err)
	}
	if err := call("close", time.Second); err != nil {
		t.Errorf("close: %v", err)
	}
	if err := call("error", time.Second); err == nil || !strings.Contains(err.Error(), "function error Unhandled") {
		t.Errorf("function error: %v", err)
	}
	if err := call("throttle", time.Second); !errors.Is(err, errThrottled) {
		t.Errorf("throttle: %v", err)
	}
	if err := call("slow", 50*time.Millisecond); err == nil || !strings.Contains(err.Error(), "timeout") {
		t.Errorf("slow: %v", err)
	}
	// ok (1) + chunked (1) + close (3) + error (1) + throttle (1) + slow (1).
	if n := conns.Load(); n != 8 {
		t.Errorf("%d connections, want 8", n)
	}
}
