package schema

import (
	"flag"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"testing/fstest"
	"time"
)

var update = flag.Bool("update", false, "rewrite golden files under testdata/")

func TestSplitStatements(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		want    []statement
		wantErr string
	}{
		{
			name: "two statements with comments and a guard",
			in:   "-- header\nCREATE TABLE a (x UInt8)\nENGINE = Memory;\n\n-- fluoro:unless-column a y\nALTER TABLE a ADD COLUMN y String;\n",
			want: []statement{
				{SQL: "CREATE TABLE a (x UInt8)\nENGINE = Memory"},
				{SQL: "ALTER TABLE a ADD COLUMN y String", UnlessColumn: [2]string{"a", "y"}},
			},
		},
		{name: "empty", in: "-- nothing\n\n", want: nil},
		{name: "missing semicolon", in: "SELECT 1\n", wantErr: "final ';'"},
		{name: "bad guard", in: "-- fluoro:unless-column a\nSELECT 1;\n", wantErr: "unless-column"},
		{name: "semicolon inside a line is not a terminator", in: "SELECT ';' AS x;\n", want: []statement{{SQL: "SELECT ';' AS x"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := splitStatements(tt.in)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(tt.want) {
				t.Fatalf("got %d statements %q, want %d", len(got), got, len(tt.want))
			}
			for i := range got {
				if got[i] != tt.want[i] {
					t.Errorf("statement %d = %+v, want %+v", i, got[i], tt.want[i])
				}
			}
		})
	}
}

func TestLoadMigrations(t *testing.T) {
	tests := []struct {
		name    string
		fs      fstest.MapFS
		want    []int
		wantErr string
	}{
		{"sorted", fstest.MapFS{"0002_b.sql": {Data: []byte("SELECT 2;\n")}, "0001_a.sql": {Data: []byte("SELECT 1;\n")}, "README": {}}, []int{1, 2}, ""},
		{"bad name", fstest.MapFS{"1_a.sql": {}}, nil, "NNNN_lower_case.sql"},
		{"duplicate version", fstest.MapFS{"0001_a.sql": {}, "0001_b.sql": {}}, nil, "share version 1"},
		{"bad min-server", fstest.MapFS{"0001_a.sql": {Data: []byte("-- fluoro:min-server x\n")}}, nil, "clickhouse version"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ms, err := LoadMigrations(tt.fs)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var got []int
			for _, m := range ms {
				got = append(got, m.Version)
			}
			if len(got) != len(tt.want) || got[0] != tt.want[0] || got[len(got)-1] != tt.want[len(tt.want)-1] {
				t.Fatalf("versions %v, want %v", got, tt.want)
			}
		})
	}
}

// goldenMigrations are the migrations whose renderings are kept in
// testdata/render (the baseline tables); every migration is checked by
// TestRenderAll.
var goldenMigrations = map[string]bool{"spans": true, "documents": true}

