package chstore

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"

	"github.com/fluoro/fluoro/collector/segment"
)

// Service graph storage (tables of migration 0010_graph, see its comments
// and schema/README.md). Storage only moves rows: the graph itself (nodes,
// inferred nodes, edges, statistics) is computed by query/servicegraph and
// orchestrated by query/graphstore, which also decides when a bucket is
// stale.

// GraphBucket is the width of a trace bucket: the graph is computed and
// stored per minute of trace-id epochs (the graph_dirty view hard-codes it).
const GraphBucket = 60 * time.Second

const graphBucketSec = int64(GraphBucket / time.Second)

// GraphSpan is one row of graph_spans: a segment, a top-level document or
// a subsegment that calls something. Several versions of one (TraceID, ID)
// may be returned; Version orders them like spans.version.
type GraphSpan struct {
	TraceID, ID, ParentID, SegmentID string
	// Service and Origin are the enclosing segment's name and origin (""
	// inside an independent subsegment whose segment was not known at
	// ingest).
	Service, Origin string
	Name, Namespace string
	IsSegment       bool
	// StartUS and EndUS are epoch microseconds; EndUS is 0 in progress.
	StartUS, EndUS            uint64
	InProgress                bool
	Error, Fault, Throttle    bool
	HTTPStatus                uint16
	AccountID                 string
	AWSOperation, AWSResource string
	SQL                       bool
	Version                   uint64
}

const graphSpanColumns = "trace_id, id, parent_id, segment_id, service, origin, name, namespace, is_segment, " +
	"start_us, end_us, in_progress, error, fault, throttle, http_status, aws_account_id, aws_operation, aws_resource, is_sql, version"

// GraphSpans returns the graph spans of the traces whose trace-id epoch
// lies in [from, to) (whole seconds), every stored version.
func (s *Store) GraphSpans(ctx context.Context, from, to time.Time) ([]GraphSpan, error) {
	if !from.Before(to) {
		return nil, nil
	}
	q := "SELECT " + graphSpanColumns + " FROM " + s.db + ".graph_spans WHERE " + dateRange(from, to) +
		" AND " + traceIDRange(from, to)
	return s.queryGraphSpans(ctx, q)
}

// GraphSpansMatching returns the graph spans of the traces whose trace-id
// epoch lies in [from, to) and whose spans satisfy having, a trace-level
// condition from query/filter (aggregates over the spans rows of one
// trace, ? bound to args) as in TraceQuery.Having. It reads the spans of
// those traces a day either side of the window, like TraceIDs.
func (s *Store) GraphSpansMatching(ctx context.Context, from, to time.Time, having string, args []any) ([]GraphSpan, error) {
	if !from.Before(to) {
		return nil, nil
	}
	if having == "" {
		return s.GraphSpans(ctx, from, to)
	}
	sub := "SELECT trace_id FROM " + s.db + "." + s.spansLocal + " FINAL WHERE " + dateRange(from.Add(-clockSkew), to.Add(day)) +
		" AND start >= " + dateTimeLiteral(from.Add(-clockSkew)) + " AND " + traceIDRange(from, to) +
		" GROUP BY trace_id HAVING " + having
	q := "SELECT " + graphSpanColumns + " FROM " + s.db + ".graph_spans WHERE " + dateRange(from, to) +
		" AND " + traceIDRange(from, to) + " AND trace_id IN (" + sub + ")"
	return s.queryGraphSpans(ctx, q, args...)
}

// GraphSpansOf returns the graph spans of the given traces, every stored
// version. Ids that are not X-Ray trace ids are ignored.
func (s *Store) GraphSpansOf(ctx context.Context, traceIDs []string) ([]GraphSpan, error) {
	days, list := traceIDList(traceIDs)
	if list == "" {
		return nil, nil
	}
	q := "SELECT " + graphSpanColumns + " FROM " + s.db + ".graph_spans WHERE date IN (" + joinDates(days) +
		") AND trace_id IN (" + list + ")"
	return s.queryGraphSpans(ctx, q)
}

// GraphSpanRef names one span of a trace.
type GraphSpanRef struct{ TraceID, ID string }

