package api

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"math"
	"strings"
	"time"

	"github.com/fluoro/fluoro/query/filter"
	"github.com/fluoro/fluoro/query/xraytrace"
	"github.com/fluoro/fluoro/schema/chstore"
	"github.com/labstack/echo/v4"
)

// getTraceSummariesInput is GetTraceSummaries' request.
type getTraceSummariesInput struct {
	StartTime        *epochTime
	EndTime          *epochTime
	TimeRangeType    *string
	Sampling         *bool
	SamplingStrategy *samplingStrategy
	FilterExpression *string
	NextToken        *string
}

type samplingStrategy struct {
	Name  *string
	Value *float64
}

// getTraceSummariesOutput is GetTraceSummaries' response.
type getTraceSummariesOutput struct {
	TraceSummaries       []xraytrace.Summary `json:"TraceSummaries"`
	ApproximateTime      float64             `json:"ApproximateTime"`
	TracesProcessedCount int64               `json:"TracesProcessedCount"`
	NextToken            *string             `json:"NextToken,omitempty"`
}

func (s *Server) handleGetTraceSummaries(c echo.Context) error {
	var in getTraceSummariesInput
	if err := decodeBody(c, &in); err != nil {
		return err
	}
	out, err := s.getTraceSummaries(c.Request().Context(), in)
	if err != nil {
		return err
	}
	return writeJSON(c, out)
}

// maxFilterLen is the model's length constraint of FilterExpression.
const maxFilterLen = 2000

// summaryQuery is a validated GetTraceSummaries request.
type summaryQuery struct {
	start, end time.Time
	rangeType  string
	expr       string // FilterExpression as given
	filter     compiledFilter
	rate       float64 // share of traces returned; 1 without sampling
	cursor     string  // storage cursor from NextToken
}

// getTraceSummaries answers one page of GetTraceSummaries.
func (s *Server) getTraceSummaries(ctx context.Context, in getTraceSummariesInput) (*getTraceSummariesOutput, error) {
	q, err := s.parseSummaryQuery(ctx, in)
	if err != nil {
		return nil, err
	}
	if out, ok, err := s.indexedSummaries(ctx, q); ok || err != nil {
		return out, err
	}
	refs, next, err := s.reader.TraceIDs(ctx, traceQuery{
		Start: q.start, End: q.end, RangeType: q.rangeType,
		Having: q.filter.having, HavingArgs: q.filter.args,
		Where: q.filter.where, WhereArgs: q.filter.whereArgs,
		Limit: s.cfg.PageSize, Cursor: q.cursor,
	})
	if errors.Is(err, chstore.ErrBadQuery) {
		// Our tokens carry the storage cursor; a cursor storage rejects was
		// forged or comes from an incompatible version.
		return nil, invalidRequest("the request cannot be answered (%v); if it has a NextToken, repeat it without", err)
	}
	if err != nil {
		return nil, fmt.Errorf("select traces: %w", err)
	}
	out := &getTraceSummariesOutput{
		TraceSummaries:       []xraytrace.Summary{},
		TracesProcessedCount: int64(len(refs)),
		ApproximateTime:      epochSeconds(q.start),
	}
	if next != "" {
		tok := encodeToken(q, next)
		out.NextToken = &tok
	}
	ids := make([]string, 0, len(refs))
	when := make(map[string]time.Time, len(refs))
	// ApproximateTime is the start of the span this page covers: its
	// oldest trace, or the window's start when it is empty.
	for i, r := range refs {
		if i == 0 || epochSeconds(r.Time) < out.ApproximateTime {
			out.ApproximateTime = epochSeconds(r.Time)
		}
		if q.rate < 1 && !sampled(r.TraceID, q.rate) {
			continue
		}
		id := strings.ToLower(r.TraceID)
		ids = append(ids, id)
		when[id] = r.Time
	}
	if len(ids) == 0 {
		return out, nil
	}
	sums, err := s.summarize(ctx, ids, q.filter.confirm)
	if err != nil {
		return nil, err
	}
	for i, sum := range sums {
		if sum == nil {
			continue
		}
		if q.rangeType == "Event" {
			t := epochSeconds(when[ids[i]])
			sum.MatchedEventTime = &t
		}
		out.TraceSummaries = append(out.TraceSummaries, *sum)
	}
	return out, nil
}

