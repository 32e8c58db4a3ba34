// Package alert is Fluoro's alerting engine: rules over traces, their
// evaluation, alert state with history, and notifications.
//
// A rule selects traces with an X-Ray filter expression or a group and
// tests one condition: every new matching trace (kind trace, evaluated in
// memory with query/filter's Match as traces settle), the number of
// matching traces in a window (count), the fault or error ratio of a
// service or edge (ratio), or a response-time percentile (latency); the
// last three run on a schedule in ClickHouse through QueryFunc
// ((*chstore.Store).EvaluateAlerts, query/filter's SQL back-end with bound
// arguments). Alerts go pending → firing → resolved (Prometheus-style
// "for"); every change is stored in the history, and the state itself is
// persisted so a restart neither re-notifies nor forgets a firing alert.
// Notifications are grouped (one per burst, with sample trace ids), go to
// receivers (webhook, Slack-compatible, command) with retries and
// back-off through NotifyFunc, and every attempt is recorded. Rules come
// from the REST API (stored in ClickHouse) and from a rules file.
//
// The engine never slows ingestion: ObserveDocuments (a
// collector.Observer, the recommended wiring), WriteDocuments and Observe
// (a live.GraphSink) only copy spans and do a non-blocking send on a
// bounded queue, counting what they drop.
//
// README.md documents the rule format, the notification JSON, the REST
// API and the wiring.
//
// It imports query/filter, query/live (for the TraceUpdate type),
// schema/chstore types, collector/segment and VictoriaMetrics/metrics; no
// clickhouse-go, echo or websocket.
package alert
