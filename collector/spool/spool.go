package spool

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
)

const (
	magic        = "FLSPOOL1"
	headerLen    = int64(len(magic))
	recHeaderLen = 16
	fileSuffix   = ".spool"
	checkpointFN = "checkpoint"
	lockFN       = "LOCK"
	// firstSeq leaves room below it for Prepend.
	firstSeq = uint64(1) << 32
	// MaxRecordBytes bounds one record's payload; a longer length field is
	// treated as corruption.
	MaxRecordBytes = 16 << 20
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// ErrFull is returned by Append when the records would take the spool over
// Options.MaxBytes.
var ErrFull = errors.New("spool: full")

// ErrClosed is returned by every method after Close.
var ErrClosed = errors.New("spool: closed")

// Options configures a spool.
type Options struct {
	// Dir holds the spool's files; it is created if missing.
	Dir string
	// MaxBytes bounds the total size of the segment files. Append fails
	// with ErrFull rather than exceed it.
	MaxBytes int64
	// SegmentBytes is the size after which Append starts a new segment
	// file. 0 means MaxBytes/8, clamped to [1 MiB, 64 MiB].
	SegmentBytes int64
	// NoSync skips fsync after writes (benchmarks, tests).
	NoSync bool
}

// Record is one spooled document.
type Record struct {
	// ReceivedNanos is when the collector received the document.
	ReceivedNanos int64
	// Data is the raw document.
	Data []byte
}

// Position marks how far a Peek read; pass it to Commit.
type Position struct {
	seq     uint64
	off     int64
	records int64
}

// Stats describes a spool's content.
type Stats struct {
	Records   int64 // unread records
	Bytes     int64 // size of all segment files on disk
	Segments  int   // number of segment files
	TornBytes int64 // bytes skipped as torn or corrupt since Open
}

type segFile struct {
	seq      uint64
	f        *os.File
	size     int64 // bytes written (file size)
	validEnd int64 // end of the last intact record
	readOff  int64 // next unread record
	records  int64 // unread intact records
	writable bool  // created by this process and still the append target
}

// Spool is a bounded on-disk FIFO of records. See the package documentation.
type Spool struct {
	opts Options
	lock *os.File

	mu      sync.Mutex
	segs    []*segFile // ascending seq
	nextSeq uint64
	bytes   int64
	records int64
	torn    int64
	closed  bool
	wbuf    []byte
	notify  chan struct{}
}

// Open opens or creates the spool in o.Dir, scanning existing segments for
// intact records and skipping torn tails.
func Open(o Options) (*Spool, error) {
	if o.Dir == "" {
		return nil, errors.New("spool: empty directory")
	}
	if o.MaxBytes <= 0 {
		return nil, errors.New("spool: MaxBytes must be positive")
	}
	if o.SegmentBytes <= 0 {
		o.SegmentBytes = min(max(o.MaxBytes/8, 1<<20), 64<<20)
	}
	if err := os.MkdirAll(o.Dir, 0o755); err != nil {
		return nil, fmt.Errorf("spool: create dir: %w", err)
	}
	lf, err := lockDir(filepath.Join(o.Dir, lockFN))
	if err != nil {
		return nil, err
	}
	s := &Spool{opts: o, lock: lf, nextSeq: firstSeq, notify: make(chan struct{}, 1)}
	if err := s.load(); err != nil {
		s.closeFiles()
		return nil, err
	}
	return s, nil
}

func (s *Spool) load() error {
	ents, err := os.ReadDir(s.opts.Dir)
	if err != nil {
		return fmt.Errorf("spool: read dir: %w", err)
	}
	var seqs []uint64
	for _, e := range ents {
		name := e.Name()
		if e.IsDir() || !strings.HasSuffix(name, fileSuffix) {
			continue
		}
		seq, err := strconv.ParseUint(strings.TrimSuffix(name, fileSuffix), 16, 64)
		if err != nil {
			continue
		}
		seqs = append(seqs, seq)
	}
	slices.Sort(seqs)
	cpSeq, cpOff, hasCP := s.readCheckpoint()
	for _, seq := range seqs {
		path := s.path(seq)
		if hasCP && seq < cpSeq {
			// Fully consumed before the last shutdown or crash.
			if err := os.Remove(path); err != nil {
				return fmt.Errorf("spool: remove consumed segment: %w", err)
			}
			continue
		}
		start := headerLen
		if hasCP && seq == cpSeq {
			start = max(cpOff, headerLen)
		}
		sf, err := s.scan(path, seq, start)
		if err != nil {
			return err
		}
		s.segs = append(s.segs, sf)
		s.bytes += sf.size
		s.records += sf.records
		s.nextSeq = max(s.nextSeq, seq+1)
	}
	if s.records == 0 {
		return s.reset()
	}
	return nil
}

// scan opens a segment file read-only, counts its intact records from start
// and records where a torn tail begins.
func (s *Spool) scan(path string, seq uint64, start int64) (*segFile, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("spool: open segment: %w", err)
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("spool: stat segment: %w", err)
	}
	sf := &segFile{seq: seq, f: f, size: st.Size(), validEnd: headerLen, readOff: start}
	var hdr [8]byte
	if _, err := f.ReadAt(hdr[:], 0); err != nil || string(hdr[:]) != magic {
		// Not even a header: the whole file is torn.
		sf.validEnd, sf.readOff = 0, 0
		s.torn += sf.size
		return sf, nil
	}
	r := bufio.NewReaderSize(io.NewSectionReader(f, headerLen, sf.size-headerLen), 1<<20)
	off := headerLen
	var rh [recHeaderLen]byte
	var payload []byte
	for {
		if _, err := io.ReadFull(r, rh[:]); err != nil {
			break
		}
		n := int64(binary.LittleEndian.Uint32(rh[0:4]))
		if n > MaxRecordBytes || off+recHeaderLen+n > sf.size {
			break
		}
		payload = slices.Grow(payload[:0], int(n))[:n]
		if _, err := io.ReadFull(r, payload); err != nil {
			break
		}
		if crcOf(rh[8:16], payload) != binary.LittleEndian.Uint32(rh[4:8]) {
			break
		}
		off += recHeaderLen + n
		if off > start {
			sf.records++
		}
	}
	sf.validEnd = off
	sf.readOff = min(sf.readOff, sf.validEnd)
	s.torn += sf.size - sf.validEnd
	return sf, nil
}