// GraphSpansByID returns, as graph spans, the spans (of any kind, from the
// spans table) named by refs that started in [from, to]: the plain
// subsegments graph_spans leaves out, looked up when an independent
// subsegment names one as parent.
func (s *Store) GraphSpansByID(ctx context.Context, refs []GraphSpanRef, from, to time.Time) ([]GraphSpan, error) {
	if len(refs) == 0 || to.Before(from) {
		return nil, nil
	}
	traces, ids := make([]string, 0, len(refs)), make([]string, 0, len(refs))
	want := make(map[GraphSpanRef]bool, len(refs))
	for _, r := range refs {
		traces, ids = append(traces, r.TraceID), append(ids, r.ID)
		want[r] = true
	}
	q := "SELECT trace_id, id, parent_id, segment_id, service, origin, name, namespace, is_segment, start_us, end_us, in_progress, " +
		"error, fault, throttle, http_status, aws_account_id, aws_operation, aws_resource, " +
		"toUInt8(sql_url != '' OR sql_database_type != '') AS is_sql, version FROM " + s.db + ".spans WHERE " +
		dateRange(from, to) + " AND start >= " + dateTimeLiteral(from) + " AND start <= " + dateTimeLiteral(to.Add(time.Second)) +
		" AND has(?, trace_id) AND has(?, id)"
	rows, err := s.queryGraphSpans(ctx, q, traces, ids)
	if err != nil {
		return nil, err
	}
	out := rows[:0]
	for _, g := range rows {
		if want[GraphSpanRef{g.TraceID, g.ID}] {
			out = append(out, g)
		}
	}
	return out, nil
}

func (s *Store) queryGraphSpans(ctx context.Context, q string, args ...any) ([]GraphSpan, error) {
	rows, err := s.conn.Query(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("query graph spans: %w", err)
	}
	defer rows.Close()
	var out []GraphSpan
	for rows.Next() {
		var (
			g                                   GraphSpan
			seg, prog, isErr, fault, thr, isSQL uint8
		)
		if err := rows.Scan(&g.TraceID, &g.ID, &g.ParentID, &g.SegmentID, &g.Service, &g.Origin, &g.Name, &g.Namespace, &seg,
			&g.StartUS, &g.EndUS, &prog, &isErr, &fault, &thr, &g.HTTPStatus, &g.AccountID, &g.AWSOperation, &g.AWSResource,
			&isSQL, &g.Version); err != nil {
			return nil, fmt.Errorf("scan graph spans: %w", err)
		}
		g.IsSegment, g.InProgress, g.Error, g.Fault, g.Throttle, g.SQL = seg == 1, prog == 1, isErr == 1, fault == 1, thr == 1, isSQL == 1
		out = append(out, g)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("query graph spans: %w", err)
	}
	return out, nil
}

// traceIDRange is the SQL condition "trace-id epoch in [from, to)".
func traceIDRange(from, to time.Time) string {
	return fmt.Sprintf("trace_id >= '1-%08x' AND trace_id < '1-%08x'", ceilSec(from), ceilSec(to))
}

// traceIDList validates and quotes trace ids and collects their days.
func traceIDList(traceIDs []string) (map[time.Time]struct{}, string) {
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
	return days, list.String()
}

// GraphBucketState is what storage knows about one trace bucket.
type GraphBucketState struct {
	// Bucket is the bucket's start (a multiple of GraphBucket).
	Bucket time.Time
	// DirtyAt is the server time of the latest insert of spans of the
	// bucket's traces (zero: none recorded).
	DirtyAt time.Time
	// Version, ComputedAt, FirstEvent and LastEvent describe the newest
	// rollup of the bucket (Version 0: none). FirstEvent and LastEvent
	// bound the event minutes of its rows.
	Version               uint64
	ComputedAt            time.Time
	FirstEvent, LastEvent time.Time
}

// Stale reports whether the bucket has spans its newest rollup (if any)
// may not include: an insert recorded at or after the rollup's
// computed_at (both are server seconds, hence "at or after").
func (b GraphBucketState) Stale() bool {
	if b.DirtyAt.IsZero() {
		return false
	}
	return b.Version == 0 || !b.DirtyAt.Before(b.ComputedAt)
}

