package httpserve

import (
	"bytes"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/fluoro/fluoro/invoker/sockio"
)

const (
	// bufferLimit is how much of an answer is buffered; beyond it the
	// header is sent and the rest streams.
	bufferLimit = 64 << 10
	// joinLimit: bodies up to this size are copied behind the header and
	// sent with one write; larger ones go with writev.
	joinLimit = 16 << 10
)

// response is the http.ResponseWriter of a connection, reused for its
// requests.
type response struct {
	c    *conn
	req  *http.Request
	h    http.Header
	head bytes.Buffer // status line and header
	body bytes.Buffer

	status      int
	wroteHeader bool
	committed   bool  // the header went out; the body streams
	chunked     bool  // streaming with chunked encoding
	clen        int64 // declared Content-Length when streaming, -1: none
	written     int64 // body bytes streamed
	keep        bool  // the connection stays open after this answer
	err         error // a write failed: the connection closes
}

var _ http.Flusher = (*response)(nil)

// reset prepares the writer for req; keep is whether the request allows
// keeping the connection.
func (w *response) reset(req *http.Request, keep bool) {
	w.req = req
	clear(w.h)
	w.head.Reset()
	w.body.Reset()
	w.status = 0
	w.wroteHeader, w.committed, w.chunked, w.keep = false, false, false, keep
	w.clen, w.written = -1, 0
	w.err = nil
}

func (w *response) Header() http.Header { return w.h }

// WriteHeader records the status. Informational codes (1xx) are not sent;
// a second call is ignored, as net/http does (it logs it).
func (w *response) WriteHeader(code int) {
	if code < 100 || code > 999 {
		panic("invalid WriteHeader code " + strconv.Itoa(code))
	}
	if w.wroteHeader || code < 200 {
		return
	}
	w.wroteHeader = true
	w.status = code
}

func (w *response) Write(p []byte) (int, error) {
	if !w.wroteHeader {
		w.WriteHeader(http.StatusOK)
	}
	if !bodyAllowed(w.status) {
		return 0, http.ErrBodyNotAllowed
	}
	if w.err != nil {
		return 0, w.err
	}
	if !w.committed {
		if w.body.Len()+len(p) <= bufferLimit {
			return w.body.Write(p)
		}
		w.commit(false)
		if w.err != nil {
			return 0, w.err
		}
	}
	return w.stream(p)
}

// Flush sends the header and what is buffered; the rest of the body then
// streams.
func (w *response) Flush() {
	if !w.wroteHeader {
		w.WriteHeader(http.StatusOK)
	}
	if w.err == nil && !w.committed {
		w.commit(false)
	}
}

// stream writes p after the header went out.
func (w *response) stream(p []byte) (int, error) {
	if w.req.Method == http.MethodHead || len(p) == 0 {
		return len(p), nil
	}
	if w.clen >= 0 && w.written+int64(len(p)) > w.clen {
		return 0, http.ErrContentLength
	}
	w.written += int64(len(p))
	var err error
	if w.chunked {
		var pre [20]byte
		b := strconv.AppendInt(pre[:0], int64(len(p)), 16)
		b = append(b, '\r', '\n')
		_, err = sockio.WriteBuffers(w.c.nc, b, p, crlf)
	} else {
		_, err = w.c.nc.Write(p)
	}
	if err != nil {
		w.err = err
		return 0, err
	}
	return len(p), nil
}

var crlf = []byte("\r\n")

