package lambdaapi

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"math/rand/v2"
	"net/http"
	"strconv"
	"time"

	"github.com/fluoro/fluoro/invoker/engine"
	"github.com/fluoro/fluoro/invoker/runtimeapi"
	"github.com/fluoro/fluoro/invoker/store"
	"github.com/fluoro/fluoro/invoker/xrayemit"
)

// Canonical response header keys, preset to skip canonicalisation.
const (
	hdrExecutedVersion = "X-Amz-Executed-Version"
	hdrFunctionError   = "X-Amz-Function-Error"
	hdrLogResult       = "X-Amz-Log-Result"
	hdrRequestID       = "X-Amzn-Requestid"
	hdrTraceID         = "X-Amzn-Trace-Id"
	maxClientContext   = 3583
)

type specKey struct{ name, version, revision string }

// pickVersion resolves a qualifier to the version to run, applying an
// alias's routing weights.
func (s *Server) pickVersion(f *store.Function, q string) (string, error) {
	if q == "" || q == store.Latest {
		return store.Latest, nil
	}
	if versionRE.MatchString(q) {
		if f.Version(q) == nil {
			return "", notFound("Function not found: %s:%s", s.functionARN(f.Name), q)
		}
		return q, nil
	}
	a, ok := f.Aliases[q]
	if !ok {
		return "", notFound("Function not found: %s:%s", s.functionARN(f.Name), q)
	}
	if len(a.AdditionalVersionWeights) > 0 {
		x := rand.Float64()
		for v, w := range a.AdditionalVersionWeights {
			if x < w {
				return v, nil
			}
			x -= w
		}
	}
	return a.FunctionVersion, nil
}

// spec returns the (cached) engine spec of a function version.
func (s *Server) spec(f *store.Function, version string) (*engine.Spec, error) {
	c, ok := f.ConfigOf(version)
	if !ok {
		return nil, notFound("Function not found: %s:%s", s.functionARN(f.Name), version)
	}
	k := specKey{f.Name, version, c.RevisionID}
	s.specMu.Lock()
	sp := s.specs[k]
	s.specMu.Unlock()
	if sp != nil {
		return sp, nil
	}
	dir, err := s.set.Store.CodeDir(c.Code, s.cfg.WorkDir)
	if err != nil {
		return nil, serviceError(err)
	}
	sp = &engine.Spec{
		FunctionName: f.Name, FunctionARN: s.functionARN(f.Name), Version: version, Revision: c.RevisionID,
		Runtime: c.Runtime, Handler: c.Handler, MemoryMB: c.MemorySize, Timeout: time.Duration(c.Timeout) * time.Second,
		Env: c.Environment, CodeDir: dir, LogFormat: c.Logging.LogFormat, LogLevel: c.Logging.ApplicationLogLevel,
		SystemLevel: c.Logging.SystemLogLevel, LogGroup: c.Logging.LogGroup,
	}
	s.specMu.Lock()
	if old := s.specs[k]; old != nil {
		sp = old
	} else {
		s.specs[k] = sp
	}
	s.specMu.Unlock()
	return sp, nil
}

func (s *Server) forgetSpecs(name string) {
	s.specMu.Lock()
	defer s.specMu.Unlock()
	for k := range s.specs {
		if k.name == name {
			delete(s.specs, k)
		}
	}
}

// traceDecision applies Lambda's sampling rules: an upstream Sampled=1/0
// decides; otherwise Active functions ask the sampler, PassThrough ones do
// not trace.
func (s *Server) traceDecision(header, mode, name string) (xrayemit.Header, bool) {
	h, err := xrayemit.ParseHeader(header)
	if err != nil {
		h = xrayemit.Header{}
	}
	if h.Root == "" {
		h.Root = xrayemit.NewTraceID(time.Now())
		h.Parent = ""
	}
	switch h.Sampled {
	case '1':
		return h, true
	case '0':
		return h, false
	}
	if mode != "Active" {
		return h, false
	}
	return h, s.set.Sampler == nil || s.set.Sampler.Sample(name, s.functionARN(name))
}

