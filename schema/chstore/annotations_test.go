package chstore_test

import (
	"context"
	"fmt"
	"io/fs"
	"slices"
	"testing"
	"testing/fstest"
	"time"

	"github.com/fluoro/fluoro/collector/segment"
	"github.com/fluoro/fluoro/schema"
	"github.com/fluoro/fluoro/schema/chstore"
	"github.com/fluoro/fluoro/schema/chtest"
)

// annotatedTrace is a trace of one segment and one subsegment; segAnn and
// subAnn are JSON annotation members ("" for none).
type annotatedTrace struct {
	id             string
	segAnn, subAnn string
}

func (a annotatedTrace) datagram(epoch int64) []byte {
	ann := func(s string) string {
		if s == "" {
			return ""
		}
		return `,"annotations":{` + s + `}`
	}
	start := float64(epoch) + 0.25
	return fmt.Appendf(nil, `{"format":"json","version":1}`+"\n"+
		`{"trace_id":%q,"id":"70de5b6f19ff9a0a","name":"api","start_time":%.3f,"end_time":%.3f%s,`+
		`"subsegments":[{"id":"70de5b6f19ff9a0b","name":"db","start_time":%.3f,"end_time":%.3f%s}]}`,
		a.id, start, start+0.5, ann(a.segAnn), start+0.1, start+0.2, ann(a.subAnn))
}

func annTraceID(epoch int64, n int) string { return fmt.Sprintf("1-%08x-%024x", epoch, n) }

// writeAnnotated stores the traces and returns the window [start, end)
// holding epochs e0 and e1 (e2 is before it, e3 is its end).
func writeAnnotated(t *testing.T, s *chstore.Store) (start, end time.Time, ids map[string]string) {
	t.Helper()
	e0 := testNow.Add(-3 * time.Hour).Unix()
	e1, e2, e3 := e0+60, e0-60, e0+120
	ids = map[string]string{
		"A": annTraceID(e1, 1), "B": annTraceID(e0, 2), "C": annTraceID(e1, 3),
		"D": annTraceID(e2, 4), "E": annTraceID(e3, 5), "F": annTraceID(e1, 6), "G": annTraceID(e0, 7),
	}
	traces := []struct {
		epoch int64
		tr    annotatedTrace
	}{
		{e1, annotatedTrace{ids["A"], `"customer":"c-1"`, ""}},
		{e0, annotatedTrace{ids["B"], "", `"customer":"c-1","tier":"gold"`}},
		{e1, annotatedTrace{ids["C"], `"customer":"c-2"`, ""}},
		{e2, annotatedTrace{ids["D"], `"customer":"c-1"`, ""}}, // before the window
		{e3, annotatedTrace{ids["E"], `"customer":"c-1"`, ""}}, // at its end
		{e1, annotatedTrace{ids["F"], `"customer":1`, `"c-1":"customer"`}},
		{e0, annotatedTrace{ids["G"], `"Customer":"c-1"`, `"customer":"C-1"`}},
	}
	var docs []segment.Document
	for _, tr := range traces {
		docs = append(docs, decode(t, tr.tr.datagram(tr.epoch), time.Now().UnixNano())...)
	}
	if err := s.WriteDocuments(context.Background(), docs); err != nil {
		t.Fatal(err)
	}
	return time.Unix(e0, 0), time.Unix(e3, 0), ids
}

func lookupIDs(t *testing.T, s *chstore.Store, q chstore.AnnotationQuery) []string {
	t.Helper()
	refs, err := s.AnnotatedTraceIDs(context.Background(), q)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, r := range refs {
		if want := time.Unix(int64(mustEpoch(t, r.TraceID)), 0); !r.Time.Equal(want) {
			t.Errorf("%s: Time %v, want the id's epoch %v", r.TraceID, r.Time, want)
		}
		out = append(out, r.TraceID)
	}
	return out
}

func mustEpoch(t *testing.T, id string) uint64 {
	t.Helper()
	var e uint64
	if _, err := fmt.Sscanf(id[2:10], "%x", &e); err != nil {
		t.Fatal(err)
	}
	return e
}

