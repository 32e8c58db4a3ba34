package store

import (
	"archive/zip"
	"bytes"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"testing"
	"time"
)

type entry struct {
	name, body string
	mode       fs.FileMode
}

func makeZip(t *testing.T, entries ...entry) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for _, e := range entries {
		h := &zip.FileHeader{Name: e.name, Method: zip.Deflate}
		if e.mode != 0 {
			h.SetMode(e.mode)
		}
		w, err := zw.CreateHeader(h)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := w.Write([]byte(e.body)); err != nil {
			t.Fatal(err)
		}
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestReadZip(t *testing.T) {
	tests := []struct {
		name string
		zip  []byte
		err  bool
		has  string
	}{
		{name: "ok", zip: makeZip(t, entry{name: "bootstrap", body: "#!/bin/sh", mode: 0o755}, entry{name: "lib/a.txt", body: "a"}), has: "bootstrap"},
		{name: "not a zip", zip: []byte("hello"), err: true},
		{name: "slip", zip: makeZip(t, entry{name: "../evil", body: "x"}), err: true},
		{name: "absolute", zip: makeZip(t, entry{name: "/etc/evil", body: "x"}), err: true},
		{name: "dir entry", zip: makeZip(t, entry{name: "d/", mode: fs.ModeDir | 0o755}, entry{name: "d/x.py", body: "x"}), has: "d/x.py"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p, err := ReadZip(tc.zip)
			if tc.err {
				if !errors.Is(err, ErrBadZip) {
					t.Fatalf("err = %v, want ErrBadZip", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !p.Has(tc.has) {
				t.Errorf("package lacks %s: %v", tc.has, p.Files)
			}
		})
	}
}

func TestStoreLifecycle(t *testing.T) {
	dir := t.TempDir()
	s, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	z := makeZip(t, entry{name: "bootstrap", body: "#!/bin/sh\necho hi\n", mode: 0o644}, entry{name: "sub/data.txt", body: "d", mode: 0o600})
	ref, err := s.PutZip(z)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now().UTC().Truncate(time.Millisecond)
	f := &Function{Name: "fn", Created: now, Latest: Config{Runtime: "provided.al2023", Handler: "h", Timeout: 3, MemorySize: 128,
		Environment: map[string]string{"A": "1"}, TracingMode: "PassThrough", Code: ref, LastModified: now, RevisionID: "r1"}}
	if err := s.Create(f); err != nil {
		t.Fatal(err)
	}
	if err := s.Create(f); !errors.Is(err, ErrExists) {
		t.Fatalf("duplicate create: %v", err)
	}
	// A failing change has no effect.
	if _, err := s.Update("fn", func(f *Function) error { f.Latest.Timeout = 99; return errors.New("no") }); err == nil {
		t.Fatal("want error")
	}
	got, _ := s.Get("fn")
	if got.Latest.Timeout != 3 {
		t.Fatal("failed update leaked")
	}
	if _, err := s.Update("fn", func(f *Function) error {
		f.LastVersion++
		f.Versions = append(f.Versions, Version{Version: "1", Config: f.Latest.Clone()})
		f.Aliases = map[string]*Alias{"live": {Name: "live", FunctionVersion: "1"}}
		f.Latest.Environment["A"] = "2"
		r := 5
		f.Reserved = &r
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	// The old snapshot is untouched.
	if got.Latest.Environment["A"] != "1" {
		t.Error("snapshot mutated by Update")
	}

	// Reopen: everything is back.
	s2, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	f2, ok := s2.Get("fn")
	if !ok || f2.Latest.Environment["A"] != "2" || f2.Version("1") == nil || f2.Aliases["live"].FunctionVersion != "1" ||
		*f2.Reserved != 5 || !f2.Created.Equal(now) {
		t.Fatalf("reopened: %+v", f2)
	}
	if !f2.Version("1").Config.SameContent(f2.Version("1").Config) || f2.Version("1").Config.SameContent(f2.Latest) {
		t.Error("SameContent")
	}

	work := t.TempDir()
	cd, err := s2.CodeDir(f2.Latest.Code, work)
	if err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(filepath.Join(cd, "bootstrap"))
	if err != nil || fi.Mode().Perm() != 0o755 {
		t.Errorf("bootstrap mode = %v, %v", fi.Mode(), err)
	}
	fi, err = os.Stat(filepath.Join(cd, "sub", "data.txt"))
	if err != nil || fi.Mode().Perm() != 0o644 {
		t.Errorf("data mode = %v, %v", fi.Mode(), err)
	}

	if _, err := s2.Delete("fn"); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(s2.ZipPath(ref)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("unreferenced zip kept: %v", err)
	}
	if _, err := s2.Delete("fn"); !errors.Is(err, ErrNotFound) {
		t.Errorf("second delete: %v", err)
	}
	s3, _ := Open(dir)
	if len(s3.List()) != 0 {
		t.Error("deleted function came back")
	}
}

func TestExtractRejectsEscapingSymlink(t *testing.T) {
	z := makeZip(t, entry{name: "link", body: "../../etc/passwd", mode: fs.ModeSymlink | 0o777})
	zr, err := zip.NewReader(bytes.NewReader(z), int64(len(z)))
	if err != nil {
		t.Fatal(err)
	}
	if err := Extract(zr, t.TempDir()); !errors.Is(err, ErrBadZip) {
		t.Errorf("err = %v", err)
	}
}

func FuzzReadZip(f *testing.F) {
	f.Add([]byte("PK\x03\x04"))
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	w, _ := zw.Create("bootstrap")
	_, _ = w.Write([]byte("x"))
	zw.Close()
	f.Add(buf.Bytes())
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := ReadZip(b)
		if err != nil {
			return
		}
		dst := t.TempDir()
		_ = Extract(p.Reader, dst) // must not panic or write outside dst
	})
}