func (s *Server) invoke(w http.ResponseWriter, r *http.Request) {
	recv := time.Now()
	name, q, err := nameAndQualifier(r.PathValue("name"), queryValue(r, "Qualifier"))
	if err != nil {
		drain(r)
		writeError(w, err)
		return
	}
	h := r.Header
	itype := h.Get("X-Amz-Invocation-Type")
	switch itype {
	case "", "RequestResponse", "Event", "DryRun":
	default:
		drain(r)
		writeError(w, invalidParam("1 validation error detected: Value '%s' at 'invocationType' failed to satisfy constraint: Member must satisfy enum value set: [Event, RequestResponse, DryRun]", itype))
		return
	}
	tail := false
	switch lt := h.Get("X-Amz-Log-Type"); lt {
	case "", "None":
	case "Tail":
		tail = itype != "Event" && itype != "DryRun"
	default:
		drain(r)
		writeError(w, invalidParam("1 validation error detected: Value '%s' at 'logType' failed to satisfy constraint: Member must satisfy enum value set: [None, Tail]", lt))
		return
	}
	f, ok := s.set.Store.Get(name)
	if !ok {
		drain(r)
		writeError(w, notFound("Function not found: %s", s.functionARN(name)))
		return
	}
	version, err := s.pickVersion(f, q)
	if err != nil {
		drain(r)
		writeError(w, err)
		return
	}
	limit := s.cfg.MaxSyncPayload
	if itype == "Event" {
		limit = s.cfg.MaxAsyncPayload
	}
	body := runtimeapi.GetBuffer()
	defer runtimeapi.PutBuffer(body)
	if r.ContentLength > int64(limit) {
		drain(r)
		writeError(w, errf(http.StatusRequestEntityTooLarge, "RequestTooLargeException",
			"Request must be smaller than %d bytes for the InvokeFunction operation", limit))
		return
	}
	if r.ContentLength > 0 {
		body.Grow(int(r.ContentLength))
	}
	if n, err := body.ReadFrom(io.LimitReader(r.Body, int64(limit)+1)); err != nil {
		writeError(w, errf(http.StatusBadRequest, "InvalidRequestContentException", "Could not read request body: %v", err))
		return
	} else if n > int64(limit) {
		drain(r)
		writeError(w, errf(http.StatusRequestEntityTooLarge, "RequestTooLargeException",
			"Request must be smaller than %d bytes for the InvokeFunction operation", limit))
		return
	}
	payload := body.Bytes()
	if len(payload) == 0 {
		payload = emptyEvent
	} else if !json.Valid(payload) {
		writeError(w, errf(http.StatusBadRequest, "InvalidRequestContentException",
			"Could not parse request body into json: Could not parse payload into json: Unexpected character or end of input at byte %d", invalidOffset(payload)))
		return
	}
	var clientContext string
	if cc := h.Get("X-Amz-Client-Context"); cc != "" {
		if len(cc) > maxClientContext {
			writeError(w, invalidParam("Client context must be at most %d bytes of base64.", maxClientContext))
			return
		}
		dec, err := base64.StdEncoding.DecodeString(cc)
		if err != nil || !json.Valid(dec) {
			writeError(w, invalidParam("Client context must be a valid Base64-encoded JSON object."))
			return
		}
		clientContext = string(dec)
	}
	cfg, _ := f.ConfigOf(version)
	requestID := newRequestID()
	wh := w.Header()
	wh[hdrRequestID] = []string{requestID}
	invokedARN := s.functionARN(name)
	if q != "" {
		invokedARN += ":" + q
	}
	trace, sampled := s.traceDecision(h.Get(hdrTraceID), cfg.TracingMode, name)

	switch itype {
	case "DryRun":
		w.WriteHeader(http.StatusNoContent)
		return
	case "Event":
		s.enqueueEvent(w, r.Context(), &AsyncEvent{
			RequestID: requestID, FunctionName: name, Qualifier: q, Payload: bytes.Clone(payload), Received: recv,
			TraceHeader: trace.String(), Sampled: sampled, ClientContext: clientContext,
		})
		return
	}

	spec, err := s.spec(f, version)
	if err != nil {
		writeError(w, err)
		return
	}
	serviceID := ""
	if sampled {
		serviceID = xrayID()
	}
	res, err := s.set.Engine.Invoke(r.Context(), spec, &engine.Request{
		RequestID: requestID, Payload: payload, ClientContext: clientContext,
		TenantID: h.Get("X-Amz-Tenant-Id"), InvokedARN: invokedARN, Tail: tail,
		Trace: engine.Trace{Header: trace, Sampled: sampled, ServiceSegmentID: serviceID},
	})
	if err != nil {
		var te *engine.ThrottleError
		status := http.StatusInternalServerError
		if errors.As(err, &te) {
			status = http.StatusTooManyRequests
			writeError(w, &APIError{Status: status, Code: "TooManyRequestsException", Message: "Rate Exceeded.", Reason: te.Reason, RetryAfter: 1})
		} else {
			s.log.Error("invoke", "function", name, "err", err)
			writeError(w, serviceError(err))
		}
		s.emitService(sampled, trace, serviceID, name, requestID, recv, status)
		return
	}
	defer res.Release()
	wh["Content-Type"] = []string{"application/json"}
	wh[hdrExecutedVersion] = []string{version}
	if res.FunctionError != "" {
		wh[hdrFunctionError] = []string{res.FunctionError}
	}
	if tail {
		wh[hdrLogResult] = []string{res.LogTail}
	}
	sampledFlag := "0"
	if sampled {
		sampledFlag = "1"
	}
	wh[hdrTraceID] = []string{"Root=" + trace.Root + ";Sampled=" + sampledFlag}
	wh["Content-Length"] = []string{strconv.Itoa(res.Payload.Len())}
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(res.Payload.Bytes())
	s.emitService(sampled, trace, serviceID, name, requestID, recv, http.StatusOK)
}

