package logs

import (
	"sync"
	"time"
)

// MaxEventBytes bounds one stored log event (CloudWatch's limit is 256 KB).
const MaxEventBytes = 256 << 10

// Event is one stored log line.
type Event struct {
	// Seq increases by one per event of a function; pass the last seen
	// value as after to Recent to poll for new events.
	Seq       uint64 `json:"seq"`
	Timestamp int64  `json:"timestamp"` // Unix milliseconds
	Stream    string `json:"logStreamName"`
	Message   string `json:"message"`
}

// Registry keeps the most recent events of every function. It is safe for
// concurrent use.
type Registry struct {
	perFunction int
	mu          sync.Mutex
	rings       map[string]*ring
}

type ring struct {
	mu     sync.Mutex
	events []Event // circular, len == cap once full
	next   int     // write position once full
	seq    uint64
}

// NewRegistry keeps up to perFunction events per function (1,000 if ≤ 0).
func NewRegistry(perFunction int) *Registry {
	if perFunction <= 0 {
		perFunction = 1000
	}
	return &Registry{perFunction: perFunction, rings: make(map[string]*ring)}
}

// Function returns the ring of fn, creating it.
func (r *Registry) function(fn string) *ring {
	r.mu.Lock()
	defer r.mu.Unlock()
	rg := r.rings[fn]
	if rg == nil {
		rg = &ring{events: make([]Event, 0, min(r.perFunction, 64))}
		r.rings[fn] = rg
	}
	return rg
}

// Writer returns a handle that appends to fn's ring; environments keep one
// so the hot path skips the registry lookup.
func (r *Registry) Writer(fn string) *Writer {
	return &Writer{ring: r.function(fn), limit: r.perFunction}
}

// Append stores one event for fn.
func (r *Registry) Append(fn, stream string, t time.Time, msg string) {
	r.Writer(fn).Append(stream, t, msg)
}

// Recent returns up to limit of fn's newest events with Seq > after, oldest
// first.
func (r *Registry) Recent(fn string, after uint64, limit int) []Event {
	r.mu.Lock()
	rg := r.rings[fn]
	r.mu.Unlock()
	if rg == nil {
		return []Event{}
	}
	rg.mu.Lock()
	defer rg.mu.Unlock()
	n := len(rg.events)
	out := make([]Event, 0, min(n, max(limit, 0)))
	// Oldest first: from next to end, then start to next.
	ordered := func(i int) Event {
		if n < r.perFunction || rg.next == 0 {
			return rg.events[i]
		}
		return rg.events[(rg.next+i)%n]
	}
	start := 0
	if limit > 0 && n > limit {
		start = n - limit
	}
	for i := start; i < n; i++ {
		if e := ordered(i); e.Seq > after {
			out = append(out, e)
		}
	}
	return out
}

// Delete forgets fn's events.
func (r *Registry) Delete(fn string) {
	r.mu.Lock()
	delete(r.rings, fn)
	r.mu.Unlock()
}

// Writer appends to one function's ring.
type Writer struct {
	ring  *ring
	limit int
}

// Append stores one event.
func (w *Writer) Append(stream string, t time.Time, msg string) {
	if len(msg) > MaxEventBytes {
		msg = msg[:MaxEventBytes]
	}
	rg := w.ring
	rg.mu.Lock()
	rg.seq++
	e := Event{Seq: rg.seq, Timestamp: t.UnixMilli(), Stream: stream, Message: msg}
	if len(rg.events) < w.limit {
		rg.events = append(rg.events, e)
	} else {
		rg.events[rg.next] = e
		rg.next = (rg.next + 1) % w.limit
	}
	rg.mu.Unlock()
}
