// Package graphstore serves the service graph from ClickHouse: it keeps
// per-minute rollups of query/servicegraph's rows current in
// schema/chstore's graph tables and answers GetServiceGraph,
// GetTimeSeriesServiceStatistics and GetTraceGraph from them.
//
// # Why rollups per trace minute, computed in Go
//
// An edge pairs a caller subsegment with the callee segment that names it
// as parent. The two are documents of their own, sent by different
// processes, and reach storage in different batches, sometimes minutes
// apart. Pairing them inside one insert (a materialized view joining the
// inserted block, as SigNoz does) loses every pair split across inserts,
// and joining an hour of spans at query time is too slow (≈5 M spans per
// hour at 1 M traces, 300 ms budget, 2 cores).
//
// So storage keeps graph_spans, a narrow copy of the spans the graph needs
// in trace-id order (materialized view over spans, no join), and
// graph_dirty, the server time of the latest insert per trace minute
// ("bucket": the trace id's epoch rounded down to a minute, the same for
// every document of a trace whatever its arrival). A bucket is computed by
// reading all of its traces' spans (one primary-key range), building each
// trace with servicegraph (pairs, inferred nodes, client edges), and
// writing the rows per event minute with a new version into graph_rollup.
// A bucket is stale while graph_dirty has an insert at or after the
// snapshot time its newest rollup records (minus a margin), so a late
// document simply makes its bucket stale and the next computation includes
// it: edges are exact whatever the arrival order, and raw spans stay the
// source of truth (rollups can be dropped and recomputed at any time).
//
// A query first brings the stale buckets that can hold requests of its
// window up to date (traces started up to Lookback before the window),
// then sums their newest rows in ClickHouse. Run does the same in the
// background every RefreshInterval so that queries rarely compute more
// than the current minute.
//
// Graphs of a group with a filter expression are computed from the
// matching traces' spans on every query (groups filter traces, which
// rollups cannot).
package graphstore
