package collector

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/VictoriaMetrics/metrics"

	"github.com/fluoro/fluoro/collector/segment"
)

// maxRequestBytes bounds a PutTraceSegments body: the daemon sends at most
// 50 documents of at most 64 KiB, which JSON string escaping may double.
const maxRequestBytes = 16 << 20

func (c *Collector) routes() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /TraceSegments", c.putTraceSegments)
	mux.HandleFunc("POST /TelemetryRecords", c.putTelemetryRecords)
	mux.HandleFunc("POST /GetSamplingRules", c.samp.ServeGetSamplingRules)
	mux.HandleFunc("POST /SamplingTargets", c.samp.ServeSamplingTargets)
	mux.HandleFunc("GET /metrics", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; version=0.0.4")
		c.WriteMetrics(w)
		metrics.WriteProcessMetrics(w)
	})
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusNotFound, "UnknownOperationException",
			fmt.Sprintf("%s %s is not an operation of this endpoint", r.Method, r.URL.Path))
	})
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Amzn-RequestId", requestID())
		mux.ServeHTTP(w, r)
	})
}

// UnprocessedTraceSegment reports a document PutTraceSegments did not take.
type UnprocessedTraceSegment struct {
	ID        string `json:"Id,omitempty"`
	ErrorCode string `json:"ErrorCode"`
	Message   string `json:"Message"`
}

// putTraceSegments is PutTraceSegments: every string of
// TraceSegmentDocuments is decoded like a datagram body; valid documents are
// queued, invalid ones reported in UnprocessedTraceSegments.
func (c *Collector) putTraceSegments(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxRequestBytes))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			writeError(w, http.StatusRequestEntityTooLarge, "InvalidRequestException",
				fmt.Sprintf("request body exceeds %d bytes", maxRequestBytes))
			return
		}
		writeError(w, http.StatusBadRequest, "InvalidRequestException", "cannot read request body: "+err.Error())
		return
	}
	var in struct {
		TraceSegmentDocuments *[]string `json:"TraceSegmentDocuments"`
	}
	if err := json.Unmarshal(body, &in); err != nil {
		writeError(w, http.StatusBadRequest, "InvalidRequestException", "malformed request body: "+err.Error())
		return
	}
	if in.TraceSegmentDocuments == nil {
		writeError(w, http.StatusBadRequest, "InvalidRequestException",
			"1 validation error detected: Value null at 'traceSegmentDocuments' failed to satisfy constraint: Member must not be null")
		return
	}
	c.m.receivedBytesHTTP.Add(len(body))

	c.inMu.RLock()
	defer c.inMu.RUnlock()
	if c.closed {
		writeError(w, http.StatusServiceUnavailable, "ServiceUnavailableException", "the collector is shutting down")
		return
	}
	out := struct {
		UnprocessedTraceSegments []UnprocessedTraceSegment `json:"UnprocessedTraceSegments"`
	}{UnprocessedTraceSegments: []UnprocessedTraceSegment{}}
	ingestHTTP(c, *in.TraceSegmentDocuments, func(u UnprocessedTraceSegment, _ bool) {
		out.UnprocessedTraceSegments = append(out.UnprocessedTraceSegments, u)
	})
	writeJSON(w, out)
}

// ingestHTTP decodes documents received over HTTP and queues the valid
// ones; refuse is called for every one not taken (full: because the queue
// is full). The caller holds inMu for reading and checked closed.
func ingestHTTP[T string | []byte](c *Collector, bodies []T, refuse func(u UnprocessedTraceSegment, full bool)) {
	dec := c.decoders.Get().(*segment.Decoder)
	defer c.decoders.Put(dec)
	var docs []segment.Document
	var err error
	now := time.Now().UnixNano()
	for _, s := range bodies {
		c.m.receivedHTTP.Inc()
		docs, err = dec.Decode([]byte(s), now, docs[:0])
		if err != nil {
			c.m.reject(err)
			forEachDecodeError(err, func(de *segment.DecodeError) {
				u := UnprocessedTraceSegment{ErrorCode: "InvalidSegment", Message: err.Error()}
				if de != nil {
					u = UnprocessedTraceSegment{ID: de.ID, ErrorCode: de.Code, Message: de.Error()}
				}
				refuse(u, false)
			})
		}
		for i := range docs {
			c.m.acceptedHTTP.Inc()
			if !c.enqueue(&docs[i]) {
				refuse(UnprocessedTraceSegment{ID: docs[i].ID, ErrorCode: "ThrottledException", Message: "collector queue is full; retry later"}, true)
			}
		}
		// The queue owns the documents now; never let Decode reuse them.
		clear(docs)
	}
}

// ConsumeDocuments implements otlp.Consumer: the documents OTLP spans
// became are decoded and queued like PutTraceSegments' (counted under
// transport "http"). It returns how many were refused, the first reason,
// and whether any was refused because the queue is full or the collector
// is shutting down.
func (c *Collector) ConsumeDocuments(raw [][]byte) (refused int, reason string, full bool) {
	c.inMu.RLock()
	defer c.inMu.RUnlock()
	if c.closed {
		c.m.drop(dropShutdown, len(raw))
		return len(raw), "the collector is shutting down", true
	}
	for _, b := range raw {
		c.m.receivedBytesHTTP.Add(len(b))
	}
	ingestHTTP(c, raw, func(u UnprocessedTraceSegment, queueFull bool) {
		refused++
		full = full || queueFull
		if reason == "" {
			reason = u.Message
		}
	})
	return refused, reason, full
}

// putTelemetryRecords accepts the daemon's PutTelemetryRecords and ignores
// it, so a real X-Ray daemon pointed at Fluoro logs no errors.
func (c *Collector) putTelemetryRecords(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, 1<<20))
	if err != nil {
		writeError(w, http.StatusBadRequest, "InvalidRequestException", "cannot read request body: "+err.Error())
		return
	}
	var in struct {
		TelemetryRecords *[]json.RawMessage `json:"TelemetryRecords"`
	}
	if err := json.Unmarshal(body, &in); err != nil {
		writeError(w, http.StatusBadRequest, "InvalidRequestException", "malformed request body: "+err.Error())
		return
	}
	if in.TelemetryRecords == nil {
		writeError(w, http.StatusBadRequest, "InvalidRequestException",
			"1 validation error detected: Value null at 'telemetryRecords' failed to satisfy constraint: Member must not be null")
		return
	}
	writeJSON(w, struct{}{})
}

func writeJSON(w http.ResponseWriter, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		writeError(w, http.StatusInternalServerError, "InternalFailure", err.Error())
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Write(b)
}

// writeError writes X-Ray's REST-JSON error shape: the X-Amzn-ErrorType
// header plus {"__type","message","Message"}.
func writeError(w http.ResponseWriter, status int, code, msg string) {
	b, _ := json.Marshal(struct {
		Type    string `json:"__type"`
		Message string `json:"message"`
		Msg     string `json:"Message"`
	}{code, msg, msg})
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Amzn-ErrorType", code)
	w.WriteHeader(status)
	w.Write(b)
}

func requestID() string {
	var b [16]byte
	rand.Read(b[:])
	h := hex.EncodeToString(b[:])
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:32]
}