func crcOf(recv, payload []byte) uint32 {
	c := crc32.Update(0, castagnoli, recv)
	return crc32.Update(c, castagnoli, payload)
}

func (s *Spool) path(seq uint64) string {
	return filepath.Join(s.opts.Dir, fmt.Sprintf("%016x%s", seq, fileSuffix))
}

// Notify returns a channel that receives a value after records are added.
func (s *Spool) Notify() <-chan struct{} { return s.notify }

func (s *Spool) signal() {
	select {
	case s.notify <- struct{}{}:
	default:
	}
}

// Len returns the number of unread records.
func (s *Spool) Len() int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.records
}

// Stats returns the spool's current size.
func (s *Spool) Stats() Stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	return Stats{Records: s.records, Bytes: s.bytes, Segments: len(s.segs), TornBytes: s.torn}
}

func (s *Spool) encode(recs []Record) ([]byte, error) {
	buf := s.wbuf[:0]
	for _, r := range recs {
		if len(r.Data) > MaxRecordBytes {
			return nil, fmt.Errorf("spool: record of %d bytes exceeds %d", len(r.Data), MaxRecordBytes)
		}
		at := len(buf)
		buf = append(buf, make([]byte, recHeaderLen)...)
		h := buf[at : at+recHeaderLen]
		binary.LittleEndian.PutUint32(h[0:4], uint32(len(r.Data)))
		binary.LittleEndian.PutUint64(h[8:16], uint64(r.ReceivedNanos))
		binary.LittleEndian.PutUint32(h[4:8], crcOf(h[8:16], r.Data))
		buf = append(buf, r.Data...)
	}
	s.wbuf = buf
	return buf, nil
}

