package runtimeapi

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"
)

// MaxResponseBytes is the largest response or error body a runtime may post
// (6 MiB + 100 bytes, Lambda's hard cap).
const MaxResponseBytes = 6*1024*1024 + 100

// MaxInitErrorBytes bounds /runtime/init/error bodies.
const MaxInitErrorBytes = 1 << 20

// Invoke is what GET /runtime/invocation/next returns to the runtime.
type Invoke struct {
	RequestID       string
	DeadlineMs      int64  // absolute deadline, Unix epoch milliseconds
	FunctionARN     string // as invoked, with :qualifier when the caller used one
	TraceID         string // Lambda-Runtime-Trace-Id value
	ClientContext   string // decoded JSON, "" when absent
	CognitoIdentity string // JSON, "" when absent
	TenantID        string
	ContentType     string // "" = application/json
	Payload         []byte
}

// Response is what the runtime posted for an invocation.
type Response struct {
	RequestID string
	// Error is true for /error posts and for streamed responses that ended
	// with an error trailer, and for platform failures detected while
	// reading the response (see ErrorType).
	Error bool
	// ErrorType is the normalised Lambda-Runtime-Function-Error-Type (or
	// a platform type such as Function.ResponseSizeTooLarge); "" when the
	// runtime sent none.
	ErrorType   string
	ContentType string
	// Body holds the payload; its ownership passes to the Backend when
	// Respond returns nil (release it with PutBuffer).
	Body *bytes.Buffer
	// XRayCause is the X-Ray cause JSON from the
	// Lambda-Runtime-Function-XRay-Error-Cause header or the errorCause
	// member of an application/vnd.aws.lambda.error.cause+json body.
	XRayCause []byte
}

// Backend is the environment the server fronts. Calls may come from several
// goroutines (one per runtime connection).
type Backend interface {
	// Next is called for the runtime's GET /runtime/invocation/next. It
	// returns the invocation to answer with at once, or (nil, nil) after
	// keeping w: the backend then answers through w.Claim and w.Send once
	// an invocation is assigned (Claim fails when the runtime went away).
	Next(w *Waiter) (*Invoke, error)
	// Respond delivers a response or error for the current invocation.
	Respond(r *Response) error
	// InitError reports a failure during Init (before the first Next).
	InitError(errorType string, body []byte) error
}

// Error is an error the server renders as {"errorType","errorMessage"} with
// Status. Backends return it to choose the status and type.
type Error struct {
	Status  int
	Type    string
	Message string
}

func (e *Error) Error() string { return e.Type + ": " + e.Message }

// Errors backends return.
var (
	ErrInvalidRequestID = &Error{Status: http.StatusBadRequest, Type: "InvalidRequestID", Message: "Invalid request ID"}
	ErrInternal         = &Error{Status: http.StatusInternalServerError, Type: "InternalServerError", Message: "Internal Server Error"}
)

// StateTransitionError reports a call that the environment's state does not
// allow (403 InvalidStateTransition).
func StateTransitionError(from, to string) *Error {
	return &Error{Status: http.StatusForbidden, Type: "InvalidStateTransition",
		Message: fmt.Sprintf("State transition from %s to %s failed for runtime. Error: State transition is not allowed", from, to)}
}

// Header names of the Runtime API.
const (
	hdrRequestID       = "Lambda-Runtime-Aws-Request-Id"
	hdrDeadline        = "Lambda-Runtime-Deadline-Ms"
	hdrFunctionARN     = "Lambda-Runtime-Invoked-Function-Arn"
	hdrTraceID         = "Lambda-Runtime-Trace-Id"
	hdrClientContext   = "Lambda-Runtime-Client-Context"
	hdrCognito         = "Lambda-Runtime-Cognito-Identity"
	hdrTenantID        = "Lambda-Runtime-Aws-Tenant-Id"
	hdrErrorType       = "Lambda-Runtime-Function-Error-Type"
	hdrErrorBody       = "Lambda-Runtime-Function-Error-Body"
	hdrXRayCause       = "Lambda-Runtime-Function-Xray-Error-Cause"
	hdrResponseMode    = "Lambda-Runtime-Function-Response-Mode"
	contentTypeCause   = "application/vnd.aws.lambda.error.cause+json"
	contentTypeJSON    = "application/json"
	maxPooledBufferCap = 1 << 20
)

var bufPool = sync.Pool{New: func() any { return new(bytes.Buffer) }}

// GetBuffer returns an empty buffer from the package's pool.
func GetBuffer() *bytes.Buffer { return bufPool.Get().(*bytes.Buffer) }

// PutBuffer returns a buffer obtained from Response.Body or GetBuffer to the
// pool. Very large buffers are dropped instead of pooled.
func PutBuffer(b *bytes.Buffer) {
	if b == nil || b.Cap() > maxPooledBufferCap {
		return
	}
	b.Reset()
	bufPool.Put(b)
}

