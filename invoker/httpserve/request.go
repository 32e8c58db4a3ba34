package httpserve

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httputil"
	"net/textproto"
	"net/url"
	"strconv"
	"strings"
)

// ReadRequest reads one request from br as http.ReadRequest does, with ctx
// as its context. The usual requests of the invoker's clients — HTTP/1.1, a
// header that fits br's buffer, a body of Content-Length bytes or chunked
// (aws-lambda-go posts responses chunked, with a declared trailer) — are
// parsed from the buffer with a few allocations (the header as one string
// whose substrings become keys and values, the header map with one backing
// array for its values, the URL, the request, the body); any other
// request, and every malformed one, goes to http.ReadRequest, so results
// and errors are the same (a differential test and fuzz target check it).
func ReadRequest(ctx context.Context, br *bufio.Reader) (*http.Request, error) {
	if hdr := peekHeader(br); hdr != nil {
		if r, ok := parseRequest(hdr); ok {
			_, _ = br.Discard(len(hdr))
			r2 := r.WithContext(ctx)
			switch {
			case r2.ContentLength > 0:
				r2.Body = &body{r: br, n: r2.ContentLength}
			case r2.ContentLength < 0:
				r2.Body = &chunkedBody{br: br, cr: httputil.NewChunkedReader(br), req: r2}
			default:
				r2.Body = http.NoBody
			}
			return r2, nil
		}
	}
	r, err := http.ReadRequest(br)
	if err != nil {
		return nil, err
	}
	r2 := r.WithContext(ctx)
	if r.Trailer == nil && len(r.TransferEncoding) > 0 {
		// net/http sets the trailer of a chunked body on the request it
		// read, r, when the body ends: show it on r2 too.
		r2.Body = &trailerCopy{ReadCloser: r.Body, from: r, to: r2}
	}
	return r2, nil
}

// trailerCopy copies a trailer net/http gave one request to its copy.
type trailerCopy struct {
	io.ReadCloser
	from, to *http.Request
}

func (t *trailerCopy) Read(p []byte) (int, error) {
	n, err := t.ReadCloser.Read(p)
	if err == io.EOF && t.to.Trailer == nil {
		t.to.Trailer = t.from.Trailer
	}
	return n, err
}

// peekHeader returns the request line and header up to and including the
// empty line that ends them, from br's buffer (reading more as needed), or
// nil when they do not fit the buffer, use bare LF line ends, or the
// connection fails first (http.ReadRequest then reports it).
func peekHeader(br *bufio.Reader) []byte {
	n := br.Buffered()
	if n == 0 {
		if _, err := br.Peek(1); err != nil {
			return nil
		}
		n = br.Buffered()
	}
	from := 0
	for {
		b, err := br.Peek(n)
		if err != nil {
			return nil
		}
		// The header ends at the first LF followed by CRLF or LF.
		for i := max(from, 1); i < len(b); i++ {
			if b[i] != '\n' {
				continue
			}
			switch {
			case i+2 < len(b) && b[i+1] == '\r' && b[i+2] == '\n':
				if b[i-1] != '\r' {
					return nil
				}
				return b[:i+3]
			case i+1 < len(b) && b[i+1] == '\n':
				return nil // bare LF
			}
		}
		from = max(len(b)-2, 0)
		if n >= br.Size() {
			return nil
		}
		if _, err := br.Peek(n + 1); err != nil {
			return nil
		}
		n = br.Buffered()
	}
}