// EncodedSize returns the number of bytes recs take on disk.
func EncodedSize(recs []Record) int64 {
	var n int64
	for _, r := range recs {
		n += recHeaderLen + int64(len(r.Data))
	}
	return n
}

// Append adds recs at the tail and syncs them to disk. It returns ErrFull,
// writing nothing, if they would take the spool over Options.MaxBytes.
func (s *Spool) Append(recs []Record) error {
	if len(recs) == 0 {
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return ErrClosed
	}
	need := EncodedSize(recs)
	tail := s.tail()
	if tail == nil || !tail.writable || tail.size >= s.opts.SegmentBytes {
		need += headerLen
	}
	if s.bytes+need > s.opts.MaxBytes {
		return ErrFull
	}
	if tail == nil || !tail.writable || tail.size >= s.opts.SegmentBytes {
		if tail != nil && tail.writable {
			tail.writable = false
		}
		sf, err := s.create(s.nextSeq)
		if err != nil {
			return err
		}
		s.nextSeq++
		s.segs = append(s.segs, sf)
		tail = sf
	}
	if err := s.write(tail, recs); err != nil {
		return err
	}
	s.signal()
	return nil
}

// Prepend puts recs before every unread record, in a new segment file. It is
// for the consumer returning a batch it took from elsewhere but could not
// deliver, and it is not bounded by Options.MaxBytes (the records were
// accepted already).
func (s *Spool) Prepend(recs []Record) error {
	if len(recs) == 0 {
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return ErrClosed
	}
	seq := s.nextSeq
	if len(s.segs) > 0 {
		seq = s.segs[0].seq - 1
	} else {
		s.nextSeq++
	}
	sf, err := s.create(seq)
	if err != nil {
		return err
	}
	if err := s.write(sf, recs); err != nil {
		sf.f.Close()
		os.Remove(s.path(seq))
		s.bytes -= sf.size
		return err
	}
	sf.writable = len(s.segs) == 0
	s.segs = slices.Insert(s.segs, 0, sf)
	if err := s.writeCheckpoint(sf.seq, sf.readOff); err != nil {
		return err
	}
	s.signal()
	return nil
}

func (s *Spool) tail() *segFile {
	if len(s.segs) == 0 {
		return nil
	}
	return s.segs[len(s.segs)-1]
}

func (s *Spool) create(seq uint64) (*segFile, error) {
	f, err := os.OpenFile(s.path(seq), os.O_CREATE|os.O_EXCL|os.O_RDWR, 0o644)
	if err != nil {
		return nil, fmt.Errorf("spool: create segment: %w", err)
	}
	if _, err := f.Write([]byte(magic)); err != nil {
		f.Close()
		os.Remove(s.path(seq))
		return nil, fmt.Errorf("spool: write segment header: %w", err)
	}
	if !s.opts.NoSync {
		if err := syncDir(s.opts.Dir); err != nil {
			f.Close()
			os.Remove(s.path(seq))
			return nil, err
		}
	}
	s.bytes += headerLen
	return &segFile{seq: seq, f: f, size: headerLen, validEnd: headerLen, readOff: headerLen, writable: true}, nil
}

func (s *Spool) write(sf *segFile, recs []Record) error {
	buf, err := s.encode(recs)
	if err != nil {
		return err
	}
	if _, err := sf.f.WriteAt(buf, sf.size); err != nil {
		// Cut off whatever part reached the file so the next append
		// starts on a record boundary.
		_ = sf.f.Truncate(sf.size)
		return fmt.Errorf("spool: write: %w", err)
	}
	if !s.opts.NoSync {
		if err := sf.f.Sync(); err != nil {
			_ = sf.f.Truncate(sf.size)
			return fmt.Errorf("spool: sync: %w", err)
		}
	}
	sf.size += int64(len(buf))
	sf.validEnd = sf.size
	sf.records += int64(len(recs))
	s.bytes += int64(len(buf))
	s.records += int64(len(recs))
	return nil
}

