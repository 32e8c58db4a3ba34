-- Alerting (query/alert).
--
-- alert_rules: rules created through the REST API (/alerting/rules). The
-- rule is kept as its JSON document (body), so new rule fields need no
-- migration; query/alert validates it on write and on load. Every write
-- adds a row; version (modification time in µs) makes the newest row win
-- and deleted = 1 rows are tombstones. Readers take argMax(…, version) per
-- id, as for groups.
CREATE TABLE IF NOT EXISTS {{table "alert_rules"}} {{onCluster}} (
    id String,
    body String,
    created_us UInt64,
    version UInt64,
    deleted UInt8
) ENGINE = {{engine "alert_rules" "ReplacingMergeTree(version)"}}
ORDER BY id;

{{distributed "alert_rules" "cityHash64(id)"}}

-- alert_state: the engine's state of every rule (pending/firing since
-- when, what was notified, notifications not yet delivered), so a restart
-- neither re-notifies nor forgets a firing alert. One row per write;
-- readers take the newest version per rule_id. No PARTITION BY: the
-- retention janitor must never drop a firing alert's state.
CREATE TABLE IF NOT EXISTS {{table "alert_state"}} {{onCluster}} (
    rule_id String,
    episode_id String,
    state String,
    body String,
    version UInt64,
    deleted UInt8
) ENGINE = {{engine "alert_state" "ReplacingMergeTree(version)"}}
ORDER BY rule_id;

{{distributed "alert_state" "cityHash64(rule_id)"}}

-- alert_history: every state change of every alert (pending, firing,
-- updated, resolved, inactive) with its value, counts, root-cause service
-- and sample trace ids. An episode (episode_id, a UUID) runs from pending
-- or firing to resolved; the X-Ray Insights API projects episodes that
-- fired as insights. Daily partitions expire with the retention janitor.
CREATE TABLE IF NOT EXISTS {{table "alert_history"}} {{onCluster}} (
    date Date,
    time_us UInt64,
    rule_id String,
    rule_name String,
    episode_id String,
    state String,
    severity String,
    value Float64,
    threshold Float64,
    matching UInt64,
    total UInt64,
    root_service String,
    root_service_type String,
    trace_ids Array(String),
    message String
) ENGINE = {{engine "alert_history" "MergeTree()"}}
PARTITION BY date
ORDER BY (episode_id, time_us);

{{distributed "alert_history" "cityHash64(episode_id)"}}

-- alert_deliveries: every delivery attempt of a notification to a
-- receiver (webhook, Slack, command) with its outcome (delivered, failed,
-- gave_up, muted, dropped), HTTP status or exit error and duration.
-- Daily partitions expire with the retention janitor.
CREATE TABLE IF NOT EXISTS {{table "alert_deliveries"}} {{onCluster}} (
    date Date,
    time_us UInt64,
    notification_id String,
    rule_id String,
    episode_id String,
    receiver String,
    receiver_type String,
    state String,
    attempt UInt16,
    outcome String,
    http_status UInt16,
    error String,
    duration_us UInt64
) ENGINE = {{engine "alert_deliveries" "MergeTree()"}}
PARTITION BY date
ORDER BY (time_us, rule_id);

{{distributed "alert_deliveries" "cityHash64(rule_id)"}}
