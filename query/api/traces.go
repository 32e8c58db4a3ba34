package api

import (
	"context"
	"fmt"
	"net/http"
	"strings"

	"github.com/fluoro/fluoro/query/xraytrace"
	"github.com/labstack/echo/v4"
)

// batchGetTracesInput is BatchGetTraces' request.
type batchGetTracesInput struct {
	TraceIds  []string
	NextToken *string
}

// batchGetTracesOutput is BatchGetTraces' response.
type batchGetTracesOutput struct {
	Traces              []xraytrace.Trace `json:"Traces"`
	UnprocessedTraceIds []string          `json:"UnprocessedTraceIds"`
	NextToken           *string           `json:"NextToken,omitempty"`
}

func (s *Server) handleBatchGetTraces(c echo.Context) error {
	var in batchGetTracesInput
	if err := decodeBody(c, &in); err != nil {
		return err
	}
	out, err := s.batchGetTraces(c.Request().Context(), in)
	if err != nil {
		return err
	}
	return writeJSON(c, out)
}

// batchGetTraces returns the compiled traces of in.TraceIds; ids without
// stored documents are listed in UnprocessedTraceIds. Every requested trace
// comes back in one response, so there is never a NextToken.
func (s *Server) batchGetTraces(ctx context.Context, in batchGetTracesInput) (*batchGetTracesOutput, error) {
	if in.NextToken != nil && *in.NextToken != "" {
		return nil, invalidRequest("NextToken is not supported by BatchGetTraces: every requested trace is returned in one response; repeat the call without NextToken")
	}
	switch n := len(in.TraceIds); {
	case n == 0:
		return nil, invalidRequest("TraceIds is required: give 1 to %d trace ids (from GetTraceSummaries)", BatchGetTracesMaxIDs)
	case n > BatchGetTracesMaxIDs:
		return nil, invalidRequest("TraceIds has %d ids but BatchGetTraces takes at most %d per call; split them into several calls", n, BatchGetTracesMaxIDs)
	}
	ids := make([]string, 0, len(in.TraceIds))
	asGiven := make(map[string]string, len(in.TraceIds))
	for i, id := range in.TraceIds {
		if !validTraceID(id) {
			return nil, invalidRequest("TraceIds[%d] %q is not an X-Ray trace id: expected 1-XXXXXXXX-YYYYYYYYYYYYYYYYYYYYYYYY (8 hex digits of epoch seconds, then 24 hex digits)", i, id)
		}
		lower := strings.ToLower(id)
		if _, dup := asGiven[lower]; !dup {
			asGiven[lower] = id
			ids = append(ids, lower)
		}
	}
	docs, err := s.reader.Documents(ctx, ids)
	if err != nil {
		return nil, fmt.Errorf("read documents of %d traces: %w", len(ids), err)
	}
	byTrace := groupStored(docs)
	out := &batchGetTracesOutput{Traces: []xraytrace.Trace{}, UnprocessedTraceIds: []string{}}
	for _, id := range ids {
		d := byTrace[id]
		if len(d) == 0 {
			out.UnprocessedTraceIds = append(out.UnprocessedTraceIds, asGiven[id])
			continue
		}
		a := xraytrace.Assemble(id, xrayDocs(d))
		s.reportInvalid(id, a)
		out.Traces = append(out.Traces, a.Trace(s.cfg.MaxTraceBytes))
	}
	return out, nil
}

// groupStored groups stored documents by (lower-case) trace id.
func groupStored(docs []storedDocument) map[string][]storedDocument {
	m := make(map[string][]storedDocument)
	for _, d := range docs {
		id := strings.ToLower(d.TraceID)
		m[id] = append(m[id], d)
	}
	return m
}

// xrayDocs converts one trace's stored documents for xraytrace.
func xrayDocs(docs []storedDocument) []xraytrace.Doc {
	out := make([]xraytrace.Doc, len(docs))
	for i, d := range docs {
		out[i] = xraytrace.Doc{
			ID: d.ID, ParentID: d.ParentID, Kind: d.Kind, InProgress: d.InProgress,
			StartTime: d.StartTime, EndTime: d.EndTime, Raw: d.Raw,
		}
	}
	return out
}

func (s *Server) reportInvalid(traceID string, a *xraytrace.Assembly) {
	if bad := a.Invalid(); len(bad) > 0 {
		s.metrics.invalidStoredDocs.Add(len(bad))
		s.log.Warn("stored documents are not JSON objects; returned unchanged", "trace_id", traceID, "ids", bad)
	}
}

// validTraceID reports whether id is an X-Ray trace id: 1-, 8 hex digits,
// -, 24 hex digits (either case).
func validTraceID(id string) bool {
	if len(id) != 35 || id[0] != '1' || id[1] != '-' || id[10] != '-' {
		return false
	}
	for i := 2; i < len(id); i++ {
		if i == 10 {
			continue
		}
		c := id[i]
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F') {
			return false
		}
	}
	return true
}

// writeJSON writes a 200 response with v as its JSON body.
func writeJSON(c echo.Context, v any) error {
	return c.JSON(http.StatusOK, v)
}
