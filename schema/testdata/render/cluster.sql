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

-- groups_sampling
CREATE TABLE IF NOT EXISTS fluoro.groups_local ON CLUSTER traces (
    name String,
    arn String,
    filter_expression String,
    insights_enabled UInt8,
    notifications_enabled UInt8,
    tags Nested(key String, value String),
    created_us UInt64,
    version UInt64,
    deleted UInt8
) ENGINE = ReplicatedReplacingMergeTree('/clickhouse/tables/{shard}/fluoro/groups_local', '{replica}', version)
ORDER BY name;

-- groups_sampling
CREATE TABLE IF NOT EXISTS fluoro.groups ON CLUSTER traces AS fluoro.groups_local
ENGINE = Distributed(traces, fluoro, groups_local, cityHash64(name));

-- groups_sampling
CREATE TABLE IF NOT EXISTS fluoro.sampling_rules_local ON CLUSTER traces (
    name String,
    arn String,
    resource_arn String,
    priority Int32,
    fixed_rate Float64,
    reservoir_size Int64,
    service_name String,
    service_type String,
    host String,
    http_method String,
    url_path String,
    rule_version Int32,
    attributes Nested(key String, value String),
    has_boost UInt8,
    boost_max_rate Float64,
    boost_cooldown_minutes Int32,
    tags Nested(key String, value String),
    created_us UInt64,
    version UInt64,
    deleted UInt8
) ENGINE = ReplicatedReplacingMergeTree('/clickhouse/tables/{shard}/fluoro/sampling_rules_local', '{replica}', version)
ORDER BY name;

-- groups_sampling
CREATE TABLE IF NOT EXISTS fluoro.sampling_rules ON CLUSTER traces AS fluoro.sampling_rules_local
ENGINE = Distributed(traces, fluoro, sampling_rules_local, cityHash64(name));

-- groups_sampling
CREATE TABLE IF NOT EXISTS fluoro.sampling_stats_local ON CLUSTER traces (
    date Date,
    rule_name String,
    client_id String,
    timestamp Float64,
    received_us UInt64,
    request_count Int64,
    sampled_count Int64,
    borrow_count Int64
) ENGINE = ReplicatedMergeTree('/clickhouse/tables/{shard}/fluoro/sampling_stats_local', '{replica}')
PARTITION BY date
ORDER BY (rule_name, received_us);

-- groups_sampling
CREATE TABLE IF NOT EXISTS fluoro.sampling_stats ON CLUSTER traces AS fluoro.sampling_stats_local
ENGINE = Distributed(traces, fluoro, sampling_stats_local, cityHash64(rule_name));

-- graph
CREATE TABLE IF NOT EXISTS fluoro.graph_spans_local ON CLUSTER traces (
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
) ENGINE = ReplicatedReplacingMergeTree('/clickhouse/tables/{shard}/fluoro/graph_spans_local', '{replica}', version)
PARTITION BY date
ORDER BY (trace_id, id)
SETTINGS index_granularity = 8192;

-- graph
CREATE TABLE IF NOT EXISTS fluoro.graph_spans ON CLUSTER traces AS fluoro.graph_spans_local
ENGINE = Distributed(traces, fluoro, graph_spans_local, cityHash64(trace_id));

-- graph
CREATE MATERIALIZED VIEW IF NOT EXISTS fluoro.graph_spans_mv_local ON CLUSTER traces
TO fluoro.graph_spans_local
AS SELECT
    toDate(toUInt16(intDiv(reinterpretAsUInt32(reverse(unhex(substring(trace_id, 3, 8)))), 86400))) AS date,
    trace_id, id, parent_id, segment_id, service, origin, name, namespace, is_segment,
    start_us, end_us, in_progress, error, fault, throttle, http_status,
    aws_account_id, aws_operation, aws_resource,
    toUInt8(sql_url != '' OR sql_database_type != '') AS is_sql,
    version
FROM fluoro.spans_local
WHERE is_segment = 1 OR depth = 0 OR service = '' OR namespace IN ('aws', 'remote')
    OR sql_url != '' OR sql_database_type != '' OR http_url != '' OR http_traced = 1;

-- graph
CREATE TABLE IF NOT EXISTS fluoro.graph_dirty_local ON CLUSTER traces (
    date Date,
    bucket UInt32,
    at DateTime
) ENGINE = ReplicatedReplacingMergeTree('/clickhouse/tables/{shard}/fluoro/graph_dirty_local', '{replica}', at)
PARTITION BY date
ORDER BY bucket;

-- graph
CREATE TABLE IF NOT EXISTS fluoro.graph_dirty ON CLUSTER traces AS fluoro.graph_dirty_local
ENGINE = Distributed(traces, fluoro, graph_dirty_local, bucket);

-- graph
CREATE MATERIALIZED VIEW IF NOT EXISTS fluoro.graph_spans_touched_mv_local ON CLUSTER traces
TO fluoro.graph_dirty_local
AS SELECT
    toDate(toUInt16(intDiv(intDiv(reinterpretAsUInt32(reverse(unhex(substring(trace_id, 3, 8)))), 60) * 60, 86400))) AS date,
    toUInt32(intDiv(reinterpretAsUInt32(reverse(unhex(substring(trace_id, 3, 8)))), 60) * 60) AS bucket,
    max(now()) AS at
FROM fluoro.spans_local
GROUP BY date, bucket;

-- graph
CREATE TABLE IF NOT EXISTS fluoro.graph_rollup_local ON CLUSTER traces (
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
) ENGINE = ReplicatedReplacingMergeTree('/clickhouse/tables/{shard}/fluoro/graph_rollup_local', '{replica}', version)
PARTITION BY date
ORDER BY (bucket, minute, kind, src_name, src_type, src_account, dst_name, dst_type, dst_account)
SETTINGS index_granularity = 1024;

-- graph
CREATE TABLE IF NOT EXISTS fluoro.graph_rollup ON CLUSTER traces AS fluoro.graph_rollup_local
ENGINE = Distributed(traces, fluoro, graph_rollup_local, bucket);

