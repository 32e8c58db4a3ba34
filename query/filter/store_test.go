package filter

import (
	"context"
	"testing"

	"github.com/fluoro/fluoro/collector/segment"
	"github.com/fluoro/fluoro/schema/chstore"
	"github.com/fluoro/fluoro/schema/chtest"
)

// writeDocuments stores docs through the real writer.
func writeDocuments(t *testing.T, ctx context.Context, db *chtest.DB, docs []segment.Document) {
	t.Helper()
	st, err := chstore.Open(ctx, db.DSN, chstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if err := st.WriteDocuments(ctx, docs); err != nil {
		t.Fatal(err)
	}
}
