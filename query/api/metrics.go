package api

import (
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/VictoriaMetrics/metrics"
	"github.com/labstack/echo/v4"
)

// serverMetrics are the API's metrics, written by WriteMetrics:
//
//	fluoro_api_requests_total{operation="GetTraceSummaries",code="OK"}
//	fluoro_api_requests_total{operation="BatchGetTraces",code="InvalidRequestException"}
//	fluoro_api_request_duration_seconds{operation="…"}   (summary)
//	fluoro_api_invalid_stored_documents_total
//	fluoro_api_summaries_plan_total{plan="annotation_index"}   (and "index_too_many": scanned instead)
type serverMetrics struct {
	set               *metrics.Set
	invalidStoredDocs *metrics.Counter
	indexSearches     *metrics.Counter
	indexFallbacks    *metrics.Counter
	mu                sync.Mutex
	requests          map[[2]string]*metrics.Counter
	durations         map[string]*metrics.Summary
}

func newServerMetrics() *serverMetrics {
	s := metrics.NewSet()
	return &serverMetrics{
		set:               s,
		invalidStoredDocs: s.NewCounter("fluoro_api_invalid_stored_documents_total"),
		indexSearches:     s.NewCounter(`fluoro_api_summaries_plan_total{plan="annotation_index"}`),
		indexFallbacks:    s.NewCounter(`fluoro_api_summaries_plan_total{plan="index_too_many"}`),
		requests:          map[[2]string]*metrics.Counter{},
		durations:         map[string]*metrics.Summary{},
	}
}

func (m *serverMetrics) count(op, code string) {
	k := [2]string{op, code}
	m.mu.Lock()
	c := m.requests[k]
	if c == nil {
		c = m.set.NewCounter(fmt.Sprintf(`fluoro_api_requests_total{operation=%q,code=%q}`, op, code))
		m.requests[k] = c
	}
	m.mu.Unlock()
	c.Inc()
}

func (m *serverMetrics) observe(op string, start time.Time) {
	m.mu.Lock()
	s := m.durations[op]
	if s == nil {
		s = m.set.NewSummary(fmt.Sprintf(`fluoro_api_request_duration_seconds{operation=%q}`, op))
		m.durations[op] = s
	}
	m.mu.Unlock()
	s.UpdateDuration(start)
}

// WriteMetrics writes the API's metrics in Prometheus text format (for
// main's /metrics).
func (s *Server) WriteMetrics(w io.Writer) { s.metrics.set.WritePrometheus(w) }

const opKey = "fluoro.op"

// withOp tags the request with its X-Ray operation for metrics and counts
// successful answers; errors are counted by handleError.
func (s *Server) withOp(name string) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			c.Set(opKey, name)
			start := time.Now()
			err := next(c)
			s.metrics.observe(name, start)
			if err == nil {
				s.metrics.count(name, "OK")
			}
			return err
		}
	}
}

func opFromContext(c echo.Context) string {
	if o, ok := c.Get(opKey).(string); ok {
		return o
	}
	return "unknown"
}
