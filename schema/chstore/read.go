package chstore

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/fluoro/fluoro/collector/segment"
)

// StoredDocument is the newest stored version of one document.
type StoredDocument struct {
	TraceID, ID, ParentID string
	Kind                  segment.Kind
	InProgress            bool
	StartTime, EndTime    float64
	// Raw is the document's JSON exactly as received.
	Raw []byte
}

// Documents returns the newest version of every document of the given
// traces (a complete version beats in-progress ones), ordered by trace id
// then document id. Unknown trace ids simply have no documents.
func (s *Store) Documents(ctx context.Context, traceIDs []string) ([]StoredDocument, error) {
	if len(traceIDs) == 0 {
		return nil, nil
	}
	// The partition of a document is the day of its trace id's epoch, so
	// the lookup reads one partition per distinct day. Ids are validated
	// (hex only) and inlined: an id that is not an X-Ray trace id was never
	// stored.
	days := map[time.Time]struct{}{}
	var list strings.Builder
	for _, id := range traceIDs {
		if !segment.ValidTraceID(id) {
			continue
		}
		e, _ := TraceEpoch(id)
		days[time.Unix(e, 0).UTC().Truncate(day)] = struct{}{}
		if list.Len() > 0 {
			list.WriteString(", ")
		}
		list.WriteString("'" + strings.ToLower(id) + "'")
	}
	if list.Len() == 0 {
		return nil, nil
	}
	q := "SELECT trace_id, id, parent_id, kind, in_progress, start_time, end_time, raw FROM " + s.db + ".documents" +
		" WHERE date IN (" + joinDates(days) + ") AND trace_id IN (" + list.String() + ")" +
		" ORDER BY trace_id, id, version DESC LIMIT 1 BY trace_id, id"
	rows, err := s.conn.Query(ctx, q)
	if err != nil {
		return nil, fmt.Errorf("query documents: %w", err)
	}
	defer rows.Close()
	var out []StoredDocument
	for rows.Next() {
		var (
			d          StoredDocument
			kind, prog uint8
			raw        string
		)
		if err := rows.Scan(&d.TraceID, &d.ID, &d.ParentID, &kind, &prog, &d.StartTime, &d.EndTime, &raw); err != nil {
			return nil, fmt.Errorf("scan documents: %w", err)
		}
		d.Kind, d.InProgress, d.Raw = segment.Kind(kind), prog == 1, []byte(raw)
		out = append(out, d)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("query documents: %w", err)
	}
	return out, nil
}

// Range types of TraceQuery (X-Ray's TimeRangeType).
const (
	// RangeTraceID selects traces whose trace-id epoch lies in [Start, End).
	RangeTraceID = "TraceId"
	// RangeEvent selects traces with a segment or subsegment event in
	// [Start, End): a span that overlaps the window (an in-progress span:
	// that started in it).
	RangeEvent = "Event"
	// RangeService selects traces with a segment (not a subsegment) whose
	// end time (start time while in progress) lies in [Start, End).
	RangeService = "Service"
)

// TraceQuery selects traces for TraceIDs.
type TraceQuery struct {
	// Start and End bound the window, [Start, End).
	Start, End time.Time
	// RangeType is RangeTraceID (also when empty), RangeEvent or RangeService.
	RangeType string
	// Having is an optional trace-level condition from query/filter:
	// aggregates over the spans rows of one trace (grouped by trace_id),
	// with ? placeholders bound to HavingArgs.
	Having     string
	HavingArgs []any
	// Where is an optional row-level necessary condition of Having (from
	// query/filter's Prefilter), with ? placeholders bound to WhereArgs:
	// every trace that satisfies Having has a spans row in the window that
	// satisfies Where. Only traces with such a row are aggregated, which
	// makes selective conditions fast; results are the same without it.
	Where     string
	WhereArgs []any
	// Limit is the page size (default 100, at most 10000).
	Limit int
	// Cursor is the opaque token returned with the previous page ("" for
	// the first page).
	Cursor string
}

// TraceRef is one trace found by TraceIDs.
type TraceRef struct {
	TraceID string
	// Time is the trace's time for the query's range type: the trace-id
	// epoch (TraceId), the latest matching event in the window (Event), the
	// latest matching segment end (Service).
	Time time.Time
}

