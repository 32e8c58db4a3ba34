package asyncq

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
)

// wal is the event log: append-only segment files wal-<index>.log in the
// queue folder. One goroutine owns the active segment; appenders hand it
// framed records and wait until they are on disk. Records of concurrent
// appenders share one fsync (group commit).
//
// Compaction: when the active segment outgrows its limit, the writer starts
// a new segment with a snapshot of every pending event (its event record and
// latest state record, taken from the queue), syncs it and deletes all
// older segments. So the log holds at most two segments, and a restart reads
// only the pending events plus what happened since the last rotation.
type wal struct {
	dir      string
	segBytes int64
	log      *slog.Logger
	stats    *counters
	snapshot func() []byte // frames of all pending events (writer goroutine only)

	reqs chan walReq
	quit chan struct{}
	done chan struct{}

	// Owned by the writer goroutine after start.
	f        *os.File
	idx      uint64
	size     int64
	snapSize int64
	err      error // sticky write/sync failure
}

type walReq struct {
	frames []byte
	done   chan error
}

const walPrefix, walSuffix = "wal-", ".log"

func segName(idx uint64) string { return fmt.Sprintf("%s%020d%s", walPrefix, idx, walSuffix) }

// listSegments returns the segment indexes in dir, ascending.
func listSegments(dir string) ([]uint64, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	var idx []uint64
	for _, e := range entries {
		name := e.Name()
		if !strings.HasPrefix(name, walPrefix) || !strings.HasSuffix(name, walSuffix) {
			continue
		}
		n, err := strconv.ParseUint(strings.TrimSuffix(strings.TrimPrefix(name, walPrefix), walSuffix), 10, 64)
		if err != nil {
			continue
		}
		idx = append(idx, n)
	}
	slices.Sort(idx)
	return idx, nil
}

// replay reads every segment in order and calls apply for each valid
// record. A damaged or torn record ends its segment: the rest of that file is
// skipped and counted (the tail is dropped for good at the first rotation,
// which start performs).
func (w *wal) replay(apply func(typ byte, body []byte)) error {
	segs, err := listSegments(w.dir)
	if err != nil {
		return fmt.Errorf("asyncq: list segments: %w", err)
	}
	var buf []byte
	for _, idx := range segs {
		w.idx = max(w.idx, idx)
		path := filepath.Join(w.dir, segName(idx))
		f, err := os.Open(path)
		if err != nil {
			return fmt.Errorf("asyncq: open segment: %w", err)
		}
		st, err := f.Stat()
		if err != nil {
			f.Close()
			return fmt.Errorf("asyncq: stat segment: %w", err)
		}
		r := bufio.NewReaderSize(f, 1<<16)
		var off int64
		for {
			typ, body, n, err := readFrame(r, buf)
			if err == io.EOF {
				break
			}
			if err != nil {
				lost := st.Size() - off
				w.stats.corrupt.Add(1)
				w.stats.droppedBytes.Add(uint64(lost))
				w.log.Warn("asyncq: damaged or torn record; dropping the rest of the segment",
					"segment", path, "offset", off, "bytes", lost)
				break
			}
			if cap(body) > cap(buf) {
				buf = body[:0]
			}
			off += n
			apply(typ, body)
		}
		f.Close()
	}
	return nil
}

// start rotates to a fresh segment holding the replayed state and starts
// the writer goroutine.
func (w *wal) start() error {
	if err := w.rotate(); err != nil {
		return err
	}
	w.reqs = make(chan walReq)
	w.quit = make(chan struct{})
	w.done = make(chan struct{})
	go w.loop()
	return nil
}

// append writes frames and returns once they are durable.
func (w *wal) append(frames []byte) error {
	req := walReq{frames: frames, done: make(chan error, 1)}
	select {
	case w.reqs <- req:
	case <-w.quit:
		return ErrClosed
	}
	return <-req.done
}

// close stops the writer and closes the active segment.
func (w *wal) close() error {
	close(w.quit)
	<-w.done
	if w.f == nil {
		return nil
	}
	err := w.f.Close()
	w.f = nil
	return err
}

const maxBatch = 512

func (w *wal) loop() {
	defer close(w.done)
	batch := make([]walReq, 0, maxBatch)
	for {
		select {
		case r := <-w.reqs:
			batch = append(batch[:0], r)
		case <-w.quit:
			return
		}
	drain:
		for len(batch) < maxBatch {
			select {
			case r := <-w.reqs:
				batch = append(batch, r)
			default:
				break drain
			}
		}
		err := w.write(batch)
		for _, r := range batch {
			r.done <- err
		}
		if err == nil && w.size >= max(w.segBytes, 2*w.snapSize) {
			if err := w.rotate(); err != nil {
				w.log.Error("asyncq: segment rotation failed; keeping the current segment", "err", err)
			}
		}
	}
}

func (w *wal) write(batch []walReq) error {
	if w.err != nil {
		return w.err
	}
	for _, r := range batch {
		n, err := w.f.Write(r.frames)
		w.size += int64(n)
		if err != nil {
			w.err = fmt.Errorf("asyncq: write log: %w", err)
			return w.err
		}
	}
	if err := w.f.Sync(); err != nil {
		// After a failed fsync the page cache state is unknown: stop writing.
		w.err = fmt.Errorf("asyncq: sync log: %w", err)
		return w.err
	}
	w.stats.fsyncs.Add(1)
	return nil
}

// rotate writes the snapshot into a new segment, makes it durable and
// removes every older segment.
func (w *wal) rotate() error {
	idx := w.idx + 1
	path := filepath.Join(w.dir, segName(idx))
	f, err := os.OpenFile(path, os.O_CREATE|os.O_EXCL|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return fmt.Errorf("asyncq: create segment: %w", err)
	}
	snap := w.snapshot()
	if _, err := f.Write(snap); err != nil {
		f.Close()
		os.Remove(path)
		return fmt.Errorf("asyncq: write snapshot: %w", err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		os.Remove(path)
		return fmt.Errorf("asyncq: sync snapshot: %w", err)
	}
	if err := syncDir(w.dir); err != nil {
		f.Close()
		os.Remove(path)
		return err
	}
	if w.f != nil {
		if err := w.f.Close(); err != nil {
			w.log.Warn("asyncq: close old segment", "err", err)
		}
	}
	w.f, w.idx, w.size, w.snapSize, w.err = f, idx, int64(len(snap)), int64(len(snap)), nil
	w.stats.rotations.Add(1)
	segs, err := listSegments(w.dir)
	if err != nil {
		return fmt.Errorf("asyncq: list segments: %w", err)
	}
	var errs []error
	for _, old := range segs {
		if old < idx {
			if err := os.Remove(filepath.Join(w.dir, segName(old))); err != nil {
				errs = append(errs, err)
			}
		}
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("asyncq: remove old segments: %w", err)
	}
	return syncDir(w.dir)
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("asyncq: open dir: %w", err)
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("asyncq: sync dir: %w", err)
	}
	return nil
}
