package graphstore_test

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/fluoro/fluoro/collector/segment"
	"github.com/fluoro/fluoro/query/graphstore"
	"github.com/fluoro/fluoro/query/servicegraph"
	"github.com/fluoro/fluoro/schema"
	"github.com/fluoro/fluoro/schema/chstore"
	"github.com/fluoro/fluoro/schema/chtest"
)

func TestMain(m *testing.M) { chtest.Main(m) }

func open(t *testing.T) (*chstore.Store, *graphstore.Graph) {
	t.Helper()
	db := chtest.New(t)
	s, err := chstore.Open(context.Background(), db.DSN, chstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	cfg := graphstore.DefaultConfig()
	cfg.RefreshInterval = 0
	g, err := graphstore.New(cfg, graphstore.Settings{Store: s})
	if err != nil {
		t.Fatal(err)
	}
	return s, g
}

// shopTrace returns the documents of one trace of the reference topology
// (see servicegraph's tests): web → orders (instrumented) → DynamoDB
// table + SQL; web → partner (remote, uninstrumented); web → Lambda
// (AWS::Lambda → AWS::Lambda::Function → S3 from an independent
// subsegment). outcome varies statuses.
func shopTrace(epoch time.Time, n int, outcome int) (trace string, docs []string) {
	trace = fmt.Sprintf("1-%08x-%024x", epoch.Unix(), n)
	t := float64(epoch.UnixMicro())/1e6 + 0.5
	id := func(k int) string { return fmt.Sprintf("%x%015x", k, n) }
	webStatus, callStatus, ddbFault := 200, 200, false
	switch outcome % 4 {
	case 1:
		webStatus = 503
	case 2:
		callStatus = 429
	case 3:
		ddbFault = true
	}
	f := func(x float64) string { return fmt.Sprintf("%.6f", t+x) }
	web := fmt.Sprintf(`{"trace_id":%q,"id":%q,"name":"web","origin":"AWS::EC2::Instance","start_time":%s,"end_time":%s,`+
		`"http":{"request":{"method":"GET","url":"http://web/"},"response":{"status":%d}},"subsegments":[`+
		`{"id":%q,"name":"orders","namespace":"remote","start_time":%s,"end_time":%s,"http":{"request":{"url":"http://orders/","traced":true},"response":{"status":%d}}},`+
		`{"id":%q,"name":"partner.example.com","namespace":"remote","start_time":%s,"end_time":%s,"http":{"request":{"url":"http://partner.example.com/"},"response":{"status":404}}},`+
		`{"id":%q,"name":"Lambda","namespace":"aws","start_time":%s,"end_time":%s,"aws":{"operation":"Invoke","function_name":"resize"}}]}`,
		trace, id(1), f(0), f(0.2), webStatus,
		id(2), f(0.01), f(0.11), callStatus,
		id(3), f(0.12), f(0.16),
		id(4), f(0.165), f(0.195))
	fault := ""
	if ddbFault {
		fault = `"fault":true,`
	}
	orders := fmt.Sprintf(`{"trace_id":%q,"id":%q,"parent_id":%q,"name":"orders","origin":"AWS::ECS::Container","start_time":%s,"end_time":%s,"subsegments":[`+
		`{"id":%q,"name":"DynamoDB","namespace":"aws",%s"start_time":%s,"end_time":%s,"aws":{"operation":"GetItem","table_name":"orders-table"}},`+
		`{"id":%q,"name":"orders@db","namespace":"remote","start_time":%s,"end_time":%s,"sql":{"url":"postgres://db/orders","database_type":"PostgreSQL"}}]}`,
		trace, id(5), id(2), f(0.012), f(0.102),
		id(6), fault, f(0.02), f(0.05),
		id(7), f(0.06), f(0.08))
	lambda := fmt.Sprintf(`{"trace_id":%q,"id":%q,"parent_id":%q,"name":"resize","origin":"AWS::Lambda","start_time":%s,"end_time":%s,"aws":{"account_id":"111122223333"}}`,
		trace, id(8), id(4), f(0.166), f(0.194))
	function := fmt.Sprintf(`{"trace_id":%q,"id":%q,"parent_id":%q,"name":"resize","origin":"AWS::Lambda::Function","start_time":%s,"end_time":%s,"aws":{"account_id":"111122223333"}}`,
		trace, id(9), id(8), f(0.17), f(0.19))
	s3 := fmt.Sprintf(`{"type":"subsegment","trace_id":%q,"id":%q,"parent_id":%q,"name":"S3","namespace":"aws","start_time":%s,"end_time":%s,"aws":{"operation":"PutObject","bucket_name":"thumbs"}}`,
		trace, id(10), id(9), f(0.172), f(0.182))
	return trace, []string{web, orders, lambda, function, s3}
}

func decode(t *testing.T, bodies []string, received int64) []segment.Document {
	t.Helper()
	dec := segment.NewDecoder(segment.DefaultLimits())
	var docs []segment.Document
	for _, b := range bodies {
		var err error
		if docs, err = dec.Decode([]byte(b), received, docs); err != nil {
			t.Fatalf("decode %s: %v", b, err)
		}
	}
	return docs
}

// truth is the graph computed in memory from every document.
func truth(docs []segment.Document, from, to time.Time) []servicegraph.Service {
	var spans []servicegraph.Span
	for _, d := range docs {
		for i := range d.Spans {
			spans = append(spans, servicegraph.FromSegment(&d.Spans[i], chstore.Version(&d)))
		}
	}
	a := servicegraph.NewAggregator(servicegraph.Options{From: from, To: to})
	a.AddSpans(spans)
	return servicegraph.Render(a.Rows())
}

func mustJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.MarshalIndent(v, "", " ")
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func names(svcs []servicegraph.Service) string {
	var out []string
	for _, s := range svcs {
		out = append(out, s.Name+"|"+s.Type)
	}
	return strings.Join(out, ", ")
}

// TestLateCallee writes the caller first and queries, so that a rollup
// exists in which the call goes to an inferred "remote" node; the callee
// and the rest arrive in later writes. The graph must then be exactly the
// one of all documents: the rollup is stale and recomputed.
func TestLateCallee(t *testing.T) {
	t.Parallel()
	s, g := open(t)
	ctx := context.Background()
	epoch := time.Now().Add(-10 * time.Minute).Truncate(time.Second)
	_, bodies := shopTrace(epoch, 1, 0)
	all := decode(t, bodies, time.Now().UnixNano())
	from, to := epoch.Add(-time.Minute).Truncate(time.Minute), epoch.Add(2*time.Minute).Truncate(time.Minute)
	q := graphstore.Query{Start: from, End: to}

	if err := s.WriteDocuments(ctx, all[:1]); err != nil {
		t.Fatal(err)
	}
	res, err := g.ServiceGraph(ctx, q)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := mustJSON(t, res.Services), mustJSON(t, truth(all[:1], from, to)); got != want {
		t.Fatalf("caller only:\n%s\nwant\n%s", got, want)
	}
	if !strings.Contains(names(res.Services), "orders|remote") {
		t.Fatalf("caller only: no inferred orders node: %s", names(res.Services))
	}
	// The rest arrives "minutes later": after the rollup was computed,
	// one document per write.
	time.Sleep(1100 * time.Millisecond)
	for _, d := range all[1:] {
		if err := s.WriteDocuments(ctx, []segment.Document{d}); err != nil {
			t.Fatal(err)
		}
	}
	// With MaxStaleness the recent rollup still answers: the old graph.
	cfg := graphstore.DefaultConfig()
	cfg.RefreshInterval, cfg.MaxStaleness = 0, time.Hour
	stale, err := graphstore.New(cfg, graphstore.Settings{Store: s})
	if err != nil {
		t.Fatal(err)
	}
	if res, err := stale.ServiceGraph(ctx, q); err != nil || !strings.Contains(names(res.Services), "orders|remote") {
		t.Fatalf("MaxStaleness: %s, %v", names(res.Services), err)
	}
	res, err = g.ServiceGraph(ctx, q)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := mustJSON(t, res.Services), mustJSON(t, truth(all, from, to)); got != want {
		t.Fatalf("all documents:\n%s\nwant\n%s", got, want)
	}
	if strings.Contains(names(res.Services), "orders|remote") || !strings.Contains(names(res.Services), "orders|AWS::ECS::Container") {
		t.Fatalf("after the callee arrived: %s", names(res.Services))
	}
	if !res.Start.Equal(from) || !res.End.Equal(to) {
		t.Errorf("window %v..%v, want %v..%v", res.Start, res.End, from, to)
	}
}

// TestRandomArrival writes many traces whose documents arrive in random
// order, split over many writes, some twice, with in-progress versions,
// querying in between; the final graph, time series and trace graph must
// equal the in-memory truth.
func TestRandomArrival(t *testing.T) {
	t.Parallel()
	s, g := open(t)
	ctx := context.Background()
	base := time.Now().Add(-30 * time.Minute).Truncate(time.Minute)
	rng := rand.New(rand.NewPCG(7, 11))
	var (
		all      []segment.Document
		writes   [][]segment.Document
		received = time.Now().UnixNano()
	)
	var traceIDs []string
	for n := range 60 {
		epoch := base.Add(time.Duration(n%5)*time.Minute + time.Duration(rng.IntN(59000))*time.Millisecond)
		trace, bodies := shopTrace(epoch, n, n)
		traceIDs = append(traceIDs, trace)
		docs := decode(t, bodies, received+int64(n))
		all = append(all, docs...)
		for _, d := range docs {
			if rng.IntN(5) == 0 { // an in-progress version first
				p := d
				p.InProgress, p.EndTime, p.ReceivedNanos = true, 0, d.ReceivedNanos-1
				p.Spans = slices.Clone(d.Spans)
				p.Spans[0].InProgress, p.Spans[0].EndTime = true, 0
				writes = append(writes, []segment.Document{p})
			}
			writes = append(writes, []segment.Document{d})
			if rng.IntN(10) == 0 { // a replay
				writes = append(writes, []segment.Document{d})
			}
		}
	}
	rng.Shuffle(len(writes), func(i, j int) { writes[i], writes[j] = writes[j], writes[i] })
	// Batches of 1-20 writes.
	from, to := base.Add(-time.Minute), base.Add(7*time.Minute)
	q := graphstore.Query{Start: from, End: to}
	for i := 0; i < len(writes); {
		k := min(len(writes), i+1+rng.IntN(20))
		var batch []segment.Document
		for _, w := range writes[i:k] {
			batch = append(batch, w...)
		}
		if err := s.WriteDocuments(ctx, batch); err != nil {
			t.Fatal(err)
		}
		if rng.IntN(4) == 0 {
			if _, err := g.ServiceGraph(ctx, q); err != nil {
				t.Fatal(err)
			}
		}
		i = k
	}
	// Sub-second race with the last queries' rollups: they record the
	// snapshot time minus a margin, so the final query recomputes what
	// is needed.
	res, err := g.ServiceGraph(ctx, q)
	if err != nil {
		t.Fatal(err)
	}
	want := truth(all, from, to)
	if got, w := mustJSON(t, res.Services), mustJSON(t, want); got != w {
		t.Fatalf("graph differs:\n%s\nwant\n%s", got, w)
	}
	var webTotal int64
	for _, s := range want {
		if s.Name == "web" && s.Type == "AWS::EC2::Instance" {
			webTotal = s.SummaryStatistics.TotalCount
		}
	}
	if webTotal != 60 {
		t.Fatalf("web TotalCount %d, want 60", webTotal)
	}

	// Time series: the same rows per minute.
	var spans []servicegraph.Span
	for _, d := range all {
		for i := range d.Spans {
			spans = append(spans, servicegraph.FromSegment(&d.Spans[i], chstore.Version(&d)))
		}
	}
	perMinute := servicegraph.NewAggregator(servicegraph.Options{ByMinute: true, From: from, To: to})
	perMinute.AddSpans(spans)
	for _, expr := range []string{`service("web")`, `edge("web", "orders")`, ``, `id(name: "resize", type: "AWS::Lambda::Function")`, `service("orders-table")`} {
		sel, err := servicegraph.ParseSelector(expr)
		if err != nil {
			t.Fatal(err)
		}
		for _, period := range []time.Duration{time.Minute, 5 * time.Minute} {
			got, err := g.TimeSeries(ctx, graphstore.TimeSeriesQuery{Start: from, End: to, Period: period, Selector: sel})
			if err != nil {
				t.Fatal(err)
			}
			first := time.Unix(from.Unix()/int64(period/time.Second)*int64(period/time.Second), 0)
			w := servicegraph.TimeSeries(perMinute.Rows(), sel, first, period, false)
			if mustJSON(t, got) != mustJSON(t, w) || len(got) == 0 {
				t.Errorf("time series %q / %v:\n%s\nwant\n%s", expr, period, mustJSON(t, got), mustJSON(t, w))
			}
		}
	}

	// Trace graph of two traces.
	tg, err := g.TraceGraph(ctx, traceIDs[:2])
	if err != nil {
		t.Fatal(err)
	}
	var two []segment.Document
	for _, d := range all {
		if d.TraceID == traceIDs[0] || d.TraceID == traceIDs[1] {
			two = append(two, d)
		}
	}
	if got, w := mustJSON(t, tg), mustJSON(t, truth(two, time.Time{}, time.Time{})); got != w {
		t.Errorf("trace graph:\n%s\nwant\n%s", got, w)
	}

	// A group's filter: only traces whose root faulted (outcome 1: web 503).
	fg, err := g.ServiceGraph(ctx, graphstore.Query{Start: from, End: to,
		Filter: &graphstore.Filter{Having: "max(is_segment = 1 AND parent_id = '' AND http_status = ?) = 1", Args: []any{503}}})
	if err != nil {
		t.Fatal(err)
	}
	var faulty []segment.Document
	for _, d := range all {
		var n int
		fmt.Sscanf(d.TraceID[11:], "%x", &n)
		if n%4 == 1 {
			faulty = append(faulty, d)
		}
	}
	if got, w := mustJSON(t, fg.Services), mustJSON(t, truth(faulty, from, to)); got != w {
		t.Errorf("filtered graph:\n%s\nwant\n%s", got, w)
	}

	// Everything is clean now: a refresh computes nothing.
	time.Sleep(3 * time.Second)
	if _, err := g.ServiceGraph(ctx, q); err != nil {
		t.Fatal(err)
	}
	n, err := g.Refresh(ctx, from.Add(-time.Hour), to)
	if err != nil || n != 0 {
		t.Errorf("Refresh after the final query computed %d buckets (%v), want 0", n, err)
	}
}

// TestClusterLayout runs the graph over the cluster layout (Distributed
// tables over local ones, the managed server's one-shard cluster
// "fluoro_local" without ZooKeeper): views on the local spans table,
// rollups written through the Distributed table.
func TestClusterLayout(t *testing.T) {
	t.Parallel()
	srv := chtest.NewServer(t)
	ctx := context.Background()
	name := chtest.UniqueName(t)
	t.Cleanup(func() { srv.Exec(t, "DROP DATABASE IF EXISTS "+name) })
	if _, err := schema.Migrate(ctx, srv.Conn, schema.Options{Database: name, Cluster: "fluoro_local", NoZooKeeper: true}); err != nil {
		t.Fatal(err)
	}
	s, err := chstore.Open(ctx, strings.TrimSuffix(srv.DSN, srv.Name)+name, chstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	cfg := graphstore.DefaultConfig()
	cfg.RefreshInterval = 0
	g, err := graphstore.New(cfg, graphstore.Settings{Store: s})
	if err != nil {
		t.Fatal(err)
	}
	epoch := time.Now().Add(-20 * time.Minute).Truncate(time.Second)
	var all []segment.Document
	for n := range 8 {
		_, bodies := shopTrace(epoch.Add(time.Duration(n)*20*time.Second), n, n)
		docs := decode(t, bodies, time.Now().UnixNano())
		all = append(all, docs...)
		for _, d := range docs { // one write per document
			if err := s.WriteDocuments(ctx, []segment.Document{d}); err != nil {
				t.Fatal(err)
			}
		}
	}
	from, to := epoch.Truncate(time.Minute), epoch.Add(5*time.Minute).Truncate(time.Minute)
	res, err := g.ServiceGraph(ctx, graphstore.Query{Start: from, End: to})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := mustJSON(t, res.Services), mustJSON(t, truth(all, from, to)); got != want || len(res.Services) != 9 {
		t.Fatalf("cluster graph:\n%s\nwant\n%s", got, want)
	}
}

// TestStreamedUnderPlainSubsegment: an SDK streamed a remote call as an
// independent subsegment whose parent is a plain "process" subsegment of
// the segment (not in graph_spans); the call's edge must still start at
// the segment's service. An orphan (its parent never arrived) has no edge.
func TestStreamedUnderPlainSubsegment(t *testing.T) {
	t.Parallel()
	s, g := open(t)
	ctx := context.Background()
	epoch := time.Now().Add(-5 * time.Minute).Truncate(time.Second)
	trace := fmt.Sprintf("1-%08x-%024x", epoch.Unix(), 77)
	t0 := float64(epoch.Unix()) + 0.1
	f := func(x float64) string { return fmt.Sprintf("%.6f", t0+x) }
	bodies := []string{
		fmt.Sprintf(`{"trace_id":%q,"id":"1000000000000001","name":"worker","origin":"AWS::EC2::Instance","start_time":%s,"end_time":%s,`+
			`"subsegments":[{"id":"1000000000000002","name":"process","start_time":%s,"end_time":%s}]}`, trace, f(0), f(1), f(0.1), f(0.9)),
		fmt.Sprintf(`{"type":"subsegment","trace_id":%q,"id":"1000000000000003","parent_id":"1000000000000002","name":"api.partner.net","namespace":"remote",`+
			`"start_time":%s,"end_time":%s,"http":{"request":{"url":"https://api.partner.net/"},"response":{"status":503}}}`, trace, f(0.2), f(0.4)),
		fmt.Sprintf(`{"type":"subsegment","trace_id":%q,"id":"1000000000000004","parent_id":"10000000000000ff","name":"lost.example.com","namespace":"remote",`+
			`"start_time":%s,"end_time":%s}`, trace, f(0.5), f(0.6)),
	}
	docs := decode(t, bodies, time.Now().UnixNano())
	for _, d := range docs {
		if err := s.WriteDocuments(ctx, []segment.Document{d}); err != nil {
			t.Fatal(err)
		}
	}
	from, to := epoch.Truncate(time.Minute), epoch.Add(2*time.Minute).Truncate(time.Minute)
	res, err := g.ServiceGraph(ctx, graphstore.Query{Start: from, End: to})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := mustJSON(t, res.Services), mustJSON(t, truth(docs, from, to)); got != want {
		t.Fatalf("graph:\n%s\nwant\n%s", got, want)
	}
	var worker *servicegraph.Service
	for i := range res.Services {
		if res.Services[i].Name == "worker" && res.Services[i].Type == "AWS::EC2::Instance" {
			worker = &res.Services[i]
		}
	}
	if worker == nil || len(worker.Edges) != 1 || res.Services[worker.Edges[0].ReferenceID].Name != "api.partner.net" ||
		worker.Edges[0].SummaryStatistics.FaultStatistics.TotalCount != 1 {
		t.Fatalf("worker's edges: %s", mustJSON(t, worker))
	}
	tg, err := g.TraceGraph(ctx, []string{trace})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := mustJSON(t, tg), mustJSON(t, truth(docs, time.Time{}, time.Time{})); got != want {
		t.Fatalf("trace graph:\n%s\nwant\n%s", got, want)
	}
}
