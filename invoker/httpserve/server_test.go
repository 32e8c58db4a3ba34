package httpserve

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// serve starts s on a loopback port and returns its address; the server is
// shut down when the test ends.
func serve(t *testing.T, s *Server) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- s.Serve(ln) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := s.Shutdown(ctx); err != nil {
			t.Errorf("Shutdown: %v", err)
		}
		if err := <-done; !errors.Is(err, http.ErrServerClosed) {
			t.Errorf("Serve: %v", err)
		}
	})
	return ln.Addr().String()
}

// testMux is the handler of most tests.
func testMux() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /echo/{name}", func(w http.ResponseWriter, r *http.Request) {
		b, err := io.ReadAll(r.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		w.Header()["X-Name"] = []string{r.PathValue("name")}
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("X-Query", r.URL.Query().Get("q"))
		w.Header().Set("X-Remote-Set", strconv.FormatBool(r.RemoteAddr != ""))
		w.Header().Set("X-Host", r.Host)
		_, _ = w.Write(b)
	})
	mux.HandleFunc("POST /ignore", func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, "ignored")
	})
	mux.HandleFunc("GET /empty", func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusNoContent)
		_, err := w.Write([]byte("x"))
		if !errors.Is(err, http.ErrBodyNotAllowed) {
			panic(fmt.Sprintf("Write after 204: %v", err))
		}
	})
	mux.HandleFunc("GET /sniff", func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, "<html><body>hi</body></html>")
	})
	mux.HandleFunc("GET /big", func(w http.ResponseWriter, r *http.Request) {
		n, _ := strconv.Atoi(r.URL.Query().Get("n"))
		if r.URL.Query().Get("len") == "1" {
			w.Header().Set("Content-Length", strconv.Itoa(n))
		}
		chunk := bytes.Repeat([]byte("abcdefghij"), 1000)
		for n > 0 {
			k := min(n, len(chunk))
			if _, err := w.Write(chunk[:k]); err != nil {
				return
			}
			n -= k
		}
	})
	mux.HandleFunc("GET /flush", func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, "one,")
		w.(http.Flusher).Flush()
		_, _ = io.WriteString(w, "two")
	})
	mux.HandleFunc("GET /close", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Connection", "close")
		_, _ = io.WriteString(w, "bye")
	})
	mux.HandleFunc("GET /panic", func(w http.ResponseWriter, r *http.Request) {
		panic("boom")
	})
	mux.HandleFunc("GET /status", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Bad", "a\r\nInjected: yes")
		w.Header()["Bad Name"] = []string{"x"}
		w.WriteHeader(http.StatusTeapot)
		w.WriteHeader(http.StatusOK) // ignored
		_, _ = io.WriteString(w, `{"a":1}`)
	})
	return mux
}

// rawExchange sends raw on a new connection, then reads answers until the
// server closes it (or the read times out) and returns what arrived.
func rawExchange(t *testing.T, addr, raw string) string {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := io.WriteString(c, raw); err != nil {
		t.Fatal(err)
	}
	_ = c.SetReadDeadline(time.Now().Add(2 * time.Second))
	b, _ := io.ReadAll(c)
	return string(b)
}

