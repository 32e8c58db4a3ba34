package servicegraph

import (
	"math"
	"slices"
	"time"
)

// TimeSeriesPoint is one element of GetTimeSeriesServiceStatistics'
// TimeSeriesServiceStatistics (xray.md §4.8).
type TimeSeriesPoint struct {
	Timestamp                 float64             `json:"Timestamp"`
	EdgeSummaryStatistics     *Statistics         `json:"EdgeSummaryStatistics,omitempty"`
	ServiceSummaryStatistics  *Statistics         `json:"ServiceSummaryStatistics,omitempty"`
	ServiceForecastStatistics *ForecastStatistics `json:"ServiceForecastStatistics,omitempty"`
	ResponseTimeHistogram     []HistogramEntry    `json:"ResponseTimeHistogram"`
}

// ForecastStatistics is the expected range of a period's fault count.
type ForecastStatistics struct {
	FaultCountHigh int64 `json:"FaultCountHigh"`
	FaultCountLow  int64 `json:"FaultCountLow"`
}

// TimeSeries sums the rows sel selects into periods of length period
// starting at start (rows carry their event minute; period is a multiple
// of a minute). Only periods with requests are returned, oldest first.
// With forecast, every point gets the range mean ± 3σ of the fault counts
// of the other points of the series, an [IMPL] stand-in for X-Ray's
// unpublished model.
func TimeSeries(rows []Row, sel Selector, start time.Time, period time.Duration, forecast bool) []TimeSeriesPoint {
	p := int64(period / time.Second)
	if p <= 0 {
		return nil
	}
	s0 := start.Unix()
	byPeriod := map[int64]*Stats{}
	var order []int64
	for i := range rows {
		r := &rows[i]
		if !sel.Match(r) || r.Minute < s0 {
			continue
		}
		k := (r.Minute - s0) / p
		a := byPeriod[k]
		if a == nil {
			a = &Stats{}
			byPeriod[k] = a
			order = append(order, k)
		}
		a.merge(&r.Stats)
	}
	slices.Sort(order)
	out := make([]TimeSeriesPoint, 0, len(order))
	for _, k := range order {
		a := byPeriod[k]
		if a.Total() == 0 {
			continue
		}
		st := a.Statistics()
		pt := TimeSeriesPoint{Timestamp: float64(s0 + k*p), ResponseTimeHistogram: Histogram(a.Hist)}
		if sel.Kind == SelectService {
			pt.ServiceSummaryStatistics = &st
		} else {
			pt.EdgeSummaryStatistics = &st
		}
		out = append(out, pt)
	}
	if forecast {
		faults := make([]float64, len(out))
		for i, pt := range out {
			faults[i] = float64(stats(pt).FaultStatistics.TotalCount)
		}
		for i := range out {
			lo, hi := band(faults, i)
			out[i].ServiceForecastStatistics = &ForecastStatistics{FaultCountLow: lo, FaultCountHigh: hi}
		}
	}
	return out
}

func stats(pt TimeSeriesPoint) *Statistics {
	if pt.ServiceSummaryStatistics != nil {
		return pt.ServiceSummaryStatistics
	}
	return pt.EdgeSummaryStatistics
}

// band returns mean ± 3σ of xs without xs[skip], clamped at 0; a series
// of one point gets its own value.
func band(xs []float64, skip int) (lo, hi int64) {
	var n, sum, sq float64
	for i, x := range xs {
		if i != skip {
			n++
			sum += x
			sq += x * x
		}
	}
	if n == 0 {
		v := int64(xs[skip])
		return v, v
	}
	mean := sum / n
	sd := math.Sqrt(max(sq/n-mean*mean, 0))
	return int64(math.Max(0, math.Floor(mean-3*sd))), int64(math.Ceil(mean + 3*sd))
}
