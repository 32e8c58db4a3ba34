package api

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/labstack/echo/v4"

	"github.com/fluoro/fluoro/query/filter"
	"github.com/fluoro/fluoro/query/graphstore"
	"github.com/fluoro/fluoro/query/servicegraph"
	"github.com/fluoro/fluoro/schema/chstore"
)

// GraphReader answers the service graph operations; *graphstore.Graph
// satisfies it.
type GraphReader interface {
	ServiceGraph(ctx context.Context, q graphstore.Query) (graphstore.Result, error)
	TimeSeries(ctx context.Context, q graphstore.TimeSeriesQuery) ([]servicegraph.TimeSeriesPoint, error)
	TraceGraph(ctx context.Context, traceIDs []string) ([]servicegraph.Service, error)
}

// Limits of the service graph operations.
const (
	// MaxGraphWindow is the longest EndTime-StartTime of GetServiceGraph
	// and GetTimeSeriesServiceStatistics.
	MaxGraphWindow = 24 * time.Hour
	// TraceGraphMaxIDs is how many trace ids one GetTraceGraph call takes.
	TraceGraphMaxIDs = 100
	// maxSelectorLen is the model's length limit of EntitySelectorExpression.
	maxSelectorLen = 500
	// maxPeriod is the longest Period (one day).
	maxPeriod = 86400
)

// getServiceGraphInput is GetServiceGraph's request.
type getServiceGraphInput struct {
	StartTime *epochTime
	EndTime   *epochTime
	GroupName *string
	GroupARN  *string
	NextToken *string
}

// getServiceGraphOutput is GetServiceGraph's response.
type getServiceGraphOutput struct {
	StartTime                float64                `json:"StartTime"`
	EndTime                  float64                `json:"EndTime"`
	Services                 []servicegraph.Service `json:"Services"`
	ContainsOldGroupVersions bool                   `json:"ContainsOldGroupVersions"`
	NextToken                *string                `json:"NextToken,omitempty"`
}

// getTraceGraphInput is GetTraceGraph's request.
type getTraceGraphInput struct {
	TraceIds  []string
	NextToken *string
}

// getTraceGraphOutput is GetTraceGraph's response.
type getTraceGraphOutput struct {
	Services  []servicegraph.Service `json:"Services"`
	NextToken *string                `json:"NextToken,omitempty"`
}

// getTimeSeriesInput is GetTimeSeriesServiceStatistics' request.
type getTimeSeriesInput struct {
	StartTime                *epochTime
	EndTime                  *epochTime
	GroupName                *string
	GroupARN                 *string
	EntitySelectorExpression *string
	Period                   *int
	ForecastStatistics       *bool
	NextToken                *string
}

// getTimeSeriesOutput is GetTimeSeriesServiceStatistics' response.
type getTimeSeriesOutput struct {
	TimeSeriesServiceStatistics []servicegraph.TimeSeriesPoint `json:"TimeSeriesServiceStatistics"`
	ContainsOldGroupVersions    bool                           `json:"ContainsOldGroupVersions"`
	NextToken                   *string                        `json:"NextToken,omitempty"`
}

func (s *Server) handleGetServiceGraph(c echo.Context) error {
	var in getServiceGraphInput
	if err := decodeBody(c, &in); err != nil {
		return err
	}
	out, err := s.getServiceGraph(c.Request().Context(), in)
	if err != nil {
		return err
	}
	return writeJSON(c, out)
}

func (s *Server) handleGetTraceGraph(c echo.Context) error {
	var in getTraceGraphInput
	if err := decodeBody(c, &in); err != nil {
		return err
	}
	out, err := s.getTraceGraph(c.Request().Context(), in)
	if err != nil {
		return err
	}
	return writeJSON(c, out)
}

func (s *Server) handleGetTimeSeries(c echo.Context) error {
	var in getTimeSeriesInput
	if err := decodeBody(c, &in); err != nil {
		return err
	}
	out, err := s.getTimeSeries(c.Request().Context(), in)
	if err != nil {
		return err
	}
	return writeJSON(c, out)
}

// errNoGraph answers the graph operations of a server without GraphReader.
func errNoGraph(op string) error {
	return &Error{Status: http.StatusNotImplemented, Code: codeNotImplemented,
		Message: op + " is not implemented by this server: it was started without the service graph"}
}

