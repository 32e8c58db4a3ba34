package graphstore

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/VictoriaMetrics/metrics"

	"github.com/fluoro/fluoro/query/servicegraph"
	"github.com/fluoro/fluoro/schema/chstore"
)

// Config is the user-set configuration of the service graph.
type Config struct {
	// RefreshInterval is how often Run brings stale buckets up to date (0
	// disables the background refresh: queries then compute what they
	// need themselves).
	RefreshInterval time.Duration
	// RefreshWindow is how far back Run looks for stale buckets.
	RefreshWindow time.Duration
	// Lookback is how long before a window's start a trace may have begun
	// and still have requests in the window that count.
	Lookback time.Duration
	// FilterLookback is Lookback for group graphs (filtered traces are
	// read from spans, so the lookback costs time on every query).
	FilterLookback time.Duration
	// Workers bounds the buckets computed at once (per query and in Run).
	Workers int
	// MaxStaleness lets queries use a stale rollup computed at most this
	// long ago instead of recomputing its bucket (0: always exact). With
	// Run keeping rollups fresh, a few seconds spare busy deployments
	// recomputing the current minute on every query, at the price of the
	// newest spans.
	MaxStaleness time.Duration
}

// DefaultConfig returns the defaults the flags start from.
func DefaultConfig() Config {
	return Config{RefreshInterval: 10 * time.Second, RefreshWindow: 24 * time.Hour, Lookback: 6 * time.Hour,
		FilterLookback: 15 * time.Minute, Workers: 2}
}

// RegisterFlags registers the service graph flags on fs with c's current
// values as defaults (call on a DefaultConfig).
func (c *Config) RegisterFlags(fs *flag.FlagSet) {
	fs.DurationVar(&c.RefreshInterval, "graph-refresh-interval", c.RefreshInterval, "how often the service graph's per-minute rollups are brought up to date in the background (0: only when queried)")
	fs.DurationVar(&c.RefreshWindow, "graph-refresh-window", c.RefreshWindow, "how far back the background refresh looks for traces whose rollups are stale")
	fs.DurationVar(&c.Lookback, "graph-lookback", c.Lookback, "how long before a service graph window a trace may have started and still count with the requests it made inside the window")
	fs.DurationVar(&c.FilterLookback, "graph-filter-lookback", c.FilterLookback, "--graph-lookback for graphs of groups with a filter expression (computed from spans on every query)")
	fs.IntVar(&c.Workers, "graph-workers", c.Workers, "trace minutes the service graph computes at once")
	fs.DurationVar(&c.MaxStaleness, "graph-max-staleness", c.MaxStaleness, "how old a rollup of a minute with newer spans may be and still answer queries (0: queries always recompute such minutes, exact but slower under heavy ingest)")
}

// Validate reports every invalid setting.
func (c *Config) Validate() error {
	var errs []error
	if c.RefreshInterval < 0 {
		errs = append(errs, fmt.Errorf("--graph-refresh-interval %v: must be ≥ 0", c.RefreshInterval))
	}
	if c.RefreshWindow < chstore.GraphBucket {
		errs = append(errs, fmt.Errorf("--graph-refresh-window %v: must be at least %v", c.RefreshWindow, chstore.GraphBucket))
	}
	if c.Lookback < 0 || c.FilterLookback < 0 {
		errs = append(errs, fmt.Errorf("--graph-lookback %v / --graph-filter-lookback %v: must be ≥ 0", c.Lookback, c.FilterLookback))
	}
	if c.MaxStaleness < 0 {
		errs = append(errs, fmt.Errorf("--graph-max-staleness %v: must be ≥ 0", c.MaxStaleness))
	}
	if c.Workers < 1 || c.Workers > 64 {
		errs = append(errs, fmt.Errorf("--graph-workers %d: must be 1-64", c.Workers))
	}
	return errors.Join(errs...)
}

// Store is the storage the graph needs; *chstore.Store satisfies it.
type Store interface {
	GraphSpans(ctx context.Context, from, to time.Time) ([]chstore.GraphSpan, error)
	GraphSpansMatching(ctx context.Context, from, to time.Time, having string, args []any) ([]chstore.GraphSpan, error)
	GraphSpansOf(ctx context.Context, traceIDs []string) ([]chstore.GraphSpan, error)
	GraphSpansByID(ctx context.Context, refs []chstore.GraphSpanRef, from, to time.Time) ([]chstore.GraphSpan, error)
	GraphBuckets(ctx context.Context, from, to time.Time) ([]chstore.GraphBucketState, error)
	ServerNow(ctx context.Context) (time.Time, error)
	WriteGraphRollup(ctx context.Context, r chstore.GraphRollup) error
	GraphRollup(ctx context.Context, q chstore.GraphRollupQuery) ([]chstore.GraphRow, error)
}

