package schema

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
)

// Version is a ClickHouse server version (major.minor.patch).
type Version struct{ Major, Minor, Patch int }

// ParseVersion parses "18.16.1", "24.3.2.23" or "19.1" (extra parts are
// ignored, missing ones are zero).
func ParseVersion(s string) (Version, error) {
	parts := strings.Split(strings.TrimSpace(s), ".")
	if len(parts) < 2 {
		return Version{}, fmt.Errorf("clickhouse version %q: want major.minor[.patch]", s)
	}
	var v [3]int
	for i := 0; i < 3 && i < len(parts); i++ {
		n, err := strconv.Atoi(parts[i])
		if err != nil || n < 0 {
			return Version{}, fmt.Errorf("clickhouse version %q: part %d is not a number", s, i+1)
		}
		v[i] = n
	}
	return Version{v[0], v[1], v[2]}, nil
}

// Less reports whether v is older than w.
func (v Version) Less(w Version) bool {
	if v.Major != w.Major {
		return v.Major < w.Major
	}
	if v.Minor != w.Minor {
		return v.Minor < w.Minor
	}
	return v.Patch < w.Patch
}

// String returns "major.minor.patch".
func (v Version) String() string { return fmt.Sprintf("%d.%d.%d", v.Major, v.Minor, v.Patch) }

// MinServer is the oldest ClickHouse Fluoro's baseline schema supports
// (Debian 12's package).
var MinServer = Version{18, 16, 0}

// ServerVersion asks the server for its version (SELECT version()).
func ServerVersion(ctx context.Context, conn driver.Conn) (Version, error) {
	var s string
	if err := conn.QueryRow(ctx, "SELECT version()").Scan(&s); err != nil {
		return Version{}, fmt.Errorf("query clickhouse version: %w", err)
	}
	return ParseVersion(s)
}
