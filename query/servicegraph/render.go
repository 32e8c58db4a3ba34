package servicegraph

import (
	"cmp"
	"math"
	"slices"
)

// Service is one node of the graph, with the X-Ray member names as JSON
// keys (xray.md §4.7). Times are epoch seconds.
type Service struct {
	ReferenceID int      `json:"ReferenceId"`
	Name        string   `json:"Name"`
	Names       []string `json:"Names"`
	Root        bool     `json:"Root"`
	AccountID   string   `json:"AccountId,omitempty"`
	Type        string   `json:"Type,omitempty"`
	State       string   `json:"State"`
	StartTime   *float64 `json:"StartTime,omitempty"`
	EndTime     *float64 `json:"EndTime,omitempty"`
	Edges       []Edge   `json:"Edges"`
	// SummaryStatistics, DurationHistogram and ResponseTimeHistogram are
	// absent for client nodes (they only have edges).
	SummaryStatistics     *Statistics      `json:"SummaryStatistics,omitempty"`
	DurationHistogram     []HistogramEntry `json:"DurationHistogram"`
	ResponseTimeHistogram []HistogramEntry `json:"ResponseTimeHistogram"`
}

// Edge is a connection to the node with ReferenceId.
type Edge struct {
	ReferenceID           int              `json:"ReferenceId"`
	StartTime             *float64         `json:"StartTime,omitempty"`
	EndTime               *float64         `json:"EndTime,omitempty"`
	SummaryStatistics     *Statistics      `json:"SummaryStatistics,omitempty"`
	ResponseTimeHistogram []HistogramEntry `json:"ResponseTimeHistogram"`
	Aliases               []Alias          `json:"Aliases"`
}

// Alias is an alternate name of an edge's target (never set: Fluoro has
// no aliases yet, the member is always an empty list).
type Alias struct {
	Name  string   `json:"Name"`
	Names []string `json:"Names,omitempty"`
	Type  string   `json:"Type,omitempty"`
}

// Statistics is X-Ray's ServiceStatistics and EdgeStatistics (same members).
type Statistics struct {
	OkCount           int64           `json:"OkCount"`
	ErrorStatistics   ErrorStatistics `json:"ErrorStatistics"`
	FaultStatistics   FaultStatistics `json:"FaultStatistics"`
	TotalCount        int64           `json:"TotalCount"`
	TotalResponseTime float64         `json:"TotalResponseTime"`
}

// ErrorStatistics counts 4xx requests; throttles (429) apart.
type ErrorStatistics struct {
	ThrottleCount int64 `json:"ThrottleCount"`
	OtherCount    int64 `json:"OtherCount"`
	TotalCount    int64 `json:"TotalCount"`
}

// FaultStatistics counts 5xx requests (no sub-category: OtherCount = TotalCount).
type FaultStatistics struct {
	OtherCount int64 `json:"OtherCount"`
	TotalCount int64 `json:"TotalCount"`
}

// HistogramEntry is one histogram bin: a value in seconds and a count.
type HistogramEntry struct {
	Value float64 `json:"Value"`
	Count int64   `json:"Count"`
}

// States of nodes.
const (
	StateActive  = "active"
	StateUnknown = "unknown"
)

// Statistics returns s in the API shape.
func (s *Stats) Statistics() Statistics {
	return Statistics{
		OkCount: int64(s.OK),
		ErrorStatistics: ErrorStatistics{ThrottleCount: int64(s.Throttle), OtherCount: int64(s.ErrorOther),
			TotalCount: int64(s.Throttle + s.ErrorOther)},
		FaultStatistics:   FaultStatistics{OtherCount: int64(s.Fault), TotalCount: int64(s.Fault)},
		TotalCount:        int64(s.Total()),
		TotalResponseTime: seconds(s.SumUS),
	}
}

// Histogram returns a histogram in the API shape, ordered by value.
func Histogram(h map[uint64]uint64) []HistogramEntry {
	out := make([]HistogramEntry, 0, len(h))
	for us, n := range h {
		if n > 0 {
			out = append(out, HistogramEntry{Value: seconds(us), Count: int64(n)})
		}
	}
	slices.SortFunc(out, func(x, y HistogramEntry) int { return cmp.Compare(x.Value, y.Value) })
	return out
}

