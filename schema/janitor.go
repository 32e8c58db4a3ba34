package schema

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
)

// JanitorOptions configures a Janitor.
type JanitorOptions struct {
	Database string // required
	Cluster  string // drop ON CLUSTER (the local tables of every shard)
	// NoZooKeeper: the cluster has no ZooKeeper, drop on this node only
	// (run a janitor per node); see Options.NoZooKeeper.
	NoZooKeeper bool
	Retention   time.Duration // default DefaultRetention
	Interval    time.Duration // default DefaultJanitorInterval
	Logger      *slog.Logger
	Now         func() time.Time // default time.Now
}

// Janitor enforces retention: it drops every daily partition (partition id
// YYYYMMDD, any table of the database) whose whole day ended before
// now-Retention, so data is kept at least Retention and at most one day
// longer. Dropping a partition is a metadata operation: no rows are
// rewritten (18.16 has no TTL; newer servers could use TTL, but dropping
// partitions is cheaper than TTL merges anyway).
type Janitor struct {
	conn   driver.Conn
	own    bool // conn was opened by NewJanitor
	o      JanitorOptions
	logger *slog.Logger
}

// Dropped is one dropped partition.
type Dropped struct {
	Table       string
	PartitionID string // YYYYMMDD
}

// NewJanitor connects to the server of dsn (its database unless
// o.Database is set). Close the Janitor when done.
func NewJanitor(ctx context.Context, dsn string, o JanitorOptions) (*Janitor, error) {
	conn, db, err := Connect(ctx, dsn)
	if err != nil {
		return nil, err
	}
	if o.Database == "" {
		o.Database = db
	}
	j, err := NewJanitorConn(conn, o)
	if err != nil {
		conn.Close()
		return nil, err
	}
	j.own = true
	return j, nil
}

// NewJanitorConn returns a Janitor using conn (which it does not close).
func NewJanitorConn(conn driver.Conn, o JanitorOptions) (*Janitor, error) {
	if !validIdent(o.Database) {
		return nil, fmt.Errorf("janitor: database %q is not a plain identifier", o.Database)
	}
	if o.Cluster != "" && !validIdent(o.Cluster) {
		return nil, fmt.Errorf("janitor: cluster %q is not a plain identifier", o.Cluster)
	}
	if o.Retention == 0 {
		o.Retention = DefaultRetention
	}
	if o.Retention < 24*time.Hour {
		return nil, fmt.Errorf("janitor: retention %s is less than a day", o.Retention)
	}
	if o.Interval <= 0 {
		o.Interval = DefaultJanitorInterval
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	logger := o.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &Janitor{conn: conn, o: o, logger: logger.With("component", "janitor")}, nil
}

// Close closes the connection opened by NewJanitor.
func (j *Janitor) Close() error {
	if j.own {
		return j.conn.Close()
	}
	return nil
}

// Run drops expired partitions now and then every Interval until ctx is
// done. Failures are logged and retried at the next tick (a down server must
// not stop Fluoro); Run returns nil when ctx ends.
func (j *Janitor) Run(ctx context.Context) error {
	t := time.NewTicker(j.o.Interval)
	defer t.Stop()
	for {
		if _, err := j.DropExpired(ctx); err != nil && ctx.Err() == nil {
			j.logger.Warn("retention: dropping expired partitions failed", "err", err)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

// Cutoff returns the first day kept at time now: partitions of earlier days
// are expired.
func (j *Janitor) Cutoff(now time.Time) time.Time {
	return now.Add(-j.o.Retention).UTC().Truncate(24 * time.Hour)
}

// DropExpired drops the expired partitions once and returns them.
func (j *Janitor) DropExpired(ctx context.Context) ([]Dropped, error) {
	cutoff := j.Cutoff(j.o.Now())
	rows, err := j.conn.Query(ctx,
		"SELECT DISTINCT table, partition_id FROM system.parts WHERE database = ? AND active ORDER BY table, partition_id",
		j.o.Database)
	if err != nil {
		return nil, fmt.Errorf("list partitions: %w", err)
	}
	var expired []Dropped
	for rows.Next() {
		var d Dropped
		if err := rows.Scan(&d.Table, &d.PartitionID); err != nil {
			rows.Close()
			return nil, fmt.Errorf("list partitions: %w", err)
		}
		day, err := time.Parse("20060102", d.PartitionID)
		if err != nil || len(d.PartitionID) != 8 {
			continue // not a daily partition (e.g. schema_migrations' "all")
		}
		if day.Before(cutoff) {
			expired = append(expired, d)
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list partitions: %w", err)
	}
	onCluster := layout{Cluster: j.o.Cluster, NoZooKeeper: j.o.NoZooKeeper}.onCluster()
	var (
		dropped []Dropped
		errs    []error
	)
	for _, d := range expired {
		q := fmt.Sprintf("ALTER TABLE %s.`%s`%s DROP PARTITION ID '%s'", j.o.Database, d.Table, onCluster, d.PartitionID)
		if err := j.conn.Exec(ctx, q); err != nil {
			errs = append(errs, fmt.Errorf("drop partition %s of %s: %w", d.PartitionID, d.Table, err))
			continue
		}
		dropped = append(dropped, d)
		j.logger.Info("retention: dropped partition", "table", d.Table, "partition", d.PartitionID)
	}
	return dropped, errors.Join(errs...)
}