// graphWindow validates StartTime/EndTime of a graph operation.
func graphWindow(start, end *epochTime) (time.Time, time.Time, error) {
	switch {
	case start == nil && end == nil:
		return time.Time{}, time.Time{}, invalidRequest("StartTime and EndTime are required (epoch seconds)")
	case start == nil:
		return time.Time{}, time.Time{}, invalidRequest("StartTime is required (epoch seconds)")
	case end == nil:
		return time.Time{}, time.Time{}, invalidRequest("EndTime is required (epoch seconds)")
	case !start.t.Before(end.t):
		return time.Time{}, time.Time{}, invalidRequest("StartTime %s must be before EndTime %s", start.t.Format(time.RFC3339), end.t.Format(time.RFC3339))
	case end.t.Sub(start.t) > MaxGraphWindow:
		return time.Time{}, time.Time{}, invalidRequest("the window from StartTime to EndTime is %v long; at most %v is allowed, split it into several calls",
			end.t.Sub(start.t).Round(time.Second), MaxGraphWindow)
	}
	return start.t, end.t, nil
}

// noNextToken rejects a NextToken: graph answers always come in one page.
func noNextToken(op string, tok *string) error {
	if tok != nil && *tok != "" {
		return invalidRequest("NextToken: %s returns everything in one response and never hands out a NextToken; repeat the call without it", op)
	}
	return nil
}

// graphGroup resolves the request's group into the trace filter of the
// graph (nil for every trace) and tells whether the group's filter changed
// inside the window (ContainsOldGroupVersions).
func (s *Server) graphGroup(ctx context.Context, name, arn *string, start, end time.Time) (*graphstore.Filter, bool, error) {
	g, err := s.resolveGroup(ctx, name, arn, true)
	if err != nil {
		return nil, false, err
	}
	changed := !g.ModifiedAt.IsZero() && g.ModifiedAt.After(start) && g.ModifiedAt.Before(end)
	if strings.TrimSpace(g.FilterExpression) == "" {
		return nil, changed, nil
	}
	f, err := s.groupFilter(ctx, g)
	return f, changed, err
}

// groupFilter compiles a group's filter expression (group references
// resolved) into the trace condition of the graph. Root-cause predicates
// translate to a necessary condition only (query/filter.NeedsMatch): such
// groups' graphs may include a few traces the expression would reject.
func (s *Server) groupFilter(ctx context.Context, g chstore.Group) (*graphstore.Filter, error) {
	member := fmt.Sprintf("FilterExpression of group %s", g.Name)
	e, err := filter.Parse(g.FilterExpression)
	if err != nil {
		return nil, filterError(member, g.FilterExpression, err)
	}
	if len(e.Groups()) > 0 {
		if e, err = e.ResolveGroups(s.groupLookup(ctx, chstore.Group{})); err != nil {
			return nil, filterError(member, g.FilterExpression, err)
		}
	}
	having, args, err := e.SQL()
	if err != nil {
		return nil, invalidRequest("%s %q is not supported: %v", member, g.FilterExpression, err)
	}
	return &graphstore.Filter{Having: having, Args: args}, nil
}

func (s *Server) getServiceGraph(ctx context.Context, in getServiceGraphInput) (*getServiceGraphOutput, error) {
	if s.graph == nil {
		return nil, errNoGraph("GetServiceGraph")
	}
	start, end, err := graphWindow(in.StartTime, in.EndTime)
	if err != nil {
		return nil, err
	}
	if err := noNextToken("GetServiceGraph", in.NextToken); err != nil {
		return nil, err
	}
	f, changed, err := s.graphGroup(ctx, in.GroupName, in.GroupARN, start, end)
	if err != nil {
		return nil, err
	}
	res, err := s.graph.ServiceGraph(ctx, graphstore.Query{Start: start, End: end, Filter: f})
	if err != nil {
		return nil, fmt.Errorf("service graph %v..%v: %w", start, end, err)
	}
	out := &getServiceGraphOutput{StartTime: epochSeconds(res.Start), EndTime: epochSeconds(res.End),
		Services: res.Services, ContainsOldGroupVersions: changed}
	if out.Services == nil {
		out.Services = []servicegraph.Service{}
	}
	return out, nil
}

