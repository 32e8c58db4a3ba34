package graphstore_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/xray"
	"github.com/aws/aws-sdk-go-v2/service/xray/types"

	"github.com/fluoro/fluoro/collector"
	"github.com/fluoro/fluoro/deploy/demo"
	"github.com/fluoro/fluoro/query/api"
	"github.com/fluoro/fluoro/query/graphstore"
	"github.com/fluoro/fluoro/schema/chstore"
	"github.com/fluoro/fluoro/schema/chtest"
)

// relay forwards the SDK's datagrams to the collector and keeps the last
// version of every document: the ground truth of what was sent.
type relay struct {
	conn *net.UDPConn
	mu   sync.Mutex
	docs map[string]map[string][]byte // trace id → document id → body
}

func newRelay(t *testing.T, to string) *relay {
	t.Helper()
	pc, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	dst, err := net.ResolveUDPAddr("udp", to)
	if err != nil {
		t.Fatal(err)
	}
	out, err := net.DialUDP("udp", nil, dst)
	if err != nil {
		t.Fatal(err)
	}
	r := &relay{conn: pc, docs: map[string]map[string][]byte{}}
	go func() {
		buf := make([]byte, 65536)
		for {
			n, _, err := pc.ReadFromUDP(buf)
			if err != nil {
				return
			}
			pkt := append([]byte(nil), buf[:n]...)
			if _, body, ok := bytes.Cut(pkt, []byte("\n")); ok {
				var d struct {
					TraceID string `json:"trace_id"`
					ID      string `json:"id"`
				}
				if json.Unmarshal(body, &d) == nil && d.TraceID != "" {
					r.mu.Lock()
					if r.docs[d.TraceID] == nil {
						r.docs[d.TraceID] = map[string][]byte{}
					}
					r.docs[d.TraceID][d.ID] = body
					r.mu.Unlock()
				}
			}
			if _, err := out.Write(pkt); err != nil {
				return
			}
		}
	}()
	t.Cleanup(func() { pc.Close(); out.Close() })
	return r
}

func (r *relay) snapshot() map[string]map[string][]byte {
	r.mu.Lock()
	defer r.mu.Unlock()
	cp := map[string]map[string][]byte{}
	for t, m := range r.docs {
		cp[t] = map[string][]byte{}
		for id, d := range m {
			cp[t][id] = d
		}
	}
	return cp
}

// jdoc is what the ground truth reads of a segment or subsegment.
type jdoc struct {
	TraceID    string  `json:"trace_id"`
	ID         string  `json:"id"`
	ParentID   string  `json:"parent_id"`
	Type       string  `json:"type"`
	Name       string  `json:"name"`
	Origin     string  `json:"origin"`
	Namespace  string  `json:"namespace"`
	StartTime  float64 `json:"start_time"`
	EndTime    float64 `json:"end_time"`
	InProgress bool    `json:"in_progress"`
	Fault      bool    `json:"fault"`
	Error      bool    `json:"error"`
	Throttle   bool    `json:"throttle"`
	HTTP       struct {
		Response struct {
			Status int `json:"status"`
		} `json:"response"`
	} `json:"http"`
	AWS struct {
		TableName string `json:"table_name"`
	} `json:"aws"`
	SQL         json.RawMessage `json:"sql"`
	Subsegments []*jdoc         `json:"subsegments"`
}

// tally is the expected statistics of a node or an edge.
type tally struct {
	ok, err, thr, fault, total int64
	rt                         float64
}

// add counts one request by xray.md §6.5: fault > throttle > error > ok,
// flags before the HTTP status.
func (t *tally) add(d *jdoc) {
	st := d.HTTP.Response.Status
	switch {
	case d.Fault:
		t.fault++
	case d.Throttle:
		t.thr++
	case d.Error:
		t.err++
	case st >= 500 && st < 600:
		t.fault++
	case st == 429:
		t.thr++
	case st >= 400 && st < 500:
		t.err++
	default:
		t.ok++
	}
	t.total++
	t.rt += d.EndTime - d.StartTime
}

