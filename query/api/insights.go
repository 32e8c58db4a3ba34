package api

import (
	"regexp"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/fluoro/fluoro/schema/chstore"
)

// The insights read API. Every operation validates its input like X-Ray.
// With an alerting engine (Settings.Alerts) the answers project its alerts
// (insights_alerts.go); without one there are no insights: an empty list,
// or no Insight.

// insightMaxAge is how far back insight time ranges may start (X-Ray: 30
// days); impactGraphMaxWindow bounds GetInsightImpactGraph (six hours).
const (
	insightMaxAge        = 30 * 24 * time.Hour
	impactGraphMaxWindow = 6 * time.Hour
	maxInsightResults    = 100
	maxInsightEvents     = 50
	maxInsightToken      = 2000
)

var insightIDPattern = regexp.MustCompile(`^[\w-]{1,36}$`)

func checkInsightID(id *string) error {
	if id == nil {
		return invalidRequest("InsightId is required; GetInsightSummaries lists the insights")
	}
	if !insightIDPattern.MatchString(*id) {
		return invalidRequest("InsightId %q must be 1 to 36 letters, digits, '_' or '-'", truncate(*id, 40))
	}
	return nil
}

// checkNoToken rejects any NextToken: no insight page was ever issued.
func checkNoToken(tok *string) error {
	if tok == nil {
		return nil
	}
	if len(*tok) < 1 || len(*tok) > maxInsightToken {
		return invalidRequest("NextToken must be 1 to %d characters long", maxInsightToken)
	}
	return invalidRequest("NextToken %q is not a token this server issued; repeat the request without NextToken", truncate(*tok, 40))
}

// checkInsightRange validates a StartTime/EndTime pair of the insights API.
func checkInsightRange(start, end *epochTime, maxWindow time.Duration) (time.Time, time.Time, error) {
	if start == nil || end == nil {
		return time.Time{}, time.Time{}, invalidRequest("StartTime and EndTime are required (epoch seconds)")
	}
	s, e := start.t, end.t
	if !e.After(s) {
		return s, e, invalidRequest("EndTime (%s) must be after StartTime (%s)", e.Format(time.RFC3339), s.Format(time.RFC3339))
	}
	if oldest := time.Now().Add(-insightMaxAge); s.Before(oldest) {
		return s, e, invalidRequest("StartTime %s is more than 30 days old; insights are kept 30 days", s.Format(time.RFC3339))
	}
	if maxWindow > 0 && e.Sub(s) > maxWindow {
		return s, e, invalidRequest("the time range %s is longer than the %s allowed", e.Sub(s), maxWindow)
	}
	return s, e, nil
}

type getInsightSummariesInput struct {
	StartTime  *epochTime
	EndTime    *epochTime
	GroupName  *string
	GroupARN   *string
	States     []string
	MaxResults *int
	NextToken  *string
}

type getInsightSummariesOutput struct {
	InsightSummaries []insightSummaryOut `json:"InsightSummaries"`
	NextToken        *string             `json:"NextToken,omitempty"`
}

// checkInsightToken accepts the NextTokens this server issues (with
// alerts) and rejects any other.
func (s *Server) checkInsightToken(tok *string) (int, error) {
	if s.alerts == nil {
		return 0, checkNoToken(tok)
	}
	return insightToken(tok)
}

func (s *Server) handleGetInsightSummaries(c echo.Context) error {
	var in getInsightSummariesInput
	if err := decodeBody(c, &in); err != nil {
		return err
	}
	start, end, err := checkInsightRange(in.StartTime, in.EndTime, 0)
	if err != nil {
		return err
	}
	if len(in.States) > 1 {
		return invalidRequest("States takes at most one state (ACTIVE or CLOSED); call once per state")
	}
	for _, st := range in.States {
		if st != "ACTIVE" && st != "CLOSED" {
			return invalidRequest("States: %q is not ACTIVE or CLOSED", st)
		}
	}
	if in.MaxResults != nil && (*in.MaxResults < 1 || *in.MaxResults > maxInsightResults) {
		return invalidRequest("MaxResults %d must be 1 to %d", *in.MaxResults, maxInsightResults)
	}
	off, err := s.checkInsightToken(in.NextToken)
	if err != nil {
		return err
	}
	if in.GroupName == nil && in.GroupARN == nil {
		return invalidRequest("GroupName or GroupARN is required (the Default group is \"Default\")")
	}
	g, err := s.resolveGroup(c.Request().Context(), in.GroupName, in.GroupARN, false)
	if err != nil {
		return err
	}
	if s.alerts != nil {
		size := maxInsightResults
		if in.MaxResults != nil {
			size = *in.MaxResults
		}
		out, err := s.alertInsightSummaries(c.Request().Context(), start, end, g, in.States, size, off)
		if err != nil {
			return err
		}
		return writeJSON(c, out)
	}
	return writeJSON(c, getInsightSummariesOutput{InsightSummaries: []insightSummaryOut{}})
}

