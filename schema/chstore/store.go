package chstore

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/fluoro/fluoro/collector/segment"
	"github.com/fluoro/fluoro/schema"
)

// Options configures a Store (developer-set; the DSN is the user's).
type Options struct {
	// Logger is used for rare events (nil: discard). The store never logs
	// per document.
	Logger *slog.Logger
	// MaxOpenConns bounds the connection pool (default 8).
	MaxOpenConns int
}

// Store reads and writes Fluoro's tables in one database.
type Store struct {
	conn   driver.Conn
	db     string
	logger *slog.Logger
	// spansLocal is the table holding a shard's spans: "spans", or
	// "spans_local" in the cluster layout (spans is then Distributed).
	spansLocal string
	// scans caches threshold alerts' shared scans (alerts.go).
	scans scanCache
}

// ErrNoSchema is returned by Open when the database has not been migrated
// (run `fluoro migrate`, or start Fluoro, which migrates first).
var ErrNoSchema = errors.New("fluoro tables are missing: run `fluoro migrate` first")

// Open connects to dsn (clickhouse://host:port/database, native protocol),
// pings the server and checks that the database holds Fluoro's tables.
func Open(ctx context.Context, dsn string, o Options) (*Store, error) {
	opts, db, err := schema.ParseDSN(dsn)
	if err != nil {
		return nil, err
	}
	if o.MaxOpenConns > 0 {
		opts.MaxOpenConns = o.MaxOpenConns
		opts.MaxIdleConns = o.MaxOpenConns
	} else if opts.MaxOpenConns == 0 {
		opts.MaxOpenConns, opts.MaxIdleConns = 8, 8
	}
	conn, err := clickhouse.Open(opts)
	if err != nil {
		return nil, fmt.Errorf("open clickhouse %s: %w", schema.RedactDSN(dsn), err)
	}
	if err := conn.Ping(ctx); err != nil {
		conn.Close()
		return nil, fmt.Errorf("ping clickhouse %s: %w", schema.RedactDSN(dsn), err)
	}
	var n, local uint64
	if err := conn.QueryRow(ctx, "SELECT countIf(name IN ('spans', 'documents')), countIf(name = 'spans_local') FROM system.tables WHERE database = ?", db).Scan(&n, &local); err != nil {
		conn.Close()
		return nil, fmt.Errorf("check fluoro tables: %w", err)
	}
	if n != 2 {
		conn.Close()
		return nil, fmt.Errorf("database %s: %w", db, ErrNoSchema)
	}
	spansLocal := "spans"
	if local == 1 {
		spansLocal = "spans_local"
	}
	logger := o.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &Store{conn: conn, db: db, logger: logger, spansLocal: spansLocal}, nil
}

// Close closes the connection pool.
func (s *Store) Close() error { return s.conn.Close() }

// Database returns the database the store uses.
func (s *Store) Database() string { return s.db }

// Ping checks that the server answers (for readiness probes and for the
// collector's "is ClickHouse back" checks).
func (s *Store) Ping(ctx context.Context) error { return s.conn.Ping(ctx) }

const maxReceived = 1<<62 - 1

// Version returns the row version of d: complete documents (not in
// progress) have bit 62 set, and the receive time orders versions of the
// same kind.
func Version(d *segment.Document) uint64 {
	r := d.ReceivedNanos
	if r < 0 {
		r = 0
	} else if r > maxReceived {
		r = maxReceived
	}
	v := uint64(r)
	if !d.InProgress {
		v |= 1 << 62
	}
	return v
}

// TraceEpoch returns the Unix seconds encoded in an X-Ray trace id
// (1-XXXXXXXX-…), and false when id has no such part.
func TraceEpoch(traceID string) (int64, bool) {
	if len(traceID) < 10 || traceID[0] != '1' || traceID[1] != '-' {
		return 0, false
	}
	v, err := strconv.ParseUint(traceID[2:10], 16, 32)
	if err != nil {
		return 0, false
	}
	return int64(v), true
}

const day = 24 * time.Hour

// docDate is the partition day of a document: the UTC day of its trace
// id's epoch, else (never for validated ids) of its receive time.
func docDate(d *segment.Document) time.Time {
	if e, ok := TraceEpoch(d.TraceID); ok {
		return time.Unix(e, 0).UTC().Truncate(day)
	}
	return time.Unix(0, d.ReceivedNanos).UTC().Truncate(day)
}

// micros converts epoch seconds to microseconds, clamped to UInt64.
func micros(sec float64) uint64 {
	if !(sec > 0) { // also NaN
		return 0
	}
	us := math.Round(sec * 1e6)
	if us >= math.MaxUint64 {
		return math.MaxUint64
	}
	return uint64(us)
}

// dateLiteral formats t's UTC day for SQL ('2006-01-02').
func dateLiteral(t time.Time) string { return "'" + t.UTC().Format("2006-01-02") + "'" }

// dateRange returns the SQL condition date between the UTC days of from and
// to, inclusive.
func dateRange(from, to time.Time) string {
	return "date >= " + dateLiteral(from) + " AND date <= " + dateLiteral(to)
}

// joinDates returns a SQL list of distinct day literals.
func joinDates(days map[time.Time]struct{}) string {
	var b strings.Builder
	for d := range days {
		if b.Len() > 0 {
			b.WriteString(", ")
		}
		b.WriteString(dateLiteral(d))
	}
	return b.String()
}
