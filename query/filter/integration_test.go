package filter

import (
	"context"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/fluoro/fluoro/collector/segment"
	"github.com/fluoro/fluoro/schema/chstore"
	"github.com/fluoro/fluoro/schema/chtest"
)

func TestMain(m *testing.M) { chtest.Main(m) }

// TestDifferentialClickHouse stores the corpus in a real ClickHouse and
// requires that the SQL back-end and Match select the same traces for every
// expression, and the hand-worked sets for the hand-built traces.
func TestDifferentialClickHouse(t *testing.T) {
	corpus, hand := testCorpus()
	db := chtest.New(t)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	var docs []segment.Document
	for _, c := range corpus {
		docs = append(docs, c.docs...)
	}
	writeDocuments(t, ctx, db, docs)

	ids := make([]any, len(corpus))
	for i, c := range corpus {
		ids[i] = c.id
	}
	in := strings.TrimSuffix(strings.Repeat("?, ", len(ids)), ", ")
	prefix := "SELECT trace_id FROM " + db.Name + ".spans FINAL WHERE trace_id IN (" + in + ") GROUP BY trace_id HAVING "
	pre := "SELECT trace_id FROM " + db.Name + ".spans FINAL WHERE trace_id IN (" + in + ") AND trace_id IN (SELECT trace_id FROM " +
		db.Name + ".spans WHERE trace_id IN (" + in + ") AND ("
	res := checkDifferential(t, corpus, testExprs(), func(having string, args []any, where string, wargs []any) ([]string, error) {
		sql, all := prefix+having, append(append([]any{}, ids...), args...)
		if where != "" {
			sql = pre + where + ")) GROUP BY trace_id HAVING " + having
			all = append(append(append(append([]any{}, ids...), ids...), wargs...), args...)
		}
		rows, err := db.Conn.Query(ctx, sql, all...)
		if err != nil {
			return nil, err
		}
		defer rows.Close()
		var out []string
		for rows.Next() {
			var id string
			if err := rows.Scan(&id); err != nil {
				return nil, err
			}
			out = append(out, id)
		}
		return out, rows.Err()
	})
	checkHandExpect(t, hand, res)

	// The same conditions through chstore.TraceIDs, the way query/api runs them.
	st, err := chstore.Open(ctx, db.DSN, chstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	for _, s := range []string{`fault`, `service("api") { fault } AND annotation.age > 10`, `edge("api", "auth") { error }`,
		`user = "alice" OR http.url CONTAINS "/api/game/"`, `!partial AND duration < 3`, `inferred`,
		`annotation.gameid = "817DL6VO" OR fault`, `service(id(name: "auth")) AND http.method = "GET"`} {
		e, err := Parse(s)
		if err != nil {
			t.Fatal(err)
		}
		having, args, err := e.SQL()
		if err != nil {
			t.Fatal(err)
		}
		where, wargs, _ := e.Prefilter()
		refs, next, err := st.TraceIDs(ctx, chstore.TraceQuery{Start: time.Unix(corpusBase-1000, 0), End: time.Unix(corpusBase+200000, 0),
			RangeType: chstore.RangeTraceID, Having: having, HavingArgs: args, Where: where, WhereArgs: wargs, Limit: 10000})
		if err != nil || next != "" {
			t.Fatalf("TraceIDs(%q) = %v, %q, %v", s, refs, next, err)
		}
		var got []string
		for _, r := range refs {
			got = append(got, r.TraceID)
		}
		sort.Strings(got)
		var want []string
		for _, c := range corpus {
			if e.Match(c.spans()) {
				want = append(want, c.id)
			}
		}
		sort.Strings(want)
		if !slices.Equal(got, want) {
			t.Errorf("TraceIDs with %q: %d traces, Match: %d", s, len(got), len(want))
		}
	}
}