func TestRawRequests(t *testing.T) {
	addr := serve(t, &Server{Handler: testMux(), Logger: slog.New(slog.DiscardHandler)})
	cases := []struct {
		name   string
		raw    string
		want   []string // substrings of the whole exchange
		absent []string
		count  map[string]int // how often a substring occurs
	}{
		{
			name: "keep-alive then close",
			raw: "POST /echo/a?q=1 HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\nhi" +
				"POST /echo/b HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: 3\r\n\r\nyou",
			want: []string{"X-Name: a\r\n", "X-Query: 1\r\n", "X-Remote-Set: true\r\n", "X-Host: x\r\n",
				"Content-Length: 2\r\n", "\r\n\r\nhiHTTP/1.1 200 OK\r\n", "X-Name: b\r\n", "\r\n\r\nyou"},
			count: map[string]int{"HTTP/1.1 200 OK\r\n": 2, "Connection: close\r\n": 1},
		},
		{
			name: "chunked request body",
			raw:  "POST /echo/c HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n",
			want: []string{"HTTP/1.1 200 OK\r\n", "Content-Length: 5\r\n", "\r\n\r\nabcde"},
		},
		{
			name: "unread body is discarded and the connection kept",
			raw: "POST /ignore HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello" +
				"GET /sniff HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
			want:   []string{"\r\n\r\nignoredHTTP/1.1 200 OK\r\n", "Content-Type: text/html; charset=utf-8\r\n", "<html>"},
			absent: []string{"400 Bad Request"},
		},
		{
			name: "CRLF after a POST body is tolerated",
			raw: "POST /ignore HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\n\r\nz\r\n" +
				"GET /sniff HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
			want:   []string{"\r\n\r\nignored", "<html>"},
			absent: []string{"400 Bad Request"},
		},
		{
			name:   "204 has no body and no length",
			raw:    "GET /empty HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
			want:   []string{"HTTP/1.1 204 No Content\r\n", "Date: ", "Connection: close\r\n\r\n"},
			absent: []string{"Content-Length", "x"},
		},
		{
			name:   "HEAD sends the length, not the body",
			raw:    "HEAD /sniff HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
			want:   []string{"HTTP/1.1 200 OK\r\n", "Content-Length: 28\r\n"},
			absent: []string{"<html>"},
		},
		{
			name:   "status, header values sanitised, invalid names dropped",
			raw:    "GET /status HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
			want:   []string{"HTTP/1.1 418 I'm a teapot\r\n", "X-Bad: a  Injected: yes\r\n", "Content-Type: text/plain; charset=utf-8\r\n", "\r\n\r\n{\"a\":1}"},
			absent: []string{"\r\nInjected:", "Bad Name"},
		},
		{
			name: "handler Connection: close",
			raw:  "GET /close HTTP/1.1\r\nHost: x\r\n\r\nGET /sniff HTTP/1.1\r\nHost: x\r\n\r\n",
			want: []string{"Connection: close\r\n", "bye"}, absent: []string{"<html>"},
		},
		{
			name:  "HTTP/1.0 closes",
			raw:   "GET /sniff HTTP/1.0\r\n\r\nGET /sniff HTTP/1.0\r\n\r\n",
			want:  []string{"HTTP/1.0 200 OK\r\n", "Connection: close\r\n", "<html>"},
			count: map[string]int{"HTTP/1.0 200 OK": 1},
		},
		{
			name: "missing Host",
			raw:  "GET /sniff HTTP/1.1\r\n\r\n",
			want: []string{"HTTP/1.1 400 Bad Request\r\n", "Connection: close\r\n", "missing required Host header"},
		},
		{
			name: "malformed request",
			raw:  "NOT HTTP\r\n\r\n",
			want: []string{"HTTP/1.1 400 Bad Request\r\n"},
		},
		{
			name: "HTTP/2 request line",
			raw:  "GET /sniff HTTP/2.0\r\nHost: x\r\n\r\n",
			want: []string{"505 HTTP Version Not Supported"},
		},
		{
			name: "unknown expectation",
			raw:  "POST /echo/a HTTP/1.1\r\nHost: x\r\nExpect: teapot\r\nContent-Length: 2\r\n\r\nhi",
			want: []string{"HTTP/1.1 417 Expectation Failed\r\n"}, absent: []string{"200 OK"},
		},
		{
			name: "Expect 100-continue, body read",
			raw:  "POST /echo/a HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 2\r\nConnection: close\r\n\r\nhi",
			want: []string{"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\n", "\r\n\r\nhi"},
		},
		{
			name: "Expect 100-continue, body not read: no 100, connection closes",
			raw: "POST /ignore HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\n" +
				"GET /sniff HTTP/1.1\r\nHost: x\r\n\r\n",
			want:   []string{"HTTP/1.1 200 OK\r\n", "Connection: close\r\n", "ignored"},
			absent: []string{"100 Continue", "<html>"},
		},
		{
			name: "handler panic closes the connection",
			raw:  "GET /panic HTTP/1.1\r\nHost: x\r\n\r\n",
			want: nil, absent: []string{"HTTP/1.1"},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := rawExchange(t, addr, tc.raw)
			for _, w := range tc.want {
				if !strings.Contains(got, w) {
					t.Fatalf("missing %q in:\n%s", w, got)
				}
			}
			for w, n := range tc.count {
				if c := strings.Count(got, w); c != n {
					t.Fatalf("%q %d times, want %d, in:\n%s", w, c, n, got)
				}
			}
			for _, a := range tc.absent {
				if strings.Contains(got, a) {
					t.Fatalf("unexpected %q in:\n%s", a, got)
				}
			}
		})
	}
}