// GraphBuckets returns the state of every bucket in [from, to) that has
// spans or a rollup, ordered by bucket.
func (s *Store) GraphBuckets(ctx context.Context, from, to time.Time) ([]GraphBucketState, error) {
	from, to = from.Truncate(GraphBucket), to.Add(GraphBucket-time.Nanosecond).Truncate(GraphBucket)
	if !from.Before(to) {
		return nil, nil
	}
	cond := dateRange(from, to) + fmt.Sprintf(" AND bucket >= %d AND bucket < %d", from.Unix(), to.Unix())
	byBucket := map[int64]*GraphBucketState{}
	get := func(b uint32) *GraphBucketState {
		st := byBucket[int64(b)]
		if st == nil {
			st = &GraphBucketState{Bucket: time.Unix(int64(b), 0).UTC()}
			byBucket[int64(b)] = st
		}
		return st
	}
	rows, err := s.conn.Query(ctx, "SELECT bucket, max(at) FROM "+s.db+".graph_dirty WHERE "+cond+" GROUP BY bucket")
	if err != nil {
		return nil, fmt.Errorf("query graph_dirty: %w", err)
	}
	for rows.Next() {
		var (
			b  uint32
			at time.Time
		)
		if err := rows.Scan(&b, &at); err != nil {
			rows.Close()
			return nil, fmt.Errorf("scan graph_dirty: %w", err)
		}
		get(b).DirtyAt = at.UTC()
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("query graph_dirty: %w", err)
	}
	rows, err = s.conn.Query(ctx, "SELECT bucket, max(version), argMax(computed_at, version), argMax(min_start_us, version), "+
		"argMax(max_end_us, version) FROM "+s.db+".graph_rollup WHERE kind = 0 AND "+cond+" GROUP BY bucket")
	if err != nil {
		return nil, fmt.Errorf("query graph_rollup markers: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var (
			b           uint32
			v           uint64
			at          time.Time
			first, last uint64
		)
		if err := rows.Scan(&b, &v, &at, &first, &last); err != nil {
			return nil, fmt.Errorf("scan graph_rollup markers: %w", err)
		}
		st := get(b)
		st.Version, st.ComputedAt = v, at.UTC()
		st.FirstEvent, st.LastEvent = time.Unix(int64(first), 0).UTC(), time.Unix(int64(last), 0).UTC()
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("query graph_rollup markers: %w", err)
	}
	out := make([]GraphBucketState, 0, len(byBucket))
	for b := from.Unix(); b < to.Unix(); b += graphBucketSec {
		if st := byBucket[b]; st != nil {
			out = append(out, *st)
		}
	}
	return out, nil
}

// ServerNow returns the ClickHouse server's clock (whole seconds), the
// clock of graph_dirty.at and graph_rollup.computed_at.
func (s *Store) ServerNow(ctx context.Context) (time.Time, error) {
	var t time.Time
	if err := s.conn.QueryRow(ctx, "SELECT now()").Scan(&t); err != nil {
		return time.Time{}, fmt.Errorf("query server time: %w", err)
	}
	return t.UTC(), nil
}

// GraphNode identifies a node of the service graph.
type GraphNode struct{ Name, Type, AccountID string }

// GraphBin is one histogram bin: a value in microseconds and a count.
type GraphBin struct{ US, N uint64 }

// Kinds of graph_rollup rows.
const (
	GraphKindMarker uint8 = 0
	GraphKindNode   uint8 = 1
	GraphKindEdge   uint8 = 2
)

// GraphRow is one node or edge of graph_rollup: the statistics of the
// completed requests of one event minute (Minute, epoch seconds; in
// GraphRollup answers 0 unless ByMinute).
type GraphRow struct {
	Minute uint32
	Kind   uint8 // GraphKindNode or GraphKindEdge
	// Src is the node (Kind node) or the edge's source; Dst the edge's
	// destination.
	Src, Dst GraphNode
	// Active is set when the node has instrumented segments (not only
	// inferred or client appearances).
	Active bool
	// Roots counts the node's segments that were a trace's entry point.
	Roots uint64
	// Requests by class (fault > throttle > error > ok) and their summed
	// response time.
	OK, ErrorOther, Throttle, Fault, SumUS uint64
	MinStartUS, MaxEndUS                   uint64
	// Hist is the response-time histogram, DurHist the node's duration
	// histogram (trace duration for entry segments).
	Hist, DurHist []GraphBin
}

