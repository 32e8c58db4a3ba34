package store

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
)

// Errors callers branch on.
var (
	ErrNotFound = errors.New("not found")
	ErrExists   = errors.New("already exists")
)

// Store is the durable state. It is safe for concurrent use.
type Store struct {
	dir string

	mu  sync.RWMutex
	fns map[string]*Function

	extractMu sync.Mutex
}

// Open loads the state under dir, creating the folders when missing.
func Open(dir string) (*Store, error) {
	for _, d := range []string{dir, filepath.Join(dir, "functions"), filepath.Join(dir, "code")} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			return nil, fmt.Errorf("store: %w", err)
		}
	}
	s := &Store{dir: dir, fns: make(map[string]*Function)}
	entries, err := os.ReadDir(filepath.Join(dir, "functions"))
	if err != nil {
		return nil, fmt.Errorf("store: %w", err)
	}
	for _, e := range entries {
		name, ok := strings.CutSuffix(e.Name(), ".json")
		if !ok || e.IsDir() {
			continue
		}
		b, err := os.ReadFile(filepath.Join(dir, "functions", e.Name()))
		if err != nil {
			return nil, fmt.Errorf("store: %w", err)
		}
		var f Function
		if err := json.Unmarshal(b, &f); err != nil {
			return nil, fmt.Errorf("store: decode %s: %w", e.Name(), err)
		}
		if f.Name != name {
			return nil, fmt.Errorf("store: %s holds function %q", e.Name(), f.Name)
		}
		s.fns[name] = &f
	}
	return s, nil
}

// Dir returns the data folder.
func (s *Store) Dir() string { return s.dir }

// Get returns the function, which must not be modified.
func (s *Store) Get(name string) (*Function, bool) {
	s.mu.RLock()
	f, ok := s.fns[name]
	s.mu.RUnlock()
	return f, ok
}

// List returns every function sorted by name.
func (s *Store) List() []*Function {
	s.mu.RLock()
	out := make([]*Function, 0, len(s.fns))
	for _, f := range s.fns {
		out = append(out, f)
	}
	s.mu.RUnlock()
	slices.SortFunc(out, func(a, b *Function) int { return strings.Compare(a.Name, b.Name) })
	return out
}

// Create persists a new function. It returns ErrExists when the name is
// taken.
func (s *Store) Create(f *Function) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.fns[f.Name]; ok {
		return fmt.Errorf("function %s: %w", f.Name, ErrExists)
	}
	if err := s.write(f); err != nil {
		return err
	}
	s.fns[f.Name] = f
	return nil
}

// Update applies change to a copy of the function and persists it; change's
// error aborts without any effect. It returns the new function.
func (s *Store) Update(name string, change func(f *Function) error) (*Function, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	old, ok := s.fns[name]
	if !ok {
		return nil, fmt.Errorf("function %s: %w", name, ErrNotFound)
	}
	f := old.Clone()
	if err := change(f); err != nil {
		return nil, err
	}
	if err := s.write(f); err != nil {
		return nil, err
	}
	s.fns[name] = f
	return f, nil
}

// Delete removes the function and the code packages nobody references any
// more. It returns the deleted function.
func (s *Store) Delete(name string) (*Function, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	f, ok := s.fns[name]
	if !ok {
		return nil, fmt.Errorf("function %s: %w", name, ErrNotFound)
	}
	if err := os.Remove(s.functionPath(name)); err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("store: %w", err)
	}
	delete(s.fns, name)
	s.gcLocked()
	return f, nil
}

// GC removes stored zips that no function references. Delete and Update
// callers that drop code call it.
func (s *Store) GC() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.gcLocked()
}

func (s *Store) gcLocked() {
	used := map[string]bool{}
	for _, f := range s.fns {
		for _, r := range f.CodeRefs() {
			used[r.Key] = true
		}
	}
	entries, _ := os.ReadDir(filepath.Join(s.dir, "code"))
	for _, e := range entries {
		key, ok := strings.CutSuffix(e.Name(), ".zip")
		if ok && !used[key] {
			_ = os.Remove(filepath.Join(s.dir, "code", e.Name()))
		}
	}
}

