package schema

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"sort"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
)

//go:embed migrations/*.sql
var embedded embed.FS

// Migrations returns Fluoro's embedded migration files (migrations/*.sql).
func Migrations() fs.FS {
	sub, err := fs.Sub(embedded, "migrations")
	if err != nil {
		panic("BUG: embedded migrations: " + err.Error())
	}
	return sub
}

// Options configures Migrate.
type Options struct {
	// Database is created if missing; every table lives in it. Required.
	Database string
	// Cluster switches to the cluster layout (see Config.Cluster).
	Cluster string
	// NoZooKeeper is for a cluster without ZooKeeper (sharded, not
	// replicated): local tables use plain MergeTree engines and DDL runs
	// without ON CLUSTER, on the connected node only, so Migrate must be
	// run against every node. Tests use it with the managed server's
	// one-shard cluster "fluoro_local".
	NoZooKeeper bool
	// Logger receives one line per applied or skipped migration (nil: none).
	Logger *slog.Logger
	// FS holds the migration files; nil means the embedded ones. Tests use
	// it to exercise the runner with their own files.
	FS fs.FS
	// Attempts is how often a failing statement is retried (default 5).
	Attempts int
}

// Report says what Migrate did.
type Report struct {
	Server  Version
	Applied []string // "0001_spans", … applied by this call
	Skipped []string // waiting for a newer server ("0007_codecs (needs 19.1)")
	Current int      // highest applied version after the call
}

// MigrationsTable is the table (in Options.Database) recording applied
// migrations. It is node-local even on a cluster: another node re-applies
// (idempotently) what it has not recorded.
const MigrationsTable = "schema_migrations"

// Migrate brings the schema of o.Database up to date: it creates the
// database and the migrations table, then applies every migration not yet
// recorded, in order, skipping those that need a newer server (they are
// applied by a later Migrate once the server is upgraded).
//
// ClickHouse has no transactions or locks, so Migrate is made safe for
// concurrent runs (two Fluoro processes starting at once) by convergence
// rather than mutual exclusion: every statement is idempotent (IF NOT
// EXISTS, or an unless-column guard re-checked before each attempt), both
// runners apply the same statements in the same order, and a statement
// that loses a race (for example "table already exists" from two
// simultaneous CREATE TABLE IF NOT EXISTS, or a column added between the
// guard and the ALTER) is retried, finds the object present and succeeds.
// A migration is recorded only after all its statements succeeded; a
// migration recorded twice is harmless (ReplacingMergeTree keyed by
// version, read with GROUP BY). A crash midway leaves it unrecorded, and
// the next Migrate re-runs its statements, which are no-ops where done.
func Migrate(ctx context.Context, conn driver.Conn, o Options) (Report, error) {
	var rep Report
	if !validIdent(o.Database) {
		return rep, fmt.Errorf("migrate: database %q is not a plain identifier", o.Database)
	}
	if o.Cluster != "" && !validIdent(o.Cluster) {
		return rep, fmt.Errorf("migrate: cluster %q is not a plain identifier", o.Cluster)
	}
	logger := o.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	if o.Attempts <= 0 {
		o.Attempts = 5
	}
	fsys := o.FS
	if fsys == nil {
		fsys = Migrations()
	}
	migs, err := LoadMigrations(fsys)
	if err != nil {
		return rep, err
	}
	if rep.Server, err = ServerVersion(ctx, conn); err != nil {
		return rep, err
	}
	if rep.Server.Less(MinServer) {
		return rep, fmt.Errorf("migrate: clickhouse %s is older than the minimum %s", rep.Server, MinServer)
	}
	l := layout{Database: o.Database, Cluster: o.Cluster, NoZooKeeper: o.NoZooKeeper}
	bootstrap := []string{
		"CREATE DATABASE IF NOT EXISTS " + o.Database + l.onCluster(),
		"CREATE TABLE IF NOT EXISTS " + o.Database + "." + MigrationsTable + ` (
    version UInt32,
    name String,
    checksum String,
    server_version String,
    host String,
    applied_at DateTime
) ENGINE = ReplacingMergeTree(applied_at) ORDER BY version`,
	}
	for _, q := range bootstrap {
		if err := retry(ctx, o.Attempts, func() error { return conn.Exec(ctx, q) }); err != nil {
			return rep, fmt.Errorf("migrate: %s: %w", firstLine(q), err)
		}
	}
	applied, err := appliedMigrations(ctx, conn, o.Database)
	if err != nil {
		return rep, err
	}
	for _, m := range migs {
		id := fmt.Sprintf("%04d_%s", m.Version, m.Name)
		if sum, ok := applied[m.Version]; ok {
			if sum != m.Checksum {
				logger.Warn("applied migration differs from its file; not re-applied", "migration", id)
			}
			rep.Current = m.Version
			continue
		}
		if rep.Server.Less(m.MinServer) {
			rep.Skipped = append(rep.Skipped, fmt.Sprintf("%s (needs %s)", id, m.MinServer))
			logger.Info("migration waits for a newer clickhouse", "migration", id, "needs", m.MinServer.String(), "server", rep.Server.String())
			continue
		}
		stmts, err := m.render(l)
		if err != nil {
			return rep, err
		}
		for i, st := range stmts {
			err := retry(ctx, o.Attempts, func() error {
				if g := st.UnlessColumn; g[0] != "" {
					exists, err := columnExists(ctx, conn, o.Database, l.TableName(g[0]), g[1])
					if err != nil || exists {
						return err
					}
				}
				return conn.Exec(ctx, st.SQL)
			})
			if err != nil {
				return rep, fmt.Errorf("migrate %s, statement %d (%s): %w", id, i+1, firstLine(st.SQL), err)
			}
		}
		if err := record(ctx, conn, o.Database, m, rep.Server); err != nil {
			return rep, err
		}
		rep.Applied = append(rep.Applied, id)
		rep.Current = m.Version
		logger.Info("migration applied", "migration", id, "statements", len(stmts))
	}
	return rep, nil
}