// commit sends the header and the buffered body. final means the handler
// has returned: the buffered body is the whole body.
func (w *response) commit(final bool) {
	w.committed = true
	status := w.status
	if status == 0 {
		status = http.StatusOK
	}
	is11 := w.req.ProtoAtLeast(1, 1)
	b := &w.head
	if is11 {
		b.WriteString("HTTP/1.1 ")
	} else {
		b.WriteString("HTTP/1.0 ")
	}
	var num [20]byte
	b.Write(strconv.AppendInt(num[:0], int64(status), 10))
	b.WriteByte(' ')
	if text := http.StatusText(status); text != "" {
		b.WriteString(text)
	} else {
		b.WriteString("status code ")
		b.Write(strconv.AppendInt(num[:0], int64(status), 10))
	}
	b.WriteString("\r\n")

	hasDate, hasType := false, false
	declared := int64(-1)
	keep := w.keep
	for k, vs := range w.h {
		switch k {
		case "Content-Length":
			if len(vs) > 0 {
				if n, err := strconv.ParseInt(strings.TrimSpace(vs[0]), 10, 64); err == nil && n >= 0 {
					declared = n
				}
			}
			continue
		case "Connection":
			if hasToken(vs, "close") {
				keep = false
			}
			continue
		case "Transfer-Encoding", "Trailer":
			continue
		case "Date":
			hasDate = true
		case "Content-Type":
			hasType = true
		}
		if !validHeaderName(k) {
			continue
		}
		for _, v := range vs {
			WriteHeader(b, k, v)
		}
	}
	bodyOK := bodyAllowed(status)
	isHead := w.req.Method == http.MethodHead
	if !hasType && bodyOK && w.body.Len() > 0 && w.h.Get("Content-Encoding") == "" {
		WriteHeader(b, "Content-Type", http.DetectContentType(w.body.Bytes()))
	}
	if !hasDate {
		b.WriteString("Date: ")
		b.WriteString(Date())
		b.WriteString("\r\n")
	}
	switch {
	case !bodyOK:
	case final && isHead && declared >= 0:
		writeLength(b, declared)
	case final && isHead && w.body.Len() == 0:
		// Nothing says how long the GET answer would be.
	case final:
		writeLength(b, int64(w.body.Len()))
	case declared >= 0:
		w.clen = declared
		writeLength(b, declared)
	case is11:
		w.chunked = true
		b.WriteString("Transfer-Encoding: chunked\r\n")
	default:
		keep = false // HTTP/1.0 without a length: the body ends with the connection
	}
	if !keep {
		b.WriteString("Connection: close\r\n")
	}
	w.keep = keep
	b.WriteString("\r\n")

	body := w.body.Bytes()
	if !bodyOK || isHead {
		body = nil
	}
	if !final && len(body) > 0 {
		// The buffered start of a streamed body.
		if w.clen >= 0 && int64(len(body)) > w.clen {
			body = body[:w.clen]
		}
		w.written = int64(len(body))
		if w.chunked {
			b.Write(strconv.AppendInt(num[:0], int64(len(body)), 16))
			b.WriteString("\r\n")
			b.Write(body)
			b.WriteString("\r\n")
			body = nil
		}
	}
	var err error
	if len(body) <= joinLimit {
		b.Write(body)
		_, err = w.c.nc.Write(b.Bytes())
	} else {
		_, err = sockio.WriteBuffers(w.c.nc, b.Bytes(), body)
	}
	if err != nil {
		w.err = err
	}
	w.body.Reset()
	if w.body.Cap() > bufferLimit*2 {
		w.body = bytes.Buffer{}
	}
	if w.head.Cap() > bufferLimit*2 {
		w.head = bytes.Buffer{}
	}
}

// finish completes the answer after the handler returned and reports
// whether the connection stays open. keep is the request side's verdict.
func (w *response) finish(keep bool) bool {
	if !w.committed {
		w.keep = w.keep && keep
		if !w.wroteHeader {
			w.WriteHeader(http.StatusOK)
		}
		w.commit(true)
		return w.keep && w.err == nil
	}
	if w.err != nil {
		return false
	}
	switch {
	case w.chunked:
		if w.req.Method != http.MethodHead {
			if _, err := w.c.nc.Write(lastChunk); err != nil {
				return false
			}
		}
	case w.clen >= 0 && w.written < w.clen && w.req.Method != http.MethodHead:
		return false // short body: only closing the connection ends it
	}
	return keep && w.keep
}

var lastChunk = []byte("0\r\n\r\n")

// hasToken reports whether a comma-separated header value lists token.
func hasToken(vs []string, token string) bool {
	for _, v := range vs {
		for part := range strings.SplitSeq(v, ",") {
			if strings.EqualFold(strings.TrimSpace(part), token) {
				return true
			}
		}
	}
	return false
}

func writeLength(b *bytes.Buffer, n int64) {
	var num [20]byte
	b.WriteString("Content-Length: ")
	b.Write(strconv.AppendInt(num[:0], n, 10))
	b.WriteString("\r\n")
}

// bodyAllowed reports whether status may have a body (RFC 9112 6.3).
func bodyAllowed(status int) bool {
	return status >= 200 && status != http.StatusNoContent && status != http.StatusNotModified
}

// WriteHeader writes "key: value\r\n" as net/http does: CR and LF in the
// value become spaces, surrounding blanks are trimmed. The Runtime API's
// answers use it too.
func WriteHeader(b *bytes.Buffer, key, value string) {
	b.WriteString(key)
	b.WriteString(": ")
	value = strings.Trim(value, " \t")
	if strings.ContainsAny(value, "\r\n") {
		value = strings.NewReplacer("\r", " ", "\n", " ").Replace(value)
	}
	b.WriteString(value)
	b.WriteString("\r\n")
}

// validHeaderName reports whether k is an HTTP token (RFC 9110 5.6.2).
func validHeaderName(k string) bool {
	if k == "" {
		return false
	}
	for i := 0; i < len(k); i++ {
		c := k[i]
		if c <= ' ' || c >= 0x7f || strings.IndexByte(`"(),/:;<=>?@[\]{}`, c) >= 0 {
			return false
		}
	}
	return true
}

var dateCache atomic.Pointer[dateEntry]

type dateEntry struct {
	sec int64
	s   string
}

// Date returns the current time in HTTP's format (a Date header),
// computed once a second.
func Date() string {
	now := time.Now()
	if d := dateCache.Load(); d != nil && d.sec == now.Unix() {
		return d.s
	}
	d := &dateEntry{sec: now.Unix(), s: now.UTC().Format(http.TimeFormat)}
	dateCache.Store(d)
	return d.s
}
