package asyncq

import (
	"encoding/binary"
	"errors"
	"hash/crc32"
	"io"
	"math"
	"slices"
	"time"
)

// On-disk record framing, shared by the event log and the dead-letter files:
//
//	uint32 LE  n      length of the body
//	uint32 LE  crc    CRC-32C (Castagnoli) of type byte + body
//	byte       type   recEvent, recState, recDone, recDead
//	n bytes    body
//
// A record is valid only when it is complete and its checksum matches; the
// first invalid record ends a file (a torn write at the tail is truncated
// on open).
const (
	frameHeader = 9
	// maxRecord bounds one record body; larger lengths are treated as
	// corruption (an event payload is at most a few MiB).
	maxRecord = 64 << 20

	recEvent byte = 'E' // an accepted event
	recState byte = 'S' // delivery state after a failed attempt
	recDone  byte = 'D' // event finished (succeeded or dead-lettered)
	recDead  byte = 'L' // a dead letter (in dlq/ files)

	codecVersion = 1
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// errCorrupt marks an invalid or incomplete record.
var errCorrupt = errors.New("asyncq: corrupt record")

// appendFrame appends one framed record to dst.
func appendFrame(dst []byte, typ byte, body []byte) []byte {
	var h [frameHeader]byte
	binary.LittleEndian.PutUint32(h[0:4], uint32(len(body)))
	crc := crc32.Update(0, castagnoli, []byte{typ})
	crc = crc32.Update(crc, castagnoli, body)
	binary.LittleEndian.PutUint32(h[4:8], crc)
	h[8] = typ
	dst = append(dst, h[:]...)
	return append(dst, body...)
}

// readFrame reads one record from r. It returns io.EOF at a clean end and
// errCorrupt for a torn or damaged record; n is the number of bytes the
// record occupies when valid.
func readFrame(r io.Reader, buf []byte) (typ byte, body []byte, n int64, err error) {
	var h [frameHeader]byte
	if _, err := io.ReadFull(r, h[:]); err != nil {
		if err == io.EOF {
			return 0, nil, 0, io.EOF
		}
		return 0, nil, 0, errCorrupt
	}
	size := binary.LittleEndian.Uint32(h[0:4])
	if size > maxRecord {
		return 0, nil, 0, errCorrupt
	}
	typ = h[8]
	if cap(buf) < int(size) {
		buf = make([]byte, size)
	}
	body = buf[:size]
	if _, err := io.ReadFull(r, body); err != nil {
		return 0, nil, 0, errCorrupt
	}
	crc := crc32.Update(0, castagnoli, []byte{typ})
	crc = crc32.Update(crc, castagnoli, body)
	if crc != binary.LittleEndian.Uint32(h[4:8]) {
		return 0, nil, 0, errCorrupt
	}
	return typ, body, int64(frameHeader) + int64(size), nil
}

// enc builds a record body.
type enc struct{ b []byte }

func (e *enc) uvarint(v uint64) { e.b = binary.AppendUvarint(e.b, v) }
func (e *enc) varint(v int64)   { e.b = binary.AppendVarint(e.b, v) }
func (e *enc) bytes(p []byte)   { e.uvarint(uint64(len(p))); e.b = append(e.b, p...) }
func (e *enc) str(s string)     { e.uvarint(uint64(len(s))); e.b = append(e.b, s...) }
func (e *enc) time(t time.Time) {
	if t.IsZero() {
		e.varint(math.MinInt64)
		return
	}
	e.varint(t.UnixNano())
}

// dec reads a record body; the first error sticks.
type dec struct {
	b   []byte
	err error
}

func (d *dec) uvarint() uint64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Uvarint(d.b)
	if n <= 0 {
		d.err = errCorrupt
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *dec) varint() int64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Varint(d.b)
	if n <= 0 {
		d.err = errCorrupt
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *dec) raw() []byte {
	n := d.uvarint()
	if d.err != nil {
		return nil
	}
	if n > uint64(len(d.b)) {
		d.err = errCorrupt
		return nil
	}
	p := d.b[:n:n]
	d.b = d.b[n:]
	return p
}

func (d *dec) bytes() []byte {
	p := d.raw()
	if p == nil {
		return nil
	}
	return append([]byte(nil), p...)
}

func (d *dec) str() string { return string(d.raw()) }

func (d *dec) time() time.Time {
	v := d.varint()
	if d.err != nil || v == math.MinInt64 {
		return time.Time{}
	}
	return time.Unix(0, v).UTC()
}

func (d *dec) int() int {
	v := d.uvarint()
	if v > math.MaxInt32 {
		d.err = errCorrupt
		return 0
	}
	return int(v)
}

func (d *dec) version() {
	if v := d.uvarint(); d.err == nil && v != codecVersion {
		d.err = errCorrupt
	}
}

// encodeEvent renders an event record body.
func encodeEvent(ev *Event) []byte {
	e := enc{b: make([]byte, 0, 64+len(ev.Payload)+len(ev.ClientContext)+len(ev.TraceHeader))}
	e.uvarint(codecVersion)
	e.str(ev.ID)
	e.uvarint(ev.Seq)
	e.str(ev.Function)
	e.str(ev.Qualifier)
	e.bytes(ev.Payload)
	e.str(ev.ClientContext)
	e.str(ev.TraceHeader)
	e.time(ev.EnqueuedAt)
	e.uvarint(uint64(len(ev.Meta)))
	for _, k := range sortedKeys(ev.Meta) {
		e.str(k)
		e.str(ev.Meta[k])
	}
	return e.b
}

func decodeEvent(b []byte) (Event, error) {
	ev, _, err := decodeEventPrefix(b)
	return ev, err
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// state is the delivery state of a pending event.
type state struct {
	attempts  int       // function invocations made (function errors so far)
	throttles int       // throttled/system-error attempts since the last invocation
	due       time.Time // next attempt not before
	last      Result    // result of the latest attempt
}

func encodeState(id string, st *state) []byte {
	e := enc{b: make([]byte, 0, 48+len(st.last.Payload)+len(st.last.Message))}
	e.uvarint(codecVersion)
	e.str(id)
	e.uvarint(uint64(st.attempts))
	e.uvarint(uint64(st.throttles))
	e.time(st.due)
	encodeResult(&e, &st.last)
	return e.b
}

func decodeState(b []byte) (id string, st state, err error) {
	d := dec{b: b}
	d.version()
	id = d.str()
	st.attempts = d.int()
	st.throttles = d.int()
	st.due = d.time()
	st.last = decodeResult(&d)
	if d.err != nil || id == "" {
		return "", state{}, errCorrupt
	}
	return id, st, nil
}

func encodeResult(e *enc, r *Result) {
	e.uvarint(uint64(r.Kind))
	e.uvarint(uint64(r.StatusCode))
	e.str(r.ExecutedVersion)
	e.str(r.FunctionError)
	e.bytes(r.Payload)
	e.str(r.Message)
}

func decodeResult(d *dec) Result {
	var r Result
	r.Kind = Kind(d.uvarint())
	r.StatusCode = d.int()
	r.ExecutedVersion = d.str()
	r.FunctionError = d.str()
	r.Payload = d.bytes()
	r.Message = d.str()
	return r
}

func encodeDone(id string) []byte {
	e := enc{}
	e.uvarint(codecVersion)
	e.str(id)
	return e.b
}

func decodeDone(b []byte) (string, error) {
	d := dec{b: b}
	d.version()
	id := d.str()
	if d.err != nil || id == "" {
		return "", errCorrupt
	}
	return id, nil
}

func encodeCompletion(c *Completion) []byte {
	e := enc{b: encodeEvent(&c.Event)}
	e.str(c.Condition)
	e.uvarint(uint64(c.Attempts))
	e.time(c.Time)
	encodeResult(&e, &c.Result)
	// The event body is length-delimited by re-encoding it as a prefix.
	outer := enc{}
	outer.uvarint(codecVersion)
	outer.bytes(e.b)
	return outer.b
}

func decodeCompletion(b []byte) (Completion, error) {
	outer := dec{b: b}
	outer.version()
	inner := outer.raw()
	if outer.err != nil {
		return Completion{}, errCorrupt
	}
	// Decode the event, then the fields that follow it.
	ev, rest, err := decodeEventPrefix(inner)
	if err != nil {
		return Completion{}, err
	}
	d := dec{b: rest}
	c := Completion{Event: ev}
	c.Condition = d.str()
	c.Attempts = d.int()
	c.Time = d.time()
	c.Result = decodeResult(&d)
	if d.err != nil {
		return Completion{}, errCorrupt
	}
	return c, nil
}

// decodeEventPrefix decodes an event body and returns the bytes after it.
func decodeEventPrefix(b []byte) (Event, []byte, error) {
	d := dec{b: b}
	d.version()
	var ev Event
	ev.ID = d.str()
	ev.Seq = d.uvarint()
	ev.Function = d.str()
	ev.Qualifier = d.str()
	ev.Payload = d.bytes()
	ev.ClientContext = d.str()
	ev.TraceHeader = d.str()
	ev.EnqueuedAt = d.time()
	if n := d.uvarint(); n > 0 && d.err == nil {
		if n > uint64(len(d.b)) {
			return Event{}, nil, errCorrupt
		}
		ev.Meta = make(map[string]string, n)
		for range n {
			k := d.str()
			ev.Meta[k] = d.str()
		}
	}
	if d.err != nil || ev.ID == "" {
		return Event{}, nil, errCorrupt
	}
	return ev, d.b, nil
}