// seconds converts microseconds to seconds without binary noise.
func seconds(us uint64) float64 { return math.Round(float64(us)) / 1e6 }

// Graph renders what the aggregator holds, including nodes met without
// completed requests in the window (in-progress segments).
func (a *Aggregator) Graph() []Service { return render(a.Rows(), a.nodes) }

// Render turns rows (any minutes: they are summed) into the Services of
// GetServiceGraph: one Service per node, edges under their source.
func Render(rows []Row) []Service { return render(rows, nil) }

type nodeAcc struct {
	key    NodeKey
	active bool
	roots  uint64
	stats  *Stats
	dur    map[uint64]uint64
	edges  map[NodeKey]*Stats
	// start and end also cover the node's edges (client nodes).
	start, end uint64
}

func render(rows []Row, known map[NodeKey]bool) []Service {
	nodes := map[NodeKey]*nodeAcc{}
	get := func(k NodeKey) *nodeAcc {
		n := nodes[k]
		if n == nil {
			n = &nodeAcc{key: k}
			nodes[k] = n
		}
		return n
	}
	for k, active := range known {
		get(k).active = active
	}
	for i := range rows {
		r := &rows[i]
		src := get(r.Src)
		if r.Edge {
			get(r.Dst)
			if src.edges == nil {
				src.edges = map[NodeKey]*Stats{}
			}
			e := src.edges[r.Dst]
			if e == nil {
				e = &Stats{}
				src.edges[r.Dst] = e
			}
			e.merge(&r.Stats)
			continue
		}
		src.active = src.active || r.Active
		src.roots += r.Roots
		if src.stats == nil {
			src.stats = &Stats{}
		}
		src.stats.merge(&r.Stats)
		src.dur = mergeHist(src.dur, r.DurHist)
	}
	keys := make([]NodeKey, 0, len(nodes))
	for k := range nodes {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, compareKeys)
	ref := make(map[NodeKey]int, len(keys))
	for i, k := range keys {
		ref[k] = i
	}
	out := make([]Service, 0, len(keys))
	for i, k := range keys {
		n := nodes[k]
		s := Service{ReferenceID: i, Name: k.Name, Names: []string{k.Name}, Root: n.roots > 0, AccountID: k.AccountID,
			Type: k.Type, State: StateUnknown, Edges: []Edge{}, DurationHistogram: []HistogramEntry{},
			ResponseTimeHistogram: []HistogramEntry{}}
		if n.active && k.Type != TypeClient {
			s.State = StateActive
		}
		var start, end uint64
		if n.stats != nil && n.stats.Total() > 0 {
			st := n.stats.Statistics()
			s.SummaryStatistics = &st
			s.ResponseTimeHistogram = Histogram(n.stats.Hist)
			s.DurationHistogram = Histogram(n.dur)
			start, end = n.stats.MinStartUS, n.stats.MaxEndUS
		}
		targets := make([]NodeKey, 0, len(n.edges))
		for t := range n.edges {
			targets = append(targets, t)
		}
		slices.SortFunc(targets, func(x, y NodeKey) int { return cmp.Compare(ref[x], ref[y]) })
		for _, t := range targets {
			es := n.edges[t]
			e := Edge{ReferenceID: ref[t], ResponseTimeHistogram: Histogram(es.Hist), Aliases: []Alias{}}
			if es.Total() > 0 {
				st := es.Statistics()
				e.SummaryStatistics = &st
				e.StartTime, e.EndTime = timePtr(es.MinStartUS), timePtr(es.MaxEndUS)
			}
			if k.Type == TypeClient && es.Total() > 0 {
				if start == 0 || es.MinStartUS < start {
					start = es.MinStartUS
				}
				end = max(end, es.MaxEndUS)
			}
			s.Edges = append(s.Edges, e)
		}
		s.StartTime, s.EndTime = timePtr(start), timePtr(end)
		out = append(out, s)
	}
	return out
}

func timePtr(us uint64) *float64 {
	if us == 0 {
		return nil
	}
	v := seconds(us)
	return &v
}