// Peek reads up to maxRecords unread records (and about maxBytes of
// payload, at least one record) from the head of the spool without
// consuming them. The returned records' Data alias buf, which is grown as
// needed and returned for reuse. An empty result means the spool is empty.
func (s *Spool) Peek(dst []Record, buf []byte, maxRecords, maxBytes int) ([]Record, []byte, Position, error) {
	dst = dst[:0]
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return dst, buf, Position{}, ErrClosed
	}
	for len(s.segs) > 0 {
		h := s.segs[0]
		if h.readOff < h.validEnd {
			break
		}
		if h.writable {
			return dst, buf, Position{}, nil
		}
		if err := s.dropHead(); err != nil {
			return dst, buf, Position{}, err
		}
	}
	if len(s.segs) == 0 {
		return dst, buf, Position{}, nil
	}
	h := s.segs[0]
	// Read a window of the file and cut records out of it.
	want := int64(maxBytes) + recHeaderLen
	end := min(h.validEnd, h.readOff+max(want, recHeaderLen))
	buf, err := readInto(h.f, buf, h.readOff, end)
	if err != nil {
		return dst, buf, Position{}, err
	}
	off := h.readOff
	var p int64
	total := 0
	for len(dst) < maxRecords && off < h.validEnd {
		if p+recHeaderLen > int64(len(buf)) {
			break
		}
		n := int64(binary.LittleEndian.Uint32(buf[p : p+4]))
		if p+recHeaderLen+n > int64(len(buf)) {
			if len(dst) > 0 {
				break
			}
			// A single record larger than the window: read it whole.
			if off+recHeaderLen+n > h.validEnd || n > MaxRecordBytes {
				s.markTorn(h, off)
				break
			}
			buf, err = readInto(h.f, buf, off, off+recHeaderLen+n)
			if err != nil {
				return dst, buf, Position{}, err
			}
			p = 0
		}
		rec := buf[p : p+recHeaderLen+n]
		if crcOf(rec[8:16], rec[recHeaderLen:]) != binary.LittleEndian.Uint32(rec[4:8]) {
			s.markTorn(h, off)
			break
		}
		dst = append(dst, Record{
			ReceivedNanos: int64(binary.LittleEndian.Uint64(rec[8:16])),
			Data:          rec[recHeaderLen:],
		})
		p += recHeaderLen + n
		off += recHeaderLen + n
		total += int(n)
		if total >= maxBytes {
			break
		}
	}
	return dst, buf, Position{seq: h.seq, off: off, records: int64(len(dst))}, nil
}

func readInto(f *os.File, buf []byte, from, to int64) ([]byte, error) {
	n := int(to - from)
	buf = slices.Grow(buf[:0], n)[:n]
	if _, err := f.ReadAt(buf, from); err != nil {
		return buf[:0], fmt.Errorf("spool: read: %w", err)
	}
	return buf, nil
}

// markTorn cuts a segment at off after a corrupt record was found there.
func (s *Spool) markTorn(h *segFile, off int64) {
	if off >= h.validEnd {
		return
	}
	s.torn += h.validEnd - off
	// Unread records after off are lost: recount what is left.
	lost := h.records - s.countRecords(h, h.readOff, off)
	h.records -= lost
	s.records -= lost
	h.validEnd = off
	if h.writable {
		// Never append after garbage.
		h.writable = false
	}
}

// countRecords counts intact records between from and to (best effort).
func (s *Spool) countRecords(h *segFile, from, to int64) int64 {
	var n int64
	var rh [recHeaderLen]byte
	for off := from; off+recHeaderLen <= to; {
		if _, err := h.f.ReadAt(rh[:], off); err != nil {
			break
		}
		off += recHeaderLen + int64(binary.LittleEndian.Uint32(rh[0:4]))
		if off > to {
			break
		}
		n++
	}
	return n
}