func (s *Store) functionPath(name string) string {
	return filepath.Join(s.dir, "functions", name+".json")
}

func (s *Store) write(f *Function) error {
	b, err := json.MarshalIndent(f, "", "  ")
	if err != nil {
		return fmt.Errorf("store: encode %s: %w", f.Name, err)
	}
	return writeFileAtomic(s.functionPath(f.Name), b)
}

// writeFileAtomic writes b to path through a synced temporary file and a
// rename, so a crash leaves the old or the new content, never a mix.
func writeFileAtomic(path string, b []byte) error {
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, ".tmp-*")
	if err != nil {
		return fmt.Errorf("store: %w", err)
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(b); err != nil {
		tmp.Close()
		return fmt.Errorf("store: write %s: %w", path, err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return fmt.Errorf("store: sync %s: %w", path, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("store: %w", err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("store: %w", err)
	}
	if d, err := os.Open(dir); err == nil {
		_ = d.Sync()
		d.Close()
	}
	return nil
}

// PutZip stores a validated zip package and returns its reference. Storing
// the same bytes twice is a no-op.
func (s *Store) PutZip(zipBytes []byte) (CodeRef, error) {
	sum := sha256.Sum256(zipBytes)
	ref := CodeRef{
		Sha256: base64.StdEncoding.EncodeToString(sum[:]),
		Size:   int64(len(zipBytes)),
		Key:    hex.EncodeToString(sum[:]),
	}
	path := s.ZipPath(ref)
	if _, err := os.Stat(path); err == nil {
		return ref, nil
	}
	if err := writeFileAtomic(path, zipBytes); err != nil {
		return CodeRef{}, err
	}
	return ref, nil
}

// DirRef returns the reference of a local code directory.
func DirRef(dir string) CodeRef {
	sum := sha256.Sum256([]byte(dir))
	return CodeRef{Sha256: base64.StdEncoding.EncodeToString(sum[:]), Dir: dir}
}

// ZipPath returns where ref's zip is stored ("" for a directory).
func (s *Store) ZipPath(ref CodeRef) string {
	if ref.Key == "" {
		return ""
	}
	return filepath.Join(s.dir, "code", ref.Key+".zip")
}

// CodeDir returns a directory holding ref's code: the local directory
// itself, or the zip extracted under workDir/code/<key> (extracted once, on
// first use, with files readable by every user).
func (s *Store) CodeDir(ref CodeRef, workDir string) (string, error) {
	if ref.Dir != "" {
		return ref.Dir, nil
	}
	dst := filepath.Join(workDir, "code", ref.Key)
	if _, err := os.Stat(dst); err == nil {
		return dst, nil
	}
	s.extractMu.Lock()
	defer s.extractMu.Unlock()
	if _, err := os.Stat(dst); err == nil {
		return dst, nil
	}
	zr, err := OpenZip(s.ZipPath(ref))
	if err != nil {
		return "", err
	}
	defer zr.Close()
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return "", fmt.Errorf("store: %w", err)
	}
	tmp, err := os.MkdirTemp(filepath.Dir(dst), ".extract-*")
	if err != nil {
		return "", fmt.Errorf("store: %w", err)
	}
	if err := Extract(zr.Reader, tmp); err != nil {
		_ = os.RemoveAll(tmp)
		return "", err
	}
	if err := os.Chmod(tmp, 0o755); err != nil {
		_ = os.RemoveAll(tmp)
		return "", fmt.Errorf("store: %w", err)
	}
	if err := os.Rename(tmp, dst); err != nil {
		_ = os.RemoveAll(tmp)
		return "", fmt.Errorf("store: %w", err)
	}
	return dst, nil
}