var emptyEvent = []byte("{}")

// queryValue is r.URL.Query().Get(key) without parsing an empty query.
func queryValue(r *http.Request, key string) string {
	if r.URL.RawQuery == "" {
		return ""
	}
	return r.URL.Query().Get(key)
}

// invalidOffset returns where JSON parsing of b fails.
func invalidOffset(b []byte) int64 {
	var v any
	err := json.Unmarshal(b, &v)
	var se *json.SyntaxError
	if errors.As(err, &se) {
		return se.Offset
	}
	return 0
}

// drain discards a request body so the connection can be reused.
func drain(r *http.Request) {
	_, _ = io.Copy(io.Discard, io.LimitReader(r.Body, 8<<20))
}

// emitService sends the AWS::Lambda segment of a synchronous invocation.
func (s *Server) emitService(sampled bool, trace xrayemit.Header, id, name, requestID string, start time.Time, status int) {
	if !sampled || s.set.Emitter == nil {
		return
	}
	if id == "" {
		id = xrayID()
	}
	doc := xrayemit.NewServiceSegment(xrayemit.Service{
		TraceID: trace.Root, ID: id, ParentID: trace.Parent, FunctionName: name, FunctionARN: s.functionARN(name),
		RequestID: requestID, Start: start, End: time.Now(), Status: status,
		Throttle: status == http.StatusTooManyRequests, Fault: status >= 500,
	})
	_ = s.set.Emitter.Emit(context.Background(), doc)
}

func (s *Server) enqueueEvent(w http.ResponseWriter, ctx context.Context, ev *AsyncEvent) {
	if s.set.Async == nil {
		writeError(w, errf(http.StatusInternalServerError, "ServiceException", "Event invocations are not enabled on this invoker"))
		return
	}
	if ev.Sampled {
		ev.ServiceSegmentID = xrayID()
	}
	if err := s.set.Async.Enqueue(ctx, ev); err != nil {
		s.log.Error("enqueue event", "function", ev.FunctionName, "err", err)
		writeError(w, serviceError(err))
		return
	}
	w.WriteHeader(http.StatusAccepted)
}

// functionLogs serves a function's recent log events (extension).
func (s *Server) functionLogs(w http.ResponseWriter, r *http.Request) {
	name, _, err := parseFunctionName(r.PathValue("name"))
	if err != nil {
		writeError(w, err)
		return
	}
	if _, ok := s.set.Store.Get(name); !ok {
		writeError(w, notFound("Function not found: %s", s.functionARN(name)))
		return
	}
	q := r.URL.Query()
	limit := 100
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 10000 {
			writeError(w, invalidParam("limit must be between 1 and 10000"))
			return
		}
		limit = n
	}
	var after uint64
	if v := q.Get("after"); v != "" {
		n, err := strconv.ParseUint(v, 10, 64)
		if err != nil {
			writeError(w, invalidParam("after must be a sequence number"))
			return
		}
		after = n
	}
	evs := s.set.Engine.Logs().Recent(name, after, limit)
	last := after
	if len(evs) > 0 {
		last = evs[len(evs)-1].Seq
	}
	writeJSON(w, http.StatusOK, map[string]any{"Events": evs, "LastSeq": last, "LogGroupName": "/aws/lambda/" + name})
}

