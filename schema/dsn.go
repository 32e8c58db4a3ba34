package schema

import (
	"context"
	"fmt"
	"net/url"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
)

// DefaultDatabase is the database used when a DSN names none.
const DefaultDatabase = "fluoro"

// ParseDSN parses clickhouse://[user[:password]@]host:port[/database][?opts]
// (scheme clickhouse or tcp; the native protocol is the only one that works
// with every supported server) into clickhouse-go options whose
// Auth.Database is empty, and the database name (DefaultDatabase when the
// DSN has no path). The database is returned separately because it may not
// exist yet: Migrate creates it, and statements name it explicitly.
func ParseDSN(dsn string) (*clickhouse.Options, string, error) {
	u, err := url.Parse(dsn)
	if err != nil {
		return nil, "", fmt.Errorf("parse dsn: invalid URL")
	}
	if u.Scheme != "clickhouse" && u.Scheme != "tcp" {
		return nil, "", fmt.Errorf("parse dsn: scheme %q: want clickhouse://host:port/database (native protocol)", u.Scheme)
	}
	if u.Host == "" {
		return nil, "", fmt.Errorf("parse dsn: no host: want clickhouse://host:port/database")
	}
	opts, err := clickhouse.ParseDSN(dsn)
	if err != nil {
		return nil, "", fmt.Errorf("parse dsn: %w", err)
	}
	db := opts.Auth.Database
	if db == "" {
		db = DefaultDatabase
	}
	if !validIdent(db) {
		return nil, "", fmt.Errorf("parse dsn: database %q is not a plain identifier", db)
	}
	opts.Auth.Database = ""
	if opts.DialTimeout == 0 {
		opts.DialTimeout = 5 * time.Second
	}
	return opts, db, nil
}

// Connect opens a native-protocol connection pool to the server of dsn with
// no default database, pings it and returns it with the DSN's database name.
func Connect(ctx context.Context, dsn string) (driver.Conn, string, error) {
	opts, db, err := ParseDSN(dsn)
	if err != nil {
		return nil, "", err
	}
	conn, err := clickhouse.Open(opts)
	if err != nil {
		return nil, "", fmt.Errorf("open clickhouse %s: %w", RedactDSN(dsn), err)
	}
	if err := conn.Ping(ctx); err != nil {
		conn.Close()
		return nil, "", fmt.Errorf("ping clickhouse %s: %w", RedactDSN(dsn), err)
	}
	return conn, db, nil
}

// RedactDSN returns dsn with its password replaced, for logs and errors.
func RedactDSN(dsn string) string {
	u, err := url.Parse(dsn)
	if err != nil {
		return "(invalid dsn)"
	}
	return u.Redacted()
}
