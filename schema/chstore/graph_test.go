package chstore_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/fluoro/fluoro/collector/segment"
	"github.com/fluoro/fluoro/schema"
	"github.com/fluoro/fluoro/schema/chstore"
	"github.com/fluoro/fluoro/schema/chtest"
)

// graphDoc builds a decoded document with one span per s (s[0] is the
// document itself).
func graphDoc(trace string, received int64, spans ...segment.Span) segment.Document {
	d := segment.Document{TraceID: trace, ID: spans[0].ID, ParentID: spans[0].ParentID, Kind: segment.KindSegment,
		Name: spans[0].Name, StartTime: spans[0].StartTime, EndTime: spans[0].EndTime, InProgress: spans[0].InProgress,
		ReceivedNanos: received, Raw: []byte(`{}`)}
	if !spans[0].IsSegment {
		d.Kind = segment.KindSubsegment
	}
	for i := range spans {
		spans[i].TraceID = trace
		spans[i].SegmentID = spans[0].ID
	}
	d.Spans = spans
	return d
}

func TestGraphSpansAcrossWrites(t *testing.T) {
	t.Parallel()
	s, db := open(t)
	ctx := context.Background()
	epoch := time.Date(2026, 11, 20, 10, 0, 30, 0, time.UTC)
	trace := fmt.Sprintf("1-%08x-0123456789abcdef01234567", epoch.Unix())
	start := float64(epoch.Unix()) + 0.25
	// The caller's segment, with a subsegment calling orders, and a plain
	// local subsegment (not copied to graph_spans).
	caller := graphDoc(trace, 1,
		segment.Span{ID: "a000000000000001", Name: "web", Service: "web", IsSegment: true, StartTime: start, EndTime: start + 1},
		segment.Span{ID: "a000000000000002", ParentID: "a000000000000001", Name: "orders", Service: "web", Namespace: "remote",
			HTTPURL: "http://orders/", StartTime: start + 0.1, EndTime: start + 0.5, HTTPStatus: 429, Depth: 1},
		segment.Span{ID: "a000000000000003", ParentID: "a000000000000001", Name: "render", Service: "web", Namespace: "local",
			StartTime: start + 0.6, EndTime: start + 0.7, Depth: 1})
	// The callee arrives minutes later in another write, first in
	// progress, then complete.
	calleeProg := graphDoc(trace, 2,
		segment.Span{ID: "b000000000000001", ParentID: "a000000000000002", Name: "orders", Service: "orders", Origin: "AWS::ECS::Container",
			IsSegment: true, StartTime: start + 0.15, InProgress: true})
	callee := graphDoc(trace, 3,
		segment.Span{ID: "b000000000000001", ParentID: "a000000000000002", Name: "orders", Service: "orders", Origin: "AWS::ECS::Container",
			IsSegment: true, StartTime: start + 0.15, EndTime: start + 0.45, AWSAccountID: "123"},
		segment.Span{ID: "b000000000000002", ParentID: "b000000000000001", Name: "DynamoDB", Service: "orders", Namespace: "aws",
			AWSResource: "orders-table", AWSOperation: "GetItem", StartTime: start + 0.2, EndTime: start + 0.3, Depth: 1},
		segment.Span{ID: "b000000000000003", ParentID: "b000000000000001", Name: "db@host", Service: "orders", Namespace: "remote",
			SQLURL: "postgres://host/db", StartTime: start + 0.3, EndTime: start + 0.4, Depth: 1})
	// Another trace in the next minute.
	epoch2 := epoch.Add(time.Minute)
	trace2 := fmt.Sprintf("1-%08x-0123456789abcdef01234567", epoch2.Unix())
	other := graphDoc(trace2, 4, segment.Span{ID: "c000000000000001", Name: "web", Service: "web", IsSegment: true,
		StartTime: float64(epoch2.Unix()), EndTime: float64(epoch2.Unix()) + 1})

	bucket := epoch.Truncate(chstore.GraphBucket)
	before, err := s.ServerNow(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, docs := range [][]segment.Document{{caller}, {calleeProg}, {callee, other}, {callee}} { // the last write is a replay
		if err := s.WriteDocuments(ctx, docs); err != nil {
			t.Fatal(err)
		}
	}
	got, err := s.GraphSpans(ctx, bucket, bucket.Add(chstore.GraphBucket))
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, g := range got {
		if g.TraceID != trace {
			t.Errorf("span of another trace: %+v", g)
		}
		ids = append(ids, fmt.Sprintf("%s/%v", g.ID, g.InProgress))
	}
	slices.Sort(ids)
	want := []string{"a000000000000001/false", "a000000000000002/false", "b000000000000001/false", "b000000000000001/false",
		"b000000000000001/true", "b000000000000002/false", "b000000000000002/false", "b000000000000003/false", "b000000000000003/false"}
	if !slices.Equal(ids, want) {
		t.Errorf("GraphSpans ids %v, want %v", ids, want)
	}
	for _, g := range got {
		switch g.ID {
		case "a000000000000002":
			if g.HTTPStatus != 429 || g.Service != "web" || g.SegmentID != "a000000000000001" || g.IsSegment || g.EndUS != uint64(start*1e6+0.5e6) {
				t.Errorf("caller subsegment %+v", g)
			}
		case "b000000000000001":
			if !g.InProgress && (g.AccountID != "123" || g.Version>>62 != 1 || g.Origin != "AWS::ECS::Container") {
				t.Errorf("callee %+v", g)
			}
		case "b000000000000002":
			if g.AWSResource != "orders-table" || g.AWSOperation != "GetItem" || g.SQL {
				t.Errorf("dynamodb %+v", g)
			}
		case "b000000000000003":
			if !g.SQL {
				t.Errorf("sql %+v", g)
			}
		}
	}
	of, err := s.GraphSpansOf(ctx, []string{trace2, "not-a-trace-id"})
	if err != nil || len(of) != 1 || of[0].ID != "c000000000000001" {
		t.Errorf("GraphSpansOf = %+v, %v", of, err)
	}
	match, err := s.GraphSpansMatching(ctx, bucket, bucket.Add(2*chstore.GraphBucket), "max(fault) = ? AND countIf(http_status = ?) > 0", []any{0, 429})
	if err != nil {
		t.Fatal(err)
	}
	for _, g := range match {
		if g.TraceID != trace {
			t.Errorf("GraphSpansMatching returned %+v", g)
		}
	}
	if len(match) != len(got) {
		t.Errorf("GraphSpansMatching: %d spans, want %d", len(match), len(got))
	}

	// Both buckets are dirty, none has a rollup.
	states, err := s.GraphBuckets(ctx, bucket.Add(-time.Hour), bucket.Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if len(states) != 2 || !states[0].Bucket.Equal(bucket) || !states[1].Bucket.Equal(bucket.Add(time.Minute)) ||
		!states[0].Stale() || states[0].DirtyAt.Before(before) || states[0].Version != 0 {
		t.Fatalf("GraphBuckets = %+v", states)
	}

	// A rollup written after the inserts makes the bucket clean; rows
	// read back summed over buckets and minutes.
	now, err := s.ServerNow(ctx)
	if err != nil {
		t.Fatal(err)
	}
	computed := now.Add(time.Second) // strictly after the inserts' second
	minute := uint32(epoch.Truncate(time.Minute).Unix())
	web := chstore.GraphNode{Name: "web"}
	rows := []chstore.GraphRow{
		{Minute: minute, Kind: chstore.GraphKindNode, Src: web, Active: true, Roots: 1, OK: 1, SumUS: 1e6, MinStartUS: 5, MaxEndUS: 9,
			Hist: []chstore.GraphBin{{US: 1e6, N: 1}}, DurHist: []chstore.GraphBin{{US: 1e6, N: 1}}},
		{Minute: minute + 60, Kind: chstore.GraphKindNode, Src: web, Active: true, Fault: 2, SumUS: 2e6, MinStartUS: 3, MaxEndUS: 10,
			Hist: []chstore.GraphBin{{US: 1e6, N: 2}}},
		{Minute: minute, Kind: chstore.GraphKindEdge, Src: web, Dst: chstore.GraphNode{Name: "orders", Type: "AWS::ECS::Container", AccountID: "123"},
			Throttle: 1, SumUS: 4e5},
	}
	stale := chstore.GraphRollup{Bucket: bucket, Version: 1, ComputedAt: computed, Rows: rows[:1]}
	fresh := chstore.GraphRollup{Bucket: bucket, Version: 2, ComputedAt: computed, Rows: rows,
		FirstEvent: time.Unix(int64(minute), 0), LastEvent: time.Unix(int64(minute+60), 0)}
	for _, r := range []chstore.GraphRollup{stale, fresh} {
		if err := s.WriteGraphRollup(ctx, r); err != nil {
			t.Fatal(err)
		}
	}
	states, err = s.GraphBuckets(ctx, bucket, bucket.Add(time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	if len(states) != 1 || states[0].Stale() || states[0].Version != 2 || !states[0].ComputedAt.Equal(computed) ||
		states[0].FirstEvent.Unix() != int64(minute) || states[0].LastEvent.Unix() != int64(minute+60) {
		t.Fatalf("after rollup: %+v", states)
	}
	q := chstore.GraphRollupQuery{From: epoch.Truncate(time.Minute), To: epoch.Truncate(time.Minute).Add(2 * time.Minute),
		Buckets: []chstore.GraphBucketVersion{{Bucket: bucket, Version: 2}}}
	sum, err := s.GraphRollup(ctx, q)
	if err != nil {
		t.Fatal(err)
	}
	if len(sum) != 2 || sum[0].Kind != chstore.GraphKindNode || sum[0].OK != 1 || sum[0].Fault != 2 || sum[0].SumUS != 3e6 ||
		sum[0].MinStartUS != 3 || sum[0].MaxEndUS != 10 || !slices.Equal(sum[0].Hist, []chstore.GraphBin{{US: 1e6, N: 3}}) ||
		sum[1].Kind != chstore.GraphKindEdge || sum[1].Throttle != 1 || sum[1].Dst.AccountID != "123" || sum[1].Hist != nil {
		t.Errorf("GraphRollup = %+v", sum)
	}
	q.ByMinute = true
	q.Filter = &chstore.GraphFilter{Kind: chstore.GraphKindNode, Src: web}
	byMin, err := s.GraphRollup(ctx, q)
	if err != nil {
		t.Fatal(err)
	}
	if len(byMin) != 2 || byMin[0].Minute != minute || byMin[1].Minute != minute+60 {
		t.Errorf("by minute: %+v", byMin)
	}
	// Version 1 alone (an older computation) has only its own row.
	q.Buckets[0].Version = 1
	old, err := s.GraphRollup(ctx, q)
	if err != nil || len(old) != 1 || old[0].OK != 1 {
		t.Errorf("version 1: %+v %v", old, err)
	}

	// A later insert makes the bucket stale again.
	time.Sleep(time.Until(computed.Add(1100 * time.Millisecond)))
	if err := s.WriteDocuments(ctx, []segment.Document{callee}); err != nil {
		t.Fatal(err)
	}
	states, err = s.GraphBuckets(ctx, bucket, bucket.Add(time.Minute))
	if err != nil || len(states) != 1 || !states[0].Stale() {
		t.Fatalf("after a late insert: %+v %v", states, err)
	}
	_ = db
}

// BenchmarkInsertViews is BenchmarkInsert without materialized views, with
// the service graph's (graph_spans_mv, graph_spans_touched_mv) and with
// those and the annotation index's (annotation_index_mv), on one private
// server: the ingest cost of the pre-aggregated tables.
func BenchmarkInsertViews(b *testing.B) {
	const batchSpans = 10000
	const nbatches = 20
	srv := chtest.NewServer(b)
	ctx := context.Background()
	g := newMixGenerator(b, time.Now().Add(-2*time.Hour))
	batches := make([][]segment.Document, nbatches)
	for i := range batches {
		batches[i], _, _ = g.batch(b, batchSpans)
	}
	for i, views := range []struct {
		name string
		drop []string
	}{
		{"none", []string{"graph_spans_mv", "graph_spans_touched_mv", "annotation_index_mv"}},
		{"graph", []string{"annotation_index_mv"}},
		{"graph+annotations", nil},
	} {
		b.Run("views="+views.name, func(b *testing.B) {
			db := srv.DB
			name := fmt.Sprintf("%s_v%d", db.Name, i)
			db.Exec(b, "CREATE DATABASE "+name)
			b.Cleanup(func() { db.Exec(b, "DROP DATABASE IF EXISTS "+name) })
			dsn := strings.Replace(db.DSN, "/"+db.Name, "/"+name, 1)
			if _, err := schema.MigrateDSN(ctx, dsn, schema.Options{}); err != nil {
				b.Fatal(err)
			}
			for _, v := range views.drop {
				db.Exec(b, "DROP TABLE "+name+"."+v)
			}
			s, err := chstore.Open(ctx, dsn, chstore.Options{})
			if err != nil {
				b.Fatal(err)
			}
			defer s.Close()
			var spans, i int
			server0, client0 := serverCPU(b, db), clientCPU()
			for b.Loop() {
				bt := batches[i%nbatches]
				if err := s.WriteDocuments(ctx, bt); err != nil {
					b.Fatal(err)
				}
				for _, d := range bt {
					spans += len(d.Spans)
				}
				i++
			}
			server, client := serverCPU(b, db)-server0, clientCPU()-client0
			b.ReportMetric(float64(spans)/b.Elapsed().Seconds(), "spans/s")
			b.ReportMetric(float64(server.Microseconds())/float64(spans), "server-cpu-µs/span")
			b.ReportMetric(float64(client.Microseconds())/float64(spans), "client-cpu-µs/span")
			all := db.Count(b, "SELECT sum(data_compressed_bytes) FROM system.parts WHERE active AND database = ?", name)
			b.ReportMetric(float64(all)/float64(spans), "disk-B/span")
		})
	}
}
