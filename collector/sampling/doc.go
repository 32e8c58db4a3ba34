// Package sampling implements X-Ray centralized sampling: the rules SDKs
// fetch and the reservoir quotas they are granted.
//
// Service answers the six sampling operations with X-Ray's wire format and
// error shapes: GetSamplingRules (POST /GetSamplingRules), GetSamplingTargets
// (POST /SamplingTargets) — the two SDKs call on the daemon's TCP port —
// and CreateSamplingRule, UpdateSamplingRule, DeleteSamplingRule and
// GetSamplingStatisticSummaries (POST /SamplingStatisticSummaries). One
// Service is shared by every listener of a process: the collector mounts
// the two SDK paths on its TCP port and query/api mounts all six (as an
// http.Handler injected by main, since collector and query do not import
// each other).
//
// Rules and statistics live in a Store; *chstore.Store keeps them in
// ClickHouse, MemoryStore in memory. The Default rule (reservoir 1/s, then
// 5 %) always exists, cannot be deleted, and only its FixedRate and
// ReservoirSize can be changed.
//
// Targets (xray.md §7.3): every statistics report is stored (buffered,
// about one insert per second however many clients report). A rule's
// reservoir — requests per second for all clients together — is shared
// among the clients that reported it within the last two intervals (20 s),
// in proportion to their request counts, remainders to the busiest. The
// clients come from this process's own reports merged with the store's, so
// several collectors behind a load balancer grant consistent shares.
// Quotas live 30 s (ReservoirQuotaTTL); Interval is 10 s;
// LastRuleModification is the latest change to any rule, deletions
// included, which makes SDKs re-fetch the rules; reports for unknown rules
// come back in UnprocessedStatistics with ErrorCode 400 (SDKs then re-fetch
// too).
//
// It imports schema/chstore for the record types only.
package sampling
