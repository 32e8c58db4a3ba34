package schema_test

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"sync"
	"testing"
	"testing/fstest"
	"time"

	"github.com/fluoro/fluoro/schema"
	"github.com/fluoro/fluoro/schema/chtest"
)

func TestMain(m *testing.M) { chtest.Main(m) }

// TestMigrateEmbedded: chtest.New already applied the real migrations; a
// second run applies nothing and the tables have the contract's columns.
func TestMigrateEmbedded(t *testing.T) {
	db := chtest.New(t)
	ctx := context.Background()
	rep, err := schema.Migrate(ctx, db.Conn, schema.Options{Database: db.Name})
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Applied) != 0 || rep.Current == 0 {
		t.Fatalf("second Migrate: %+v, want nothing applied", rep)
	}
	if rep.Server.Less(schema.MinServer) {
		t.Fatalf("server %v", rep.Server)
	}
	// The column names other packages rely on (see the helpers' contract).
	want := map[string][]string{
		"spans": {"date", "trace_id", "id", "parent_id", "segment_id", "service", "origin", "name", "namespace",
			"is_segment", "depth", "start", "start_us", "end_us", "duration_us", "in_progress", "error", "fault",
			"throttle", "http_method", "http_url", "http_status", "http_client_ip", "http_user_agent", "user",
			"resource_arn", "ann_str.key", "ann_str.value", "ann_num.key", "ann_num.value", "ann_bool.key",
			"ann_bool.value", "aws_operation", "aws_region", "aws_account_id", "aws_resource", "sql_url",
			"sql_database_type", "cause_type", "cause_message", "remote", "version"},
		"documents": {"date", "trace_id", "id", "parent_id", "kind", "in_progress", "start_time", "end_time", "version", "raw"},
	}
	for table, cols := range want {
		for _, c := range cols {
			if n := db.Count(t, "SELECT count() FROM system.columns WHERE database = ? AND table = ? AND name = ?", db.Name, table, c); n != 1 {
				t.Errorf("%s.%s missing", table, c)
			}
		}
	}
	if n := db.Count(t, "SELECT count() FROM system.tables WHERE database = ? AND name = 'spans' AND engine = 'ReplacingMergeTree'", db.Name); n != 1 {
		t.Errorf("spans is not a ReplacingMergeTree")
	}
}

// TestMigrateConcurrent: several runners on a fresh database at once all
// succeed and converge on one schema.
func TestMigrateConcurrent(t *testing.T) {
	base := chtest.New(t)
	name := chtest.UniqueName(t)
	t.Cleanup(func() { base.Exec(t, "DROP DATABASE IF EXISTS "+name) })
	ctx := context.Background()
	const runners = 6
	var wg sync.WaitGroup
	errs := make([]error, runners)
	for i := range runners {
		wg.Go(func() {
			_, errs[i] = schema.Migrate(ctx, base.Conn, schema.Options{Database: name})
		})
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("runner %d: %v", i, err)
		}
	}
	got, err := schema.AppliedVersions(ctx, base.Conn, name)
	if err != nil {
		t.Fatal(err)
	}
	ms, _ := schema.LoadMigrations(schema.Migrations())
	if len(got) != len(ms) {
		t.Fatalf("applied versions %v, want %d", got, len(ms))
	}
	for _, tbl := range []string{"spans", "documents"} {
		if n := base.Count(t, "SELECT count() FROM system.tables WHERE database = ? AND name = ?", name, tbl); n != 1 {
			t.Errorf("table %s: %d", tbl, n)
		}
	}
}

// TestMigrateRunner exercises the runner on its own files: ordering,
// min-server skipping, unless-column guards and idempotent re-runs.
func TestMigrateRunner(t *testing.T) {
	base := chtest.New(t)
	name := chtest.UniqueName(t)
	t.Cleanup(func() { base.Exec(t, "DROP DATABASE IF EXISTS "+name) })
	ctx := context.Background()
	files := fstest.MapFS{
		"0001_t.sql": {Data: []byte(`CREATE TABLE IF NOT EXISTS {{table "t"}} {{onCluster}} (date Date, k String)
ENGINE = {{engine "t" "MergeTree()"}} PARTITION BY date ORDER BY k;
{{distributed "t" "cityHash64(k)"}}
`)},
		"0002_future.sql": {Data: []byte("-- fluoro:min-server 99.1\nALTER TABLE {{table \"t\"}} ADD COLUMN never UInt8;\n")},
		"0003_column.sql": {Data: []byte("-- fluoro:unless-column t extra\nALTER TABLE {{table \"t\"}} ADD COLUMN extra String;\n")},
	}
	rep, err := schema.Migrate(ctx, base.Conn, schema.Options{Database: name, FS: files})
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(rep.Applied, ",") != "0001_t,0003_column" || len(rep.Skipped) != 1 || !strings.Contains(rep.Skipped[0], "99.1") || rep.Current != 3 {
		t.Fatalf("report %+v", rep)
	}
	cols := func() string {
		rows, err := base.Conn.Query(ctx, "SELECT name FROM system.columns WHERE database = ? AND table = 't'", name)
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		var out []string
		for rows.Next() {
			var s string
			if err := rows.Scan(&s); err != nil {
				t.Fatal(err)
			}
			out = append(out, s)
		}
		sort.Strings(out)
		return strings.Join(out, ",")
	}
	if got := cols(); got != "date,extra,k" {
		t.Fatalf("columns %s", got)
	}
	// Forget 0003 (as if a crash happened before it was recorded): the
	// guard makes its re-run a no-op instead of a "column exists" error.
	base.Exec(t, "ALTER TABLE "+name+".schema_migrations DELETE WHERE version = 3")
	waitFor(t, func() bool {
		return base.Count(t, "SELECT count() FROM "+name+".schema_migrations WHERE version = 3") == 0
	})
	rep, err = schema.Migrate(ctx, base.Conn, schema.Options{Database: name, FS: files})
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(rep.Applied, ",") != "0003_column" {
		t.Fatalf("re-run report %+v", rep)
	}
	rep, err = schema.Migrate(ctx, base.Conn, schema.Options{Database: name, FS: files})
	if err != nil || len(rep.Applied) != 0 {
		t.Fatalf("third run: %+v, %v", rep, err)
	}
	// A failing statement is reported with the migration's name.
	bad := fstest.MapFS{"0004_bad.sql": {Data: []byte("ALTER TABLE {{table \"nope\"}} ADD COLUMN x UInt8;\n")}}
	_, err = schema.Migrate(ctx, base.Conn, schema.Options{Database: name, FS: bad, Attempts: 2})
	if err == nil || !strings.Contains(err.Error(), "0004_bad") {
		t.Fatalf("bad migration: %v", err)
	}
}

