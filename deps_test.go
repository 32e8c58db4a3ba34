package main

import (
	"bufio"
	"bytes"
	"os/exec"
	"strings"
	"testing"
)

const module = "github.com/fluoro/fluoro"

// pkgImports lists every package of the module with its direct imports, and
// with its transitive dependencies, as `go list` sees them (tests excluded).
func pkgImports(t *testing.T, field string) map[string][]string {
	t.Helper()
	out, err := exec.Command("go", "list", "-f", "{{.ImportPath}}\t{{join ."+field+" \" \"}}", "./...").Output()
	if err != nil {
		if ee, ok := err.(*exec.ExitError); ok {
			t.Fatalf("go list: %v\n%s", err, ee.Stderr)
		}
		t.Fatalf("go list: %v", err)
	}
	m := map[string][]string{}
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		path, deps, _ := strings.Cut(sc.Text(), "\t")
		m[path] = strings.Fields(deps)
	}
	return m
}

func rel(p string) string {
	if p == module {
		return "."
	}
	return strings.TrimPrefix(p, module+"/")
}

func under(p string, dirs ...string) bool {
	r := rel(p)
	for _, d := range dirs {
		if r == d || strings.HasPrefix(r, d+"/") {
			return true
		}
	}
	return false
}

// TestDependencyRules enforces ARCHITECTURE.md's import rules.
func TestDependencyRules(t *testing.T) {
	direct := pkgImports(t, "Imports")
	if len(direct) == 0 {
		t.Fatal("go list found no packages")
	}
	// Third-party modules confined to one part of the tree (direct imports).
	confined := []struct {
		prefix  string
		allowed []string
	}{
		{"github.com/ClickHouse/clickhouse-go", []string{"schema"}},
		{"github.com/ClickHouse/ch-go", []string{"schema"}},
		{"github.com/labstack/echo", []string{"query/api", "."}},
		{"github.com/gorilla/websocket", []string{"query/live"}},
		{"go.opentelemetry.io/collector/pdata", []string{"collector/otlp"}},
	}
	// Our own packages that one part of the tree must not import.
	forbidden := []struct {
		from string
		deny []string
	}{
		{"collector", []string{"query", "invoker", "ui", "deploy"}},
		{"schema", []string{"collector", "query", "invoker", "ui", "deploy"}},
		{"query", []string{"invoker", "deploy"}},
		{"ui", []string{"collector", "schema", "query", "invoker", "deploy"}},
		{"deploy", []string{"collector", "schema", "query", "invoker", "ui"}},
	}
	for pkg, imps := range direct {
		for _, imp := range imps {
			for _, c := range confined {
				if strings.HasPrefix(imp, c.prefix) && !under(pkg, c.allowed...) {
					t.Errorf("%s imports %s; only %v may", rel(pkg), imp, c.allowed)
				}
			}
			if !strings.HasPrefix(imp, module+"/") {
				continue
			}
			// The segment model is the shared leaf: everyone may use it, it uses nothing of ours.
			if under(pkg, "collector/segment") {
				t.Errorf("%s imports %s; collector/segment must import nothing of Fluoro's", rel(pkg), rel(imp))
			}
			if under(imp, "collector/segment") {
				continue
			}
			// The managed ClickHouse's config templates live in deploy/clickhouse (a leaf of embedded files).
			if under(pkg, "schema") && under(imp, "deploy/clickhouse") {
				continue
			}
			for _, f := range forbidden {
				if under(pkg, f.from) && !under(imp, f.from) && under(imp, f.deny...) {
					t.Errorf("%s imports %s; %s must not import %v", rel(pkg), rel(imp), f.from, f.deny)
				}
			}
		}
	}
	// The invoker talks to the backend only through public protocols: its
	// whole dependency closure is the standard library and invoker/....
	deps := pkgImports(t, "Deps")
	for pkg, ds := range deps {
		if !under(pkg, "invoker") {
			continue
		}
		for _, d := range ds {
			first, _, _ := strings.Cut(d, "/")
			if !strings.Contains(first, ".") { // standard library
				continue
			}
			if !strings.HasPrefix(d, module+"/invoker") {
				t.Errorf("%s depends on %s; invoker/... may use only the standard library and invoker/...", rel(pkg), d)
			}
		}
	}
}
