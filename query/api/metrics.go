package api

import (
	"fmt"
	"time"

	"github.com/VictoriaMetrics/metrics"
	"github.com/labstack/echo/v4"
)

// Metrics live in VictoriaMetrics/metrics' default set, which the /metrics
// endpoint writes (metrics.WritePrometheus):
//
//	fluoro_api_requests_total{operation="GetTraceSummaries",code="OK"}
//	fluoro_api_requests_total{operation="BatchGetTraces",code="InvalidRequestException"}
//	fluoro_api_request_duration_seconds{operation="…"}
//	fluoro_api_invalid_stored_documents_total

var invalidStoredDocs = metrics.NewCounter("fluoro_api_invalid_stored_documents_total")

type op string

const opKey = "fluoro.op"

// withOp tags the request with its X-Ray operation for metrics and counts
// successful answers; errors are counted by handleError.
func withOp(name string) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			o := op(name)
			c.Set(opKey, o)
			start := time.Now()
			err := next(c)
			metrics.GetOrCreateSummary(fmt.Sprintf(`fluoro_api_request_duration_seconds{operation=%q}`, name)).UpdateDuration(start)
			if err == nil {
				o.count("OK")
			}
			return err
		}
	}
}

func opFromContext(c echo.Context) op {
	if o, ok := c.Get(opKey).(op); ok {
		return o
	}
	return "unknown"
}

func (o op) count(code string) {
	metrics.GetOrCreateCounter(fmt.Sprintf(`fluoro_api_requests_total{operation=%q,code=%q}`, string(o), code)).Inc()
}