func TestHeaderTooLarge(t *testing.T) {
	addr := serve(t, &Server{Handler: testMux(), MaxHeaderBytes: 1024})
	got := rawExchange(t, addr, "GET /sniff HTTP/1.1\r\nHost: x\r\nX-Big: "+strings.Repeat("a", 4096)+"\r\n\r\n")
	if !strings.HasPrefix(got, "HTTP/1.1 431 ") {
		t.Fatalf("got %q", got)
	}
}

func TestLargeUnreadBodyClosesAfterAnswer(t *testing.T) {
	addr := serve(t, &Server{Handler: testMux()})
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	n := maxDrainBytes * 4
	go func() {
		_, _ = fmt.Fprintf(c, "POST /ignore HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n", n)
		_, _ = c.Write(make([]byte, n))
	}()
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 || string(body) != "ignored" || !resp.Close {
		t.Fatalf("status %d body %q close %v", resp.StatusCode, body, resp.Close)
	}
}

// TestClient drives the server with net/http's client: keep-alive reuse,
// large bodies streamed with and without a length, Flush.
func TestClient(t *testing.T) {
	addr := serve(t, &Server{Handler: testMux()})
	tr := &http.Transport{}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr}
	base := "http://" + addr
	cases := []struct {
		name, path string
		wantLen    int
		chunked    bool
	}{
		{"small", "/big?n=100", 100, false},
		{"buffered limit", fmt.Sprintf("/big?n=%d", bufferLimit), bufferLimit, false},
		{"streamed chunked", "/big?n=300000", 300000, true},
		{"streamed with length", "/big?n=300000&len=1", 300000, false},
		{"flush", "/flush", len("one,two"), true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			for range 3 {
				resp, err := client.Get(base + tc.path)
				if err != nil {
					t.Fatal(err)
				}
				body, err := io.ReadAll(resp.Body)
				resp.Body.Close()
				if err != nil {
					t.Fatal(err)
				}
				if len(body) != tc.wantLen {
					t.Fatalf("body %d bytes, want %d", len(body), tc.wantLen)
				}
				chunked := len(resp.TransferEncoding) > 0 && resp.TransferEncoding[0] == "chunked"
				if chunked != tc.chunked {
					t.Fatalf("chunked %v, want %v (%v)", chunked, tc.chunked, resp.TransferEncoding)
				}
				if tc.path == "/flush" && string(body) != "one,two" {
					t.Fatalf("body %q", body)
				}
				if !tc.chunked && resp.ContentLength != int64(tc.wantLen) {
					t.Fatalf("Content-Length %d", resp.ContentLength)
				}
			}
		})
	}
	resp, err := client.Post(base+"/echo/x", "application/json", strings.NewReader(`{"k":"v"}`))
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(b) != `{"k":"v"}` || resp.Header.Get("X-Name") != "x" {
		t.Fatalf("echo %q %v", b, resp.Header)
	}
}

func TestKeepAliveReusesConnection(t *testing.T) {
	var mu sync.Mutex
	remotes := map[string]int{}
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		remotes[r.RemoteAddr]++
		mu.Unlock()
		_, _ = io.Copy(io.Discard, r.Body)
		_, _ = io.WriteString(w, "ok")
	})
	addr := serve(t, &Server{Handler: h})
	tr := &http.Transport{}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr}
	for range 20 {
		resp, err := client.Post("http://"+addr+"/", "text/plain", strings.NewReader("x"))
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
	mu.Lock()
	defer mu.Unlock()
	if len(remotes) != 1 {
		t.Fatalf("%d connections for 20 sequential requests: %v", len(remotes), remotes)
	}
}