type gkey struct{ name, typ string }

type expected struct {
	nodes map[gkey]*tally
	edges map[[2]gkey]*tally
}

func get[K comparable](m map[K]*tally, k K) *tally {
	if m[k] == nil {
		m[k] = &tally{}
	}
	return m[k]
}

// groundTruth derives the graph from the documents the SDK sent, with its
// own straightforward reading of xray.md §6 (independent of servicegraph).
func groundTruth(t *testing.T, sent map[string]map[string][]byte, only map[string]bool) expected {
	t.Helper()
	e := expected{nodes: map[gkey]*tally{}, edges: map[[2]gkey]*tally{}}
	for trace, docs := range sent {
		if only != nil && !only[trace] {
			continue
		}
		type sub struct {
			d     *jdoc
			owner *jdoc // enclosing segment; nil for an independent subsegment
			top   *jdoc // top-level document carrying it
		}
		var segs []*jdoc
		subs := map[string]sub{}
		byID := map[string]*jdoc{}
		for _, raw := range docs {
			d := &jdoc{}
			if err := json.Unmarshal(raw, d); err != nil {
				t.Fatalf("sent document %s: %v", raw, err)
			}
			var owner *jdoc
			if d.Type != "subsegment" {
				segs = append(segs, d)
				owner = d
			} else {
				subs[d.ID] = sub{d: d, top: d}
			}
			byID[d.ID] = d
			var walk func(*jdoc)
			walk = func(p *jdoc) {
				for _, s := range p.Subsegments {
					subs[s.ID] = sub{d: s, owner: owner, top: d}
					walk(s)
				}
			}
			walk(d)
		}
		var ownerOf func(id string, depth int) *jdoc
		ownerOf = func(id string, depth int) *jdoc {
			if depth > 20 {
				return nil
			}
			if s, ok := subs[id]; ok {
				if s.owner != nil {
					return s.owner
				}
				return ownerOf(s.top.ParentID, depth+1)
			}
			if d, ok := byID[id]; ok && d.Type != "subsegment" {
				return d
			}
			return nil
		}
		called := map[string]bool{}
		for _, s := range segs {
			called[s.ParentID] = true
		}
		for _, s := range segs {
			if s.InProgress || s.EndTime == 0 {
				continue
			}
			node := gkey{s.Name, s.Origin}
			get(e.nodes, node).add(s)
			if p, ok := subs[s.ParentID]; ok {
				if o := ownerOf(s.ParentID, 0); o != nil {
					get(e.edges, [2]gkey{{o.Name, o.Origin}, node}).add(p.d)
				}
			} else if _, ok := byID[s.ParentID]; !ok || s.ParentID == "" {
				get(e.edges, [2]gkey{{s.Name, "client"}, node}).add(s)
			}
		}
		for id, s := range subs {
			d := s.d
			if called[id] || d.InProgress || d.EndTime == 0 || (d.Namespace != "aws" && d.Namespace != "remote" && d.SQL == nil) {
				continue
			}
			var node gkey
			switch {
			case d.Namespace == "aws" && d.AWS.TableName != "" && d.Name == "DynamoDB":
				node = gkey{d.AWS.TableName, "AWS::DynamoDB::Table"}
			case d.Namespace == "aws":
				node = gkey{d.Name, "AWS::" + d.Name}
			case d.SQL != nil:
				node = gkey{d.Name, "Database::SQL"}
			default:
				node = gkey{d.Name, "remote"}
			}
			get(e.nodes, node).add(d)
			if o := ownerOf(id, 0); o != nil {
				get(e.edges, [2]gkey{{o.Name, o.Origin}, node}).add(d)
			}
		}
	}
	return e
}

func statsOf(s *types.ServiceStatistics) tally {
	if s == nil {
		return tally{}
	}
	return tally{ok: aws.ToInt64(s.OkCount), err: aws.ToInt64(s.ErrorStatistics.OtherCount), thr: aws.ToInt64(s.ErrorStatistics.ThrottleCount),
		fault: aws.ToInt64(s.FaultStatistics.TotalCount), total: aws.ToInt64(s.TotalCount), rt: aws.ToFloat64(s.TotalResponseTime)}
}