var errorTypePattern = regexp.MustCompile(`^(Runtime|Function)\.[A-Z][a-zA-Z]+$`)

// NormalizeErrorType applies Lambda's rule to a runtime-supplied error type:
// Runtime.X / Function.X (X capitalised, letters only) pass, other Function.*
// become Function.Unknown and anything else Runtime.Unknown. "" stays "".
func NormalizeErrorType(t string) string {
	switch {
	case t == "":
		return ""
	case errorTypePattern.MatchString(t):
		return t
	case strings.HasPrefix(t, "Function."):
		return "Function.Unknown"
	default:
		return "Runtime.Unknown"
	}
}

// Server is one environment's Runtime API listener.
type Server struct {
	ln      net.Listener
	backend Backend
	log     *slog.Logger
	mux     http.Handler
	ctx     context.Context
	cancel  context.CancelFunc

	mu     sync.Mutex
	conns  map[net.Conn]struct{}
	closed bool
}

// Listen opens a listener on addr (use "127.0.0.1:0" for a fresh port) for
// backend. Call Serve to answer requests.
func Listen(addr string, backend Backend, log *slog.Logger) (*Server, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("runtimeapi: listen %s: %w", addr, err)
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	s := &Server{ln: ln, backend: backend, log: log, conns: make(map[net.Conn]struct{})}
	s.ctx, s.cancel = context.WithCancel(context.Background())
	s.mux = s.Handler()
	return s, nil
}

// Addr returns host:port, the value for AWS_LAMBDA_RUNTIME_API.
func (s *Server) Addr() string { return s.ln.Addr().String() }

// Serve answers requests until Close (one goroutine per connection, see
// conn.go). It returns nil after Close.
func (s *Server) Serve() error {
	for {
		nc, err := s.ln.Accept()
		if err != nil {
			s.mu.Lock()
			closed := s.closed
			s.mu.Unlock()
			if closed {
				return nil
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				time.Sleep(5 * time.Millisecond)
				continue
			}
			return fmt.Errorf("runtimeapi: serve: %w", err)
		}
		s.mu.Lock()
		if s.closed {
			s.mu.Unlock()
			_ = nc.Close()
			return nil
		}
		s.conns[nc] = struct{}{}
		s.mu.Unlock()
		go s.serveConn(nc)
	}
}

func (s *Server) dropConn(nc net.Conn) {
	_ = nc.Close()
	s.mu.Lock()
	delete(s.conns, nc)
	s.mu.Unlock()
}

// Close closes the listener and every connection (pending GET /next
// requests are cancelled: their Waiters can no longer be claimed).
func (s *Server) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	err := s.ln.Close()
	for nc := range s.conns {
		_ = nc.Close()
	}
	s.mu.Unlock()
	s.cancel()
	return err
}

// Handler returns the HTTP handler of the Runtime, Extensions, Telemetry
// and Logs APIs for the server's backend.
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /2018-06-01/runtime/invocation/next", s.next)
	mux.HandleFunc("POST /2018-06-01/runtime/invocation/{id}/response", s.response)
	mux.HandleFunc("POST /2018-06-01/runtime/invocation/{id}/error", s.invokeError)
	mux.HandleFunc("POST /2018-06-01/runtime/init/error", s.initError)
	mux.HandleFunc("GET /2018-06-01/ping", func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, "pong") })
	mux.HandleFunc("POST /2020-01-01/extension/register", s.extRegister)
	mux.HandleFunc("GET /2020-01-01/extension/event/next", s.extNext)
	mux.HandleFunc("POST /2020-01-01/extension/init/error", s.extError("init"))
	mux.HandleFunc("POST /2020-01-01/extension/exit/error", s.extError("exit"))
	mux.HandleFunc("PUT /2022-07-01/telemetry", notSupported("Telemetry.NotSupported", "Telemetry API is not supported"))
	mux.HandleFunc("PUT /2020-08-15/logs", notSupported("Logs.NotSupported", "Logs API is not supported"))
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, &Error{Status: http.StatusNotFound, Type: "InvalidRequestFormat", Message: "unknown path " + r.URL.Path})
	})
	return mux
}

// Canonical header keys, preallocated so the hot path skips canonicalisation.
var (
	keyRequestID     = http.CanonicalHeaderKey(hdrRequestID)
	keyDeadline      = http.CanonicalHeaderKey(hdrDeadline)
	keyFunctionARN   = http.CanonicalHeaderKey(hdrFunctionARN)
	keyTraceID       = http.CanonicalHeaderKey(hdrTraceID)
	keyClientContext = http.CanonicalHeaderKey(hdrClientContext)
	keyCognito       = http.CanonicalHeaderKey(hdrCognito)
	keyTenantID      = http.CanonicalHeaderKey(hdrTenantID)
	keyContentType   = "Content-Type"
	keyContentLength = "Content-Length"
)

