package schema

import (
	"errors"
	"flag"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Config is the user-set configuration of Fluoro's storage.
type Config struct {
	// DSN is the ClickHouse to use, clickhouse://[user[:password]@]host:port/database.
	// Empty means: start the managed server (schema/chserver).
	DSN string
	// Cluster, when set, names the ClickHouse cluster (remote_servers) the
	// schema is created on: ON CLUSTER DDL, Replicated*MergeTree local
	// tables and Distributed tables sharded by cityHash64(trace_id).
	Cluster string
	// Retention is how long data is kept; whole days are dropped.
	Retention time.Duration
	// JanitorInterval is how often the janitor looks for expired partitions.
	JanitorInterval time.Duration
}

// Defaults of Config.
const (
	DefaultRetention       = 7 * 24 * time.Hour
	DefaultJanitorInterval = time.Hour
)

// DefaultConfig returns the configuration used when no flag is set.
func DefaultConfig() Config {
	return Config{Retention: DefaultRetention, JanitorInterval: DefaultJanitorInterval}
}

// RegisterFlags registers --clickhouse, --clickhouse-cluster, --retention
// and --retention-check-interval on fs.
func (c *Config) RegisterFlags(fs *flag.FlagSet) {
	d := DefaultConfig()
	*c = d
	fs.StringVar(&c.DSN, "clickhouse", d.DSN, "ClickHouse to use, clickhouse://host:port/database (native protocol); empty starts a managed clickhouse-server")
	fs.StringVar(&c.Cluster, "clickhouse-cluster", d.Cluster, "ClickHouse cluster name for ON CLUSTER DDL, replicated local tables and Distributed tables; empty for a single server")
	fs.Var((*days)(&c.Retention), "retention", "how long traces are kept, e.g. 7d or 336h; expired days are dropped as whole partitions")
	fs.DurationVar(&c.JanitorInterval, "retention-check-interval", d.JanitorInterval, "how often expired partitions are looked for")
}

// Validate reports the first invalid field.
func (c *Config) Validate() error {
	if c.DSN != "" {
		if _, _, err := ParseDSN(c.DSN); err != nil {
			return fmt.Errorf("clickhouse: %w", err)
		}
	}
	if c.Cluster != "" && !validIdent(c.Cluster) {
		return fmt.Errorf("clickhouse-cluster: %q is not a plain identifier", c.Cluster)
	}
	if c.Retention < 24*time.Hour {
		return fmt.Errorf("retention: %s is less than one day (data is dropped by daily partitions)", c.Retention)
	}
	if c.JanitorInterval <= 0 {
		return errors.New("retention-check-interval: must be positive")
	}
	return nil
}

// days is a time.Duration flag that also accepts a number of days ("7d").
type days time.Duration

func (d *days) String() string {
	if d == nil {
		return ""
	}
	v := time.Duration(*d)
	if v > 0 && v%(24*time.Hour) == 0 {
		return strconv.FormatInt(int64(v/(24*time.Hour)), 10) + "d"
	}
	return v.String()
}

func (d *days) Set(s string) error {
	if n, ok := strings.CutSuffix(s, "d"); ok {
		v, err := strconv.ParseUint(n, 10, 16)
		if err != nil {
			return fmt.Errorf("%q: want a whole number of days (7d) or a duration (168h)", s)
		}
		*d = days(time.Duration(v) * 24 * time.Hour)
		return nil
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return fmt.Errorf("%q: want a whole number of days (7d) or a duration (168h)", s)
	}
	*d = days(v)
	return nil
}

// validIdent reports whether s is a plain ClickHouse identifier
// ([A-Za-z_][A-Za-z0-9_]*), safe to splice into DDL unquoted.
func validIdent(s string) bool {
	if s == "" || len(s) > 128 {
		return false
	}
	for i, r := range s {
		switch {
		case r == '_', r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z':
		case r >= '0' && r <= '9' && i > 0:
		default:
			return false
		}
	}
	return true
}
