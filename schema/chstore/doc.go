// Package chstore writes X-Ray documents to ClickHouse and reads them back:
// the storage side of the collector (WriteDocuments, the collector's Sink)
// and of query (Documents for BatchGetTraces, TraceIDs for
// GetTraceSummaries and filter expressions).
//
// Writes go through clickhouse-go's native protocol, one PrepareBatch per
// table with an explicit column list (the only insert path that works on
// ClickHouse 18.16). Every row carries a version,
//
//	version = complete<<62 | receivedNanos
//
// so a complete document beats any in-progress one whatever the arrival
// order, the latest complete one beats older ones, and a replayed write
// (same document, same receive time) is an exact duplicate that
// ReplacingMergeTree and the readers collapse. Readers never trust merges
// to have happened: Documents keeps the newest version per (trace_id, id)
// with ORDER BY … LIMIT 1 BY, TraceIDs reads spans FINAL.
//
// The tables are created by package schema; see schema/README.md.
// chstore imports collector/segment (the model) and clickhouse-go, nothing
// else of Fluoro's.
package chstore
