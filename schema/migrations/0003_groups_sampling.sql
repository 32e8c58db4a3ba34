-- groups, sampling_rules: X-Ray groups and centralized sampling rules, edited
-- through the API (CreateGroup, UpdateSamplingRule, …). Every write adds a
-- row; version (the modification time in µs) makes the newest row win and
-- deleted = 1 rows are tombstones. Readers take argMax(…, version) per name
-- (merges may not have happened, and 18.16 may apply a WHERE before FINAL).
-- No PARTITION BY: the tables are tiny, and the retention janitor drops only
-- daily (YYYYMMDD) partitions, never these rows. On a cluster,
-- cityHash64(name) keeps every version of a name on one shard.
CREATE TABLE IF NOT EXISTS {{table "groups"}} {{onCluster}} (
    name String,
    arn String,
    filter_expression String,
    insights_enabled UInt8,
    notifications_enabled UInt8,
    tags Nested(key String, value String),
    created_us UInt64,
    version UInt64,
    deleted UInt8
) ENGINE = {{engine "groups" "ReplacingMergeTree(version)"}}
ORDER BY name;

{{distributed "groups" "cityHash64(name)"}}

CREATE TABLE IF NOT EXISTS {{table "sampling_rules"}} {{onCluster}} (
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
) ENGINE = {{engine "sampling_rules" "ReplacingMergeTree(version)"}}
ORDER BY name;

{{distributed "sampling_rules" "cityHash64(name)"}}

-- sampling_stats: the SamplingStatisticsDocuments SDKs report with
-- GetSamplingTargets (one row per rule, client and report). They feed the
-- reservoir shares of every collector and GetSamplingStatisticSummaries;
-- daily partitions expire with the retention janitor.
CREATE TABLE IF NOT EXISTS {{table "sampling_stats"}} {{onCluster}} (
    date Date,
    rule_name String,
    client_id String,
    timestamp Float64,
    received_us UInt64,
    request_count Int64,
    sampled_count Int64,
    borrow_count Int64
) ENGINE = {{engine "sampling_stats" "MergeTree()"}}
PARTITION BY date
ORDER BY (rule_name, received_us);

{{distributed "sampling_stats" "cityHash64(rule_name)"}}
