package chtest_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/fluoro/fluoro/schema/chtest"
)

func TestMain(m *testing.M) { chtest.Main(m) }

func TestNewIsolatedAndDropped(t *testing.T) {
	var names []string
	var outer *chtest.DB
	t.Run("a", func(t *testing.T) {
		db := chtest.New(t)
		names = append(names, db.Name)
		if !strings.HasSuffix(db.DSN, "/"+db.Name) {
			t.Fatalf("DSN %q does not name database %q", db.DSN, db.Name)
		}
		if n := db.Count(t, "SELECT count() FROM system.tables WHERE database = ? AND name IN ('spans', 'documents')", db.Name); n != 2 {
			t.Fatalf("migrated tables: %d", n)
		}
	})
	t.Run("b", func(t *testing.T) { names = append(names, chtest.New(t).Name) })
	if names[0] == names[1] {
		t.Fatalf("two tests got the same database %q", names[0])
	}
	outer = chtest.New(t)
	for _, n := range names {
		if c := outer.Count(t, "SELECT count() FROM system.databases WHERE name = ?", n); c != 0 {
			t.Errorf("database %s not dropped after its test", n)
		}
	}
}

func TestServerRestartKeepsData(t *testing.T) {
	s := chtest.NewServer(t)
	ctx := context.Background()
	b, err := s.Conn.PrepareBatch(ctx, "INSERT INTO "+s.Name+".documents (date, trace_id, id, version, raw)")
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Append(time.Unix(0x5759e988, 0), "1-5759e988-bd862e3fe1be46a994272793", "53995c3f42cd8ad8", uint64(1), "{}"); err != nil {
		t.Fatal(err)
	}
	if err := b.Send(); err != nil {
		t.Fatal(err)
	}
	if err := s.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	if err := s.Conn.Ping(ctx); err == nil {
		t.Fatal("ping succeeded while the server is stopped")
	}
	if err := s.Start(ctx); err != nil {
		t.Fatal(err)
	}
	if n := s.Count(t, "SELECT count() FROM "+s.Name+".documents"); n != 1 {
		t.Fatalf("rows after restart: %d", n)
	}
}
