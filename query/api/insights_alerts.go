package api

import (
	"context"
	"strconv"
	"time"

	"github.com/fluoro/fluoro/query/alert"
	"github.com/fluoro/fluoro/schema/chstore"
)

// The Insights operations project Fluoro's alerts: every alert episode
// that fired is an insight (InsightId = the episode's alert id), ACTIVE
// while it fires and CLOSED once resolved, in category FAULT. An alert
// belongs to its rule's group, and the Default group sees every alert.
// Impact statistics come from the alert's counts: FaultCount is what
// crossed the threshold (matching traces, faulting traces, slow
// requests), TotalCount its population.

// insightStats is X-Ray's RequestImpactStatistics.
type insightStats struct {
	FaultCount int64 `json:"FaultCount"`
	OkCount    int64 `json:"OkCount"`
	TotalCount int64 `json:"TotalCount"`
}

// insightServiceID is X-Ray's ServiceId.
type insightServiceID struct {
	Name  string   `json:"Name,omitempty"`
	Names []string `json:"Names,omitempty"`
	Type  string   `json:"Type,omitempty"`
}

type anomalousService struct {
	ServiceId insightServiceID `json:"ServiceId"`
}

// insightBody is the members InsightSummary and Insight share.
type insightBody struct {
	InsightId                               string             `json:"InsightId"`
	GroupARN                                string             `json:"GroupARN,omitempty"`
	GroupName                               string             `json:"GroupName,omitempty"`
	RootCauseServiceId                      *insightServiceID  `json:"RootCauseServiceId,omitempty"`
	Categories                              []string           `json:"Categories"`
	State                                   string             `json:"State"`
	StartTime                               float64            `json:"StartTime"`
	EndTime                                 *float64           `json:"EndTime,omitempty"`
	Summary                                 string             `json:"Summary"`
	ClientRequestImpactStatistics           insightStats       `json:"ClientRequestImpactStatistics"`
	RootCauseServiceRequestImpactStatistics insightStats       `json:"RootCauseServiceRequestImpactStatistics"`
	TopAnomalousServices                    []anomalousService `json:"TopAnomalousServices"`
}

// insightSummaryOut is X-Ray's InsightSummary.
type insightSummaryOut struct {
	insightBody
	LastUpdateTime float64 `json:"LastUpdateTime"`
}

func stats(matching, total uint64) insightStats {
	total = max(total, matching)
	return insightStats{FaultCount: int64(matching), OkCount: int64(total - matching), TotalCount: int64(total)}
}

// insightOf projects an episode; group is the requested group (the
// episode's rule group when it is empty).
func (s *Server) insightOf(ctx context.Context, ep chstore.AlertEpisode, group chstore.Group) insightBody {
	b := insightBody{
		InsightId: ep.EpisodeID, GroupName: group.Name, GroupARN: group.ARN, Categories: []string{"FAULT"}, State: "ACTIVE",
		StartTime: epochSeconds(ep.FiredAt), Summary: ep.Message,
		ClientRequestImpactStatistics: stats(ep.Matching, ep.Total), RootCauseServiceRequestImpactStatistics: stats(ep.Matching, ep.Total),
		TopAnomalousServices: []anomalousService{},
	}
	if ep.FiredAt.IsZero() || ep.FiredAt.Unix() <= 0 {
		b.StartTime = epochSeconds(ep.Start)
	}
	if b.Summary == "" {
		b.Summary = ep.RuleName
	}
	if !ep.End.IsZero() {
		b.State = "CLOSED"
		end := epochSeconds(ep.End)
		b.EndTime = &end
	}
	if ep.RootService != "" {
		id := insightServiceID{Name: ep.RootService, Names: []string{ep.RootService}, Type: ep.RootServiceType}
		b.RootCauseServiceId = &id
		b.TopAnomalousServices = []anomalousService{{ServiceId: id}}
	}
	if rs, err := s.alerts.Rule(ep.RuleID); err == nil && rs.Status.AlertID == ep.EpisodeID && b.State == "ACTIVE" {
		// The live state is newer than the history.
		if rs.Status.Summary != "" {
			b.Summary = rs.Status.Summary
		}
		b.ClientRequestImpactStatistics = stats(rs.Status.Counts.Matching, rs.Status.Counts.Total)
		b.RootCauseServiceRequestImpactStatistics = b.ClientRequestImpactStatistics
	}
	if b.GroupName == "" {
		g, err := s.insightGroup(ctx, ep.RuleID)
		if err == nil {
			b.GroupName, b.GroupARN = g.Name, g.ARN
		}
	}
	return b
}

// insightGroup is the group of rule id's alerts: its rule's group, else
// Default.
func (s *Server) insightGroup(ctx context.Context, ruleID string) (chstore.Group, error) {
	if rs, err := s.alerts.Rule(ruleID); err == nil && rs.Rule.Group != "" {
		name := rs.Rule.Group
		if g, err := s.resolveGroup(ctx, &name, nil, false); err == nil {
			return g, nil
		}
		return chstore.Group{Name: name}, nil
	}
	return s.defaultGroup(ctx)
}

// inGroup reports whether an episode belongs to group g: Default holds
// every alert, another group the alerts of rules with that group.
func (s *Server) inGroup(ep chstore.AlertEpisode, g chstore.Group) bool {
	if g.Name == defaultGroupName {
		return true
	}
	rs, err := s.alerts.Rule(ep.RuleID)
	return err == nil && rs.Rule.Group == g.Name
}

// maxInsightScan bounds the episodes one insights request reads.
const maxInsightScan = 10000

