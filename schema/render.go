package schema

import (
	"bufio"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io/fs"
	"path"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"text/template"
)

// Migration is one numbered migration file, NNNN_name.sql.
//
// A file is a text/template producing ClickHouse statements, each ending
// with ";" at the end of a line. Lines starting with "--" are comments,
// except directives:
//
//	-- fluoro:min-server 19.1            (file header) apply only on servers >= 19.1
//	-- fluoro:unless-column spans foo    (before a statement) skip it when the
//	                                     column already exists (18.16 has no
//	                                     ADD COLUMN IF NOT EXISTS)
//
// Template functions: db (the database), onCluster ("ON CLUSTER c" or ""),
// table "t" (db.t, or db.t_local on a cluster), engine "t" "Engine(args)"
// (Engine(args), or ReplicatedEngine('/clickhouse/tables/{shard}/db/t_local',
// '{replica}', args) on a cluster) and distributed "t" "shardingExpr" (""
// on a single server, else the CREATE of the Distributed table db.t over
// db.t_local). Every statement must be idempotent (IF NOT EXISTS, or a
// guard): Migrate's concurrency safety rests on it.
type Migration struct {
	Version   int
	Name      string
	MinServer Version // zero: no minimum beyond MinServer
	Checksum  string  // sha256 of the file (template) text
	text      string
}

var migrationFile = regexp.MustCompile(`^(\d{4})_([a-z0-9_]+)\.sql$`)

// LoadMigrations reads the migration files of fsys (the root folder),
// sorted by version.
func LoadMigrations(fsys fs.FS) ([]Migration, error) {
	entries, err := fs.ReadDir(fsys, ".")
	if err != nil {
		return nil, fmt.Errorf("read migrations: %w", err)
	}
	var ms []Migration
	seen := map[int]string{}
	for _, e := range entries {
		if e.IsDir() || path.Ext(e.Name()) != ".sql" {
			continue
		}
		m := migrationFile.FindStringSubmatch(e.Name())
		if m == nil {
			return nil, fmt.Errorf("migration %s: name must be NNNN_lower_case.sql", e.Name())
		}
		v, _ := strconv.Atoi(m[1])
		if prev, dup := seen[v]; dup {
			return nil, fmt.Errorf("migrations %s and %s share version %d", prev, e.Name(), v)
		}
		seen[v] = e.Name()
		data, err := fs.ReadFile(fsys, e.Name())
		if err != nil {
			return nil, fmt.Errorf("read migration %s: %w", e.Name(), err)
		}
		sum := sha256.Sum256(data)
		mig := Migration{Version: v, Name: m[2], Checksum: hex.EncodeToString(sum[:]), text: string(data)}
		if mig.MinServer, err = minServerDirective(mig.text); err != nil {
			return nil, fmt.Errorf("migration %s: %w", e.Name(), err)
		}
		ms = append(ms, mig)
	}
	sort.Slice(ms, func(i, j int) bool { return ms[i].Version < ms[j].Version })
	return ms, nil
}

func minServerDirective(text string) (Version, error) {
	sc := bufio.NewScanner(strings.NewReader(text))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if v, ok := strings.CutPrefix(line, "-- fluoro:min-server "); ok {
			return ParseVersion(v)
		}
	}
	return Version{}, nil
}

// statement is one rendered statement with its guard.
type statement struct {
	SQL string
	// UnlessColumn, when set, is {logical table, column}: skip the
	// statement if the column exists.
	UnlessColumn [2]string
}

// layout holds what the templates need to know about the target.
type layout struct {
	Database string
	Cluster  string
	// NoZooKeeper: plain local engines and no ON CLUSTER (see
	// Options.NoZooKeeper).
	NoZooKeeper bool
}

// onCluster returns " ON CLUSTER <name>" when DDL is distributed.
func (l layout) onCluster() string {
	if l.Cluster == "" || l.NoZooKeeper {
		return ""
	}
	return " ON CLUSTER " + l.Cluster
}