// GraphRollup is one computation of a bucket for WriteGraphRollup.
type GraphRollup struct {
	Bucket time.Time
	// Version must grow with ComputedAt and be unique per computation.
	Version    uint64
	ComputedAt time.Time
	// FirstEvent and LastEvent bound the rows' minutes (zero when no rows).
	FirstEvent, LastEvent time.Time
	Rows                  []GraphRow
}

const graphRollupColumns = "date, bucket, version, computed_at, minute, kind, src_name, src_type, src_account, " +
	"dst_name, dst_type, dst_account, active, roots, ok, error_other, throttle, fault, sum_us, min_start_us, max_end_us, " +
	"hist.us, hist.n, dur_hist.us, dur_hist.n"

// WriteGraphRollup stores one computation of a bucket: its rows and its
// marker, in one insert block (one part: readers see all of it or none).
func (s *Store) WriteGraphRollup(ctx context.Context, r GraphRollup) error {
	n := len(r.Rows) + 1
	var (
		date                                       = make([]time.Time, n)
		bucket, minute                             = make([]uint32, n), make([]uint32, n)
		version                                    = make([]uint64, n)
		computed                                   = make([]time.Time, n)
		kind, active                               = make([]uint8, n), make([]uint8, n)
		sn, st, sa, dn, dt, da                     = make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n)
		roots, ok, eo, thr, fault, sum, mins, maxe = make([]uint64, n), make([]uint64, n), make([]uint64, n), make([]uint64, n), make([]uint64, n), make([]uint64, n), make([]uint64, n), make([]uint64, n)
		hu, hn, du, dn2                            = make([][]uint64, n), make([][]uint64, n), make([][]uint64, n), make([][]uint64, n)
	)
	d := r.Bucket.UTC().Truncate(day)
	b := uint32(r.Bucket.Unix())
	for i := range n {
		date[i], bucket[i], version[i], computed[i] = d, b, r.Version, r.ComputedAt
		hu[i], hn[i], du[i], dn2[i] = []uint64{}, []uint64{}, []uint64{}, []uint64{}
	}
	// Row 0 is the marker: its start/end columns bound the event minutes.
	kind[0] = GraphKindMarker
	if !r.FirstEvent.IsZero() {
		mins[0], maxe[0] = uint64(r.FirstEvent.Unix()), uint64(r.LastEvent.Unix())
	}
	for j := range r.Rows {
		i, row := j+1, &r.Rows[j]
		minute[i], kind[i] = row.Minute, row.Kind
		sn[i], st[i], sa[i] = row.Src.Name, row.Src.Type, row.Src.AccountID
		dn[i], dt[i], da[i] = row.Dst.Name, row.Dst.Type, row.Dst.AccountID
		active[i] = b2u(row.Active)
		roots[i], ok[i], eo[i], thr[i], fault[i], sum[i] = row.Roots, row.OK, row.ErrorOther, row.Throttle, row.Fault, row.SumUS
		mins[i], maxe[i] = row.MinStartUS, row.MaxEndUS
		hu[i], hn[i] = splitBins(row.Hist)
		du[i], dn2[i] = splitBins(row.DurHist)
	}
	// On a cluster the rows must be on the shard before readers look.
	ctx = clickhouse.Context(ctx, clickhouse.WithSettings(clickhouse.Settings{"insert_distributed_sync": 1}))
	if err := sendColumns(ctx, s.conn, "INSERT INTO "+s.db+".graph_rollup ("+graphRollupColumns+")",
		date, bucket, version, computed, minute, kind, sn, st, sa, dn, dt, da, active, roots, ok, eo, thr, fault, sum, mins, maxe,
		hu, hn, du, dn2); err != nil {
		return fmt.Errorf("insert graph rollup of bucket %s: %w", r.Bucket.UTC().Format(time.RFC3339), err)
	}
	return nil
}

func splitBins(bins []GraphBin) (us, n []uint64) {
	us, n = make([]uint64, len(bins)), make([]uint64, len(bins))
	for i, b := range bins {
		us[i], n[i] = b.US, b.N
	}
	return us, n
}

// GraphBucketVersion names the rollup version of a bucket to read.
type GraphBucketVersion struct {
	Bucket  time.Time
	Version uint64
}

