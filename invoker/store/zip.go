package store

import (
	"archive/zip"
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
)

// Limits of code packages (Lambda's quotas).
const (
	MaxZipBytes      = 50 << 20    // zipped, direct upload: 52,428,800
	MaxUnzippedBytes = 262_144_000 // unzipped
)

// ErrBadZip reports a package that cannot be used: not a zip, unsafe paths,
// or over the unzipped size limit.
var ErrBadZip = errors.New("invalid zip package")

// ErrUnzippedTooLarge reports a package over MaxUnzippedBytes.
var ErrUnzippedTooLarge = fmt.Errorf("%w: Unzipped size must be smaller than %d bytes", ErrBadZip, MaxUnzippedBytes)

// Package summarises a validated zip.
type Package struct {
	Reader *zip.Reader
	// Files maps each regular file's cleaned path to its mode.
	Files map[string]fs.FileMode
}

// Has reports whether the package contains the file name.
func (p *Package) Has(name string) bool {
	_, ok := p.Files[name]
	return ok
}

// ReadZip validates zip bytes: a readable archive, entries with relative
// paths that stay inside the root, symlinks that stay inside the root, and an
// unzipped size within MaxUnzippedBytes.
func ReadZip(b []byte) (*Package, error) {
	zr, err := zip.NewReader(bytes.NewReader(b), int64(len(b)))
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrBadZip, err)
	}
	p := &Package{Reader: zr, Files: make(map[string]fs.FileMode)}
	var total uint64
	for _, f := range zr.File {
		name, err := cleanEntry(f.Name)
		if err != nil {
			return nil, err
		}
		total += f.UncompressedSize64
		if total > MaxUnzippedBytes {
			return nil, ErrUnzippedTooLarge
		}
		if name == "" || f.FileInfo().IsDir() {
			continue
		}
		if f.Mode()&fs.ModeSymlink != 0 {
			continue
		}
		p.Files[name] = f.Mode()
	}
	return p, nil
}

// cleanEntry returns the slash-separated clean path of a zip entry, refusing
// absolute paths and paths that leave the root.
func cleanEntry(name string) (string, error) {
	n := strings.ReplaceAll(name, "\\", "/")
	if strings.HasPrefix(n, "/") {
		return "", fmt.Errorf("%w: absolute path %q", ErrBadZip, name)
	}
	c := path.Clean(n)
	if c == "." {
		return "", nil
	}
	if c == ".." || strings.HasPrefix(c, "../") {
		return "", fmt.Errorf("%w: path %q leaves the package", ErrBadZip, name)
	}
	return c, nil
}

// ZipFile is an opened stored zip.
type ZipFile struct {
	*zip.Reader
	f *os.File
}

// Close closes the underlying file.
func (z *ZipFile) Close() error { return z.f.Close() }

// OpenZip opens a stored zip.
func OpenZip(p string) (*ZipFile, error) {
	f, err := os.Open(p)
	if err != nil {
		return nil, fmt.Errorf("store: %w", err)
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("store: %w", err)
	}
	zr, err := zip.NewReader(f, fi.Size())
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("%w: %w", ErrBadZip, err)
	}
	return &ZipFile{Reader: zr, f: f}, nil
}

// Extract writes zr's entries under dst (which must exist). Files become
// readable by everyone (executable by everyone when any x bit is set),
// directories 0755, and a top-level "bootstrap" is made executable.
func Extract(zr *zip.Reader, dst string) error {
	var total int64
	for _, f := range zr.File {
		name, err := cleanEntry(f.Name)
		if err != nil {
			return err
		}
		if name == "" {
			continue
		}
		target := filepath.Join(dst, filepath.FromSlash(name))
		mode := f.Mode()
		switch {
		case f.FileInfo().IsDir():
			if err := os.MkdirAll(target, 0o755); err != nil {
				return fmt.Errorf("store: extract: %w", err)
			}
			continue
		case mode&fs.ModeSymlink != 0:
			if err := extractSymlink(f, name, target); err != nil {
				return err
			}
			continue
		}
		if err := os.MkdirAll(filepath.Dir(target), 0o755); err != nil {
			return fmt.Errorf("store: extract: %w", err)
		}
		perm := fs.FileMode(0o644)
		if mode&0o111 != 0 || name == "bootstrap" {
			perm = 0o755
		}
		n, err := extractFile(f, target, perm, MaxUnzippedBytes-total)
		total += n
		if err != nil {
			return err
		}
	}
	return nil
}

func extractFile(f *zip.File, target string, perm fs.FileMode, budget int64) (int64, error) {
	rc, err := f.Open()
	if err != nil {
		return 0, fmt.Errorf("%w: %s: %w", ErrBadZip, f.Name, err)
	}
	defer rc.Close()
	out, err := os.OpenFile(target, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, perm)
	if err != nil {
		return 0, fmt.Errorf("store: extract: %w", err)
	}
	n, err := io.Copy(out, io.LimitReader(rc, budget+1))
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return n, fmt.Errorf("%w: %s: %w", ErrBadZip, f.Name, err)
	}
	if n > budget {
		return n, ErrUnzippedTooLarge
	}
	if err := os.Chmod(target, perm); err != nil { // umask-independent
		return n, fmt.Errorf("store: extract: %w", err)
	}
	return n, nil
}

func extractSymlink(f *zip.File, name, target string) error {
	rc, err := f.Open()
	if err != nil {
		return fmt.Errorf("%w: %s: %w", ErrBadZip, f.Name, err)
	}
	link, err := io.ReadAll(io.LimitReader(rc, 4096))
	rc.Close()
	if err != nil {
		return fmt.Errorf("%w: %s: %w", ErrBadZip, f.Name, err)
	}
	dest := string(link)
	if path.IsAbs(dest) {
		return fmt.Errorf("%w: symlink %q points outside the package", ErrBadZip, f.Name)
	}
	if _, err := cleanEntry(path.Join(path.Dir(name), dest)); err != nil {
		return fmt.Errorf("%w: symlink %q points outside the package", ErrBadZip, f.Name)
	}
	if err := os.MkdirAll(filepath.Dir(target), 0o755); err != nil {
		return fmt.Errorf("store: extract: %w", err)
	}
	if err := os.Symlink(dest, target); err != nil {
		return fmt.Errorf("store: extract: %w", err)
	}
	return nil
}
