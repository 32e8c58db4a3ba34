// Package api is Fluoro's X-Ray REST API (API version 2016-04-12): the HTTP
// edge that answers unmodified AWS SDK, CLI and Grafana X-Ray clients
// pointed at Fluoro by endpoint (xray.md §4).
//
// Every operation is a POST to a fixed path with a JSON body (an empty body
// counts as {}); members use X-Ray's PascalCase names; timestamps are epoch
// seconds. Errors use the REST-JSON shape the AWS SDKs decode: an HTTP
// status, the header X-Amzn-ErrorType naming the error shape
// (InvalidRequestException, ThrottledException, …) and a body
// {"__type": shape, "Message": text} with a message a person can act on.
//
// Served so far:
//
//	POST /Traces            BatchGetTraces: compiled documents (query/xraytrace)
//	POST /TraceSummaries    GetTraceSummaries: summaries of a time window, paged
//	POST /EncryptionConfig  GetEncryptionConfig: {"Type":"NONE","Status":"ACTIVE"}
//	POST /GetTraceSegmentDestination  {"Destination":"XRay","Status":"ACTIVE"}
//	POST /TelemetryRecords  PutTelemetryRecords: validated and ignored
//	                        (only without Extra; the collector counts it)
//	POST /CreateGroup, /GetGroup, /Groups, /UpdateGroup, /DeleteGroup
//	                        groups (groups.go) in a GroupStore (*chstore.Store)
//	POST /InsightSummaries, /Insight, /InsightEvents, /InsightImpactGraph
//	                        insights: validated, no insights yet (insights.go)
//	POST /GetSamplingRules, /SamplingTargets, /CreateSamplingRule,
//	     /UpdateSamplingRule, /DeleteSamplingRule, /SamplingStatisticSummaries
//	                        Settings.Sampling (collector/sampling's Service,
//	                        injected by main and shared with the collector)
//
// Groups: the Default group always exists (no filter: every trace; only
// its InsightsConfiguration can change; it cannot be deleted); other groups
// have names of 1-32 letters, digits, '-' or '_', ARNs
// arn:aws:xray:us-east-1:000000000000:group/<name>/<24-char id> (a new id
// when a name is re-created), and filter expressions checked on write
// (syntax, group references without cycles, SQL translation). At most
// MaxGroups (25) besides Default; a group another group's expression uses
// cannot be deleted. GetGroups lists Default first, then by name, 25 per
// page. Operations taking a group call resolveGroup; filters bind
// group.name / group.arn through groupLookup.
//
// The other X-Ray operations of the read API are in the route table and
// answer NotImplementedException (HTTP 501) until they are built. Requests
// for paths the API does not own go to Settings.Extra (the collector's
// PutTraceSegments, sampling endpoints and /metrics), so an SDK pointed at
// the API port can also send segments.
//
// GetTraceSummaries' FilterExpression is parsed by query/filter and sent
// to storage as a HAVING condition with bound arguments; root-cause
// predicates, which the span table cannot decide, are confirmed in memory
// with filter's evaluator; group.name and group.arn stand for the named
// group's current expression. Expressions that do not parse or name no
// group are rejected with InvalidRequestException naming the position, the
// keyword or the group: a filter is never ignored. NextToken wraps the storage cursor with a fingerprint of
// the query, so a token reused with other parameters is rejected.
// Sampling (or a SamplingStrategy) keeps a stable hash-chosen share of the
// traces, SamplingStrategy.Value or 10 %; PartialScan and FixedRate are
// treated alike.
//
// Metrics (requests by operation and error code, durations) are written by
// WriteMetrics in Prometheus text format.
//
// Handlers are thin: they decode the request into plain Go values and call
// the operation functions (batchGetTraces, getTraceSummaries), which tests
// also call directly. Storage is reached through TraceReader, declared here
// and satisfied by *chstore.Store. echo is imported only by this package
// (and main).
package api