// ErrBadQuery is wrapped by TraceIDs' errors about the query itself (range
// type, window, cursor) as opposed to storage failures.
var ErrBadQuery = errors.New("bad trace query")

const (
	defaultLimit = 100
	maxLimit     = 10000
)

// TraceIDs returns the traces matching q, newest first, one page at a time;
// next is "" after the last page. Paging is stable: a page starts strictly
// after the previous page's last (time, trace id).
func (s *Store) TraceIDs(ctx context.Context, q TraceQuery) (refs []TraceRef, next string, err error) {
	if !q.Start.Before(q.End) {
		return nil, "", fmt.Errorf("%w: start %v is not before end %v", ErrBadQuery, q.Start, q.End)
	}
	limit := q.Limit
	if limit <= 0 {
		limit = defaultLimit
	}
	if limit > maxLimit {
		limit = maxLimit
	}
	startUS, endUS := q.Start.UnixMicro(), q.End.UnixMicro()
	if startUS < 0 {
		startUS = 0
	}
	var (
		where  []string
		timeEx string
		having []string
	)
	switch q.RangeType {
	case "", RangeTraceID:
		// Trace ids sort by their epoch (fixed-width lower-case hex), so the
		// window is a string range. A trace's spans start at or after its
		// epoch (allow clock skew between hosts), and within a day of the
		// window's end; the start bound lets the primary key skip granules.
		from := q.Start.Add(-clockSkew)
		where = append(where,
			dateRange(from, q.End.Add(day)),
			"start >= "+dateTimeLiteral(from),
			fmt.Sprintf("trace_id >= '1-%08x' AND trace_id < '1-%08x'", ceilSec(q.Start), ceilSec(q.End)))
		timeEx = "toUInt64(reinterpretAsUInt32(reverse(unhex(substring(trace_id, 3, 8))))) * 1000000"
	case RangeEvent, RangeService:
		var rowWin, evTime string
		if q.RangeType == RangeEvent {
			rowWin = fmt.Sprintf("(start_us < %d AND (end_us >= %d OR (end_us = 0 AND start_us >= %d)))", endUS, startUS, startUS)
			evTime = fmt.Sprintf("least(if(end_us = 0, start_us, end_us), %d)", endUS-1)
		} else {
			ev := "if(end_us = 0, start_us, end_us)"
			rowWin = fmt.Sprintf("(is_segment = 1 AND %s >= %d AND %s < %d)", ev, startUS, ev, endUS)
			evTime = ev
		}
		// Candidates: traces with a matching span (spans of the window start
		// at most a day before it; the start bounds let the primary key skip
		// granules). On a cluster the subquery reads each shard's local
		// table: spans are sharded by trace id, so a shard's candidates are
		// exactly its own traces (and 18.16 cannot be told
		// distributed_product_mode over the native protocol). The outer
		// query then reads every span of those traces (a day either side)
		// for the Having aggregates.
		from := q.Start.Add(-day)
		cand := dateRange(from, q.End) + " AND start >= " + dateTimeLiteral(from) +
			" AND start <= " + dateTimeLiteral(q.End) + " AND " + rowWin
		where = append(where,
			dateRange(from, q.End.Add(day)),
			"start >= "+dateTimeLiteral(from),
			"trace_id IN (SELECT trace_id FROM "+s.db+"."+s.spansLocal+" WHERE "+cand+")")
		timeEx = "maxIf(" + evTime + ", " + rowWin + ")"
		having = append(having, "countIf("+rowWin+") > 0")
	default:
		return nil, "", fmt.Errorf("%w: range type %q is not TraceId, Event or Service", ErrBadQuery, q.RangeType)
	}
	var (
		args     []any
		prewhere string
	)
	if q.Where != "" {
		// The rows the outer query aggregates lie within its first
		// conditions (date, start and, for TraceId, the trace id range), so a
		// trace's qualifying row is found by the subquery (which reads the
		// local table on a cluster, like the Event candidates, and every
		// version of a row: a superset of FINAL's). PREWHERE makes the outer
		// query read the other columns only for the candidates' rows; it
		// is safe with FINAL because trace_id is part of the sorting key (all
		// versions of a row share it).
		win := where[:2]
		if q.RangeType == "" || q.RangeType == RangeTraceID {
			win = where[:3]
		}
		prewhere = " PREWHERE trace_id IN (SELECT trace_id FROM " + s.db + "." + s.spansLocal + " WHERE " +
			strings.Join(win, " AND ") + " AND (" + q.Where + "))"
		args = append(args, q.WhereArgs...)
	}
	if q.Having != "" {
		having = append(having, "("+q.Having+")")
	}
	if q.Cursor != "" {
		ct, cid, err := decodeCursor(q.Cursor)
		if err != nil {
			return nil, "", err
		}
		having = append(having, fmt.Sprintf("(t < %d OR (t = %d AND trace_id < '%s'))", ct, ct, cid))
	}
	sql := "SELECT trace_id, " + timeEx + " AS t FROM " + s.db + ".spans FINAL" + prewhere + " WHERE " + strings.Join(where, " AND ") +
		" GROUP BY trace_id"
	if len(having) > 0 {
		sql += " HAVING " + strings.Join(having, " AND ")
	}
	sql += " ORDER BY t DESC, trace_id DESC LIMIT " + strconv.Itoa(limit+1)
	args = append(args, q.HavingArgs...)
	rows, err := s.conn.Query(ctx, sql, args...)
	if err != nil {
		return nil, "", fmt.Errorf("query trace ids: %w", err)
	}
	defer rows.Close()
	var ts []uint64
	for rows.Next() {
		var (
			r TraceRef
			t uint64
		)
		if err := rows.Scan(&r.TraceID, &t); err != nil {
			return nil, "", fmt.Errorf("scan trace ids: %w", err)
		}
		r.Time = time.UnixMicro(int64(t)).UTC()
		refs = append(refs, r)
		ts = append(ts, t)
	}
	if err := rows.Err(); err != nil {
		return nil, "", fmt.Errorf("query trace ids: %w", err)
	}
	if len(refs) > limit {
		refs = refs[:limit]
		next = encodeCursor(ts[limit-1], refs[limit-1].TraceID)
	}
	return refs, next, nil
}

