package runtimeapi

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/fluoro/fluoro/invoker/httpserve"
	"github.com/fluoro/fluoro/invoker/sockio"
)

// The Runtime API has one client, the environment's runtime, that makes
// one request at a time on keep-alive HTTP/1.1 connections. Instead of
// net/http's server (a context, a background reader goroutine, read
// deadlines and a buffered response writer per request) every connection
// is served by one goroutine: requests are parsed with http.ReadRequest,
// routed through the same handlers (Handler), and each answer goes out in
// one write. A GET /next that finds no invocation leaves a Waiter with the
// backend and the goroutine goes back to reading the connection, so it
// notices a runtime that disconnects; the goroutine that assigns the
// invocation writes the answer itself (Waiter.Send).

const (
	maxHeaderBytes = 1 << 20 // as net/http's DefaultMaxHeaderBytes
	maxDrainBytes  = 8 << 20 // unread request body discarded to keep a connection
	lingerTimeout  = 500 * time.Millisecond
)

type conn struct {
	s   *Server
	c   net.Conn
	lr  httpserve.LimitReader
	br  *bufio.Reader
	wmu sync.Mutex // one writer at a time: Waiter.Send runs on other goroutines
	rw  respWriter
}

func (s *Server) serveConn(nc net.Conn) {
	c := &conn{s: s, c: sockio.Wrap(nc)}
	c.lr.R = c.c
	c.br = bufio.NewReaderSize(&c.lr, 16<<10)
	c.rw.c = c
	c.rw.h = make(http.Header, 4)
	defer s.dropConn(nc)
	var parked *Waiter
	for {
		if parked != nil {
			// The runtime waits for its next invocation: wait for its next
			// bytes (a request, or EOF when it goes away).
			c.lr.N = maxHeaderBytes
			_, err := c.br.Peek(1)
			if err != nil && parked.cancel() {
				return
			}
			<-parked.done // answer the /next before anything sent after it
			if err != nil || parked.state != waiterAnswered {
				return
			}
			parked = nil
		}
		c.lr.N = maxHeaderBytes
		// Long polls of the Extensions API end with the server's context.
		req, err := httpserve.ReadRequest(c.s.ctx, c.br)
		if err != nil {
			if errors.Is(err, httpserve.ErrHeaderTooLarge) {
				c.writeRaw("HTTP/1.1 431 Request Header Fields Too Large\r\nContent-Type: text/plain; charset=utf-8\r\nConnection: close\r\n\r\n431 Request Header Fields Too Large")
			} else if !errors.Is(err, io.EOF) && !isNetClosing(err) {
				c.writeRaw("HTTP/1.1 400 Bad Request\r\nContent-Type: text/plain; charset=utf-8\r\nConnection: close\r\n\r\n400 Bad Request")
			}
			return
		}
		c.lr.N = 1<<63 - 1
		keep, w := c.serve(req)
		if !keep {
			return
		}
		parked = w
	}
}

