-- annotation_index: string annotations → trace ids, the index that makes
-- GetTraceSummaries fast for filters naming an annotation value
-- (`annotation.customer_id = "c-17"`; query/filter's AnnotationLookup).
-- X-Ray indexes annotations for filter expressions; here a materialized
-- view copies every (key, string value, trace id) of spans into key order,
-- so a lookup reads a few granules instead of the annotation arrays of
-- every span of the window.
--
-- Partitioned by the UTC day of the trace id's epoch (like graph_spans, and
-- dropped by the retention janitor like every dated table) and ordered by
-- (key, value, trace_id): one primary-key range per value, its traces in
-- trace-id (= time) order. ReplacingMergeTree without a version collapses
-- the copies that span versions and retried inserts leave; readers use
-- DISTINCT.
CREATE TABLE IF NOT EXISTS {{table "annotation_index"}} {{onCluster}} (
    date Date,
    key String,
    value String,
    trace_id String
) ENGINE = {{engine "annotation_index" "ReplacingMergeTree()"}}
PARTITION BY date
ORDER BY (key, value, trace_id)
SETTINGS index_granularity = 8192;

{{distributed "annotation_index" "cityHash64(trace_id)"}}

CREATE MATERIALIZED VIEW IF NOT EXISTS {{table "annotation_index_mv"}} {{onCluster}}
TO {{table "annotation_index"}}
AS SELECT
    toDate(toUInt16(intDiv(reinterpretAsUInt32(reverse(unhex(substring(trace_id, 3, 8)))), 86400))) AS date,
    ann_str.key AS key,
    ann_str.value AS value,
    trace_id
FROM {{table "spans"}}
ARRAY JOIN ann_str;

-- Spans stored before this migration: indexed once (rows written while it
-- runs may be copied twice, which the engine and DISTINCT absorb).
INSERT INTO {{db}}.annotation_index (date, key, value, trace_id)
SELECT
    toDate(toUInt16(intDiv(reinterpretAsUInt32(reverse(unhex(substring(trace_id, 3, 8)))), 86400))) AS date,
    ann_str.key AS key,
    ann_str.value AS value,
    trace_id
FROM {{db}}.spans
ARRAY JOIN ann_str;
