package collector

import (
	"errors"
	"fmt"
	"sync"

	"github.com/VictoriaMetrics/metrics"

	"github.com/fluoro/fluoro/collector/otlp"
	"github.com/fluoro/fluoro/collector/segment"
)

// Drop reasons (label of fluoro_collector_dropped_total).
const (
	dropQueueFull     = "queue_full"     // reader queue or memory budget full
	dropSpoolFull     = "spool_full"     // sink failing and spool at --spool-max-bytes
	dropSpoolError    = "spool_error"    // the spool could not be written (disk error)
	dropReplayInvalid = "replay_invalid" // a spooled document no longer decodes
	dropShutdown      = "shutdown"       // received after shutdown began (HTTP)
)

// rejectOther labels a rejection whose error is not a *segment.DecodeError.
const rejectOther = "other"

// collectorMetrics holds the collector's counters in a private metrics.Set.
//
// Invariant (once idle): accepted = inserted + dropped + spool records.
type collectorMetrics struct {
	set *metrics.Set

	receivedUDP, receivedHTTP           *metrics.Counter
	receivedBytesUDP, receivedBytesHTTP *metrics.Counter
	acceptedUDP, acceptedHTTP           *metrics.Counter
	spooled, replayed, inserted         *metrics.Counter
	sinkErrors, readErrors              *metrics.Counter
	batchInsert                         *metrics.PrometheusHistogram
	batchDocs                           *metrics.Histogram

	mu       sync.Mutex
	rejected map[string]*metrics.Counter
	dropped  map[string]*metrics.Counter
}

func newMetrics(queued, spoolBytes, spoolRecords, spoolTorn func() float64) *collectorMetrics {
	s := metrics.NewSet()
	m := &collectorMetrics{
		set:               s,
		receivedUDP:       s.NewCounter(`fluoro_collector_received_total{transport="udp"}`),
		receivedHTTP:      s.NewCounter(`fluoro_collector_received_total{transport="http"}`),
		receivedBytesUDP:  s.NewCounter(`fluoro_collector_received_bytes_total{transport="udp"}`),
		receivedBytesHTTP: s.NewCounter(`fluoro_collector_received_bytes_total{transport="http"}`),
		acceptedUDP:       s.NewCounter(`fluoro_collector_accepted_total{transport="udp"}`),
		acceptedHTTP:      s.NewCounter(`fluoro_collector_accepted_total{transport="http"}`),
		spooled:           s.NewCounter(`fluoro_collector_spooled_total`),
		replayed:          s.NewCounter(`fluoro_collector_replayed_total`),
		inserted:          s.NewCounter(`fluoro_collector_inserted_total`),
		sinkErrors:        s.NewCounter(`fluoro_collector_sink_errors_total`),
		readErrors:        s.NewCounter(`fluoro_collector_udp_read_errors_total`),
		batchInsert:       s.NewPrometheusHistogram(`fluoro_collector_batch_insert_seconds`),
		batchDocs:         s.NewHistogram(`fluoro_collector_batch_documents`),
		rejected:          map[string]*metrics.Counter{},
		dropped:           map[string]*metrics.Counter{},
	}
	s.NewGauge(`fluoro_collector_queued`, queued)
	s.NewGauge(`fluoro_collector_spool_bytes`, spoolBytes)
	s.NewGauge(`fluoro_collector_spool_records`, spoolRecords)
	s.NewGauge(`fluoro_collector_spool_torn_bytes`, spoolTorn)
	// Pre-register every known label so dashboards see zeros.
	for _, r := range append(append([]string(nil), segment.Reasons...), rejectOther) {
		m.rejected[r] = s.NewCounter(fmt.Sprintf(`fluoro_collector_rejected_total{reason=%q}`, r))
	}
	for _, r := range []string{dropQueueFull, dropSpoolFull, dropSpoolError, dropReplayInvalid, dropShutdown} {
		m.dropped[r] = s.NewCounter(fmt.Sprintf(`fluoro_collector_dropped_total{reason=%q}`, r))
	}
	return m
}

// otlpStats exposes the OTLP/HTTP handler's counts.
func (m *collectorMetrics) otlpStats(st *otlp.Stats) {
	m.set.NewGauge(`fluoro_collector_otlp_requests_total`, func() float64 { return float64(st.Requests.Load()) })
	m.set.NewGauge(`fluoro_collector_otlp_bad_requests_total`, func() float64 { return float64(st.BadRequests.Load()) })
	m.set.NewGauge(`fluoro_collector_otlp_spans_total`, func() float64 { return float64(st.Spans.Load()) })
	m.set.NewGauge(`fluoro_collector_otlp_rejected_spans_total`, func() float64 { return float64(st.RejectedSpans.Load()) })
}

// reject counts every rejection in err (a *segment.DecodeError or an
// errors.Join of them).
func (m *collectorMetrics) reject(err error) {
	forEachDecodeError(err, func(de *segment.DecodeError) {
		reason := rejectOther
		if de != nil {
			reason = de.Reason
		}
		m.rejectedCounter(reason).Inc()
	})
}

func (m *collectorMetrics) rejectedCounter(reason string) *metrics.Counter {
	m.mu.Lock()
	defer m.mu.Unlock()
	c, ok := m.rejected[reason]
	if !ok {
		c = m.set.NewCounter(fmt.Sprintf(`fluoro_collector_rejected_total{reason=%q}`, reason))
		m.rejected[reason] = c
	}
	return c
}

func (m *collectorMetrics) drop(reason string, n int) {
	if n > 0 {
		m.dropped[reason].Add(n)
	}
}

// forEachDecodeError calls f for each *segment.DecodeError joined in err, or
// once with nil for an error of another kind.
func forEachDecodeError(err error, f func(*segment.DecodeError)) {
	if err == nil {
		return
	}
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		for _, e := range j.Unwrap() {
			forEachDecodeError(e, f)
		}
		return
	}
	var de *segment.DecodeError
	if errors.As(err, &de) {
		f(de)
		return
	}
	f(nil)
}
