-- documents: the raw documents, returned verbatim by BatchGetTraces.
--
-- date is the UTC day of the trace id's epoch (1-XXXXXXXX-…), so every
-- version of a document lands in the same partition (ReplacingMergeTree
-- dedups within a partition) and a lookup by trace id prunes to one
-- partition without any index table. ORDER BY (trace_id, id) makes the
-- lookup a primary-key range; granules of 1024 rows (≈1 MB of raw JSON)
-- keep the read small.
CREATE TABLE IF NOT EXISTS {{table "documents"}} {{onCluster}} (
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
) ENGINE = {{engine "documents" "ReplacingMergeTree(version)"}}
PARTITION BY date
ORDER BY (trace_id, id)
SETTINGS index_granularity = 1024;

{{distributed "documents" "cityHash64(trace_id)"}}
