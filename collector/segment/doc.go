// Package segment is Fluoro's model of X-Ray segment documents and the
// decoder that produces it: the typed, flattened form that the collector
// decodes datagrams into, that schema/chstore writes to ClickHouse and that
// query reads back.
//
// It is a leaf package: it imports nothing of Fluoro's and may be imported by
// collector, schema and query alike. It must not import clickhouse-go, echo or
// any network code.
//
// # Model
//
// A Document is one top-level document as received (a segment or an
// independent subsegment; an array body gives one Document per element). It
// keeps Raw, the document's exact bytes, which BatchGetTraces returns
// verbatim, and Spans: Spans[0] is the document itself, followed by its
// embedded subsegments depth first, each flattened into the typed columns of
// one span-table row (ids, times, flags, http, aws, sql, cause, annotations
// split by type). Embedded spans inherit the trace id, get their enclosing
// span as ParentID, the document id as SegmentID, and (inside a segment) the
// segment's name and origin as Service and Origin.
//
// # Ingest path
//
//	SplitDatagram(pkt)          daemon framing: {"format":"json","version":1}\n<body>
//	Decoder.Decode(body, t, dst) body → Documents, validated (xray.md §2.11)
//
// Decode is the collector's hot path. It is a hand-written, strict (RFC 8259)
// single-pass scanner that knows the segment schema: it dispatches on member
// names, extracts what the span table needs, and validates but does not
// build anything for the rest (metadata, stacks, unknown members), without
// recursion for skipped values. The body is copied once; that copy is Raw
// and backs every unescaped string of the decoded spans (strings are scanned
// eight bytes at a time), so a Document never aliases the caller's buffer
// and Raw must be treated as read-only. Plain decimal numbers (timestamps)
// are converted by an exact fast path instead of strconv. Spans are built in
// per-Decoder scratch and copied out at their exact size; the annotations of
// a document share one slab per value type. The 1 KB benchmark document
// costs four allocations when dst[:0] is passed back (its Spans array is
// reused), six otherwise.
//
// BenchmarkDecode1KB and BenchmarkDecode8KB guard it (budget: 5 µs per 1 KB
// document on the 2-core reference machine); BenchmarkBaselineFastjson1KB
// shows what merely parsing and visiting the same document with fastjson
// costs.
//
// # Validation
//
// Each rejected document yields a *DecodeError with a stable snake_case
// Reason (a metric label, see Reasons) and the X-Ray ErrorCode that
// PutTraceSegments reports in UnprocessedTraceSegments. A body that is not
// JSON is rejected whole; inside an array, an element that is JSON but
// invalid is skipped and reported while the valid elements are kept. Limits
// bound document size (64 KiB), JSON nesting, annotations and subsegments per
// document, name length, and how far in the future times may lie.
//
// # Trace header
//
// ParseTraceHeader and TraceHeader.String read and write X-Amzn-Trace-Id
// (Root, Parent, Sampled, Lineage and any other key=value kept in order).
package segment
