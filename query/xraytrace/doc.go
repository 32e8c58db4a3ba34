// Package xraytrace turns the stored documents of one trace into what the
// X-Ray read API returns: the compiled documents of BatchGetTraces and the
// TraceSummary of GetTraceSummaries.
//
// Compilation (xray.md §1.3, §4.6): independent subsegments ("type":
// "subsegment", sent on their own by streaming SDKs and inside Lambda) are
// merged into the "subsegments" array of their parent segment or subsegment,
// found by parent_id, recursively and whatever the arrival order. A merged
// subsegment loses the members only an independent document carries (type,
// trace_id, parent_id), as X-Ray does. Subsegments whose parent never arrived
// (orphans, e.g. the SDK subsegments of a Lambda function whose function
// segment is missing) stay top-level documents, with the subsegments that
// name them as parent merged into them. Documents that needed no merge are
// returned byte for byte as stored; merged ones are re-serialised with their
// members in the original order.
//
// Summaries (xray.md §4.5, §6.2, §6.5) are computed from the compiled tree:
// the root segment gives Http, ResponseTime, HasFault and HasError; every
// segment and subsegment contributes annotations, users, resource ARNs and
// services (including inferred services for aws/remote calls whose callee
// sent no segment).
//
// The package is pure Go: no HTTP, no ClickHouse. It imports only
// collector/segment (for segment.Kind) and github.com/valyala/fastjson.
package xraytrace