// summarize reads the documents of the traces ids and returns their
// summaries, index by index; nil for a trace without documents (expired
// between two reads) or, when match is set, one match rejects.
func (s *Server) summarize(ctx context.Context, ids []string, match *filter.Expr) ([]*xraytrace.Summary, error) {
	docs, err := s.reader.Documents(ctx, ids)
	if err != nil {
		return nil, fmt.Errorf("read documents of %d traces: %w", len(ids), err)
	}
	byTrace := groupStored(docs)
	out := make([]*xraytrace.Summary, len(ids))
	var dec *spanDecoder
	for i, id := range ids {
		stored := byTrace[id]
		if len(stored) == 0 {
			continue
		}
		if match != nil {
			if dec == nil {
				dec = newSpanDecoder()
			}
			spans, failed := dec.spans(stored)
			if failed > 0 {
				s.metrics.invalidStoredDocs.Add(failed)
				s.log.Warn("stored documents no longer decode; left out of the filter check", "trace_id", id, "documents", failed)
			}
			if !match.Match(spans) {
				continue
			}
		}
		a := xraytrace.Assemble(id, xrayDocs(stored))
		s.reportInvalid(id, a)
		sum := a.Summary()
		out[i] = &sum
	}
	return out, nil
}

// annotationIndex finds traces by string annotation values; *chstore.Store
// has it.
type annotationIndex interface {
	AnnotatedTraceIDs(ctx context.Context, q chstore.AnnotationQuery) ([]traceRef, error)
}

// indexedSummaries answers a TraceId-range page whose filter names string
// annotation values from the annotation index: the traces carrying one
// (most recent first, after the cursor) are checked one by one with the
// in-memory evaluator, which selects exactly what the SQL back-end selects
// (the differential test in query/filter). ok is false, and nothing is
// answered, when the storage has no index or it finds more candidates than
// Config.IndexCandidates: scanning spans is then the cheaper plan.
func (s *Server) indexedSummaries(ctx context.Context, q summaryQuery) (out *getTraceSummariesOutput, ok bool, err error) {
	idx, has := s.reader.(annotationIndex)
	if !has || s.cfg.IndexCandidates == 0 || q.rangeType != "TraceId" || len(q.filter.lookup) == 0 {
		return nil, false, nil
	}
	refs, err := idx.AnnotatedTraceIDs(ctx, chstore.AnnotationQuery{
		Start: q.start, End: q.end, Values: q.filter.lookup, Cursor: q.cursor, Limit: s.cfg.IndexCandidates + 1,
	})
	if errors.Is(err, chstore.ErrBadQuery) {
		return nil, false, invalidRequest("the request cannot be answered (%v); if it has a NextToken, repeat it without", err)
	}
	if err != nil {
		return nil, false, fmt.Errorf("look up annotations: %w", err)
	}
	if len(refs) > s.cfg.IndexCandidates {
		s.metrics.indexFallbacks.Add(1)
		return nil, false, nil
	}
	s.metrics.indexSearches.Add(1)
	out = &getTraceSummariesOutput{TraceSummaries: []xraytrace.Summary{}, ApproximateTime: epochSeconds(q.start)}
	// Candidates are checked in chunks, the first the size of a page (a
	// selective annotation usually decides alone), later ones doubling.
	chunk := s.cfg.PageSize
	for i := 0; i < len(refs) && len(out.TraceSummaries) < s.cfg.PageSize; {
		var (
			ids  []string
			pos  []int
			last = min(len(refs), i+chunk)
		)
		for j := i; j < last; j++ {
			if q.rate < 1 && !sampled(refs[j].TraceID, q.rate) {
				continue
			}
			ids = append(ids, strings.ToLower(refs[j].TraceID))
			pos = append(pos, j)
		}
		sums, err := s.summarize(ctx, ids, q.filter.expr)
		if err != nil {
			return nil, false, err
		}
		done := last
		for k, sum := range sums {
			if sum == nil {
				continue
			}
			out.TraceSummaries = append(out.TraceSummaries, *sum)
			if len(out.TraceSummaries) == s.cfg.PageSize {
				done = pos[k] + 1
				break
			}
		}
		out.TracesProcessedCount += int64(done - i)
		out.ApproximateTime = epochSeconds(refs[done-1].Time)
		if done < len(refs) && len(out.TraceSummaries) == s.cfg.PageSize {
			tok := encodeToken(q, chstore.NextCursor(refs[done-1]))
			out.NextToken = &tok
		}
		i = done
		chunk *= 2
	}
	return out, true, nil
}