// Settings are the developer-set dependencies.
type Settings struct {
	// Logger receives failures of the background refresh; nil discards.
	Logger *slog.Logger
	// Store is the storage. Required.
	Store Store
}

// Graph answers service graph queries and keeps the rollups current.
type Graph struct {
	cfg   Config
	log   *slog.Logger
	store Store
	seq   atomic.Uint32

	set           *metrics.Set
	computed      *metrics.Counter
	computeErrors *metrics.Counter
	computeTime   *metrics.Summary
	spansRead     *metrics.Counter
	parentsFound  *metrics.Counter
}

// New validates cfg and returns a Graph.
func New(cfg Config, set Settings) (*Graph, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("service graph config: %w", err)
	}
	if set.Store == nil {
		return nil, errors.New("service graph: Settings.Store is required")
	}
	g := &Graph{cfg: cfg, log: set.Logger, store: set.Store, set: metrics.NewSet()}
	if g.log == nil {
		g.log = slog.New(slog.DiscardHandler)
	}
	g.computed = g.set.NewCounter("fluoro_graph_buckets_computed_total")
	g.computeErrors = g.set.NewCounter("fluoro_graph_bucket_errors_total")
	g.computeTime = g.set.NewSummary("fluoro_graph_bucket_compute_seconds")
	g.spansRead = g.set.NewCounter("fluoro_graph_spans_read_total")
	g.parentsFound = g.set.NewCounter("fluoro_graph_parents_looked_up_total")
	return g, nil
}

// WriteMetrics writes the graph's metrics in Prometheus text format:
// buckets computed, failures, compute time and spans read.
func (g *Graph) WriteMetrics(w io.Writer) { g.set.WritePrometheus(w) }