// TableName returns the name of logical table t's storage table (t, or
// t_local on a cluster), without the database.
func (l layout) TableName(t string) string {
	if l.Cluster != "" {
		return t + "_local"
	}
	return t
}

func (l layout) funcs() template.FuncMap {
	return template.FuncMap{
		"db":        func() string { return l.Database },
		"onCluster": func() string { return strings.TrimSpace(l.onCluster()) },
		"table":     func(t string) string { return l.Database + "." + l.TableName(t) },
		"engine": func(t, engine string) (string, error) {
			if l.Cluster == "" {
				return engine, nil
			}
			if l.NoZooKeeper {
				if !strings.Contains(engine, "MergeTree") {
					return "", fmt.Errorf("engine %q: want SomethingMergeTree(args)", engine)
				}
				return engine, nil
			}
			name, args, ok := strings.Cut(engine, "(")
			if !ok || !strings.HasSuffix(args, ")") || !strings.HasSuffix(name, "MergeTree") {
				return "", fmt.Errorf("engine %q: want SomethingMergeTree(args)", engine)
			}
			args = strings.TrimSuffix(args, ")")
			zk := fmt.Sprintf("'/clickhouse/tables/{shard}/%s/%s', '{replica}'", l.Database, l.TableName(t))
			if args != "" {
				zk += ", " + args
			}
			return "Replicated" + name + "(" + zk + ")", nil
		},
		"distributed": func(t, shardBy string) string {
			if l.Cluster == "" {
				return ""
			}
			return fmt.Sprintf("CREATE TABLE IF NOT EXISTS %s.%s%s AS %s.%s\nENGINE = Distributed(%s, %s, %s, %s);",
				l.Database, t, l.onCluster(), l.Database, l.TableName(t), l.Cluster, l.Database, l.TableName(t), shardBy)
		},
	}
}

// render executes m's template for l and splits it into statements.
func (m Migration) render(l layout) ([]statement, error) {
	t, err := template.New(m.Name).Option("missingkey=error").Funcs(l.funcs()).Parse(m.text)
	if err != nil {
		return nil, fmt.Errorf("migration %04d_%s: %w", m.Version, m.Name, err)
	}
	var b strings.Builder
	if err := t.Execute(&b, nil); err != nil {
		return nil, fmt.Errorf("migration %04d_%s: %w", m.Version, m.Name, err)
	}
	return splitStatements(b.String())
}

// splitStatements splits rendered SQL into statements ending with ";" at
// the end of a line, dropping comment lines and attaching guards.
func splitStatements(sql string) ([]statement, error) {
	var (
		out   []statement
		cur   strings.Builder
		guard [2]string
	)
	sc := bufio.NewScanner(strings.NewReader(sql))
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		trim := strings.TrimSpace(line)
		if strings.HasPrefix(trim, "--") {
			if g, ok := strings.CutPrefix(trim, "-- fluoro:unless-column "); ok {
				f := strings.Fields(g)
				if len(f) != 2 {
					return nil, fmt.Errorf("unless-column %q: want <table> <column>", g)
				}
				guard = [2]string{f[0], f[1]}
			}
			continue
		}
		if trim == "" && cur.Len() == 0 {
			continue
		}
		cur.WriteString(line)
		cur.WriteByte('\n')
		if strings.HasSuffix(trim, ";") {
			s := strings.TrimSpace(cur.String())
			s = strings.TrimSpace(strings.TrimSuffix(s, ";"))
			if s != "" {
				out = append(out, statement{SQL: s, UnlessColumn: guard})
			}
			cur.Reset()
			guard = [2]string{}
		}
	}
	if rest := strings.TrimSpace(cur.String()); rest != "" {
		return nil, fmt.Errorf("statement without a final ';': %.60q", rest)
	}
	return out, nil
}