// ceilSec returns t in whole Unix seconds rounded up, clamped to the
// trace-id epoch's 32 bits: epoch e lies in [Start, End) iff
// ceilSec(Start) <= e < ceilSec(End).
// clockSkew is how much earlier than its trace id's epoch a span may
// start (hosts' clocks differ).
const clockSkew = time.Hour

// dateTimeLiteral formats t (whole seconds, rounded down) for comparison
// with a DateTime column.
func dateTimeLiteral(t time.Time) string {
	s := t.Unix()
	if s < 0 {
		s = 0
	}
	return "toDateTime(" + strconv.FormatInt(s, 10) + ")"
}

func ceilSec(t time.Time) int64 {
	s := t.Unix()
	if t.Nanosecond() > 0 {
		s++
	}
	if s < 0 {
		return 0
	}
	if s > 0xffffffff {
		return 0xffffffff
	}
	return s
}

// Cursors are base64url("1:<t µs>:<trace id>").
func encodeCursor(t uint64, traceID string) string {
	return base64.RawURLEncoding.EncodeToString([]byte("1:" + strconv.FormatUint(t, 10) + ":" + traceID))
}

func decodeCursor(c string) (uint64, string, error) {
	raw, err := base64.RawURLEncoding.DecodeString(c)
	if err != nil {
		return 0, "", fmt.Errorf("%w: invalid cursor", ErrBadQuery)
	}
	parts := strings.SplitN(string(raw), ":", 3)
	if len(parts) != 3 || parts[0] != "1" {
		return 0, "", fmt.Errorf("%w: invalid cursor", ErrBadQuery)
	}
	t, err := strconv.ParseUint(parts[1], 10, 64)
	if err != nil || !segment.ValidTraceID(parts[2]) {
		return 0, "", fmt.Errorf("%w: invalid cursor", ErrBadQuery)
	}
	return t, strings.ToLower(parts[2]), nil
}
