package chstore

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
)

// ErrNotFound is returned by lookups of a group or sampling rule that does
// not exist (or was deleted).
var ErrNotFound = errors.New("not found")

// Tag is a resource tag (X-Ray's Tag: Key, Value).
type Tag struct {
	Key, Value string
}

// Group is an X-Ray group as stored: its name, ARN, filter expression,
// insights settings and tags. The caller (query/api) validates names,
// expressions and tags; the store keeps what it is given.
type Group struct {
	Name             string
	ARN              string
	FilterExpression string
	InsightsEnabled  bool
	// NotificationsEnabled requires InsightsEnabled (checked by the API).
	NotificationsEnabled bool
	Tags                 []Tag
	CreatedAt            time.Time
	// ModifiedAt orders the versions of a group: PutGroup and DeleteGroup
	// set it to a time after every earlier version's.
	ModifiedAt time.Time
}

const groupColumns = "name, arn, filter_expression, insights_enabled, notifications_enabled, tags.key, tags.value, created_us, version, deleted"

// lastVersion makes row versions strictly increasing within the process
// even when the clock stands still or steps back.
var lastVersion atomic.Uint64

// nextVersion returns a row version (µs since the epoch) after every
// earlier one of this process and not before now.
func nextVersion(now time.Time) uint64 {
	v := uint64(max(now.UnixMicro(), 0))
	for {
		last := lastVersion.Load()
		if v <= last {
			v = last + 1
		}
		if lastVersion.CompareAndSwap(last, v) {
			return v
		}
	}
}

// syncInsert makes inserts into Distributed tables (cluster layout) return
// only once the shards stored them; harmless on a single server.
func syncInsert(ctx context.Context) context.Context {
	return clickhouse.Context(ctx, clickhouse.WithSettings(clickhouse.Settings{"insert_distributed_sync": 1}))
}

// PutGroup stores g as the newest version of the group g.Name (creating or
// replacing it) and sets g.ModifiedAt on the stored row. A zero CreatedAt
// is set to the modification time.
func (s *Store) PutGroup(ctx context.Context, g Group) (Group, error) {
	return s.writeGroup(ctx, g, false)
}

// DeleteGroup stores a tombstone for the group named name; Group and
// Groups no longer return it. Deleting a missing group is not an error.
func (s *Store) DeleteGroup(ctx context.Context, name string) error {
	_, err := s.writeGroup(ctx, Group{Name: name}, true)
	return err
}

func (s *Store) writeGroup(ctx context.Context, g Group, deleted bool) (Group, error) {
	v := nextVersion(time.Now())
	g.ModifiedAt = time.UnixMicro(int64(v)).UTC()
	if g.CreatedAt.IsZero() {
		g.CreatedAt = g.ModifiedAt
	}
	keys, vals := splitTags(g.Tags)
	err := sendColumns(syncInsert(ctx), s.conn, "INSERT INTO "+s.db+".groups ("+groupColumns+")",
		[]string{g.Name}, []string{g.ARN}, []string{g.FilterExpression},
		[]uint8{b2u(g.InsightsEnabled)}, []uint8{b2u(g.NotificationsEnabled)},
		[][]string{keys}, [][]string{vals},
		[]uint64{uint64(max(g.CreatedAt.UnixMicro(), 0))}, []uint64{v}, []uint8{b2u(deleted)})
	if err != nil {
		return Group{}, fmt.Errorf("write group %q: %w", g.Name, err)
	}
	return g, nil
}

// Group returns the group whose name or ARN is nameOrARN, or an error
// wrapping ErrNotFound. Names are case-sensitive, as in X-Ray.
func (s *Store) Group(ctx context.Context, nameOrARN string) (Group, error) {
	gs, err := s.queryGroups(ctx, "name = ? OR argMax(arn, version) = ?", nameOrARN, nameOrARN)
	if err != nil {
		return Group{}, err
	}
	if len(gs) == 0 {
		return Group{}, fmt.Errorf("group %q: %w", nameOrARN, ErrNotFound)
	}
	return gs[0], nil
}

// Groups returns every group, sorted by name.
func (s *Store) Groups(ctx context.Context) ([]Group, error) {
	return s.queryGroups(ctx, "")
}

// queryGroups reads the newest version of every group (argMax by version,
// not FINAL: 18.16 may move a WHERE on deleted before FINAL's merge) that
// is not deleted and satisfies the HAVING condition cond.
func (s *Store) queryGroups(ctx context.Context, cond string, args ...any) ([]Group, error) {
	q := "SELECT name, argMax(arn, version), argMax(filter_expression, version), argMax(insights_enabled, version)," +
		" argMax(notifications_enabled, version), argMax(tags.key, version), argMax(tags.value, version)," +
		" argMax(created_us, version), max(version)" +
		" FROM " + s.db + ".groups GROUP BY name HAVING argMax(deleted, version) = 0"
	if cond != "" {
		q += " AND (" + cond + ")"
	}
	q += " ORDER BY name"
	rows, err := s.conn.Query(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("query groups: %w", err)
	}
	defer rows.Close()
	var out []Group
	for rows.Next() {
		var (
			g                  Group
			insights, notif    uint8
			keys, vals         []string
			createdUS, version uint64
		)
		if err := rows.Scan(&g.Name, &g.ARN, &g.FilterExpression, &insights, &notif, &keys, &vals, &createdUS, &version); err != nil {
			return nil, fmt.Errorf("scan groups: %w", err)
		}
		g.InsightsEnabled, g.NotificationsEnabled = insights == 1, notif == 1
		g.Tags = joinTags(keys, vals)
		g.CreatedAt = time.UnixMicro(int64(createdUS)).UTC()
		g.ModifiedAt = time.UnixMicro(int64(version)).UTC()
		out = append(out, g)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("query groups: %w", err)
	}
	return out, nil
}

func splitTags(tags []Tag) (keys, vals []string) {
	keys, vals = make([]string, len(tags)), make([]string, len(tags))
	for i, t := range tags {
		keys[i], vals[i] = t.Key, t.Value
	}
	return keys, vals
}

func joinTags(keys, vals []string) []Tag {
	if len(keys) == 0 {
		return nil
	}
	tags := make([]Tag, min(len(keys), len(vals)))
	for i := range tags {
		tags[i] = Tag{keys[i], vals[i]}
	}
	return tags
}
