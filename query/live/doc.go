// Package live pushes what Fluoro ingests to dashboards over websockets
// (GET /ws): new trace summaries, service-graph deltas and alerts.
//
// The Hub is the transport: one reader and one writer goroutine per
// connection, a bounded send buffer each, write deadlines, ping/pong with a
// pong deadline, an origin check, and slow clients disconnected rather than
// blocking anyone else. Every server message is a JSON text frame
// {"type", "seq", "data"} where seq counts the messages of one connection
// without gaps (ui/src/live/messages.ts is the client side of the contract).
//
// The Feed is the producer: it satisfies the collector's Sink interface
// structurally (without importing collector), groups documents by trace for a
// short settle time so late subsegments count, and publishes one summary per
// settled trace. It is best-effort and never fails or slows ingestion: when
// it cannot keep up it drops and counts.
//
// gorilla/websocket is imported only here.
package live