// TestRenderGolden renders the baseline migrations for a single server and
// for a cluster and compares them with testdata/render/*.sql (regenerate
// with go test -run TestRenderGolden -update).
func TestRenderGolden(t *testing.T) {
	ms, err := LoadMigrations(Migrations())
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range []layout{{Database: "fluoro"}, {Database: "fluoro", Cluster: "traces"}} {
		var b strings.Builder
		n := 0
		for _, m := range ms {
			if !goldenMigrations[m.Name] {
				continue
			}
			n++
			stmts, err := m.render(l)
			if err != nil {
				t.Fatal(err)
			}
			for _, s := range stmts {
				b.WriteString("-- " + m.Name + "\n" + s.SQL + ";\n\n")
			}
		}
		if n != len(goldenMigrations) {
			t.Fatalf("found %d of the golden migrations", n)
		}
		name := "single.sql"
		if l.Cluster != "" {
			name = "cluster.sql"
			for _, want := range []string{
				"CREATE TABLE IF NOT EXISTS fluoro.spans_local ON CLUSTER traces",
				"ReplicatedReplacingMergeTree('/clickhouse/tables/{shard}/fluoro/spans_local', '{replica}', version)",
				"ENGINE = Distributed(traces, fluoro, spans_local, cityHash64(trace_id))",
				"ENGINE = Distributed(traces, fluoro, documents_local, cityHash64(trace_id))",
			} {
				if !strings.Contains(b.String(), want) {
					t.Errorf("cluster rendering lacks %q", want)
				}
			}
		}
		golden := filepath.Join("testdata", "render", name)
		if *update {
			if err := os.MkdirAll(filepath.Dir(golden), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(golden, []byte(b.String()), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		want, err := os.ReadFile(golden)
		if err != nil {
			t.Fatalf("%v (run with -update to create it)", err)
		}
		if b.String() != string(want) {
			t.Errorf("%s differs from the rendering; run go test -run TestRenderGolden -update and review the diff", golden)
		}
	}
}

// TestRenderAll checks every embedded migration in both layouts: on a
// single server nothing mentions the cluster; on a cluster every CREATE
// and ALTER runs ON CLUSTER and every MergeTree engine is replicated.
func TestRenderAll(t *testing.T) {
	ms, err := LoadMigrations(Migrations())
	if err != nil {
		t.Fatal(err)
	}
	if len(ms) == 0 {
		t.Fatal("no embedded migrations")
	}
	engine := regexp.MustCompile(`(\w*)MergeTree\(`)
	for _, m := range ms {
		for _, l := range []layout{{Database: "fluoro"}, {Database: "fluoro", Cluster: "traces"}} {
			stmts, err := m.render(l)
			if err != nil {
				t.Fatalf("%s: %v", m.Name, err)
			}
			for _, st := range stmts {
				sql := st.SQL
				if l.Cluster == "" {
					if strings.Contains(sql, "ON CLUSTER") || strings.Contains(sql, "Replicated") || strings.Contains(sql, "Distributed(") {
						t.Errorf("%s, single server: %s", m.Name, firstLine(sql))
					}
					continue
				}
				verb := strings.ToUpper(strings.Fields(sql)[0])
				if (verb == "CREATE" || verb == "ALTER") && !strings.Contains(sql, "ON CLUSTER traces") {
					t.Errorf("%s, cluster: not ON CLUSTER: %s", m.Name, firstLine(sql))
				}
				for _, e := range engine.FindAllStringSubmatch(sql, -1) {
					if !strings.HasPrefix(e[1], "Replicated") {
						t.Errorf("%s, cluster: engine %sMergeTree is not replicated", m.Name, e[1])
					}
				}
			}
		}
	}
}

func TestEngineTemplateErrors(t *testing.T) {
	m := Migration{Name: "x", text: `{{engine "t" "Memory"}};` + "\n"}
	if _, err := m.render(layout{Database: "d", Cluster: "c"}); err == nil {
		t.Fatal("non-MergeTree engine accepted on a cluster")
	}
	if _, err := m.render(layout{Database: "d"}); err != nil {
		t.Fatalf("single server: %v", err)
	}
}

func TestParseVersion(t *testing.T) {
	tests := []struct {
		in      string
		want    Version
		wantErr bool
	}{
		{"18.16.1", Version{18, 16, 1}, false},
		{"24.3.2.23", Version{24, 3, 2}, false},
		{"19.1", Version{19, 1, 0}, false},
		{"19", Version{}, true},
		{"a.b", Version{}, true},
	}
	for _, tt := range tests {
		got, err := ParseVersion(tt.in)
		if (err != nil) != tt.wantErr || got != tt.want {
			t.Errorf("ParseVersion(%q) = %v, %v; want %v, err %v", tt.in, got, err, tt.want, tt.wantErr)
		}
	}
	if !(Version{18, 16, 1}).Less(Version{19, 1, 0}) || (Version{19, 1, 0}).Less(Version{18, 16, 1}) || (Version{19, 1, 0}).Less(Version{19, 1, 0}) {
		t.Error("Less is wrong")
	}
}

func TestConfig(t *testing.T) {
	var c Config
	fs := flag.NewFlagSet("x", flag.ContinueOnError)
	c.RegisterFlags(fs)
	if c.Retention != 7*24*time.Hour {
		t.Fatalf("default retention %v", c.Retention)
	}
	if got := fs.Lookup("retention").DefValue; got != "7d" {
		t.Errorf("retention default shown as %q", got)
	}
	tests := []struct {
		args    []string
		wantErr string
		check   func(Config) bool
	}{
		{[]string{"--retention=14d"}, "", func(c Config) bool { return c.Retention == 14*24*time.Hour }},
		{[]string{"--retention=36h"}, "", func(c Config) bool { return c.Retention == 36*time.Hour }},
		{[]string{"--retention=12h"}, "less than one day", nil},
		{[]string{"--retention=x"}, "invalid value", nil},
		{[]string{"--clickhouse=http://h:8123/db"}, "native protocol", nil},
		{[]string{"--clickhouse=clickhouse://h:9000/bad-name"}, "plain identifier", nil},
		{[]string{"--clickhouse=clickhouse://h:9000/fl"}, "", func(c Config) bool { return c.DSN != "" }},
		{[]string{"--clickhouse-cluster=a;b"}, "plain identifier", nil},
		{[]string{"--retention-check-interval=0s"}, "must be positive", nil},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			var c Config
			fs := flag.NewFlagSet("x", flag.ContinueOnError)
			fs.SetOutput(new(strings.Builder))
			c.RegisterFlags(fs)
			err := fs.Parse(tt.args)
			if err == nil {
				err = c.Validate()
			}
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil || !tt.check(c) {
				t.Fatalf("err = %v, config %+v", err, c)
			}
		})
	}
}

func TestParseDSN(t *testing.T) {
	tests := []struct {
		dsn, db, addr string
		wantErr       bool
	}{
		{"clickhouse://127.0.0.1:19000/fluoro", "fluoro", "127.0.0.1:19000", false},
		{"clickhouse://127.0.0.1:19000", DefaultDatabase, "127.0.0.1:19000", false},
		{"tcp://u:p@h:9000/x?dial_timeout=2s", "x", "h:9000", false},
		{"http://h:8123/x", "", "", true},
		{"clickhouse:///x", "", "", true},
		{"::", "", "", true},
	}
	for _, tt := range tests {
		opts, db, err := ParseDSN(tt.dsn)
		if (err != nil) != tt.wantErr {
			t.Errorf("ParseDSN(%q) err = %v", tt.dsn, err)
			continue
		}
		if err != nil {
			continue
		}
		if db != tt.db || opts.Addr[0] != tt.addr || opts.Auth.Database != "" {
			t.Errorf("ParseDSN(%q) = %v %q %q", tt.dsn, opts.Addr, db, opts.Auth.Database)
		}
	}
	if got := RedactDSN("clickhouse://u:secret@h:9000/x"); strings.Contains(got, "secret") {
		t.Errorf("RedactDSN left the password: %s", got)
	}
}