func (s *Server) next(w http.ResponseWriter, r *http.Request) {
	if cw, ok := w.(*respWriter); ok {
		wt := cw.c.newWaiter()
		inv, err := s.backend.Next(wt)
		switch {
		case err != nil:
			writeError(w, err)
		case inv != nil:
			writeNext(w, inv)
		default:
			cw.parked = wt // answered by the backend through wt
		}
		return
	}
	// Served by another http.Server (Handler): wait here.
	ch := make(chan *Invoke, 1)
	wt := newWaiter(func(inv *Invoke) bool { ch <- inv; return true })
	inv, err := s.backend.Next(wt)
	if err != nil {
		writeError(w, err)
		return
	}
	if inv == nil {
		select {
		case inv = <-ch:
		case <-r.Context().Done():
			if wt.cancel() {
				writeError(w, r.Context().Err())
				return
			}
			inv = <-ch
		}
	}
	writeNext(w, inv)
}

func writeNext(w http.ResponseWriter, inv *Invoke) {
	h := w.Header()
	h[keyRequestID] = []string{inv.RequestID}
	h[keyDeadline] = []string{strconv.FormatInt(inv.DeadlineMs, 10)}
	h[keyFunctionARN] = []string{inv.FunctionARN}
	if inv.TraceID != "" {
		h[keyTraceID] = []string{inv.TraceID}
	}
	if inv.ClientContext != "" {
		h[keyClientContext] = []string{inv.ClientContext}
	}
	if inv.CognitoIdentity != "" {
		h[keyCognito] = []string{inv.CognitoIdentity}
	}
	if inv.TenantID != "" {
		h[keyTenantID] = []string{inv.TenantID}
	}
	ct := inv.ContentType
	if ct == "" {
		ct = contentTypeJSON
	}
	h[keyContentType] = []string{ct}
	h[keyContentLength] = []string{strconv.Itoa(len(inv.Payload))}
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(inv.Payload)
}

// readBody reads r's body into a pooled buffer. tooLarge reports a body
// over MaxResponseBytes (the buffer then holds a prefix only).
func readBody(r *http.Request) (buf *bytes.Buffer, tooLarge bool, err error) {
	buf = GetBuffer()
	if r.ContentLength > MaxResponseBytes {
		return buf, true, nil
	}
	if r.ContentLength > 0 {
		buf.Grow(int(r.ContentLength))
	}
	n, err := buf.ReadFrom(io.LimitReader(r.Body, MaxResponseBytes+1))
	if err != nil {
		return buf, false, err
	}
	return buf, n > MaxResponseBytes, nil
}

var accepted = []byte(`{"status":"OK"}`)

func writeAccepted(w http.ResponseWriter) {
	h := w.Header()
	h[keyContentType] = []string{contentTypeJSON}
	h[keyContentLength] = []string{"15"}
	w.WriteHeader(http.StatusAccepted)
	_, _ = w.Write(accepted)
}

// platformError is the body Lambda returns to the caller for errors the
// platform detects.
func platformError(errorType, msg string) *bytes.Buffer {
	b := GetBuffer()
	_ = json.NewEncoder(b).Encode(struct {
		ErrorMessage string `json:"errorMessage"`
		ErrorType    string `json:"errorType"`
	}{msg, errorType})
	b.Truncate(b.Len() - 1) // Encoder's newline
	return b
}

