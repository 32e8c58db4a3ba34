package runtimes

import (
	"errors"
	"flag"
	"os"
	"path/filepath"
	"slices"
	"testing"
)

func TestLookup(t *testing.T) {
	tests := []struct {
		id       string
		ok       bool
		family   Family
		native   bool
		execEnv  string
		fileName string
	}{
		{"nodejs18.x", true, FamilyNode, false, "AWS_Lambda_nodejs18.x", "bootstrap.mjs"},
		{"nodejs20.x", true, FamilyNode, false, "AWS_Lambda_nodejs20.x", "bootstrap.mjs"},
		{"nodejs22.x", true, FamilyNode, false, "AWS_Lambda_nodejs22.x", "bootstrap.mjs"},
		{"python3.12", true, FamilyPython, false, "AWS_Lambda_python3.12", "bootstrap.py"},
		{"python3.9", true, FamilyPython, false, "AWS_Lambda_python3.9", "bootstrap.py"},
		{"provided.al2023", true, FamilyProvided, true, "", ""},
		{"provided.al2", true, FamilyProvided, true, "", ""},
		{"provided", false, "", false, "", ""},
		{"nodejs16.x", false, "", false, "", ""},
		{"java21", false, "", false, "", ""},
		{"", false, "", false, "", ""},
	}
	for _, tt := range tests {
		r, ok := Lookup(tt.id)
		if ok != tt.ok || r.Family != tt.family || r.Native() != tt.native || r.ExecutionEnv != tt.execEnv || r.BootstrapFile != tt.fileName {
			t.Errorf("Lookup(%q) = %+v, %v", tt.id, r, ok)
		}
		if ok && !slices.Contains(Supported(), tt.id) {
			t.Errorf("Supported() lacks %q", tt.id)
		}
		wantEnv := []string(nil)
		if tt.execEnv != "" {
			wantEnv = []string{"AWS_EXECUTION_ENV=" + tt.execEnv}
		}
		if !slices.Equal(r.Env(), wantEnv) {
			t.Errorf("%q Env() = %q", tt.id, r.Env())
		}
	}
	if s := Supported(); !slices.IsSorted(s) || len(s) != 12 {
		t.Errorf("Supported() = %q", s)
	}
}

func TestWriteBootstrapErrors(t *testing.T) {
	dir := t.TempDir()
	missing := Config{Node: filepath.Join(dir, "no-node"), Python: "no-such-python-xyz"}
	tests := []struct {
		cfg  Config
		id   string
		want error
	}{
		{DefaultConfig(), "ruby3.3", ErrUnsupported},
		{DefaultConfig(), "provided.al2023", ErrNative},
		{missing, "nodejs20.x", ErrInterpreterNotFound},
		{missing, "python3.12", ErrInterpreterNotFound},
	}
	for _, tt := range tests {
		cmd, err := tt.cfg.WriteBootstrap(dir, tt.id)
		if !errors.Is(err, tt.want) || cmd != nil {
			t.Errorf("WriteBootstrap(%q) = %q, %v; want %v", tt.id, cmd, err, tt.want)
		}
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Errorf("failed calls wrote %d files", len(entries))
	}
}

func TestWriteBootstrapCommand(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "rt")
	for _, id := range []string{"nodejs22.x", "python3.11"} {
		r, _ := Lookup(id)
		interp, err := DefaultConfig().Interpreter(r)
		if err != nil {
			t.Fatal(err)
		}
		cmd, err := WriteBootstrap(dir, id)
		if err != nil {
			t.Fatal(err)
		}
		path := filepath.Join(dir, r.BootstrapFile)
		if cmd[0] != interp || !filepath.IsAbs(cmd[0]) || cmd[len(cmd)-1] != path {
			t.Errorf("%s: cmd %q", id, cmd)
		}
		b, err := os.ReadFile(path)
		if err != nil || string(b) != string(Bootstrap(r.Family)) {
			t.Errorf("%s: bootstrap file differs from the embedded source (%v)", id, err)
		}
		// A second call keeps the same file (no rewrite, no temp files left).
		st1, _ := os.Stat(path)
		if _, err := WriteBootstrap(dir, id); err != nil {
			t.Fatal(err)
		}
		st2, _ := os.Stat(path)
		if !os.SameFile(st1, st2) {
			t.Errorf("%s: unchanged bootstrap was rewritten", id)
		}
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 2 {
		t.Errorf("dir has %d entries, want 2", len(entries))
	}
}

func TestConfigFlags(t *testing.T) {
	var c Config
	fs := flag.NewFlagSet("x", flag.ContinueOnError)
	c.RegisterFlags(fs)
	if c != DefaultConfig() || c.Validate() != nil {
		t.Fatalf("defaults %+v", c)
	}
	if err := fs.Parse([]string{"-runtime-node=/opt/node/bin/node", "-runtime-python=python3.13"}); err != nil {
		t.Fatal(err)
	}
	if c.Node != "/opt/node/bin/node" || c.Python != "python3.13" {
		t.Errorf("parsed %+v", c)
	}
	if err := (Config{Python: "python3"}).Validate(); err == nil {
		t.Error("empty Node accepted")
	}
	if err := (Config{Node: "node"}).Validate(); err == nil {
		t.Error("empty Python accepted")
	}
}
