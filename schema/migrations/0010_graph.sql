-- Service graph (GetServiceGraph, GetTimeSeriesServiceStatistics).
--
-- An edge pairs a caller subsegment with the callee segment whose parent_id
-- is the subsegment's id, and the two usually arrive in different
-- documents, batches and even minutes. A materialized view that joins the
-- spans of one insert block (SigNoz-style) loses every pair split across
-- blocks, so nothing here pairs at insert time. Instead:
--
-- graph_spans: the spans the graph needs (segments, top-level documents and
-- subsegments that call something: namespace aws or remote, sql, an HTTP
-- URL; not local work like the SDKs' connect/dial/request subsegments; a
-- subsegment of an independent document finds its segment through the
-- document's own row, segment_id), copied by a materialized view from
-- spans into trace-id order. Partitioned by the UTC day of the trace id's
-- epoch and ordered by (trace_id, id), so all spans of the traces that
-- started in one minute are one primary-key range, whatever the batch
-- they arrived in. ReplacingMergeTree(version) like spans: readers keep the
-- newest version of each (trace_id, id) themselves.
--
-- graph_dirty: one row per insert block and trace minute ("bucket", the
-- trace id's epoch rounded down to 60 s) with the server time after the
-- block was stored: a view runs after the block is written to spans, and
-- views run in name order, so graph_spans_touched_mv runs after
-- graph_spans_mv (readers still allow a margin of a few seconds).
-- ReplacingMergeTree(at) keeps the latest; readers use max(at).
--
-- graph_rollup: per trace minute, the node and edge statistics computed by
-- Fluoro (query/graphstore, from graph_spans, exactly: every pair is found
-- because the whole trace minute is read) split by the minute of the event
-- (a call's end). Each computation of a bucket writes a marker row (kind 0)
-- and its rows under one version; readers use, per bucket, the newest
-- version only, and a bucket is stale while graph_dirty holds an insert
-- at or after the marker's computed_at. Rows of older versions collapse
-- in merges (same key) or are ignored (keys that vanished).
CREATE TABLE IF NOT EXISTS {{table "graph_spans"}} {{onCluster}} (
    date Date,
    trace_id String,
    id String,
    parent_id String,
    segment_id String,
    service String,
    origin String,
    name String,
    namespace String,
    is_segment UInt8,
    start_us UInt64,
    end_us UInt64,
    in_progress UInt8,
    error UInt8,
    fault UInt8,
    throttle UInt8,
    http_status UInt16,
    aws_account_id String,
    aws_operation String,
    aws_resource String,
    is_sql UInt8,
    version UInt64
) ENGINE = {{engine "graph_spans" "ReplacingMergeTree(version)"}}
PARTITION BY date
ORDER BY (trace_id, id)
SETTINGS index_granularity = 8192;

{{distributed "graph_spans" "cityHash64(trace_id)"}}

CREATE MATERIALIZED VIEW IF NOT EXISTS {{table "graph_spans_mv"}} {{onCluster}}
TO {{table "graph_spans"}}
AS SELECT
    toDate(toUInt16(intDiv(reinterpretAsUInt32(reverse(unhex(substring(trace_id, 3, 8)))), 86400))) AS date,
    trace_id, id, parent_id, segment_id, service, origin, name, namespace, is_segment,
    start_us, end_us, in_progress, error, fault, throttle, http_status,
    aws_account_id, aws_operation, aws_resource,
    toUInt8(sql_url != '' OR sql_database_type != '') AS is_sql,
    version
FROM {{table "spans"}}
WHERE is_segment = 1 OR depth = 0 OR namespace IN ('aws', 'remote')
    OR sql_url != '' OR sql_database_type != '' OR http_url != '' OR http_traced = 1;

CREATE TABLE IF NOT EXISTS {{table "graph_dirty"}} {{onCluster}} (
    date Date,
    bucket UInt32,
    at DateTime
) ENGINE = {{engine "graph_dirty" "ReplacingMergeTree(at)"}}
PARTITION BY date
ORDER BY bucket;

{{distributed "graph_dirty" "bucket"}}

CREATE MATERIALIZED VIEW IF NOT EXISTS {{table "graph_spans_touched_mv"}} {{onCluster}}
TO {{table "graph_dirty"}}
AS SELECT
    toDate(toUInt16(intDiv(intDiv(reinterpretAsUInt32(reverse(unhex(substring(trace_id, 3, 8)))), 60) * 60, 86400))) AS date,
    toUInt32(intDiv(reinterpretAsUInt32(reverse(unhex(substring(trace_id, 3, 8)))), 60) * 60) AS bucket,
    max(now()) AS at
FROM {{table "spans"}}
GROUP BY date, bucket;

CREATE TABLE IF NOT EXISTS {{table "graph_rollup"}} {{onCluster}} (
    date Date,
    bucket UInt32,
    version UInt64,
    computed_at DateTime,
    minute UInt32,
    kind UInt8,
    src_name String,
    src_type String,
    src_account String,
    dst_name String,
    dst_type String,
    dst_account String,
    active UInt8,
    roots UInt64,
    ok UInt64,
    error_other UInt64,
    throttle UInt64,
    fault UInt64,
    sum_us UInt64,
    min_start_us UInt64,
    max_end_us UInt64,
    hist Nested(us UInt64, n UInt64),
    dur_hist Nested(us UInt64, n UInt64)
) ENGINE = {{engine "graph_rollup" "ReplacingMergeTree(version)"}}
PARTITION BY date
ORDER BY (bucket, minute, kind, src_name, src_type, src_account, dst_name, dst_type, dst_account)
SETTINGS index_granularity = 1024;

{{distributed "graph_rollup" "bucket"}}
