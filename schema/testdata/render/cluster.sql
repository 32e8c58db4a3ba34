-- spans
CREATE TABLE IF NOT EXISTS fluoro.spans_local ON CLUSTER traces (
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
) ENGINE = ReplicatedReplacingMergeTree('/clickhouse/tables/{shard}/fluoro/spans_local', '{replica}', version)
PARTITION BY date
ORDER BY (service, start, trace_id, id)
SETTINGS index_granularity = 8192;

-- spans
CREATE TABLE IF NOT EXISTS fluoro.spans ON CLUSTER traces AS fluoro.spans_local
ENGINE = Distributed(traces, fluoro, spans_local, cityHash64(trace_id));

-- documents
CREATE TABLE IF NOT EXISTS fluoro.documents_local ON CLUSTER traces (
    date Date,
    trace_id String,
    id String,
    parent_id String,
    kind UInt8,
    in_progress UInt8,
    start_time Float64,
    end_time Float64,
    version UInt64,
    raw String
) ENGINE = ReplicatedReplacingMergeTree('/clickhouse/tables/{shard}/fluoro/documents_local', '{replica}', version)
PARTITION BY date
ORDER BY (trace_id, id)
SETTINGS index_granularity = 1024;

-- documents
CREATE TABLE IF NOT EXISTS fluoro.documents ON CLUSTER traces AS fluoro.documents_local
ENGINE = Distributed(traces, fluoro, documents_local, cityHash64(trace_id));