func edgeStatsOf(s *types.EdgeStatistics) tally {
	if s == nil {
		return tally{}
	}
	return tally{ok: aws.ToInt64(s.OkCount), err: aws.ToInt64(s.ErrorStatistics.OtherCount), thr: aws.ToInt64(s.ErrorStatistics.ThrottleCount),
		fault: aws.ToInt64(s.FaultStatistics.TotalCount), total: aws.ToInt64(s.TotalCount), rt: aws.ToFloat64(s.TotalResponseTime)}
}

// nodesNamed sums the nodes named name (any type but client).
func nodesNamed(e expected, name string) *tally {
	var ts []*tally
	for k, t := range e.nodes {
		if k.name == name && k.typ != "client" {
			ts = append(ts, t)
		}
	}
	if len(ts) == 0 {
		return nil
	}
	return sumTally(ts...)
}

// edgesNamed sums the edges from a node named src (a client node when
// client is set) to nodes named dst.
func edgesNamed(e expected, src, dst string, client bool) *tally {
	var ts []*tally
	for k, t := range e.edges {
		if k[0].name == src && (k[0].typ == "client") == client && k[1].name == dst {
			ts = append(ts, t)
		}
	}
	if len(ts) == 0 {
		return nil
	}
	return sumTally(ts...)
}

func sumTally(ts ...*tally) *tally {
	var sum tally
	for _, t := range ts {
		if t == nil {
			return nil
		}
		sum.ok, sum.err, sum.thr, sum.fault, sum.total, sum.rt = sum.ok+t.ok, sum.err+t.err, sum.thr+t.thr, sum.fault+t.fault, sum.total+t.total, sum.rt+t.rt
	}
	return &sum
}

// compare lists the differences between the expected graph and services.
func compare(want expected, svcs []types.Service) []string {
	got := expected{nodes: map[gkey]*tally{}, edges: map[[2]gkey]*tally{}}
	keys := map[int32]gkey{}
	for _, s := range svcs {
		keys[aws.ToInt32(s.ReferenceId)] = gkey{aws.ToString(s.Name), aws.ToString(s.Type)}
	}
	for _, s := range svcs {
		k := keys[aws.ToInt32(s.ReferenceId)]
		if k.typ != "client" {
			st := statsOf(s.SummaryStatistics)
			got.nodes[k] = &st
		}
		for _, e := range s.Edges {
			st := edgeStatsOf(e.SummaryStatistics)
			got.edges[[2]gkey{k, keys[aws.ToInt32(e.ReferenceId)]}] = &st
		}
	}
	var diffs []string
	same := func(a, b *tally) bool {
		return a != nil && b != nil && a.ok == b.ok && a.err == b.err && a.thr == b.thr && a.fault == b.fault && a.total == b.total &&
			math.Abs(a.rt-b.rt) <= 2e-6*float64(a.total)+1e-9
	}
	for k, w := range want.nodes {
		if g := got.nodes[k]; !same(g, w) {
			diffs = append(diffs, fmt.Sprintf("node %v: got %+v, want %+v", k, g, *w))
		}
	}
	for k := range got.nodes {
		if want.nodes[k] == nil {
			diffs = append(diffs, fmt.Sprintf("unexpected node %v", k))
		}
	}
	for k, w := range want.edges {
		if g := got.edges[k]; !same(g, w) {
			diffs = append(diffs, fmt.Sprintf("edge %v → %v: got %+v, want %+v", k[0], k[1], g, *w))
		}
	}
	for k := range got.edges {
		if want.edges[k] == nil {
			diffs = append(diffs, fmt.Sprintf("unexpected edge %v → %v", k[0], k[1]))
		}
	}
	slices.Sort(diffs)
	return diffs
}

