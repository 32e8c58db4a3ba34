package filter

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/fluoro/fluoro/collector/segment"
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
	res := checkDifferential(t, corpus, testExprs(), func(having string, args []any) ([]string, error) {
		rows, err := db.Conn.Query(ctx, prefix+having, append(append([]any{}, ids...), args...)...)
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
}