type getInsightInput struct {
	InsightId *string
}

func (s *Server) handleGetInsight(c echo.Context) error {
	var in getInsightInput
	if err := decodeBody(c, &in); err != nil {
		return err
	}
	if err := checkInsightID(in.InsightId); err != nil {
		return err
	}
	if s.alerts != nil {
		ctx := c.Request().Context()
		ep, ok, err := s.alertEpisode(ctx, *in.InsightId)
		if err != nil {
			return err
		}
		if ok {
			return writeJSON(c, map[string]insightBody{"Insight": s.insightOf(ctx, ep, chstore.Group{})})
		}
	}
	// No such insight: the output has no Insight member.
	return writeJSON(c, struct{}{})
}

type getInsightEventsInput struct {
	InsightId  *string
	MaxResults *int
	NextToken  *string
}

type getInsightEventsOutput struct {
	InsightEvents []insightEvent `json:"InsightEvents"`
	NextToken     *string        `json:"NextToken,omitempty"`
}

func (s *Server) handleGetInsightEvents(c echo.Context) error {
	var in getInsightEventsInput
	if err := decodeBody(c, &in); err != nil {
		return err
	}
	if err := checkInsightID(in.InsightId); err != nil {
		return err
	}
	if in.MaxResults != nil && (*in.MaxResults < 1 || *in.MaxResults > maxInsightEvents) {
		return invalidRequest("MaxResults %d must be 1 to %d", *in.MaxResults, maxInsightEvents)
	}
	off, err := s.checkInsightToken(in.NextToken)
	if err != nil {
		return err
	}
	if s.alerts != nil {
		size := maxInsightEvents
		if in.MaxResults != nil {
			size = *in.MaxResults
		}
		evs, next, err := s.alertInsightEvents(c.Request().Context(), *in.InsightId, size, off)
		if err != nil {
			return err
		}
		return writeJSON(c, getInsightEventsOutput{InsightEvents: evs, NextToken: next})
	}
	return writeJSON(c, getInsightEventsOutput{InsightEvents: []insightEvent{}})
}

type getInsightImpactGraphInput struct {
	InsightId *string
	StartTime *epochTime
	EndTime   *epochTime
	NextToken *string
}

type getInsightImpactGraphOutput struct {
	InsightId             string          `json:"InsightId"`
	StartTime             float64         `json:"StartTime"`
	EndTime               float64         `json:"EndTime"`
	ServiceGraphStartTime float64         `json:"ServiceGraphStartTime"`
	ServiceGraphEndTime   float64         `json:"ServiceGraphEndTime"`
	Services              []impactService `json:"Services"`
	NextToken             *string         `json:"NextToken,omitempty"`
}

func (s *Server) handleGetInsightImpactGraph(c echo.Context) error {
	var in getInsightImpactGraphInput
	if err := decodeBody(c, &in); err != nil {
		return err
	}
	if err := checkInsightID(in.InsightId); err != nil {
		return err
	}
	start, end, err := checkInsightRange(in.StartTime, in.EndTime, impactGraphMaxWindow)
	if err != nil {
		return err
	}
	if err := checkNoToken(in.NextToken); err != nil {
		return err
	}
	services := []impactService{}
	if s.alerts != nil {
		ep, ok, err := s.alertEpisode(c.Request().Context(), *in.InsightId)
		if err != nil {
			return err
		}
		if ok {
			services = s.alertImpactServices(ep)
		}
	}
	return writeJSON(c, getInsightImpactGraphOutput{
		InsightId: *in.InsightId, StartTime: epochSeconds(start), EndTime: epochSeconds(end),
		ServiceGraphStartTime: epochSeconds(start), ServiceGraphEndTime: epochSeconds(end), Services: services,
	})
}