// retry runs f until it succeeds, ctx ends or attempts are used up.
func retry(ctx context.Context, attempts int, f func() error) error {
	var err error
	for i := 0; i < attempts; i++ {
		if err = f(); err == nil {
			return nil
		}
		if i == attempts-1 {
			break
		}
		select {
		case <-ctx.Done():
			return errors.Join(err, ctx.Err())
		case <-time.After(time.Duration(i+1) * 200 * time.Millisecond):
		}
	}
	return err
}

func appliedMigrations(ctx context.Context, conn driver.Conn, db string) (map[int]string, error) {
	rows, err := conn.Query(ctx, "SELECT version, argMax(checksum, applied_at) FROM "+db+"."+MigrationsTable+" GROUP BY version")
	if err != nil {
		return nil, fmt.Errorf("read applied migrations: %w", err)
	}
	defer rows.Close()
	out := map[int]string{}
	for rows.Next() {
		var (
			v   uint32
			sum string
		)
		if err := rows.Scan(&v, &sum); err != nil {
			return nil, fmt.Errorf("read applied migrations: %w", err)
		}
		out[int(v)] = sum
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read applied migrations: %w", err)
	}
	return out, nil
}

// AppliedVersions returns the recorded migration versions of db, sorted.
func AppliedVersions(ctx context.Context, conn driver.Conn, db string) ([]int, error) {
	m, err := appliedMigrations(ctx, conn, db)
	if err != nil {
		return nil, err
	}
	out := make([]int, 0, len(m))
	for v := range m {
		out = append(out, v)
	}
	sort.Ints(out)
	return out, nil
}

func record(ctx context.Context, conn driver.Conn, db string, m Migration, server Version) error {
	host, _ := os.Hostname()
	b, err := conn.PrepareBatch(ctx, "INSERT INTO "+db+"."+MigrationsTable+" (version, name, checksum, server_version, host, applied_at)")
	if err != nil {
		return fmt.Errorf("record migration %04d: %w", m.Version, err)
	}
	defer b.Close()
	if err := b.Append(uint32(m.Version), m.Name, m.Checksum, server.String(), host, time.Now()); err != nil {
		return fmt.Errorf("record migration %04d: %w", m.Version, err)
	}
	if err := b.Send(); err != nil {
		return fmt.Errorf("record migration %04d: %w", m.Version, err)
	}
	return nil
}

func columnExists(ctx context.Context, conn driver.Conn, db, table, column string) (bool, error) {
	var n uint64
	err := conn.QueryRow(ctx, "SELECT count() FROM system.columns WHERE database = ? AND table = ? AND name = ?", db, table, column).Scan(&n)
	if err != nil {
		return false, fmt.Errorf("check column %s.%s.%s: %w", db, table, column, err)
	}
	return n > 0, nil
}

func firstLine(s string) string {
	for i, r := range s {
		if r == '\n' {
			return s[:i] + " …"
		}
	}
	return s
}

// MigrateDSN connects to dsn, applies the migrations to the DSN's database
// (Options.Database is taken from the DSN when empty) and closes the
// connection. It is what `fluoro migrate` and start-up call.
func MigrateDSN(ctx context.Context, dsn string, o Options) (Report, error) {
	conn, db, err := Connect(ctx, dsn)
	if err != nil {
		return Report{}, err
	}
	defer conn.Close()
	if o.Database == "" {
		o.Database = db
	}
	return Migrate(ctx, conn, o)
}
