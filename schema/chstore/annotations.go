package chstore

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/fluoro/fluoro/collector/segment"
)

// Annotation is a string annotation: a span carries Key with value Value.
type Annotation struct {
	Key, Value string
}

// AnnotationQuery asks the annotation index (migration 0030) for traces.
type AnnotationQuery struct {
	// Start and End bound the trace-id epochs, [Start, End).
	Start, End time.Time
	// Values: a trace qualifies when one of its spans carries one of them.
	Values []Annotation
	// Cursor, from TraceIDs or NextCursor, continues after that trace in
	// the TraceId order ("" from the start).
	Cursor string
	// Limit caps the traces returned (default 100, at most 100,000).
	Limit int
}

// AnnotatedTraceIDs returns the traces of q's window that carry one of
// q.Values, in the TraceId range order of TraceIDs (most recent first).
// Time is the trace-id epoch. It reads a few granules of the index per
// value, whatever the size of the window.
func (s *Store) AnnotatedTraceIDs(ctx context.Context, q AnnotationQuery) ([]TraceRef, error) {
	if !q.Start.Before(q.End) {
		return nil, fmt.Errorf("%w: start %v is not before end %v", ErrBadQuery, q.Start, q.End)
	}
	if len(q.Values) == 0 {
		return nil, fmt.Errorf("%w: no annotation value to look up", ErrBadQuery)
	}
	limit := q.Limit
	if limit <= 0 {
		limit = defaultLimit
	}
	limit = min(limit, 100_000)
	var (
		b    strings.Builder
		args = make([]any, 0, 2*len(q.Values))
	)
	b.WriteString("SELECT DISTINCT trace_id FROM " + s.db + ".annotation_index WHERE " + dateRange(q.Start, q.End) + " AND (")
	for i, v := range q.Values {
		if i > 0 {
			b.WriteString(" OR ")
		}
		b.WriteString("(key = ? AND value = ?)")
		args = append(args, v.Key, v.Value)
	}
	fmt.Fprintf(&b, ") AND trace_id >= '1-%08x' AND trace_id < '1-%08x'", ceilSec(q.Start), ceilSec(q.End))
	if q.Cursor != "" {
		// In the TraceId order (epoch, then id, both descending) the
		// traces after the cursor's are exactly the smaller ids: the
		// epoch is the id's fixed-width prefix.
		_, cid, err := decodeCursor(q.Cursor)
		if err != nil {
			return nil, err
		}
		b.WriteString(" AND trace_id < '" + cid + "'")
	}
	b.WriteString(" ORDER BY trace_id DESC LIMIT " + strconv.Itoa(limit))
	rows, err := s.conn.Query(ctx, b.String(), args...)
	if err != nil {
		return nil, fmt.Errorf("look up annotations: %w", err)
	}
	defer rows.Close()
	var refs []TraceRef
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, fmt.Errorf("look up annotations: %w", err)
		}
		refs = append(refs, TraceRef{TraceID: id, Time: traceEpoch(id)})
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("look up annotations: %w", err)
	}
	return refs, nil
}

// NextCursor is the cursor of the page after r, a trace found with the
// TraceId range (TraceIDs or AnnotatedTraceIDs): both accept it.
func NextCursor(r TraceRef) string {
	return encodeCursor(uint64(r.Time.UnixMicro()), r.TraceID)
}

// traceEpoch is the time in a well-formed trace id (zero otherwise).
func traceEpoch(id string) time.Time {
	if !segment.ValidTraceID(id) {
		return time.Time{}
	}
	s, err := strconv.ParseUint(id[2:10], 16, 32)
	if err != nil {
		return time.Time{}
	}
	return time.Unix(int64(s), 0).UTC()
}
