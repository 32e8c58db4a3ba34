package api

import (
	"cmp"
	"errors"
	"net/http"

	"github.com/labstack/echo/v4"
)

// samplingOps are the sampling operations Settings.Sampling answers, by
// path (xray.md §4.9).
var samplingOps = [][2]string{
	{"/GetSamplingRules", "GetSamplingRules"},
	{"/SamplingTargets", "GetSamplingTargets"},
	{"/CreateSamplingRule", "CreateSamplingRule"},
	{"/UpdateSamplingRule", "UpdateSamplingRule"},
	{"/DeleteSamplingRule", "DeleteSamplingRule"},
	{"/SamplingStatisticSummaries", "GetSamplingStatisticSummaries"},
}

// samplingRoutes mounts Settings.Sampling on the six sampling paths. It
// writes X-Ray's error shapes itself; the operation metrics and the
// concurrency limit apply as to every operation. Without it, the two SDK
// operations are left to Extra (the collector) and the others answer
// NotImplementedException.
func (s *Server) samplingRoutes() []route {
	var rs []route
	for _, op := range samplingOps {
		switch {
		case s.sampling != nil:
			h, name := s.sampling, op[1]
			rs = append(rs, route{http.MethodPost, op[0], name, func(c echo.Context) error {
				rec := &statusRecorder{ResponseWriter: c.Response(), status: http.StatusOK}
				h.ServeHTTP(rec, c.Request())
				if rec.status >= 400 {
					// The answer is written: count its code here; the
					// error only keeps withOp from counting it as OK
					// (handleError skips committed responses).
					s.metrics.count(name, cmp.Or(rec.Header().Get("X-Amzn-ErrorType"), codeInternal))
					return errAnswered
				}
				return nil
			}})
		case op[0] != "/GetSamplingRules" && op[0] != "/SamplingTargets":
			rs = append(rs, route{http.MethodPost, op[0], op[1], notImplemented(op[1])})
		}
	}
	return rs
}

// errAnswered is returned by handlers that wrote an error answer
// themselves.
var errAnswered = errors.New("error answer already written")

// statusRecorder remembers the status code a handler wrote.
type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (r *statusRecorder) WriteHeader(code int) {
	r.status = code
	r.ResponseWriter.WriteHeader(code)
}
