package httpserve

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"runtime/debug"
	"strings"
	"sync/atomic"
	"time"

	"github.com/fluoro/fluoro/invoker/sockio"
)

const (
	// maxDrainBytes is how much of a request body the handler left unread is
	// discarded to keep the connection (net/http: 256 KiB).
	maxDrainBytes = 256 << 10
	lingerTimeout = 500 * time.Millisecond
	readBufSize   = 4 << 10
)

// Connection states, for the sweep and Shutdown.
const (
	stateIdle   int32 = iota // waiting for a request's first byte
	stateHeader              // reading a request's header
	stateActive              // running the handler, writing the answer
	stateClosed
)

type conn struct {
	s      *Server
	nc     net.Conn
	remote string
	lr     LimitReader
	br     *bufio.Reader
	w      response

	state atomic.Int32
	since atomic.Int64 // Server.now at the last state change
}

func newConn(s *Server, nc net.Conn) *conn {
	c := &conn{s: s, nc: sockio.Wrap(nc), remote: nc.RemoteAddr().String()}
	c.lr.R = c.nc
	c.br = bufio.NewReaderSize(&c.lr, readBufSize)
	c.w.c = c
	c.w.h = make(http.Header, 8)
	c.state.Store(stateIdle)
	c.since.Store(s.now.Load())
	return c
}

func (c *conn) load() (state int32, since int64) { return c.state.Load(), c.since.Load() }

// to moves the connection from one state to another; it fails when the
// sweep or Shutdown closed it meanwhile.
func (c *conn) to(from, to int32) bool {
	if !c.state.CompareAndSwap(from, to) {
		return false
	}
	c.since.Store(c.s.now.Load())
	return true
}

// closeIf closes the connection when it is in state st.
func (c *conn) closeIf(st int32) {
	if c.state.CompareAndSwap(st, stateClosed) {
		_ = c.nc.Close()
	}
}

func (c *conn) closeNow() {
	c.state.Store(stateClosed)
	_ = c.nc.Close()
}

// LimitReader bounds how much a request's header may read from R: N
// more bytes (set it before each request's header, and to a large value
// for its body). The Runtime API's connection loop uses it too.
type LimitReader struct {
	R io.Reader
	N int64
}

// ErrHeaderTooLarge is LimitReader's error once N bytes were read.
var ErrHeaderTooLarge = errors.New("request header too large")

func (l *LimitReader) Read(p []byte) (int, error) {
	if l.N <= 0 {
		return 0, ErrHeaderTooLarge
	}
	if int64(len(p)) > l.N {
		p = p[:l.N]
	}
	n, err := l.R.Read(p)
	l.N -= int64(n)
	return n, err
}

func (c *conn) serve() {
	defer func() {
		c.closeNow()
		c.s.dropConn(c)
	}()
	maxHeader := int64(c.s.MaxHeaderBytes)
	if maxHeader <= 0 {
		maxHeader = DefaultMaxHeaderBytes
	}
	afterPost := false
	for {
		// Wait for the next request's first byte (no read when a pipelined
		// request is buffered already).
		c.lr.N = maxHeader
		if _, err := c.br.Peek(1); err != nil {
			return
		}
		if afterPost {
			// RFC 9112 2.2: tolerate the CRLF old clients send after a
			// POST body, as net/http does.
			for {
				b, err := c.br.Peek(1)
				if err != nil {
					return
				}
				if b[0] != '\r' && b[0] != '\n' {
					break
				}
				_, _ = c.br.Discard(1)
			}
		}
		if !c.to(stateIdle, stateHeader) {
			return
		}
		req, err := ReadRequest(c.s.ctx, c.br)
		if err != nil {
			switch {
			case errors.Is(err, ErrHeaderTooLarge):
				c.writeRaw("431 Request Header Fields Too Large", "")
			case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, net.ErrClosed):
			default:
				c.writeRaw("400 Bad Request", "")
			}
			return
		}
		c.lr.N = 1<<63 - 1
		afterPost = req.Method == http.MethodPost
		if !c.to(stateHeader, stateActive) {
			return
		}
		if !c.serveRequest(req) || c.s.closing.Load() || !c.to(stateActive, stateIdle) {
			return
		}
	}
}

