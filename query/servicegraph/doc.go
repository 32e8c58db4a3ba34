// Package servicegraph builds X-Ray's service graph (GetServiceGraph,
// GetTraceGraph, GetTimeSeriesServiceStatistics; xray.md §4.7, §4.8, §6)
// from the segments and subsegments of traces. It is pure Go: no HTTP, no
// ClickHouse. query/graphstore feeds it from storage.
//
// # From one trace to nodes and edges (xray.md §6.2–6.4)
//
// Spans are deduplicated by id (highest Version wins: a complete document
// beats its in-progress versions). Then:
//
//   - every segment belongs to the node (name, origin, aws.account_id);
//     its completed requests are that node's statistics;
//   - a segment whose parent_id is empty or not in the trace is an entry
//     point: its node is Root and a client node {Name: segment name, Type:
//     "client"} gets an edge to it, with the segment's statistics;
//   - a segment whose parent is a subsegment S gets an edge from S's
//     service (the segment enclosing S, followed through independent
//     subsegments) with S's statistics, the caller's view of the call (the
//     segment's own when S is still in progress); a segment whose parent
//     is a segment (AWS::Lambda → AWS::Lambda::Function) gets an edge from
//     that segment's node with its own statistics;
//   - a subsegment with namespace aws or remote, or with sql, that no
//     segment names as parent generates an inferred node, named like
//     query/filter and query/xraytrace do: DynamoDB tables
//     (AWS::DynamoDB::Table), SQS queues, S3 buckets, invoked Lambda
//     functions (AWS::Lambda), other AWS calls AWS::<name>, SQL calls
//     Database::SQL, other remote calls "remote". The node's statistics
//     and the edge from the caller both come from the subsegment.
//
// Nodes with the same (Name, Type, AccountId) across traces are one node;
// instrumented nodes are State "active", client and inferred ones
// "unknown" (xray.md §4.7).
//
// # Statistics (xray.md §6.5)
//
// Each completed request (a span with an end time) is classified once:
// fault (flag, else HTTP 5xx) > throttle (flag, else 429) > error (flag,
// else other 4xx) > ok. Flags win over the status. Response times go into
// histograms binned to two significant digits of milliseconds (1 ms steps
// below 100 ms, then 10 ms, 100 ms, …). A node's DurationHistogram holds
// the trace duration for entry segments and the response time otherwise.
// A request counts in the window (and the minute) of its end time: for an
// edge the caller subsegment's end, for a node the segment's end.
//
// The Aggregator accumulates Rows, optionally per event minute (the form
// storage keeps, so that minutes of several storage buckets add up), and
// Render turns rows into the Services of the API; TimeSeries sums the rows
// a Selector (EntitySelectorExpression) picks per period.
package servicegraph