func TestIdleAndHeaderTimeouts(t *testing.T) {
	addr := serve(t, &Server{Handler: testMux(), IdleTimeout: 50 * time.Millisecond, ReadHeaderTimeout: 50 * time.Millisecond})
	cases := []struct {
		name string
		send string
	}{
		{"idle", ""},
		{"header started", "GET /sniff HTTP/1.1\r\nHo"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c, err := net.Dial("tcp", addr)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			_, _ = io.WriteString(c, tc.send)
			_ = c.SetReadDeadline(time.Now().Add(3 * time.Second))
			start := time.Now()
			_, err = c.Read(make([]byte, 1))
			if !errors.Is(err, io.EOF) {
				t.Fatalf("read: %v, want EOF (server closed)", err)
			}
			if d := time.Since(start); d > 2*time.Second {
				t.Fatalf("closed after %v", d)
			}
		})
	}
}

func TestShutdown(t *testing.T) {
	started := make(chan struct{})
	release := make(chan struct{})
	mux := http.NewServeMux()
	mux.HandleFunc("/slow", func(w http.ResponseWriter, r *http.Request) {
		close(started)
		<-release
		_, _ = io.WriteString(w, "done")
	})
	mux.HandleFunc("/fast", func(w http.ResponseWriter, r *http.Request) { _, _ = io.WriteString(w, "fast") })
	s := &Server{Handler: mux}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- s.Serve(ln) }()
	addr := ln.Addr().String()

	// An idle kept-alive connection and one with a request in flight.
	idle, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer idle.Close()
	_, _ = io.WriteString(idle, "GET /fast HTTP/1.1\r\nHost: x\r\n\r\n")
	br := bufio.NewReader(idle)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	busy, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	_, _ = io.WriteString(busy, "GET /slow HTTP/1.1\r\nHost: x\r\n\r\n")
	<-started

	shut := make(chan error, 1)
	go func() { shut <- s.Shutdown(context.Background()) }()
	// The idle connection is closed; the busy one finishes with
	// Connection: close.
	_ = idle.SetReadDeadline(time.Now().Add(3 * time.Second))
	if _, err := br.ReadByte(); !errors.Is(err, io.EOF) {
		t.Fatalf("idle connection: %v, want EOF", err)
	}
	select {
	case err := <-shut:
		t.Fatalf("Shutdown returned %v with a request in flight", err)
	case <-time.After(50 * time.Millisecond):
	}
	close(release)
	_ = busy.SetReadDeadline(time.Now().Add(3 * time.Second))
	got, _ := io.ReadAll(busy)
	if !strings.Contains(string(got), "Connection: close\r\n") || !strings.HasSuffix(string(got), "done") {
		t.Fatalf("busy connection got %q", got)
	}
	if err := <-shut; err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	if err := <-served; !errors.Is(err, http.ErrServerClosed) {
		t.Fatalf("Serve: %v", err)
	}
	if _, err := net.Dial("tcp", addr); err == nil {
		t.Fatal("listener still accepts")
	}
}

func TestShutdownDeadline(t *testing.T) {
	block := make(chan struct{})
	defer close(block)
	var ctxDone sync.WaitGroup
	ctxDone.Add(1)
	s := &Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		<-r.Context().Done() // cancelled when Shutdown gives up
		ctxDone.Done()
		<-block
	})}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = s.Serve(ln) }()
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_, _ = io.WriteString(c, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
	time.Sleep(20 * time.Millisecond)
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if err := s.Shutdown(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Shutdown: %v", err)
	}
	ctxDone.Wait()
	_ = c.SetReadDeadline(time.Now().Add(3 * time.Second))
	if _, err := c.Read(make([]byte, 1)); !errors.Is(err, io.EOF) && !errors.Is(err, syscall.ECONNRESET) {
		t.Fatalf("connection after the deadline: %v", err)
	}
}

func TestServeAfterShutdown(t *testing.T) {
	s := &Server{Handler: testMux()}
	if err := s.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
		t.Fatalf("Serve: %v", err)
	}
}