// writeRaw answers a request that is not handed to the handler, and the
// connection closes.
func (c *conn) writeRaw(status, msg string) {
	if msg == "" {
		msg = status
	}
	_, _ = fmt.Fprintf(c.nc, "HTTP/1.1 %s\r\nContent-Type: text/plain; charset=utf-8\r\nConnection: close\r\nContent-Length: %d\r\n\r\n%s",
		status, len(msg), msg)
}

// serveRequest runs the handler for req and writes its answer. It reports
// whether the connection stays open.
func (c *conn) serveRequest(req *http.Request) (keep bool) {
	if req.ProtoMajor != 1 {
		c.writeRaw("505 HTTP Version Not Supported", "unsupported protocol version")
		return false
	}
	if req.Host == "" && req.ProtoAtLeast(1, 1) && req.Method != http.MethodConnect {
		c.writeRaw("400 Bad Request", "400 Bad Request: missing required Host header")
		return false
	}
	keep = req.ProtoAtLeast(1, 1) && !req.Close
	var cont *continueReader
	if ex, ok := req.Header["Expect"]; ok {
		if len(ex) != 1 || !strings.EqualFold(ex[0], "100-continue") || !req.ProtoAtLeast(1, 1) {
			c.writeRaw("417 Expectation Failed", "")
			return false
		}
		delete(req.Header, "Expect")
		if req.Body != nil && req.Body != http.NoBody {
			cont = &continueReader{c: c, body: req.Body}
			req.Body = cont
		}
	}
	req.RemoteAddr = c.remote

	w := &c.w
	w.reset(req, keep)
	if !c.runHandler(w, req) {
		return false
	}
	if w.err != nil {
		return false
	}

	// Discard what the handler left of the body, so the next request can be
	// read; a body too large to discard closes the connection.
	unread := false
	switch {
	case req.Body == nil || req.Body == http.NoBody:
	case cont != nil && !cont.started:
		keep = false // the client may be waiting for 100 Continue: it never sent the body
	default:
		n, err := io.CopyN(io.Discard, req.Body, maxDrainBytes+1)
		switch {
		case err == nil && n > maxDrainBytes:
			keep, unread = false, true
		case err != nil && !errors.Is(err, io.EOF):
			keep = false
		default:
			_ = req.Body.Close()
		}
	}
	if c.s.closing.Load() {
		keep = false
	}
	keep = w.finish(keep)
	if unread {
		c.linger()
	}
	return keep
}

// runHandler calls the handler; a panic is logged (except
// http.ErrAbortHandler) and closes the connection.
func (c *conn) runHandler(w *response, req *http.Request) (ok bool) {
	defer func() {
		if v := recover(); v != nil {
			ok = false
			if v != http.ErrAbortHandler {
				c.s.Logger.Error("http handler panic", "remote", c.remote, "method", req.Method, "path", req.URL.Path,
					"panic", fmt.Sprint(v), "stack", string(debug.Stack()))
			}
		}
	}()
	c.s.Handler.ServeHTTP(w, req)
	return true
}

// linger half-closes the connection and discards what the client still
// sends for a moment, so it reads the answer instead of a reset.
func (c *conn) linger() {
	if cw, ok := c.nc.(interface{ CloseWrite() error }); ok {
		_ = cw.CloseWrite()
	}
	_ = c.nc.SetReadDeadline(time.Now().Add(lingerTimeout))
	_, _ = io.Copy(io.Discard, c.nc)
}

// continueReader sends "100 Continue" before the first read of a body the
// client holds back until then (Expect: 100-continue).
type continueReader struct {
	c       *conn
	body    io.ReadCloser
	started bool
	err     error
}

func (r *continueReader) Read(p []byte) (int, error) {
	if !r.started {
		r.started = true
		if _, err := io.WriteString(r.c.nc, "HTTP/1.1 100 Continue\r\n\r\n"); err != nil {
			r.err = err
		}
	}
	if r.err != nil {
		return 0, r.err
	}
	return r.body.Read(p)
}

func (r *continueReader) Close() error { return r.body.Close() }
