package chstore_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/fluoro/fluoro/collector/segment"
	"github.com/fluoro/fluoro/schema"
	"github.com/fluoro/fluoro/schema/chstore"
	"github.com/fluoro/fluoro/schema/chtest"
)

// TestClusterLayout runs the store over the cluster layout: local tables
// behind Distributed tables sharded by cityHash64(trace_id), on the managed
// server's one-shard cluster "fluoro_local" (without ZooKeeper, so the
// local tables are not replicated and DDL is not ON CLUSTER). It proves
// that the writes, the reads and the janitor work through Distributed
// tables.
func TestClusterLayout(t *testing.T) {
	t.Parallel()
	srv := chtest.NewServer(t)
	ctx := context.Background()
	name := chtest.UniqueName(t)
	t.Cleanup(func() { srv.Exec(t, "DROP DATABASE IF EXISTS "+name) })
	opts := schema.Options{Database: name, Cluster: "fluoro_local", NoZooKeeper: true}
	if _, err := schema.Migrate(ctx, srv.Conn, opts); err != nil {
		t.Fatal(err)
	}
	for table, engine := range map[string]string{
		"spans": "Distributed", "documents": "Distributed",
		"spans_local": "ReplacingMergeTree", "documents_local": "ReplacingMergeTree",
	} {
		if n := srv.Count(t, "SELECT count() FROM system.tables WHERE database = ? AND name = ? AND engine = ?", name, table, engine); n != 1 {
			t.Fatalf("%s is not a %s table", table, engine)
		}
	}
	dsn := strings.TrimSuffix(srv.DSN, srv.Name) + name
	s, err := chstore.Open(ctx, dsn, chstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()

	now := time.Now().UTC()
	old := now.Add(-10 * 24 * time.Hour)
	e := now.Add(-time.Hour).Unix()
	docs := []segment.Document{
		mkDoc(traceID(e, 1), "0000000000000001", "", float64(e), 0, true, 1, "svc"),
		mkDoc(traceID(e, 1), "0000000000000001", "", float64(e), float64(e)+1, false, 2, "svc"),
		mkDoc(traceID(e, 1), "0000000000000002", "0000000000000001", float64(e)+0.1, float64(e)+0.2, false, 2, ""),
		mkDoc(traceID(old.Unix(), 2), "0000000000000003", "", float64(old.Unix()), float64(old.Unix())+1, false, 2, "svc"),
	}
	docs[0].Spans[0].Fault = true
	if err := s.WriteDocuments(ctx, docs); err != nil {
		t.Fatal(err)
	}
	got, err := s.Documents(ctx, []string{traceID(e, 1)})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0].InProgress || got[1].InProgress {
		t.Fatalf("Documents over Distributed: %+v", got)
	}
	for _, rt := range []string{chstore.RangeTraceID, chstore.RangeEvent, chstore.RangeService} {
		for _, where := range []string{"", "fault = ?"} { // without and with a prefilter (PREWHERE)
			q := chstore.TraceQuery{
				Start: now.Add(-2 * time.Hour), End: now, RangeType: rt,
				Having: "max(in_progress) = ? AND count() = ?", HavingArgs: []any{0, 2},
			}
			if where != "" {
				q.Where, q.WhereArgs = where, []any{1}
			}
			refs, _, err := s.TraceIDs(ctx, q)
			if err != nil {
				t.Fatalf("%s %s: %v", rt, where, err)
			}
			if len(refs) != 1 || refs[0].TraceID != traceID(e, 1) {
				t.Fatalf("%s %s over Distributed: %v", rt, where, refs)
			}
		}
	}
	j, err := schema.NewJanitor(ctx, dsn, schema.JanitorOptions{Cluster: "fluoro_local", NoZooKeeper: true})
	if err != nil {
		t.Fatal(err)
	}
	defer j.Close()
	dropped, err := j.DropExpired(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var kept []schema.Dropped
	for _, d := range dropped {
		if !strings.HasPrefix(d.Table, "graph_") { // graph tables: see graph_test.go
			kept = append(kept, d)
		}
	}
	if len(kept) != 2 || !strings.HasSuffix(kept[0].Table, "_local") {
		t.Fatalf("janitor dropped %v", dropped)
	}
	if got, _ := s.Documents(ctx, []string{traceID(old.Unix(), 2)}); len(got) != 0 {
		t.Fatalf("expired trace still readable: %v", got)
	}
}
