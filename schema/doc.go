// Package schema owns Fluoro's ClickHouse schema: the numbered, embedded
// migrations under migrations/ (applied at start and by `fluoro migrate`),
// server-version detection, the cluster switch (ON CLUSTER DDL,
// ReplicatedMergeTree local tables behind Distributed tables sharded by
// cityHash64(trace_id)) and the retention janitor that drops expired daily
// partitions.
//
// The tables and the reasoning behind their keys are described in
// schema/README.md. Subpackages: chserver (the managed clickhouse-server),
// chstore (writer and reader used by collector and query) and chtest (the
// integration-test harness).
//
// Only packages under schema/ may import clickhouse-go; schema imports
// nothing else of Fluoro's but collector/segment (through chstore).
package schema