func TestAnnotatedTraceIDs(t *testing.T) {
	t.Parallel()
	s, _ := open(t)
	start, end, ids := writeAnnotated(t, s)
	c1 := chstore.Annotation{Key: "customer", Value: "c-1"}
	names := func(got []string) []string {
		var out []string
		for _, g := range got {
			for n, id := range ids {
				if id == g {
					out = append(out, n)
				}
			}
		}
		return out
	}
	for _, tc := range []struct {
		name string
		q    chstore.AnnotationQuery
		want []string
	}{
		{"one value, segment or subsegment, exact key and value", chstore.AnnotationQuery{Values: []chstore.Annotation{c1}}, []string{"A", "B"}},
		{"values joined, most recent first", chstore.AnnotationQuery{Values: []chstore.Annotation{c1, {Key: "customer", Value: "c-2"}}}, []string{"C", "A", "B"}},
		{"another key", chstore.AnnotationQuery{Values: []chstore.Annotation{{Key: "tier", Value: "gold"}}}, []string{"B"}},
		{"limit", chstore.AnnotationQuery{Values: []chstore.Annotation{c1}, Limit: 1}, []string{"A"}},
		{"cursor", chstore.AnnotationQuery{Values: []chstore.Annotation{c1}, Cursor: chstore.NextCursor(chstore.TraceRef{TraceID: ids["A"], Time: time.Unix(start.Unix()+60, 0)})}, []string{"B"}},
		{"nothing", chstore.AnnotationQuery{Values: []chstore.Annotation{{Key: "customer", Value: "c-9"}}}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.q.Start, tc.q.End = start, end
			if got := names(lookupIDs(t, s, tc.q)); !slices.Equal(got, tc.want) {
				t.Errorf("got %v, want %v", got, tc.want)
			}
		})
	}
	// The wider window takes in D (before) and E (at the old end).
	got := names(lookupIDs(t, s, chstore.AnnotationQuery{Start: start.Add(-time.Hour), End: end.Add(time.Second), Values: []chstore.Annotation{c1}}))
	if want := []string{"E", "A", "B", "D"}; !slices.Equal(got, want) {
		t.Errorf("wide window: got %v, want %v", got, want)
	}
	// A TraceIDs cursor continues the lookup the same way.
	refs, next, err := s.TraceIDs(context.Background(), chstore.TraceQuery{Start: start, End: end, Limit: 1})
	if err != nil || len(refs) != 1 || next == "" {
		t.Fatalf("TraceIDs: %v, %q, %v", refs, next, err)
	}
	if chstore.NextCursor(refs[0]) != next {
		t.Errorf("NextCursor(%v) = %q, TraceIDs gave %q", refs[0], chstore.NextCursor(refs[0]), next)
	}

	for _, q := range []chstore.AnnotationQuery{
		{Start: end, End: start, Values: []chstore.Annotation{c1}},
		{Start: start, End: end},
		{Start: start, End: end, Values: []chstore.Annotation{c1}, Cursor: "bad"},
	} {
		if _, err := s.AnnotatedTraceIDs(context.Background(), q); err == nil {
			t.Errorf("AnnotatedTraceIDs(%+v) accepted", q)
		}
	}
}

// TestAnnotationIndexBackfill: spans stored before migration 0030 are
// indexed when it runs.
func TestAnnotationIndexBackfill(t *testing.T) {
	t.Parallel()
	db := chtest.New(t)
	ctx := context.Background()
	name := db.Name + "_backfill"
	t.Cleanup(func() { _ = db.Conn.Exec(context.Background(), "DROP DATABASE IF EXISTS "+name) })
	before := fstest.MapFS{}
	err := fs.WalkDir(schema.Migrations(), ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || p >= "0030" {
			return err
		}
		b, err := fs.ReadFile(schema.Migrations(), p)
		before[p] = &fstest.MapFile{Data: b}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := schema.Migrate(ctx, db.Conn, schema.Options{Database: name, FS: before}); err != nil {
		t.Fatal(err)
	}
	s, err := chstore.Open(ctx, "clickhouse://"+db.Addr+"/"+name, chstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	start, end, ids := writeAnnotated(t, s)
	if _, err := schema.Migrate(ctx, db.Conn, schema.Options{Database: name}); err != nil {
		t.Fatal(err)
	}
	got := lookupIDs(t, s, chstore.AnnotationQuery{Start: start, End: end, Values: []chstore.Annotation{{Key: "customer", Value: "c-1"}}})
	if want := []string{ids["A"], ids["B"]}; !slices.Equal(got, want) {
		t.Errorf("after the migration: %v, want %v", got, want)
	}
}