func (s *Server) response(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	mode := r.Header.Get(hdrResponseMode)
	if mode != "" && mode != "streaming" {
		_, _ = io.Copy(io.Discard, io.LimitReader(r.Body, MaxResponseBytes+1))
		resp := &Response{RequestID: id, Error: true, ErrorType: "Runtime.InvalidResponseModeHeader",
			ContentType: contentTypeJSON,
			Body:        platformError("Runtime.InvalidResponseModeHeader", "Invalid response mode header: "+mode)}
		if err := s.backend.Respond(resp); err != nil {
			PutBuffer(resp.Body)
			writeError(w, err)
			return
		}
		writeError(w, &Error{Status: http.StatusBadRequest, Type: "InvalidFunctionResponseMode",
			Message: "Invalid function response mode " + mode})
		return
	}
	buf, tooLarge, err := readBody(r)
	resp := &Response{RequestID: id, ContentType: r.Header.Get(keyContentType), Body: buf}
	var reply *Error
	switch {
	case err != nil:
		PutBuffer(buf)
		resp.Error, resp.ErrorType, resp.ContentType = true, "Runtime.TruncatedResponse", contentTypeJSON
		resp.Body = platformError("Runtime.TruncatedResponse", "RequestId: "+id+" Error: runtime response was truncated: "+err.Error())
		reply = &Error{Status: http.StatusBadRequest, Type: "TruncatedHTTPRequest", Message: err.Error()}
	case tooLarge:
		PutBuffer(buf)
		resp.Error, resp.ErrorType, resp.ContentType = true, "Function.ResponseSizeTooLarge", contentTypeJSON
		resp.Body = platformError("Function.ResponseSizeTooLarge",
			fmt.Sprintf("Response payload size exceeded maximum allowed payload size (%d bytes).", MaxResponseBytes))
		reply = &Error{Status: http.StatusRequestEntityTooLarge, Type: "RequestEntityTooLarge",
			Message: fmt.Sprintf("Exceeded maximum allowed payload size (%d bytes).", MaxResponseBytes)}
	default:
		// A streamed response may end with an error trailer.
		if et := r.Trailer.Get(hdrErrorType); et != "" {
			resp.Error, resp.ErrorType = true, NormalizeErrorType(et)
			if eb := r.Trailer.Get(hdrErrorBody); eb != "" {
				if dec, derr := base64.StdEncoding.DecodeString(eb); derr == nil {
					buf.Reset()
					buf.Write(dec)
					resp.ContentType = contentTypeJSON
				}
			}
		}
	}
	if err := s.backend.Respond(resp); err != nil {
		PutBuffer(resp.Body)
		writeError(w, err)
		return
	}
	if reply != nil {
		writeError(w, reply)
		return
	}
	writeAccepted(w)
}

func (s *Server) invokeError(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	buf, tooLarge, err := readBody(r)
	if err != nil || tooLarge {
		PutBuffer(buf)
		if err != nil {
			writeError(w, &Error{Status: http.StatusBadRequest, Type: "TruncatedHTTPRequest", Message: err.Error()})
		} else {
			writeError(w, &Error{Status: http.StatusRequestEntityTooLarge, Type: "RequestEntityTooLarge",
				Message: fmt.Sprintf("Exceeded maximum allowed payload size (%d bytes).", MaxResponseBytes)})
		}
		return
	}
	resp := &Response{
		RequestID:   id,
		Error:       true,
		ErrorType:   NormalizeErrorType(r.Header.Get(hdrErrorType)),
		ContentType: r.Header.Get(keyContentType),
		Body:        buf,
	}
	if c := r.Header.Get(hdrXRayCause); c != "" {
		resp.XRayCause = []byte(c)
	}
	if strings.HasPrefix(resp.ContentType, contentTypeCause) {
		stripErrorCause(resp)
	}
	if err := s.backend.Respond(resp); err != nil {
		PutBuffer(resp.Body)
		writeError(w, err)
		return
	}
	writeAccepted(w)
}

// stripErrorCause moves the errorCause member of an error-cause body into
// XRayCause and leaves the rest as a plain JSON error body.
func stripErrorCause(resp *Response) {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(resp.Body.Bytes(), &m); err != nil {
		return
	}
	if c, ok := m["errorCause"]; ok {
		if len(resp.XRayCause) == 0 {
			resp.XRayCause = []byte(c)
		}
		delete(m, "errorCause")
		b, err := json.Marshal(m)
		if err != nil {
			return
		}
		resp.Body.Reset()
		resp.Body.Write(b)
	}
	resp.ContentType = contentTypeJSON
}

func (s *Server) initError(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(io.LimitReader(r.Body, MaxInitErrorBytes))
	if err != nil {
		writeError(w, &Error{Status: http.StatusBadRequest, Type: "TruncatedHTTPRequest", Message: err.Error()})
		return
	}
	if err := s.backend.InitError(NormalizeErrorType(r.Header.Get(hdrErrorType)), body); err != nil {
		writeError(w, err)
		return
	}
	writeAccepted(w)
}

func writeError(w http.ResponseWriter, err error) {
	var e *Error
	if !errors.As(err, &e) {
		if errors.Is(err, context.Canceled) {
			// The runtime went away; nobody reads the answer.
			e = &Error{Status: http.StatusGone, Type: "Gone", Message: "environment is shutting down"}
		} else {
			e = &Error{Status: http.StatusInternalServerError, Type: "InternalServerError", Message: err.Error()}
		}
	}
	b, _ := json.Marshal(struct {
		ErrorType    string `json:"errorType"`
		ErrorMessage string `json:"errorMessage"`
	}{e.Type, e.Message})
	h := w.Header()
	h[keyContentType] = []string{contentTypeJSON}
	w.WriteHeader(e.Status)
	_, _ = w.Write(b)
}

func notSupported(typ, msg string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, io.LimitReader(r.Body, 1<<20))
		writeError(w, &Error{Status: http.StatusAccepted, Type: typ, Message: msg})
	}
}