// insightToken parses a NextToken this server issued (an offset); nil is 0.
func insightToken(tok *string) (int, error) {
	if tok == nil {
		return 0, nil
	}
	if len(*tok) < 1 || len(*tok) > maxInsightToken {
		return 0, invalidRequest("NextToken must be 1 to %d characters long", maxInsightToken)
	}
	n, err := strconv.Atoi(*tok)
	if err != nil || n < 1 || n > maxInsightScan {
		return 0, invalidRequest("NextToken %q is not a token this server issued; repeat the request without NextToken", truncate(*tok, 40))
	}
	return n, nil
}

// page cuts items[off:off+size] and returns the next token.
func page[T any](items []T, off, size int) ([]T, *string) {
	if off >= len(items) {
		return []T{}, nil
	}
	end := min(off+size, len(items))
	var next *string
	if end < len(items) {
		t := strconv.Itoa(end)
		next = &t
	}
	return items[off:end], next
}

// alertInsightSummaries answers GetInsightSummaries from the alerts.
func (s *Server) alertInsightSummaries(ctx context.Context, start, end time.Time, group chstore.Group, states []string, maxResults, off int) (getInsightSummariesOutput, error) {
	eps, err := s.alerts.Episodes(ctx, chstore.AlertEpisodeQuery{Start: start, End: end, Limit: maxInsightScan})
	if err != nil {
		return getInsightSummariesOutput{}, err
	}
	var out []insightSummaryOut
	for _, ep := range eps {
		if !s.inGroup(ep, group) {
			continue
		}
		b := s.insightOf(ctx, ep, group)
		if len(states) == 1 && states[0] != b.State {
			continue
		}
		out = append(out, insightSummaryOut{insightBody: b, LastUpdateTime: epochSeconds(ep.LastUpdate)})
	}
	items, next := page(out, off, maxResults)
	return getInsightSummariesOutput{InsightSummaries: items, NextToken: next}, nil
}

// alertEpisode returns the episode id, or false.
func (s *Server) alertEpisode(ctx context.Context, id string) (chstore.AlertEpisode, bool, error) {
	eps, err := s.alerts.Episodes(ctx, chstore.AlertEpisodeQuery{EpisodeID: id, Limit: 1})
	if err != nil || len(eps) == 0 {
		return chstore.AlertEpisode{}, false, err
	}
	return eps[0], true, nil
}

// insightEvent is X-Ray's InsightEvent.
type insightEvent struct {
	Summary                                 string             `json:"Summary"`
	EventTime                               float64            `json:"EventTime"`
	ClientRequestImpactStatistics           insightStats       `json:"ClientRequestImpactStatistics"`
	RootCauseServiceRequestImpactStatistics insightStats       `json:"RootCauseServiceRequestImpactStatistics"`
	TopAnomalousServices                    []anomalousService `json:"TopAnomalousServices"`
}

// alertInsightEvents answers GetInsightEvents: the episode's history,
// oldest first.
func (s *Server) alertInsightEvents(ctx context.Context, id string, maxResults, off int) ([]insightEvent, *string, error) {
	evs, err := s.alerts.History(ctx, chstore.AlertEventQuery{EpisodeID: id, Oldest: true, Limit: maxInsightScan})
	if err != nil {
		return nil, nil, err
	}
	out := make([]insightEvent, 0, len(evs))
	for _, e := range evs {
		ie := insightEvent{Summary: e.Message, EventTime: epochSeconds(e.Time), ClientRequestImpactStatistics: stats(e.Matching, e.Total),
			RootCauseServiceRequestImpactStatistics: stats(e.Matching, e.Total), TopAnomalousServices: []anomalousService{}}
		if ie.Summary == "" {
			ie.Summary = e.RuleName + " " + e.State
		}
		if e.RootService != "" {
			ie.TopAnomalousServices = []anomalousService{{ServiceId: insightServiceID{Name: e.RootService, Names: []string{e.RootService}, Type: e.RootServiceType}}}
		}
		out = append(out, ie)
	}
	items, next := page(out, off, maxResults)
	return items, next, nil
}

// impactService is X-Ray's InsightImpactGraphService.
type impactService struct {
	ReferenceId int          `json:"ReferenceId"`
	Type        string       `json:"Type,omitempty"`
	Name        string       `json:"Name,omitempty"`
	Names       []string     `json:"Names"`
	Edges       []impactEdge `json:"Edges"`
}

type impactEdge struct {
	ReferenceId int `json:"ReferenceId"`
}

// alertImpactServices is the impact graph of an episode: its root-cause
// service, and for an edge rule the calling service with the edge.
func (s *Server) alertImpactServices(ep chstore.AlertEpisode) []impactService {
	var out []impactService
	if rs, err := s.alerts.Rule(ep.RuleID); err == nil && rs.Rule.Condition.Kind == alert.KindRatio && rs.Rule.Condition.Edge != nil {
		e := rs.Rule.Condition.Edge
		return []impactService{
			{ReferenceId: 0, Name: e.From, Names: []string{e.From}, Edges: []impactEdge{{ReferenceId: 1}}},
			{ReferenceId: 1, Name: e.To, Names: []string{e.To}, Type: ep.RootServiceType, Edges: []impactEdge{}},
		}
	}
	if ep.RootService != "" {
		out = append(out, impactService{ReferenceId: 0, Name: ep.RootService, Names: []string{ep.RootService}, Type: ep.RootServiceType, Edges: []impactEdge{}})
	}
	if out == nil {
		out = []impactService{}
	}
	return out
}