func TestMigrateDSN(t *testing.T) {
	base := chtest.New(t)
	name := chtest.UniqueName(t)
	t.Cleanup(func() { base.Exec(t, "DROP DATABASE IF EXISTS "+name) })
	rep, err := schema.MigrateDSN(context.Background(), "clickhouse://"+base.Addr+"/"+name, schema.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Applied) == 0 {
		t.Fatalf("nothing applied: %+v", rep)
	}
	if _, err := schema.MigrateDSN(context.Background(), "clickhouse://127.0.0.1:1/x", schema.Options{}); err == nil {
		t.Fatal("MigrateDSN to a closed port succeeded")
	}
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not reached in time")
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestJanitor inserts rows into daily partitions around the cutoff and
// checks that exactly the expired ones are dropped, in every table.
func TestJanitor(t *testing.T) {
	db := chtest.New(t)
	ctx := context.Background()
	now := time.Date(2024, 3, 20, 10, 30, 0, 0, time.UTC)
	day := func(d int) time.Time { return time.Date(2024, 3, 20+d, 0, 0, 0, 0, time.UTC) }
	// Retention 7 days at 2024-03-20 10:30: 2024-03-13 is the first day kept.
	days := []int{-30, -8, -7, -6, 0, 1}
	for _, table := range []string{"spans", "documents"} {
		b, err := db.Conn.PrepareBatch(ctx, fmt.Sprintf("INSERT INTO %s.%s (date, trace_id, id, version)", db.Name, table))
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range days {
			if err := b.Append(day(d), fmt.Sprintf("1-%08x-000000000000000000000001", day(d).Unix()), "0000000000000001", uint64(1)); err != nil {
				t.Fatal(err)
			}
		}
		if err := b.Send(); err != nil {
			t.Fatal(err)
		}
	}
	j, err := schema.NewJanitor(ctx, db.DSN, schema.JanitorOptions{Retention: 7 * 24 * time.Hour, Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	defer j.Close()
	if got := j.Cutoff(now); !got.Equal(day(-7)) {
		t.Fatalf("cutoff %v, want %v", got, day(-7))
	}
	dropped, err := j.DropExpired(ctx)
	if err != nil {
		t.Fatal(err)
	}
	// Other tables (e.g. filled by materialized views from spans) may have
	// expired partitions too; spans and documents must have exactly these.
	var got []string
	for _, d := range dropped {
		if d.PartitionID >= "20240313" {
			t.Errorf("dropped unexpired partition %s/%s", d.Table, d.PartitionID)
		}
		if d.Table == "spans" || d.Table == "documents" {
			got = append(got, d.Table+"/"+d.PartitionID)
		}
	}
	want := "documents/20240219,documents/20240312,spans/20240219,spans/20240312"
	if strings.Join(got, ",") != want {
		t.Fatalf("dropped %v, want %s", got, want)
	}
	if n := db.Count(t, "SELECT count() FROM system.parts WHERE active AND database = ? AND match(partition_id, '^[0-9]{8}$') AND partition_id < '20240313'", db.Name); n != 0 {
		t.Errorf("%d expired parts left in the database", n)
	}
	for _, table := range []string{"spans", "documents"} {
		if n := db.Count(t, fmt.Sprintf("SELECT count() FROM %s.%s", db.Name, table)); n != 4 {
			t.Errorf("%s: %d rows left, want 4", table, n)
		}
		if n := db.Count(t, fmt.Sprintf("SELECT count() FROM %s.%s WHERE date < '2024-03-13'", db.Name, table)); n != 0 {
			t.Errorf("%s: %d expired rows left", table, n)
		}
	}
	// Run: drops at start, then stops with ctx.
	b, err := db.Conn.PrepareBatch(ctx, fmt.Sprintf("INSERT INTO %s.spans (date, trace_id, id, version)", db.Name))
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Append(day(-20), "1-00000000-000000000000000000000001", "0000000000000002", uint64(1)); err != nil {
		t.Fatal(err)
	}
	if err := b.Send(); err != nil {
		t.Fatal(err)
	}
	rctx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- j.Run(rctx) }()
	waitFor(t, func() bool {
		return db.Count(t, fmt.Sprintf("SELECT count() FROM %s.spans WHERE date < '2024-03-13'", db.Name)) == 0
	})
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Run: %v", err)
	}
}

func TestJanitorOptions(t *testing.T) {
	db := chtest.New(t)
	for _, o := range []schema.JanitorOptions{
		{Database: "bad name"},
		{Database: "x", Cluster: "a b"},
		{Database: "x", Retention: time.Hour},
	} {
		if _, err := schema.NewJanitorConn(db.Conn, o); err == nil {
			t.Errorf("NewJanitorConn(%+v) succeeded", o)
		}
	}
}
