package asyncq

import (
	"bufio"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"sync"
)

// dlq keeps the dead letters of each function in its own file
// dlq/<function>.log (framed recDead records, fsynced). When a file holds
// more than twice the configured maximum it is rewritten with the newest
// maximum records (temp file + rename), so the store stays bounded.
type dlq struct {
	dir   string
	max   int
	log   *slog.Logger
	stats *counters

	mu     sync.Mutex
	counts map[string]int // records per function file, once known
}

var safeName = regexp.MustCompile(`^[A-Za-z0-9_-]{1,140}$`)

// fileFor maps a function name to its file; names outside Lambda's
// character set are hex-encoded.
func (d *dlq) fileFor(fn string) string {
	name := fn
	if !safeName.MatchString(fn) {
		name = "x-" + hex.EncodeToString([]byte(fn))
	}
	return filepath.Join(d.dir, name+".log")
}

func (d *dlq) add(c *Completion) error {
	frame := appendFrame(nil, recDead, encodeCompletion(c))
	d.mu.Lock()
	defer d.mu.Unlock()
	path := d.fileFor(c.Event.Function)
	n, known := d.counts[c.Event.Function]
	if !known {
		all, err := d.readLocked(path)
		if err != nil {
			return err
		}
		n = len(all)
	}
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return fmt.Errorf("asyncq: open dead-letter file: %w", err)
	}
	_, werr := f.Write(frame)
	serr := f.Sync()
	if err := errors.Join(werr, serr, f.Close()); err != nil {
		return fmt.Errorf("asyncq: write dead letter: %w", err)
	}
	if !known {
		if err := syncDir(d.dir); err != nil {
			return err
		}
	}
	n++
	d.counts[c.Event.Function] = n
	if n > 2*d.max {
		if err := d.trimLocked(c.Event.Function, path); err != nil {
			d.log.Warn("asyncq: trim dead letters", "function", c.Event.Function, "err", err)
		}
	}
	return nil
}

// readLocked returns the valid records of a file, oldest first.
func (d *dlq) readLocked(path string) ([]Completion, error) {
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("asyncq: open dead-letter file: %w", err)
	}
	defer f.Close()
	r := bufio.NewReader(f)
	var out []Completion
	for {
		typ, body, _, err := readFrame(r, nil)
		if err == io.EOF {
			break
		}
		if err != nil {
			d.stats.corrupt.Add(1)
			d.log.Warn("asyncq: damaged dead-letter record; ignoring the rest of the file", "file", path)
			break
		}
		if typ != recDead {
			continue
		}
		c, err := decodeCompletion(body)
		if err != nil {
			d.stats.corrupt.Add(1)
			continue
		}
		out = append(out, c)
	}
	return out, nil
}

func (d *dlq) trimLocked(fn, path string) error {
	all, err := d.readLocked(path)
	if err != nil {
		return err
	}
	if len(all) > d.max {
		all = all[len(all)-d.max:]
	}
	var buf []byte
	for i := range all {
		buf = appendFrame(buf, recDead, encodeCompletion(&all[i]))
	}
	tmp, err := os.CreateTemp(d.dir, ".trim-*")
	if err != nil {
		return fmt.Errorf("asyncq: trim dead letters: %w", err)
	}
	_, werr := tmp.Write(buf)
	if err := errors.Join(werr, tmp.Sync(), tmp.Close()); err != nil {
		os.Remove(tmp.Name())
		return fmt.Errorf("asyncq: trim dead letters: %w", err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		os.Remove(tmp.Name())
		return fmt.Errorf("asyncq: trim dead letters: %w", err)
	}
	d.counts[fn] = len(all)
	return syncDir(d.dir)
}

func (d *dlq) list(fn string) ([]Completion, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	all, err := d.readLocked(d.fileFor(fn))
	if err != nil {
		return nil, err
	}
	d.counts[fn] = len(all)
	if len(all) > d.max {
		all = all[len(all)-d.max:]
	}
	return all, nil
}

func (d *dlq) purge(fn string) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	err := os.Remove(d.fileFor(fn))
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("asyncq: purge dead letters: %w", err)
	}
	d.counts[fn] = 0
	return syncDir(d.dir)
}