// serve answers one request. It returns the Waiter when the request was a
// GET /next left with the backend, and whether the connection stays open.
func (c *conn) serve(req *http.Request) (keep bool, parked *Waiter) {
	keep = !req.Close && req.ProtoAtLeast(1, 1)
	if ex := req.Header.Get("Expect"); ex != "" {
		if !strings.EqualFold(ex, "100-continue") || !req.ProtoAtLeast(1, 1) {
			c.writeRaw("HTTP/1.1 417 Expectation Failed\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
			return false, nil
		}
		if req.ContentLength != 0 && !c.writeRaw("HTTP/1.1 100 Continue\r\n\r\n") {
			return false, nil
		}
	}
	rw := &c.rw
	rw.reset()
	c.s.mux.ServeHTTP(rw, req)
	if rw.parked != nil {
		return keep, rw.parked
	}
	unread := false
	if req.Body != nil && req.Body != http.NoBody {
		n, err := io.CopyN(io.Discard, req.Body, maxDrainBytes)
		unread = err == nil && n == maxDrainBytes
		if err != nil && !errors.Is(err, io.EOF) {
			keep = false
		}
		_ = req.Body.Close()
	}
	if unread {
		keep = false
	}
	if !rw.flush(keep) {
		return false, nil
	}
	if unread {
		c.linger()
	}
	return keep, nil
}

// linger half-closes the connection and discards what the client still
// sends for a moment, so it reads the answer instead of a reset.
func (c *conn) linger() {
	if cw, ok := c.c.(interface{ CloseWrite() error }); ok {
		_ = cw.CloseWrite()
	}
	_ = c.c.SetReadDeadline(time.Now().Add(lingerTimeout))
	_, _ = io.Copy(io.Discard, c.c)
}

func (c *conn) writeRaw(s string) bool {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	_, err := io.WriteString(c.c, s)
	return err == nil
}

func (c *conn) write(b []byte) bool {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	_, err := c.c.Write(b)
	return err == nil
}

// newWaiter returns a Waiter that answers on this connection.
func (c *conn) newWaiter() *Waiter {
	return newWaiter(c.sendNext)
}

// sendNext writes the 200 answer of GET /next for inv.
func (c *conn) sendNext(inv *Invoke) bool {
	b := GetBuffer()
	defer PutBuffer(b)
	b.WriteString("HTTP/1.1 200 OK\r\n")
	writeNextHeaders(b, inv)
	b.WriteString("Date: ")
	b.WriteString(httpserve.Date())
	b.WriteString("\r\nContent-Length: ")
	var num [20]byte
	b.Write(strconv.AppendInt(num[:0], int64(len(inv.Payload)), 10))
	b.WriteString("\r\n\r\n")
	if len(inv.Payload) <= 64<<10 {
		b.Write(inv.Payload)
		return c.write(b.Bytes())
	}
	c.wmu.Lock()
	defer c.wmu.Unlock()
	_, err := sockio.WriteBuffers(c.c, b.Bytes(), inv.Payload)
	return err == nil
}

// writeNextHeaders writes the Lambda-Runtime-* and Content-Type headers of a
// /next answer.
func writeNextHeaders(b *bytes.Buffer, inv *Invoke) {
	ct := inv.ContentType
	if ct == "" {
		ct = contentTypeJSON
	}
	httpserve.WriteHeader(b, keyContentType, ct)
	httpserve.WriteHeader(b, keyRequestID, inv.RequestID)
	var num [20]byte
	httpserve.WriteHeader(b, keyDeadline, string(strconv.AppendInt(num[:0], inv.DeadlineMs, 10)))
	httpserve.WriteHeader(b, keyFunctionARN, inv.FunctionARN)
	if inv.TraceID != "" {
		httpserve.WriteHeader(b, keyTraceID, inv.TraceID)
	}
	if inv.ClientContext != "" {
		httpserve.WriteHeader(b, keyClientContext, inv.ClientContext)
	}
	if inv.CognitoIdentity != "" {
		httpserve.WriteHeader(b, keyCognito, inv.CognitoIdentity)
	}
	if inv.TenantID != "" {
		httpserve.WriteHeader(b, keyTenantID, inv.TenantID)
	}
}

// respWriter is the http.ResponseWriter of a connection: the handler's
// answer is buffered and written in one piece by flush.
type respWriter struct {
	c      *conn
	h      http.Header
	status int
	body   bytes.Buffer
	parked *Waiter // set by the /next handler when the backend kept the request
}

func (w *respWriter) reset() {
	clear(w.h)
	w.status = 0
	w.body.Reset()
	w.parked = nil
}

func (w *respWriter) Header() http.Header { return w.h }

func (w *respWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
}

func (w *respWriter) Write(p []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.body.Write(p)
}

// flush writes the buffered answer.
func (w *respWriter) flush(keep bool) bool {
	status := w.status
	if status == 0 {
		status = http.StatusOK
	}
	b := GetBuffer()
	defer PutBuffer(b)
	b.WriteString("HTTP/1.1 ")
	var num [20]byte
	b.Write(strconv.AppendInt(num[:0], int64(status), 10))
	b.WriteByte(' ')
	b.WriteString(http.StatusText(status))
	b.WriteString("\r\n")
	for k, vs := range w.h {
		switch k {
		case "Content-Length", "Transfer-Encoding", "Connection", "Date":
			continue
		}
		for _, v := range vs {
			httpserve.WriteHeader(b, k, v)
		}
	}
	if w.h.Get("Content-Type") == "" && w.body.Len() > 0 {
		httpserve.WriteHeader(b, "Content-Type", http.DetectContentType(w.body.Bytes()))
	}
	b.WriteString("Date: ")
	b.WriteString(httpserve.Date())
	b.WriteString("\r\n")
	if !keep {
		b.WriteString("Connection: close\r\n")
	}
	bodyAllowed := status >= 200 && status != http.StatusNoContent && status != http.StatusNotModified
	if bodyAllowed {
		b.WriteString("Content-Length: ")
		b.Write(strconv.AppendInt(num[:0], int64(w.body.Len()), 10))
		b.WriteString("\r\n")
	}
	b.WriteString("\r\n")
	if bodyAllowed {
		b.Write(w.body.Bytes())
	}
	if w.body.Cap() > 64<<10 {
		w.body = bytes.Buffer{}
	}
	return w.c.write(b.Bytes())
}

// isNetClosing reports errors of a connection closed under a reader.
func isNetClosing(err error) bool {
	return errors.Is(err, net.ErrClosed) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, context.Canceled)
}