// GraphRollupQuery selects rollup rows.
type GraphRollupQuery struct {
	// From and To bound the event minutes, [From, To) (whole minutes).
	From, To time.Time
	// Buckets lists the bucket versions to read; rows of other buckets or
	// versions are ignored.
	Buckets []GraphBucketVersion
	// ByMinute keeps minutes apart (time series); otherwise rows of the
	// same node or edge are summed over the window.
	ByMinute bool
	// Filter, when set, keeps only the rows it matches.
	Filter *GraphFilter
}

// GraphFilter keeps rows of one kind whose source (and destination) match
// the non-empty fields.
type GraphFilter struct {
	Kind     uint8
	Src, Dst GraphNode
}

// GraphRollup reads and sums rollup rows.
func (s *Store) GraphRollup(ctx context.Context, q GraphRollupQuery) ([]GraphRow, error) {
	if len(q.Buckets) == 0 || !q.From.Before(q.To) {
		return nil, nil
	}
	days := map[time.Time]struct{}{}
	var tuples strings.Builder
	for i, b := range q.Buckets {
		days[b.Bucket.UTC().Truncate(day)] = struct{}{}
		if i > 0 {
			tuples.WriteString(", ")
		}
		tuples.WriteString("(" + strconv.FormatInt(b.Bucket.Unix(), 10) + ", " + strconv.FormatUint(b.Version, 10) + ")")
	}
	where := []string{
		"date IN (" + joinDates(days) + ")",
		"kind != 0",
		fmt.Sprintf("minute >= %d AND minute < %d", q.From.Unix(), q.To.Unix()),
		"(bucket, version) IN (" + tuples.String() + ")",
	}
	var args []any
	if f := q.Filter; f != nil {
		where = append(where, "kind = "+strconv.Itoa(int(f.Kind)))
		for _, c := range []struct{ col, val string }{
			{"src_name", f.Src.Name}, {"src_type", f.Src.Type}, {"src_account", f.Src.AccountID},
			{"dst_name", f.Dst.Name}, {"dst_type", f.Dst.Type}, {"dst_account", f.Dst.AccountID},
		} {
			if c.val != "" {
				where = append(where, c.col+" = ?")
				args = append(args, c.val)
			}
		}
	}
	minute := "toUInt32(0)"
	if q.ByMinute {
		minute = "minute"
	}
	sql := "SELECT " + minute + " AS m, kind, src_name, src_type, src_account, dst_name, dst_type, dst_account, " +
		"max(active), sum(roots), sum(ok), sum(error_other), sum(throttle), sum(fault), sum(sum_us), " +
		"min(min_start_us), max(max_end_us), tupleElement(sumMap(hist.us, hist.n) AS h, 1), tupleElement(h, 2), " +
		"tupleElement(sumMap(dur_hist.us, dur_hist.n) AS dh, 1), tupleElement(dh, 2) FROM " + s.db + ".graph_rollup WHERE " + strings.Join(where, " AND ") +
		" GROUP BY m, kind, src_name, src_type, src_account, dst_name, dst_type, dst_account" +
		" ORDER BY m, kind, src_name, src_type, src_account, dst_name, dst_type, dst_account"
	rows, err := s.conn.Query(ctx, sql, args...)
	if err != nil {
		return nil, fmt.Errorf("query graph rollup: %w", err)
	}
	defer rows.Close()
	var out []GraphRow
	for rows.Next() {
		var (
			r              GraphRow
			active         uint8
			hu, hn, du, dn []uint64
		)
		if err := rows.Scan(&r.Minute, &r.Kind, &r.Src.Name, &r.Src.Type, &r.Src.AccountID, &r.Dst.Name, &r.Dst.Type, &r.Dst.AccountID,
			&active, &r.Roots, &r.OK, &r.ErrorOther, &r.Throttle, &r.Fault, &r.SumUS, &r.MinStartUS, &r.MaxEndUS,
			&hu, &hn, &du, &dn); err != nil {
			return nil, fmt.Errorf("scan graph rollup: %w", err)
		}
		r.Active = active == 1
		r.Hist, r.DurHist = joinBins(hu, hn), joinBins(du, dn)
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("query graph rollup: %w", err)
	}
	return out, nil
}

func joinBins(us, n []uint64) []GraphBin {
	if len(us) == 0 || len(us) != len(n) {
		return nil
	}
	out := make([]GraphBin, len(us))
	for i := range us {
		out[i] = GraphBin{US: us[i], N: n[i]}
	}
	return out
}