// parseSummaryQuery validates the request and compiles its filter.
func (s *Server) parseSummaryQuery(ctx context.Context, in getTraceSummariesInput) (summaryQuery, error) {
	var q summaryQuery
	if in.StartTime == nil || in.EndTime == nil {
		return q, invalidRequest("StartTime and EndTime are required (epoch seconds)")
	}
	q.start, q.end = in.StartTime.t, in.EndTime.t
	if !q.end.After(q.start) {
		return q, invalidRequest("EndTime (%s) must be after StartTime (%s)", q.end.Format(time.RFC3339), q.start.Format(time.RFC3339))
	}
	if w := q.end.Sub(q.start); w > s.cfg.MaxWindow {
		return q, invalidRequest("time window %s is longer than the %s this server allows; ask for a shorter window (or raise --api-max-window)", w, s.cfg.MaxWindow)
	}
	q.rangeType = "TraceId"
	if in.TimeRangeType != nil && *in.TimeRangeType != "" {
		switch *in.TimeRangeType {
		case "TraceId", "Event", "Service":
			q.rangeType = *in.TimeRangeType
		default:
			return q, invalidRequest("TimeRangeType %q is not one of TraceId, Event, Service", *in.TimeRangeType)
		}
	}
	q.rate = 1
	if st := in.SamplingStrategy; st != nil {
		if st.Name != nil && *st.Name != "PartialScan" && *st.Name != "FixedRate" {
			return q, invalidRequest("SamplingStrategy.Name %q is not one of PartialScan, FixedRate", *st.Name)
		}
		if st.Value != nil && (*st.Value < 0 || *st.Value > 1 || math.IsNaN(*st.Value)) {
			return q, invalidRequest("SamplingStrategy.Value %v must be between 0 and 1", *st.Value)
		}
	}
	if in.Sampling != nil && *in.Sampling || in.SamplingStrategy != nil {
		q.rate = defaultSamplingRate
		if in.SamplingStrategy != nil && in.SamplingStrategy.Value != nil {
			q.rate = *in.SamplingStrategy.Value
		}
	}
	if in.FilterExpression != nil && strings.TrimSpace(*in.FilterExpression) != "" {
		q.expr = *in.FilterExpression
		if n := len(q.expr); n > maxFilterLen {
			return q, invalidRequest("FilterExpression is %d characters long; at most %d are allowed", n, maxFilterLen)
		}
		var err error
		if q.filter, err = compileFilter(q.expr, s.groupLookup(ctx, chstore.Group{})); err != nil {
			return q, err
		}
	}
	if in.NextToken != nil && *in.NextToken != "" {
		c, err := decodeToken(q, *in.NextToken)
		if err != nil {
			return q, err
		}
		q.cursor = c
	}
	return q, nil
}

// sampled keeps a stable share rate of trace ids (the same traces on every
// page and every call).
func sampled(traceID string, rate float64) bool {
	h := fnv.New64a()
	_, _ = h.Write([]byte(strings.ToLower(traceID)))
	return float64(h.Sum64()>>11)/(1<<53) < rate
}

// pageToken is the content of a GetTraceSummaries NextToken: the storage
// cursor plus a fingerprint of the query it belongs to.
type pageToken struct {
	V int    `json:"v"`
	Q string `json:"q"`
	C string `json:"c"`
}

func (q summaryQuery) fingerprint() string {
	h := sha256.New()
	var b [8]byte
	for _, n := range []int64{q.start.UnixNano(), q.end.UnixNano(), int64(math.Float64bits(q.rate))} {
		binary.BigEndian.PutUint64(b[:], uint64(n))
		h.Write(b[:])
	}
	h.Write([]byte(q.rangeType + "\x00" + q.expr))
	return hex.EncodeToString(h.Sum(nil)[:8])
}

func encodeToken(q summaryQuery, cursor string) string {
	b, _ := json.Marshal(pageToken{V: 1, Q: q.fingerprint(), C: cursor})
	return base64.RawURLEncoding.EncodeToString(b)
}

func decodeToken(q summaryQuery, tok string) (string, error) {
	bad := invalidRequest("NextToken %q is not a token this server issued; repeat the request without NextToken to start from the first page", truncate(tok, 40))
	b, err := base64.RawURLEncoding.DecodeString(tok)
	if err != nil {
		return "", bad
	}
	var t pageToken
	if err := json.Unmarshal(b, &t); err != nil || t.V != 1 || t.C == "" {
		return "", bad
	}
	if t.Q != q.fingerprint() {
		return "", invalidRequest("NextToken belongs to a different query: StartTime, EndTime, TimeRangeType, FilterExpression and sampling must be the same as in the call that returned it")
	}
	return t.C, nil
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