// deadLetters serves a function's dead-letter records (extension).
func (s *Server) deadLetters(w http.ResponseWriter, r *http.Request) {
	name, _, err := parseFunctionName(r.PathValue("name"))
	if err != nil {
		writeError(w, err)
		return
	}
	if _, ok := s.set.Store.Get(name); !ok {
		writeError(w, notFound("Function not found: %s", s.functionARN(name)))
		return
	}
	var recs []any
	if s.set.Async != nil {
		recs = s.set.Async.DeadLetters(name, 1000)
	}
	if recs == nil {
		recs = []any{}
	}
	writeJSON(w, http.StatusOK, map[string]any{"DeadLetters": recs})
}

// EventOutcome is the result of one attempt of an Event invocation.
type EventOutcome struct {
	// Status is what a synchronous Invoke would have answered: 200 (success
	// or function error), 429 (throttled), 404 (function or qualifier gone),
	// 500.
	Status          int
	ExecutedVersion string
	FunctionError   string
	Payload         []byte
	// Message explains a non-200 status.
	Message string
	// FunctionARN is the ARN of the version that ran (for destination
	// records).
	FunctionARN string
	Start, End  time.Time
}

// InvokeEvent makes one attempt of an accepted Event invocation: the alias
// weights and the function's configuration are applied at attempt time, and
// the function segment (when the event is sampled) hangs under the event's
// AWS::Lambda segment.
func (s *Server) InvokeEvent(ctx context.Context, ev *AsyncEvent) EventOutcome {
	out := EventOutcome{Start: time.Now()}
	defer func() { out.End = time.Now() }()
	f, ok := s.set.Store.Get(ev.FunctionName)
	if !ok {
		out.Status, out.Message = http.StatusNotFound, "Function not found: "+s.functionARN(ev.FunctionName)
		return out
	}
	version, err := s.pickVersion(f, ev.Qualifier)
	if err != nil {
		out.Status, out.Message = http.StatusNotFound, err.Error()
		return out
	}
	out.ExecutedVersion = version
	out.FunctionARN = s.functionARN(f.Name) + ":" + version
	spec, err := s.spec(f, version)
	if err != nil {
		out.Status, out.Message = http.StatusInternalServerError, err.Error()
		return out
	}
	trace, _ := xrayemit.ParseHeader(ev.TraceHeader)
	invokedARN := s.functionARN(f.Name)
	if ev.Qualifier != "" {
		invokedARN += ":" + ev.Qualifier
	}
	res, err := s.set.Engine.Invoke(ctx, spec, &engine.Request{
		RequestID: ev.RequestID, Payload: ev.Payload, ClientContext: ev.ClientContext, InvokedARN: invokedARN,
		Trace: engine.Trace{Header: trace, Sampled: ev.Sampled, ServiceSegmentID: ev.ServiceSegmentID},
	})
	if err != nil {
		var te *engine.ThrottleError
		if errors.As(err, &te) {
			out.Status, out.Message = http.StatusTooManyRequests, "Rate Exceeded. ("+te.Reason+")"
		} else {
			out.Status, out.Message = http.StatusInternalServerError, err.Error()
		}
		return out
	}
	defer res.Release()
	out.Status = http.StatusOK
	out.FunctionError = res.FunctionError
	out.Payload = bytes.Clone(res.Payload.Bytes())
	return out
}

// EmitEventSegment sends the AWS::Lambda segment of a finished, sampled
// Event invocation: from receipt to the end of the last attempt, with the
// queue wait ("Dwell Time") and one "Attempt #n" subsegment per attempt.
func (s *Server) EmitEventSegment(ev *AsyncEvent, attempts []xrayemit.Span, end time.Time) {
	if !ev.Sampled || s.set.Emitter == nil {
		return
	}
	trace, _ := xrayemit.ParseHeader(ev.TraceHeader)
	svc := xrayemit.Service{
		TraceID: trace.Root, ID: ev.ServiceSegmentID, ParentID: trace.Parent, FunctionName: ev.FunctionName,
		FunctionARN: s.functionARN(ev.FunctionName), RequestID: ev.RequestID, Start: ev.Received, End: end,
		Status: http.StatusAccepted, Attempts: attempts,
	}
	if len(attempts) > 0 {
		svc.DwellStart, svc.DwellEnd = ev.Received, attempts[0].Start
	}
	_ = s.set.Emitter.Emit(context.Background(), xrayemit.NewServiceSegment(svc))
}

// FunctionARN returns the unqualified ARN of a function name.
func (s *Server) FunctionARN(name string) string { return s.functionARN(name) }