// TestEndToEndShop runs the demo shop (aws-xray-sdk-go instrumented
// services: frontend → orders/inventory → payments → uninstrumented
// partner, DynamoDB tables, SQL) against the collector and ClickHouse, and
// reads GetServiceGraph, GetTraceGraph and GetTimeSeriesServiceStatistics
// with the AWS SDK's X-Ray client. Expected values come from what the
// test did: the status codes the client saw (entry node) and the documents
// the SDK sent (every node and edge).
func TestEndToEndShop(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	db := chtest.New(t)
	store, err := chstore.Open(ctx, db.DSN, chstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()

	cc := collector.DefaultConfig()
	cc.UDPAddr, cc.TCPAddr, cc.OTLPAddr = "127.0.0.1:0", "127.0.0.1:0", "127.0.0.1:0"
	cc.SpoolDir = t.TempDir()
	cc.BatchWait = 50 * time.Millisecond
	col, err := collector.New(cc, collector.Settings{Logger: log, Sink: store})
	if err != nil {
		t.Fatal(err)
	}
	colCtx, stopCol := context.WithCancel(ctx)
	colDone := make(chan error, 1)
	go func() { colDone <- col.Run(colCtx) }()
	defer func() {
		stopCol()
		if err := <-colDone; err != nil {
			t.Errorf("collector: %v", err)
		}
	}()
	<-col.Ready()

	rel := newRelay(t, col.UDPAddr().String())
	shop, err := demo.Start(ctx, demo.Config{DaemonAddr: rel.conn.LocalAddr().String(), Rate: 1, FaultRate: 0.2, ThrottleRate: 0.15, SlowRate: 0.05}, log)
	if err != nil {
		t.Fatal(err)
	}
	defer shop.Close()

	gcfg := graphstore.DefaultConfig()
	gcfg.RefreshInterval = 0
	graph, err := graphstore.New(gcfg, graphstore.Settings{Store: store, Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	srv, err := api.New(api.DefaultConfig(), api.Settings{Logger: log, Reader: store, Graph: graph})
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(srv.Handler())
	defer hs.Close()
	client := xray.New(xray.Options{Region: "us-east-1", BaseEndpoint: aws.String(hs.URL),
		Credentials: credentials.NewStaticCredentialsProvider("AKID", "SECRET", "")})

	start := time.Now().Add(-time.Minute)
	// Requests until faults and throttles were seen at the entry (bounded), and
	// queries in between so that rollups exist while documents still
	// arrive.
	var entry tally
	for n := 0; n < 30 || ((entry.fault == 0 || entry.thr == 0) && n < 300); n++ {
		code, err := shop.Request(ctx)
		if err != nil {
			t.Fatalf("request %d: %v", n, err)
		}
		entry.total++
		switch {
		case code >= 500:
			entry.fault++
		case code == 429:
			entry.thr++
		case code >= 400:
			entry.err++
		default:
			entry.ok++
		}
		if n%10 == 0 {
			if _, err := client.GetServiceGraph(ctx, &xray.GetServiceGraphInput{StartTime: aws.Time(start), EndTime: aws.Time(time.Now().Add(time.Minute))}); err != nil {
				t.Fatal(err)
			}
		}
	}
	end := time.Now().Add(time.Minute)

	// Wait until everything sent is stored and the graph matches it.
	var (
		out   *xray.GetServiceGraphOutput
		diffs []string
		sent  map[string]map[string][]byte
	)
	for deadline := time.Now().Add(30 * time.Second); ; {
		sent = rel.snapshot()
		out, err = client.GetServiceGraph(ctx, &xray.GetServiceGraphInput{StartTime: aws.Time(start), EndTime: aws.Time(end)})
		if err != nil {
			t.Fatal(err)
		}
		// The SDK sends a segment after its response went out: wait for
		// every entry segment, then for storage to match what was sent.
		gt := groundTruth(t, sent, nil)
		diffs = compare(gt, out.Services)
		if fe := nodesNamed(gt, "frontend"); fe == nil || fe.total != entry.total {
			diffs = append(diffs, fmt.Sprintf("the SDK sent %v of %d frontend segments so far", fe, entry.total))
		}
		if len(diffs) == 0 || time.Now().After(deadline) {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	if len(diffs) > 0 {
		t.Fatalf("GetServiceGraph differs from what the SDK sent:\n%s", strings.Join(diffs, "\n"))
	}
	// The entry node against what the client saw.
	var frontend *types.Service
	for i, s := range out.Services {
		if aws.ToString(s.Name) == "frontend" && aws.ToString(s.Type) != "client" {
			frontend = &out.Services[i]
		}
	}
	if frontend == nil {
		t.Fatalf("no frontend node in %d services", len(out.Services))
	}
	fs := statsOf(frontend.SummaryStatistics)
	if fs.total != entry.total || fs.fault != entry.fault || fs.thr != entry.thr || fs.err != entry.err || fs.ok != entry.ok ||
		!aws.ToBool(frontend.Root) || aws.ToString(frontend.State) != "active" {
		t.Errorf("frontend %+v (root %v), client saw %+v", fs, aws.ToBool(frontend.Root), entry)
	}
	typesSeen := map[string]bool{}
	for _, s := range out.Services {
		typesSeen[aws.ToString(s.Type)] = true
	}
	for _, typ := range []string{"client", "AWS::DynamoDB::Table", "Database::SQL", "remote"} {
		if !typesSeen[typ] {
			t.Errorf("no %s node in the graph", typ)
		}
	}

	// GetTraceGraph of three traces.
	var ids []string
	for id := range sent {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	pick := map[string]bool{}
	for _, id := range ids[:3] {
		pick[id] = true
	}
	tg, err := client.GetTraceGraph(ctx, &xray.GetTraceGraphInput{TraceIds: ids[:3]})
	if err != nil {
		t.Fatal(err)
	}
	if d := compare(groundTruth(t, sent, pick), tg.Services); len(d) > 0 {
		t.Errorf("GetTraceGraph differs:\n%s", strings.Join(d, "\n"))
	}

	// Time series: the points add up to the window's statistics.
	want := groundTruth(t, sent, nil)
	for _, c := range []struct {
		expr string
		want *tally
	}{
		{`service("frontend")`, nodesNamed(want, "frontend")},
		{`edge("frontend", "orders")`, edgesNamed(want, "frontend", "orders", false)},
		{``, edgesNamed(want, "frontend", "frontend", true)},
		// Every node named orders: the service and the DynamoDB table.
		{`service("orders")`, nodesNamed(want, "orders")},
		{`id(name: "orders", type: "AWS::DynamoDB::Table")`, want.nodes[gkey{"orders", "AWS::DynamoDB::Table"}]},
	} {
		in := &xray.GetTimeSeriesServiceStatisticsInput{StartTime: aws.Time(start), EndTime: aws.Time(end), Period: aws.Int32(60)}
		if c.expr != "" {
			in.EntitySelectorExpression = aws.String(c.expr)
		}
		ts, err := client.GetTimeSeriesServiceStatistics(ctx, in)
		if err != nil {
			t.Fatal(err)
		}
		var sum tally
		for _, p := range ts.TimeSeriesServiceStatistics {
			var st tally
			if p.ServiceSummaryStatistics != nil {
				st = statsOf(p.ServiceSummaryStatistics)
			} else {
				st = edgeStatsOf(p.EdgeSummaryStatistics)
			}
			sum = *sumTally(&sum, &st)
			if ts := aws.ToTime(p.Timestamp); ts.Unix()%60 != 0 {
				t.Errorf("%q: timestamp %v not on a minute", c.expr, ts)
			}
		}
		if c.want == nil || sum.total != c.want.total || sum.fault != c.want.fault || sum.thr != c.want.thr || sum.err != c.want.err ||
			math.Abs(sum.rt-c.want.rt) > 2e-6*float64(sum.total)+1e-9 {
			t.Errorf("time series %q sums to %+v, want %+v", c.expr, sum, c.want)
		}
	}
}