// Commit consumes the records returned by the Peek that returned p.
func (s *Spool) Commit(p Position) error {
	if p.records == 0 {
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return ErrClosed
	}
	if len(s.segs) == 0 || s.segs[0].seq != p.seq {
		return errors.New("spool: BUG: commit of a position that is not at the head")
	}
	h := s.segs[0]
	h.readOff = p.off
	h.records -= p.records
	s.records -= p.records
	if s.records == 0 {
		return s.reset()
	}
	if h.readOff >= h.validEnd && !h.writable {
		return s.dropHead()
	}
	return s.writeCheckpoint(h.seq, h.readOff)
}

// dropHead deletes the fully consumed head segment.
func (s *Spool) dropHead() error {
	h := s.segs[0]
	s.segs = s.segs[1:]
	s.bytes -= h.size
	s.records -= h.records // 0 unless torn bookkeeping differs
	h.f.Close()
	if err := os.Remove(s.path(h.seq)); err != nil {
		return fmt.Errorf("spool: remove segment: %w", err)
	}
	if len(s.segs) == 0 {
		return s.reset()
	}
	return s.writeCheckpoint(s.segs[0].seq, s.segs[0].readOff)
}

// reset deletes every segment once all records were consumed, so the disk
// space is returned and the next Append starts a fresh file.
func (s *Spool) reset() error {
	var errs []error
	for _, sf := range s.segs {
		sf.f.Close()
		if err := os.Remove(s.path(sf.seq)); err != nil && !errors.Is(err, os.ErrNotExist) {
			errs = append(errs, err)
		}
	}
	s.segs = s.segs[:0]
	s.bytes = 0
	s.records = 0
	if err := os.Remove(filepath.Join(s.opts.Dir, checkpointFN)); err != nil && !errors.Is(err, os.ErrNotExist) {
		errs = append(errs, err)
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("spool: reset: %w", err)
	}
	return nil
}

func (s *Spool) readCheckpoint() (seq uint64, off int64, ok bool) {
	b, err := os.ReadFile(filepath.Join(s.opts.Dir, checkpointFN))
	if err != nil || len(b) != 20 {
		return 0, 0, false
	}
	if crc32.Checksum(b[:16], castagnoli) != binary.LittleEndian.Uint32(b[16:20]) {
		return 0, 0, false
	}
	return binary.LittleEndian.Uint64(b[0:8]), int64(binary.LittleEndian.Uint64(b[8:16])), true
}

func (s *Spool) writeCheckpoint(seq uint64, off int64) error {
	var b [20]byte
	binary.LittleEndian.PutUint64(b[0:8], seq)
	binary.LittleEndian.PutUint64(b[8:16], uint64(off))
	binary.LittleEndian.PutUint32(b[16:20], crc32.Checksum(b[:16], castagnoli))
	tmp := filepath.Join(s.opts.Dir, checkpointFN+".tmp")
	if err := os.WriteFile(tmp, b[:], 0o644); err != nil {
		return fmt.Errorf("spool: write checkpoint: %w", err)
	}
	if err := os.Rename(tmp, filepath.Join(s.opts.Dir, checkpointFN)); err != nil {
		return fmt.Errorf("spool: write checkpoint: %w", err)
	}
	return nil
}

// Sync flushes the tail segment to disk.
func (s *Spool) Sync() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return ErrClosed
	}
	return s.syncLocked()
}

func (s *Spool) syncLocked() error {
	var errs []error
	for _, sf := range s.segs {
		if sf.writable {
			if err := sf.f.Sync(); err != nil {
				errs = append(errs, fmt.Errorf("spool: sync: %w", err))
			}
		}
	}
	if err := syncDir(s.opts.Dir); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// Close syncs and closes the spool. Unread records stay on disk for the
// next Open.
func (s *Spool) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil
	}
	err := s.syncLocked()
	s.closed = true
	s.closeFiles()
	return err
}

func (s *Spool) closeFiles() {
	for _, sf := range s.segs {
		sf.f.Close()
	}
	s.segs = nil
	if s.lock != nil {
		unlockDir(s.lock)
		s.lock = nil
	}
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("spool: open dir: %w", err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("spool: sync dir: %w", err)
	}
	return nil
}