// parseRequest parses a complete header (ending with CRLF CRLF). ok is
// false for anything outside the fast path's shape.
func parseRequest(hdr []byte) (r http.Request, ok bool) {
	s := string(hdr)
	line, rest, _ := strings.Cut(s, "\r\n")
	method, line, ok1 := strings.Cut(line, " ")
	target, proto, ok2 := strings.Cut(line, " ")
	if !ok1 || !ok2 || proto != "HTTP/1.1" || !validToken(method) || target == "" || target[0] != '/' {
		return r, false
	}
	u, ok := parseTarget(target)
	if !ok {
		return r, false
	}
	rest = rest[:len(rest)-2] // the final CRLF
	lines := strings.Count(rest, "\r\n")
	h := make(http.Header, lines)
	vals := make([]string, lines)
	haveLength := false
	for i := 0; rest != ""; i++ {
		var kv string
		kv, rest, _ = strings.Cut(rest, "\r\n")
		k, v, found := strings.Cut(kv, ":")
		if !found || !validToken(k) || !validValue(v) {
			return r, false
		}
		v = trimOWS(v)
		if !isCanonical(k) {
			k = textproto.CanonicalMIMEHeaderKey(k)
		}
		switch k {
		case "Host":
			if r.Host != "" || v == "" {
				return r, false
			}
			r.Host = v
			continue
		case "Content-Length":
			if haveLength {
				return r, false
			}
			n, err := strconv.ParseUint(v, 10, 63)
			if err != nil || v[0] == '+' {
				return r, false
			}
			r.ContentLength, haveLength = int64(n), true
		case "Pragma":
			return r, false // Cache-Control fix-up: http.ReadRequest
		case "Connection":
			if hasToken([]string{v}, "close") {
				r.Close = true
			}
		}
		vals[i] = v
		if old, dup := h[k]; dup {
			h[k] = append(old, v)
		} else {
			h[k] = vals[i : i+1 : i+1]
		}
	}
	if r.Host == "" {
		return r, false // http.ReadRequest; the server answers 400
	}
	if te, chunked := h["Transfer-Encoding"]; chunked {
		// Only a single "chunked", without Content-Length; http.ReadRequest
		// refuses or resolves the rest.
		if len(te) != 1 || !strings.EqualFold(te[0], "chunked") || haveLength {
			return r, false
		}
		delete(h, "Transfer-Encoding")
		r.TransferEncoding = []string{"chunked"}
		r.ContentLength = -1
		if declared, ok := h["Trailer"]; ok {
			delete(h, "Trailer")
			if r.Trailer, ok = declaredTrailer(declared); !ok {
				return r, false
			}
		}
	}
	r.Method = internMethod(method)
	r.URL = u
	r.Proto, r.ProtoMajor, r.ProtoMinor = "HTTP/1.1", 1, 1
	r.Header = h
	r.RequestURI = target
	return r, true
}

// declaredTrailer returns the keys a Trailer header announces, with nil
// values, as net/http does; ok is false for keys that may not be trailers.
func declaredTrailer(vs []string) (t http.Header, ok bool) {
	for _, v := range vs {
		for k := range strings.SplitSeq(v, ",") {
			if k = textproto.TrimString(k); k == "" {
				continue
			}
			k = http.CanonicalHeaderKey(k)
			switch k {
			case "Transfer-Encoding", "Trailer", "Content-Length":
				return nil, false
			}
			if t == nil {
				t = make(http.Header, 2)
			}
			t[k] = nil
		}
	}
	return t, true
}

// parseTarget parses an origin-form request target. Paths of unreserved
// characters and sub-delimiters (no escapes) with a plain query are built
// directly; others go through url.ParseRequestURI.
func parseTarget(target string) (*url.URL, bool) {
	path, query, hasQuery := strings.Cut(target, "?")
	simple := !hasQuery || query != ""
	for i := 0; simple && i < len(path); i++ {
		simple = pathByte(path[i])
	}
	for i := 0; simple && i < len(query); i++ {
		c := query[i]
		simple = c > ' ' && c < 0x7f && c != '#'
	}
	if simple {
		return &url.URL{Path: path, RawQuery: query}, true
	}
	u, err := url.ParseRequestURI(target)
	return u, err == nil
}

// pathByte reports bytes a path keeps as they are (url.URL.EscapedPath
// would not escape them, and they need no unescaping).
func pathByte(c byte) bool { return pathBytes[c] }

func validToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !tokenBytes[s[i]] {
			return false
		}
	}
	return true
}

var tokenBytes, pathBytes = func() (tok, path [256]bool) {
	for c := 0; c < 256; c++ {
		tok[c] = c > ' ' && c < 0x7f && !strings.ContainsRune(`"(),/:;<=>?@[\]{}`, rune(c))
		path[c] = 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || strings.ContainsRune("-._~$&+,/:;=@", rune(c))
	}
	return tok, path
}()

// trimOWS drops surrounding spaces and tabs.
func trimOWS(v string) string {
	for v != "" && (v[0] == ' ' || v[0] == '\t') {
		v = v[1:]
	}
	for v != "" && (v[len(v)-1] == ' ' || v[len(v)-1] == '\t') {
		v = v[:len(v)-1]
	}
	return v
}

