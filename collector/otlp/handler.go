package otlp

import (
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"strconv"
	"sync/atomic"

	"go.opentelemetry.io/collector/pdata/ptrace/ptraceotlp"
	spb "google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
)

// TracesPath is the OTLP/HTTP path of trace exports.
const TracesPath = "/v1/traces"

// MaxBodyBytes bounds an export request, after decompression.
const MaxBodyBytes = 32 << 20

// Consumer takes the segment documents a request's spans became.
type Consumer interface {
	// ConsumeDocuments queues X-Ray segment documents. It returns how many
	// it refused with the first refusal's reason, and whether it refused
	// them because it is full (the client should retry later).
	ConsumeDocuments(docs [][]byte) (refused int, reason string, full bool)
}

// Stats counts what the handler received.
type Stats struct {
	Requests, BadRequests, Spans, RejectedSpans atomic.Int64
}

// Handler serves POST /v1/traces: protobuf (application/x-protobuf) or
// JSON (application/json) ExportTraceServiceRequests, optionally gzip
// encoded. Answers are ExportTraceServiceResponses in the request's
// encoding, with partial_success when spans were rejected; errors are
// google.rpc.Status messages with 400 (malformed), 413 (too large), 415
// (unsupported content type) or 503 with Retry-After (queue full), as the
// OTLP/HTTP specification asks.
type Handler struct {
	Consumer Consumer
	Log      *slog.Logger
	Stats    Stats
}

func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path != TracesPath {
		http.Error(w, "404 page not found: OTLP/HTTP serves POST "+TracesPath, http.StatusNotFound)
		return
	}
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		http.Error(w, "405 method not allowed: use POST", http.StatusMethodNotAllowed)
		return
	}
	h.Stats.Requests.Add(1)
	ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	isJSON := false
	switch ct {
	case "application/x-protobuf", "application/protobuf":
	case "application/json":
		isJSON = true
	default:
		h.Stats.BadRequests.Add(1)
		http.Error(w, fmt.Sprintf("415 unsupported media type %q: send application/x-protobuf or application/json", ct), http.StatusUnsupportedMediaType)
		return
	}
	body, status, err := readBody(w, r)
	if err != nil {
		h.Stats.BadRequests.Add(1)
		h.fail(w, isJSON, status, err.Error())
		return
	}
	req := ptraceotlp.NewExportRequest()
	if isJSON {
		err = req.UnmarshalJSON(body)
	} else {
		err = req.UnmarshalProto(body)
	}
	if err != nil {
		h.Stats.BadRequests.Add(1)
		h.fail(w, isJSON, http.StatusBadRequest, "malformed ExportTraceServiceRequest: "+err.Error())
		return
	}
	td := req.Traces()
	total := td.SpanCount()
	h.Stats.Spans.Add(int64(total))
	docs, rejected := Documents(td)
	refusedMsg := ""
	if len(rejected) > 0 {
		r0 := rejected[0]
		refusedMsg = fmt.Sprintf("span %s of trace %s: %s", r0.SpanID, r0.TraceID, r0.Reason)
	}
	refused := len(rejected)
	if len(docs) > 0 {
		n, reason, full := h.Consumer.ConsumeDocuments(docs)
		if full && n == len(docs) && refused == 0 {
			// Nothing was taken: the client may retry the whole request.
			w.Header().Set("Retry-After", "1")
			h.fail(w, isJSON, http.StatusServiceUnavailable, "the collector's queue is full; retry later")
			return
		}
		if n > 0 && refusedMsg == "" {
			refusedMsg = reason
		}
		refused += n
	}
	h.Stats.RejectedSpans.Add(int64(refused))
	resp := ptraceotlp.NewExportResponse()
	if refused > 0 {
		resp.PartialSuccess().SetRejectedSpans(int64(refused))
		resp.PartialSuccess().SetErrorMessage(fmt.Sprintf("%d of %d spans rejected; first: %s", refused, total, refusedMsg))
		if h.Log != nil {
			h.Log.Debug("OTLP spans rejected", "rejected", refused, "spans", total, "first", refusedMsg)
		}
	}
	var out []byte
	if isJSON {
		out, err = resp.MarshalJSON()
	} else {
		out, err = resp.MarshalProto()
	}
	if err != nil {
		h.fail(w, isJSON, http.StatusInternalServerError, "encode response: "+err.Error())
		return
	}
	writeBody(w, isJSON, http.StatusOK, out)
}

// readBody reads the (possibly gzip-encoded) body, at most MaxBodyBytes.
func readBody(w http.ResponseWriter, r *http.Request) ([]byte, int, error) {
	var src io.Reader = http.MaxBytesReader(w, r.Body, MaxBodyBytes)
	switch enc := r.Header.Get("Content-Encoding"); enc {
	case "", "identity":
	case "gzip":
		zr, err := gzip.NewReader(src)
		if err != nil {
			return nil, http.StatusBadRequest, fmt.Errorf("bad gzip body: %w", err)
		}
		defer zr.Close()
		src = io.LimitReader(zr, MaxBodyBytes+1)
	default:
		return nil, http.StatusUnsupportedMediaType, fmt.Errorf("unsupported Content-Encoding %q: send gzip or none", enc)
	}
	body, err := io.ReadAll(src)
	var mbe *http.MaxBytesError
	switch {
	case errors.As(err, &mbe) || len(body) > MaxBodyBytes:
		return nil, http.StatusRequestEntityTooLarge, fmt.Errorf("request body exceeds %d bytes", MaxBodyBytes)
	case err != nil:
		return nil, http.StatusBadRequest, fmt.Errorf("cannot read request body: %w", err)
	}
	return body, 0, nil
}

// fail answers with a google.rpc.Status in the request's encoding.
func (h *Handler) fail(w http.ResponseWriter, isJSON bool, code int, msg string) {
	st := &spb.Status{Code: grpcCode(code), Message: msg}
	var out []byte
	var err error
	if isJSON {
		out, err = protojson.Marshal(st)
	} else {
		out, err = proto.Marshal(st)
	}
	if err != nil {
		http.Error(w, msg, code)
		return
	}
	writeBody(w, isJSON, code, out)
}

// grpcCode is the gRPC status code matching an HTTP status.
func grpcCode(httpStatus int) int32 {
	switch httpStatus {
	case http.StatusBadRequest:
		return 3 // INVALID_ARGUMENT
	case http.StatusRequestEntityTooLarge:
		return 8 // RESOURCE_EXHAUSTED
	case http.StatusServiceUnavailable:
		return 14 // UNAVAILABLE
	case http.StatusUnsupportedMediaType:
		return 3
	}
	return 13 // INTERNAL
}

func writeBody(w http.ResponseWriter, isJSON bool, code int, b []byte) {
	if isJSON {
		w.Header().Set("Content-Type", "application/json")
	} else {
		w.Header().Set("Content-Type", "application/x-protobuf")
	}
	w.Header().Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(code)
	_, _ = w.Write(b)
}