func (s *Server) getTraceGraph(ctx context.Context, in getTraceGraphInput) (*getTraceGraphOutput, error) {
	if s.graph == nil {
		return nil, errNoGraph("GetTraceGraph")
	}
	if err := noNextToken("GetTraceGraph", in.NextToken); err != nil {
		return nil, err
	}
	switch n := len(in.TraceIds); {
	case n == 0:
		return nil, invalidRequest("TraceIds is required: give 1 to %d trace ids (from GetTraceSummaries)", TraceGraphMaxIDs)
	case n > TraceGraphMaxIDs:
		return nil, invalidRequest("TraceIds has %d ids but GetTraceGraph takes at most %d per call; split them into several calls", n, TraceGraphMaxIDs)
	}
	ids := make([]string, 0, len(in.TraceIds))
	for i, id := range in.TraceIds {
		if !validTraceID(id) {
			return nil, invalidRequest("TraceIds[%d] %q is not an X-Ray trace id: expected 1-XXXXXXXX-YYYYYYYYYYYYYYYYYYYYYYYY (8 hex digits of epoch seconds, then 24 hex digits)", i, id)
		}
		ids = append(ids, strings.ToLower(id))
	}
	svcs, err := s.graph.TraceGraph(ctx, ids)
	if err != nil {
		return nil, fmt.Errorf("trace graph of %d traces: %w", len(ids), err)
	}
	if svcs == nil {
		svcs = []servicegraph.Service{}
	}
	return &getTraceGraphOutput{Services: svcs}, nil
}

func (s *Server) getTimeSeries(ctx context.Context, in getTimeSeriesInput) (*getTimeSeriesOutput, error) {
	const op = "GetTimeSeriesServiceStatistics"
	if s.graph == nil {
		return nil, errNoGraph(op)
	}
	start, end, err := graphWindow(in.StartTime, in.EndTime)
	if err != nil {
		return nil, err
	}
	if err := noNextToken(op, in.NextToken); err != nil {
		return nil, err
	}
	period := 60
	if in.Period != nil {
		period = *in.Period
	}
	if period < 60 || period > maxPeriod || period%60 != 0 {
		return nil, invalidRequest("Period %d: give the length of a point in seconds, a multiple of 60 from 60 to %d (e.g. 60, 300, 3600)", period, maxPeriod)
	}
	var expr string
	if in.EntitySelectorExpression != nil {
		expr = *in.EntitySelectorExpression
		if n := utf8.RuneCountInString(expr); n < 1 || n > maxSelectorLen {
			return nil, invalidRequest("EntitySelectorExpression must be 1 to %d characters long (leave it out for the statistics of every request entering the graph)", maxSelectorLen)
		}
	}
	sel, err := servicegraph.ParseSelector(expr)
	if err != nil {
		var se *servicegraph.SelectorError
		if errors.As(err, &se) {
			return nil, invalidRequest("EntitySelectorExpression: %s at position %d: %s (supported: service(\"name\"), id(name: \"…\", type: \"…\", account.id: \"…\"), edge(\"from\", \"to\"))",
				se.Msg, se.Pos, pointAt(expr, se.Pos))
		}
		return nil, invalidRequest("EntitySelectorExpression: %v", err)
	}
	forecast := in.ForecastStatistics != nil && *in.ForecastStatistics
	if forecast && !sel.ByID {
		return nil, invalidRequest("ForecastStatistics needs an id() EntitySelectorExpression, e.g. id(name: \"web\", type: \"AWS::EC2::Instance\")")
	}
	f, changed, err := s.graphGroup(ctx, in.GroupName, in.GroupARN, start, end)
	if err != nil {
		return nil, err
	}
	pts, err := s.graph.TimeSeries(ctx, graphstore.TimeSeriesQuery{Start: start, End: end, Period: time.Duration(period) * time.Second,
		Selector: sel, Forecast: forecast, Filter: f})
	if err != nil {
		return nil, fmt.Errorf("time series %v..%v: %w", start, end, err)
	}
	if pts == nil {
		pts = []servicegraph.TimeSeriesPoint{}
	}
	return &getTimeSeriesOutput{TimeSeriesServiceStatistics: pts, ContainsOldGroupVersions: changed}, nil
}