// validValue reports header values without control bytes other than tab.
func validValue(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < ' ' && c != '\t' || c == 0x7f {
			return false
		}
	}
	return true
}

// isCanonical reports keys textproto.CanonicalMIMEHeaderKey leaves as
// they are.
func isCanonical(k string) bool {
	upper := true
	for i := 0; i < len(k); i++ {
		c := k[i]
		if upper && 'a' <= c && c <= 'z' || !upper && 'A' <= c && c <= 'Z' {
			return false
		}
		upper = c == '-'
	}
	return true
}

func internMethod(m string) string {
	switch m {
	case "GET":
		return http.MethodGet
	case "POST":
		return http.MethodPost
	case "PUT":
		return http.MethodPut
	case "DELETE":
		return http.MethodDelete
	case "HEAD":
		return http.MethodHead
	}
	return m
}

// body is a request body of a known length read from the connection's
// buffer.
type body struct {
	r      *bufio.Reader
	n      int64 // bytes left
	closed bool
}

func (b *body) Read(p []byte) (int, error) {
	if b.n <= 0 {
		return 0, io.EOF
	}
	if b.closed {
		return 0, http.ErrBodyReadAfterClose
	}
	if int64(len(p)) > b.n {
		p = p[:b.n]
	}
	n, err := b.r.Read(p)
	b.n -= int64(n)
	switch {
	case b.n == 0:
		return n, io.EOF
	case err == io.EOF:
		return n, io.ErrUnexpectedEOF
	}
	return n, err
}

// Close discards what is left of a small body, as net/http's server does,
// so the connection can serve its next request.
func (b *body) Close() error {
	if !b.closed && b.n > 0 && b.n <= maxDrainBytes {
		d, _ := b.r.Discard(int(b.n))
		b.n -= int64(d)
	}
	b.closed = true
	return nil
}

// chunkedBody is a chunked request body; the trailer that ends it goes to
// the request's Trailer, as with net/http.
type chunkedBody struct {
	br     *bufio.Reader
	cr     io.Reader // httputil's chunked decoder on br
	req    *http.Request
	eof    bool  // the body and its trailer were read
	err    error // a failure that ends reading
	closed bool
}

var errTrailerEOF = errors.New("http: unexpected EOF reading trailer")

func (b *chunkedBody) Read(p []byte) (int, error) {
	switch {
	case b.eof:
		return 0, io.EOF
	case b.closed:
		return 0, http.ErrBodyReadAfterClose
	case b.err != nil:
		return 0, b.err
	}
	n, err := b.cr.Read(p)
	if err == io.EOF {
		if terr := b.readTrailer(); terr != nil {
			err = terr
		} else {
			b.eof = true
		}
	}
	if err != nil && err != io.EOF {
		b.err = err
	}
	return n, err
}

// readTrailer reads the trailer after the last chunk (as net/http's
// body.readTrailer).
func (b *chunkedBody) readTrailer() error {
	buf, err := b.br.Peek(2)
	if len(buf) == 2 && buf[0] == '\r' && buf[1] == '\n' {
		_, _ = b.br.Discard(2)
		return nil
	}
	if len(buf) < 2 {
		return errTrailerEOF
	}
	if err != nil {
		return err
	}
	// A trailer must end within the buffer (no unbounded trailers).
	if !upcomingDoubleCRLF(b.br) {
		return errors.New("http: suspiciously long trailer after chunked body")
	}
	hdr, err := textproto.NewReader(b.br).ReadMIMEHeader()
	if err != nil {
		if err == io.EOF {
			return errTrailerEOF
		}
		return err
	}
	if b.req.Trailer == nil {
		b.req.Trailer = http.Header(hdr)
		return nil
	}
	for k, vs := range hdr {
		b.req.Trailer[k] = vs
	}
	return nil
}

func upcomingDoubleCRLF(r *bufio.Reader) bool {
	for n := 4; ; n++ {
		buf, err := r.Peek(n)
		if len(buf) >= 4 && string(buf[len(buf)-4:]) == "\r\n\r\n" {
			return true
		}
		if err != nil {
			return false
		}
	}
}

// Close discards what is left of a small body, so the connection can serve
// its next request.
func (b *chunkedBody) Close() error {
	if !b.closed && !b.eof && b.err == nil {
		_, _ = io.CopyN(io.Discard, b, maxDrainBytes)
	}
	b.closed = true
	return nil
}