// Run refreshes stale buckets every RefreshInterval until ctx is done,
// then returns nil. Failures are logged and retried at the next tick.
func (g *Graph) Run(ctx context.Context) error {
	if g.cfg.RefreshInterval == 0 {
		<-ctx.Done()
		return nil
	}
	t := time.NewTicker(g.cfg.RefreshInterval)
	defer t.Stop()
	for {
		now := time.Now()
		if _, err := g.Refresh(ctx, now.Add(-g.cfg.RefreshWindow), now.Add(chstore.GraphBucket)); err != nil && ctx.Err() == nil {
			g.log.Warn("service graph refresh failed; retrying at the next tick", "err", err)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

// Refresh computes every stale bucket of traces started in [from, to) and
// returns how many it computed.
func (g *Graph) Refresh(ctx context.Context, from, to time.Time) (int, error) {
	states, err := g.store.GraphBuckets(ctx, from, to)
	if err != nil {
		return 0, err
	}
	n := 0
	for _, st := range states {
		if st.Stale() {
			n++
		}
	}
	_, err = g.refresh(ctx, states)
	return n, err
}

// refresh computes the stale buckets of states, updating states in place,
// Workers at a time.
func (g *Graph) refresh(ctx context.Context, states []chstore.GraphBucketState) ([]chstore.GraphBucketState, error) {
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		errs []error
		sem  = make(chan struct{}, g.cfg.Workers)
	)
	for i := range states {
		if !states[i].Stale() {
			continue
		}
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
			wg.Wait()
			return states, ctx.Err()
		}
		wg.Add(1)
		go func(st *chstore.GraphBucketState) {
			defer func() { <-sem; wg.Done() }()
			if err := g.computeBucket(ctx, st); err != nil {
				mu.Lock()
				errs = append(errs, err)
				mu.Unlock()
			}
		}(&states[i])
	}
	wg.Wait()
	return states, errors.Join(errs...)
}

// computeMargin is subtracted from the snapshot time recorded with a
// rollup: an insert whose graph_dirty mark is within it of the snapshot
// leaves the bucket stale (its spans may have become visible a little
// after the mark, see migration 0010_graph).
const computeMargin = 2 * time.Second

// computeBucket computes the rollup of one bucket from its spans and
// stores it; st gets the new version.
func (g *Graph) computeBucket(ctx context.Context, st *chstore.GraphBucketState) error {
	start := time.Now()
	now, err := g.store.ServerNow(ctx)
	if err != nil {
		g.computeErrors.Inc()
		return err
	}
	spans, err := g.store.GraphSpans(ctx, st.Bucket, st.Bucket.Add(chstore.GraphBucket))
	if err == nil {
		spans, err = g.withParents(ctx, spans)
	}
	if err != nil {
		g.computeErrors.Inc()
		return err
	}
	g.spansRead.Add(len(spans))
	agg := servicegraph.NewAggregator(servicegraph.Options{ByMinute: true})
	agg.AddSpans(toSpans(spans))
	rows := agg.Rows()
	r := chstore.GraphRollup{
		Bucket:     st.Bucket,
		Version:    uint64(now.Unix())<<32 | uint64(g.seq.Add(1)),
		ComputedAt: now.Add(-computeMargin),
		Rows:       toStoreRows(rows),
	}
	if len(rows) > 0 {
		first, last := rows[0].Minute, rows[0].Minute
		for _, row := range rows {
			first, last = min(first, row.Minute), max(last, row.Minute)
		}
		r.FirstEvent, r.LastEvent = time.Unix(first, 0).UTC(), time.Unix(last, 0).UTC()
	}
	if err := g.store.WriteGraphRollup(ctx, r); err != nil {
		g.computeErrors.Inc()
		return err
	}
	st.Version, st.ComputedAt, st.FirstEvent, st.LastEvent = r.Version, r.ComputedAt, r.FirstEvent, r.LastEvent
	st.DirtyAt = time.Time{} // up to date for this query
	g.computed.Inc()
	g.computeTime.UpdateDuration(start)
	return nil
}

// Filter restricts a graph to the traces matching a trace-level condition
// from query/filter (a group's filter expression).
type Filter struct {
	Having string
	Args   []any
}

// Query selects a service graph.
type Query struct {
	// Start and End bound the window; requests count by their end time.
	// They are widened to whole minutes.
	Start, End time.Time
	// Filter, when set, keeps only matching traces.
	Filter *Filter
}

// Result is a service graph.
type Result struct {
	// Start and End are the window actually covered (whole minutes).
	Start, End time.Time
	Services   []servicegraph.Service
}

// minutes widens [start, end) to whole minutes.
func minutes(start, end time.Time) (time.Time, time.Time) {
	from := start.UTC().Truncate(time.Minute)
	to := end.UTC().Truncate(time.Minute)
	if to.Before(end) {
		to = to.Add(time.Minute)
	}
	return from, to
}

// ServiceGraph returns the graph of the requests that ended in the
// window.
func (g *Graph) ServiceGraph(ctx context.Context, q Query) (Result, error) {
	from, to := minutes(q.Start, q.End)
	res := Result{Start: from, End: to}
	if !from.Before(to) {
		res.Services = []servicegraph.Service{}
		return res, nil
	}
	if q.Filter != nil {
		agg, err := g.filtered(ctx, from, to, *q.Filter, false)
		if err != nil {
			return res, err
		}
		res.Services = servicegraph.Render(agg.Rows())
		return res, nil
	}
	rows, err := g.rollupRows(ctx, from, to, false, nil)
	if err != nil {
		return res, err
	}
	res.Services = servicegraph.Render(rows)
	return res, nil
}

// filtered aggregates the matching traces of [from-FilterLookback, to)
// over the window from spans.
func (g *Graph) filtered(ctx context.Context, from, to time.Time, f Filter, byMinute bool) (*servicegraph.Aggregator, error) {
	spans, err := g.store.GraphSpansMatching(ctx, from.Add(-g.cfg.FilterLookback), to, f.Having, f.Args)
	if err == nil {
		spans, err = g.withParents(ctx, spans)
	}
	if err != nil {
		return nil, err
	}
	g.spansRead.Add(len(spans))
	agg := servicegraph.NewAggregator(servicegraph.Options{ByMinute: byMinute, From: from, To: to})
	agg.AddSpans(toSpans(spans))
	return agg, nil
}

// rollupRows brings the buckets that may hold requests of [from, to) up
// to date and reads their rows.
func (g *Graph) rollupRows(ctx context.Context, from, to time.Time, byMinute bool, filter *chstore.GraphFilter) ([]servicegraph.Row, error) {
	states, err := g.store.GraphBuckets(ctx, from.Add(-g.cfg.Lookback), to)
	if err != nil {
		return nil, err
	}
	if g.cfg.MaxStaleness > 0 {
		// Recent enough rollups answer although newer spans exist.
		recent := time.Now().Add(-g.cfg.MaxStaleness - computeMargin)
		for i := range states {
			if st := &states[i]; st.Stale() && st.Version != 0 && st.ComputedAt.After(recent) {
				st.DirtyAt = time.Time{}
			}
		}
	}
	if states, err = g.refresh(ctx, states); err != nil {
		return nil, err
	}
	var versions []chstore.GraphBucketVersion
	for _, st := range states {
		if st.Version == 0 || st.FirstEvent.IsZero() || st.LastEvent.Before(from) || !st.FirstEvent.Before(to) {
			continue
		}
		versions = append(versions, chstore.GraphBucketVersion{Bucket: st.Bucket, Version: st.Version})
	}
	stored, err := g.store.GraphRollup(ctx, chstore.GraphRollupQuery{From: from, To: to, Buckets: versions, ByMinute: byMinute, Filter: filter})
	if err != nil {
		return nil, err
	}
	return fromStoreRows(stored), nil
}

// TimeSeriesQuery selects a time series of statistics.
type TimeSeriesQuery struct {
	Start, End time.Time
	// Period is the length of a point (a multiple of a minute); points
	// start at multiples of it.
	Period   time.Duration
	Selector servicegraph.Selector
	// Forecast adds ServiceForecastStatistics to every point.
	Forecast bool
	Filter   *Filter
}

// TimeSeries returns the statistics of the selected nodes or edges per
// period.
func (g *Graph) TimeSeries(ctx context.Context, q TimeSeriesQuery) ([]servicegraph.TimeSeriesPoint, error) {
	if q.Period < time.Minute || q.Period%time.Minute != 0 {
		return nil, fmt.Errorf("period %v is not a whole number of minutes", q.Period)
	}
	from, to := minutes(q.Start, q.End)
	first := time.Unix(from.Unix()/int64(q.Period/time.Second)*int64(q.Period/time.Second), 0).UTC()
	if !from.Before(to) {
		return []servicegraph.TimeSeriesPoint{}, nil
	}
	var rows []servicegraph.Row
	if q.Filter != nil {
		agg, err := g.filtered(ctx, from, to, *q.Filter, true)
		if err != nil {
			return nil, err
		}
		rows = agg.Rows()
	} else {
		var err error
		if rows, err = g.rollupRows(ctx, from, to, true, storeFilter(q.Selector)); err != nil {
			return nil, err
		}
	}
	return servicegraph.TimeSeries(rows, q.Selector, first, q.Period, q.Forecast), nil
}

// storeFilter narrows the storage read to what sel can match (sel is
// applied exactly afterwards).
func storeFilter(sel servicegraph.Selector) *chstore.GraphFilter {
	ref := func(r servicegraph.NodeRef) chstore.GraphNode {
		var n chstore.GraphNode
		if r.HasName {
			n.Name = r.Name
		}
		if r.HasType {
			n.Type = r.Type
		}
		if r.HasAccountID {
			n.AccountID = r.AccountID
		}
		return n
	}
	switch sel.Kind {
	case servicegraph.SelectService:
		return &chstore.GraphFilter{Kind: chstore.GraphKindNode, Src: ref(sel.Node)}
	case servicegraph.SelectEdge:
		return &chstore.GraphFilter{Kind: chstore.GraphKindEdge, Src: ref(sel.Src), Dst: ref(sel.Dst)}
	}
	return &chstore.GraphFilter{Kind: chstore.GraphKindEdge, Src: chstore.GraphNode{Type: servicegraph.TypeClient}}
}

// TraceGraph returns the graph of the given traces (all their requests,
// nodes of in-progress segments included).
func (g *Graph) TraceGraph(ctx context.Context, traceIDs []string) ([]servicegraph.Service, error) {
	spans, err := g.store.GraphSpansOf(ctx, traceIDs)
	if err == nil {
		spans, err = g.withParents(ctx, spans)
	}
	if err != nil {
		return nil, err
	}
	agg := servicegraph.NewAggregator(servicegraph.Options{})
	agg.AddSpans(toSpans(spans))
	return agg.Graph(), nil
}

// parentWindow is how long before an independent subsegment its parent
// may have started and still be found by withParents.
const parentWindow = 5 * time.Minute

// withParents adds to spans the parents of independent subsegments that
// graph_spans leaves out (plain subsegments, e.g. a custom "process"
// subsegment whose calls an SDK streamed as documents of their own): the
// graph needs them to find the calls' service. Such a parent is embedded
// in a document whose own row graph_spans holds, so one lookup suffices.
// Parents that never arrived (orphans) are looked up on every computation.
func (g *Graph) withParents(ctx context.Context, spans []chstore.GraphSpan) ([]chstore.GraphSpan, error) {
	have := make(map[chstore.GraphSpanRef]bool, len(spans))
	for i := range spans {
		have[chstore.GraphSpanRef{TraceID: spans[i].TraceID, ID: spans[i].ID}] = true
	}
	var (
		refs               []chstore.GraphSpanRef
		minStart, maxStart uint64
	)
	for i := range spans {
		s := &spans[i]
		if s.IsSegment || s.ID != s.SegmentID || s.ParentID == "" {
			continue // not an independent subsegment document
		}
		r := chstore.GraphSpanRef{TraceID: s.TraceID, ID: s.ParentID}
		if have[r] {
			continue
		}
		have[r] = true
		refs = append(refs, r)
		if minStart == 0 || s.StartUS < minStart {
			minStart = s.StartUS
		}
		maxStart = max(maxStart, s.StartUS)
	}
	if len(refs) == 0 {
		return spans, nil
	}
	found, err := g.store.GraphSpansByID(ctx, refs, time.UnixMicro(int64(minStart)).Add(-parentWindow), time.UnixMicro(int64(maxStart)).Add(time.Second))
	if err != nil {
		return nil, err
	}
	g.parentsFound.Add(len(found))
	return append(spans, found...), nil
}

func toSpans(in []chstore.GraphSpan) []servicegraph.Span {
	out := make([]servicegraph.Span, len(in))
	for i := range in {
		s := &in[i]
		out[i] = servicegraph.Span{
			TraceID: s.TraceID, ID: s.ID, ParentID: s.ParentID, SegmentID: s.SegmentID,
			Service: s.Service, Origin: s.Origin, Name: s.Name, Namespace: s.Namespace, AccountID: s.AccountID,
			IsSegment: s.IsSegment, StartUS: s.StartUS, EndUS: s.EndUS, InProgress: s.InProgress,
			Error: s.Error, Fault: s.Fault, Throttle: s.Throttle, HTTPStatus: s.HTTPStatus,
			AWSOperation: s.AWSOperation, AWSResource: s.AWSResource, SQL: s.SQL, Version: s.Version,
		}
	}
	return out
}

func node(k servicegraph.NodeKey) chstore.GraphNode {
	return chstore.GraphNode{Name: k.Name, Type: k.Type, AccountID: k.AccountID}
}

func key(n chstore.GraphNode) servicegraph.NodeKey {
	return servicegraph.NodeKey{Name: n.Name, Type: n.Type, AccountID: n.AccountID}
}

func toStoreRows(rows []servicegraph.Row) []chstore.GraphRow {
	out := make([]chstore.GraphRow, len(rows))
	for i := range rows {
		r := &rows[i]
		kind := chstore.GraphKindNode
		if r.Edge {
			kind = chstore.GraphKindEdge
		}
		out[i] = chstore.GraphRow{
			Minute: uint32(r.Minute), Kind: kind, Src: node(r.Src), Dst: node(r.Dst), Active: r.Active, Roots: r.Roots,
			OK: r.OK, ErrorOther: r.ErrorOther, Throttle: r.Throttle, Fault: r.Fault, SumUS: r.SumUS,
			MinStartUS: r.MinStartUS, MaxEndUS: r.MaxEndUS, Hist: bins(r.Hist), DurHist: bins(r.DurHist),
		}
	}
	return out
}

func fromStoreRows(rows []chstore.GraphRow) []servicegraph.Row {
	out := make([]servicegraph.Row, len(rows))
	for i := range rows {
		r := &rows[i]
		out[i] = servicegraph.Row{
			Minute: int64(r.Minute), Edge: r.Kind == chstore.GraphKindEdge, Src: key(r.Src), Dst: key(r.Dst),
			Active: r.Active, Roots: r.Roots,
			Stats: servicegraph.Stats{OK: r.OK, ErrorOther: r.ErrorOther, Throttle: r.Throttle, Fault: r.Fault, SumUS: r.SumUS,
				MinStartUS: r.MinStartUS, MaxEndUS: r.MaxEndUS, Hist: hist(r.Hist)},
			DurHist: hist(r.DurHist),
		}
	}
	return out
}

func bins(h map[uint64]uint64) []chstore.GraphBin {
	out := make([]chstore.GraphBin, 0, len(h))
	for us, n := range h {
		out = append(out, chstore.GraphBin{US: us, N: n})
	}
	return out
}

func hist(b []chstore.GraphBin) map[uint64]uint64 {
	if len(b) == 0 {
		return nil
	}
	h := make(map[uint64]uint64, len(b))
	for _, x := range b {
		h[x.US] += x.N
	}
	return h
}
