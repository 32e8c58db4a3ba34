-- spans: one row per segment and subsegment (collector/segment.Span), the
-- table searched by GetTraceSummaries and filter expressions.
--
-- ORDER BY (service, start, trace_id, id): searches name a time window and
-- usually a service, so the primary key narrows to one service's time range
-- (and for time-only searches each service's range is still contiguous).
-- trace_id, id end the key so that ReplacingMergeTree(version) collapses the
-- versions of one (sub)segment: service and start are the same in its
-- in-progress and complete versions. Readers still deduplicate (FINAL or
-- argMax by version) because merges happen in the background.
CREATE TABLE IF NOT EXISTS {{table "spans"}} {{onCluster}} (
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
    depth UInt16,
    start DateTime,
    start_us UInt64,
    end_us UInt64,
    duration_us UInt64,
    in_progress UInt8,
    error UInt8,
    fault UInt8,
    throttle UInt8,
    http_method String,
    http_url String,
    http_status UInt16,
    http_client_ip String,
    http_user_agent String,
    http_traced UInt8,
    user String,
    resource_arn String,
    ann_str Nested(key String, value String),
    ann_num Nested(key String, value Float64),
    ann_bool Nested(key String, value UInt8),
    aws_operation String,
    aws_region String,
    aws_account_id String,
    aws_resource String,
    sql_url String,
    sql_database_type String,
    cause_type String,
    cause_message String,
    cause_id String,
    remote UInt8,
    version UInt64
) ENGINE = {{engine "spans" "ReplacingMergeTree(version)"}}
PARTITION BY date
ORDER BY (service, start, trace_id, id)
SETTINGS index_granularity = 8192;

{{distributed "spans" "cityHash64(trace_id)"}}
