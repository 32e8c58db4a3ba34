// Package collector receives AWS X-Ray segment documents and writes them to
// storage without blocking senders and without losing accepted documents
// when storage is slow or down.
//
// # Data flow
//
//	UDP :2000 ──► N readers (64 KiB buffer + segment.Decoder each)
//	                 │  SplitDatagram → Decode → one Document per segment
//	                 ▼                 (rejects counted by reason)
//	TCP :2000 ──► POST /TraceSegments ─┐  (UnprocessedTraceSegments for rejects)
//	                 │◄────────────────┘
//	                 ▼
//	       bounded queue (--collector-queue-size documents,
//	                      --collector-queue-bytes estimated memory;
//	                      full ⇒ drop + count, never block)
//	                 ▼
//	       batcher (--collector-batch-size documents or --collector-batch-wait)
//	                 │──► Observers (Settings.Observers: see each batch before
//	                 ▼    it is stored, e.g. per-trace alert rules)
//	       pending slot ──(spool empty)──► writer ──► Sink.WriteDocuments
//	             │                           │ ▲         (ClickHouse)
//	   (spool not empty or slot busy)  fails │ │ replay in order,
//	             ▼                           ▼ │ after restarts too
//	       spool/ (append-only files under --spool-dir, bounded by
//	               --spool-max-bytes; full ⇒ drop + count)
//
// Order is global: a batch goes to the in-memory pending slot only while the
// spool is empty; otherwise it (and an occupied slot before it) is appended
// to the spool. A batch whose write fails is put back at the spool's head,
// so the writer, the only caller of the Sink, always delivers batches in the
// order the batcher made them. The spool stores raw documents; the writer
// decodes them again on replay.
//
// Shutdown (ctx done): close the socket, let HTTP requests finish, drain the
// queue into a last batch, write it (at most --collector-shutdown-timeout),
// spool whatever could not be written, sync the spool.
//
// The TCP side also answers GetSamplingRules and SamplingTargets (package
// sampling), accepts PutTelemetryRecords, and serves GET /metrics.
//
// # Metrics
//
// fluoro_collector_received_total{transport}, _received_bytes_total{transport},
// _accepted_total{transport}, _rejected_total{reason}, _queued (gauge),
// _spooled_total, _spool_bytes, _spool_records, _spool_torn_bytes (gauges),
// _replayed_total, _inserted_total, _dropped_total{reason},
// _sink_errors_total, _udp_read_errors_total, _batch_insert_seconds
// (Prometheus histogram), _batch_documents (histogram). Once idle,
// accepted = inserted + dropped + spool_records (duplicated replays aside).
//
// # Hot paths and the benchmarks that guard them
//
//	| Hot path                                 | Guarding benchmark                                |
//	|------------------------------------------|---------------------------------------------------|
//	| datagram → SplitDatagram → Decode         | segment.BenchmarkDecode1KB / BenchmarkDecode8KB   |
//	| UDP socket → readers → queue → batcher    | BenchmarkUDPIngest (datagrams/s, %lost)           |
//	| batch → spool (sink down or slow)         | spool.BenchmarkSpoolAppend (records/s, fsync)     |
//	| batch → chstore → ClickHouse (ceiling)    | BenchmarkEndToEnd/ceiling (docs/s, spans/s)       |
//	| UDP → collector → ClickHouse, exact count | BenchmarkEndToEnd/udp (docs/s, %ceiling, RSS)     |
//	| sustained 40 % of the ceiling             | BenchmarkEndToEnd/paced40 (%loss, peak RSS)       |
//
// Run them with
//
//	go test -run '^$' -bench . -benchtime 100000x ./collector/ ./collector/spool/
//
// (BenchmarkEndToEnd needs a ClickHouse: FLUORO_TEST_CLICKHOUSE or a
// managed clickhouse-server, see schema/chtest). The spool's file parser is
// fuzzed by spool.FuzzOpenSegment.
//
// # Dependencies
//
// collector imports collector/segment, collector/spool, collector/sampling,
// the standard library and VictoriaMetrics/metrics. It must not import
// clickhouse-go, echo or query/...; storage comes in through Sink.
package collector
