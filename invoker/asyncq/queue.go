package asyncq

import (
	"cmp"
	"container/heap"
	"context"
	"crypto/rand"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"maps"
	"os"
	"path/filepath"
	"runtime/debug"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// Event is one asynchronous invocation.
type Event struct {
	// ID is the invocation's request id (the x-amzn-RequestId of the 202);
	// Enqueue assigns a UUID when empty. Unique among pending events.
	ID string
	// Function is the function name (not an ARN); Qualifier the version or
	// alias as invoked ("" means $LATEST).
	Function, Qualifier string
	// Payload is the event document.
	Payload []byte
	// ClientContext is the decoded client context JSON, if any.
	ClientContext string
	// TraceHeader is the X-Ray trace header to continue (X-Amzn-Trace-Id).
	TraceHeader string
	// Meta carries engine-defined extra fields through the queue.
	Meta map[string]string

	// Set by the queue (ignored by Enqueue):

	// Seq orders events: assigned at Enqueue, increasing.
	Seq uint64
	// EnqueuedAt is when the event was first accepted; its age counts from here.
	EnqueuedAt time.Time
	// Attempts is the number of function invocations made before this
	// delivery (0 on the first); throttled attempts do not count.
	Attempts int
}

// Kind classifies the outcome of one delivery attempt.
type Kind uint8

// Outcomes of an attempt (lambda.md §4.8).
const (
	// NoAttempt is the zero Kind: the Result of a Completion whose event
	// expired before any attempt. A Handler returning it is treated as
	// Throttled (retried with backoff).
	NoAttempt Kind = iota
	// Succeeded: the function returned a response.
	Succeeded
	// FunctionError: the invocation failed (unhandled error, timeout, crash).
	// Counts against MaximumRetryAttempts; retried after RetryDelays.
	FunctionError
	// Throttled: not invoked (429 concurrency limit, 5xx system error).
	// Retried with exponential backoff until MaximumEventAge; not counted.
	Throttled
	// Rejected: cannot ever succeed (function or qualifier gone): the event
	// is dead-lettered at once with condition RetriesExhausted.
	Rejected
)

func (k Kind) String() string {
	switch k {
	case NoAttempt:
		return "NoAttempt"
	case Succeeded:
		return "Succeeded"
	case FunctionError:
		return "FunctionError"
	case Throttled:
		return "Throttled"
	case Rejected:
		return "Rejected"
	}
	return fmt.Sprintf("Kind(%d)", uint8(k))
}

// Result is what a Handler reports for one attempt.
type Result struct {
	Kind Kind
	// StatusCode is the HTTP status a synchronous Invoke would have returned
	// (200 for success and function errors, 429, 500, 404 …).
	StatusCode int
	// ExecutedVersion is the version that ran ("$LATEST", "3").
	ExecutedVersion string
	// FunctionError is "Unhandled" (or "Handled") for function errors.
	FunctionError string
	// Payload is the response document, or the error document of a function error.
	Payload []byte
	// Message describes a throttle or rejection (kept in dead letters).
	Message string
}

// Conditions of a finished event (destination record requestContext.condition).
const (
	ConditionSuccess          = "Success"
	ConditionRetriesExhausted = "RetriesExhausted"
	ConditionEventAgeExceeded = "EventAgeExceeded"
)

// Completion is a finished event: delivered, or given up (a dead letter).
type Completion struct {
	Event     Event
	Condition string    // ConditionSuccess, ConditionRetriesExhausted or ConditionEventAgeExceeded
	Attempts  int       // function invocations made (approximateInvokeCount)
	Result    Result    // the last attempt's result (zero when none was made)
	Time      time.Time // when the event finished
}

// DeadLetter is a Completion that was given up (Condition
// RetriesExhausted or EventAgeExceeded), as DeadLetters returns it.
type DeadLetter = Completion

// Policy is the retry configuration of a function/qualifier
// (PutFunctionEventInvokeConfig).
type Policy struct {
	// MaximumRetryAttempts: retries after function errors, 0–2 (default 2).
	MaximumRetryAttempts int
	// MaximumEventAge: 60 s – 6 h (default 6 h).
	MaximumEventAge time.Duration
}

// DefaultPolicy is AWS's default: 2 retries, 6 hours.
func DefaultPolicy() Policy { return Policy{MaximumRetryAttempts: 2, MaximumEventAge: 6 * time.Hour} }

func (p Policy) clamp() Policy {
	p.MaximumRetryAttempts = min(max(p.MaximumRetryAttempts, 0), 2)
	if p.MaximumEventAge <= 0 {
		p.MaximumEventAge = DefaultPolicy().MaximumEventAge
	}
	p.MaximumEventAge = min(max(p.MaximumEventAge, time.Minute), 6*time.Hour)
	return p
}

// Handler performs one delivery attempt of ev (normally a synchronous
// invocation of ev.Function). ctx ends when the queue shuts down and the
// drain timeout has passed.
type Handler func(ctx context.Context, ev Event) Result

// Clock abstracts time for tests.
type Clock interface {
	Now() time.Time
	// After returns a channel that receives once d has passed.
	After(d time.Duration) <-chan time.Time
}

type realClock struct{}

func (realClock) Now() time.Time                         { return time.Now() }
func (realClock) After(d time.Duration) <-chan time.Time { return time.After(d) }

// Config holds the queue's flags.
type Config struct {
	// Concurrency bounds attempts in flight (-async-concurrency, default 8).
	Concurrency int
	// MaxDeadLetters kept per function (-async-max-dead-letters, default 1000).
	MaxDeadLetters int
	// SegmentBytes: the log is compacted when its segment exceeds this size
	// (-async-segment-bytes, default 16 MiB).
	SegmentBytes int64
}

// DefaultConfig returns the defaults RegisterFlags installs.
func DefaultConfig() Config {
	return Config{Concurrency: 8, MaxDeadLetters: 1000, SegmentBytes: 16 << 20}
}

// RegisterFlags registers the queue's flags on fs.
func (c *Config) RegisterFlags(fs *flag.FlagSet) {
	d := DefaultConfig()
	fs.IntVar(&c.Concurrency, "async-concurrency", d.Concurrency, "asynchronous invocation attempts in flight at once")
	fs.IntVar(&c.MaxDeadLetters, "async-max-dead-letters", d.MaxDeadLetters, "dead letters kept per function")
	fs.Int64Var(&c.SegmentBytes, "async-segment-bytes", d.SegmentBytes, "size at which the async event log is compacted")
}

// Validate checks the configuration.
func (c Config) Validate() error {
	var errs []error
	if c.Concurrency < 1 || c.Concurrency > 10000 {
		errs = append(errs, fmt.Errorf("-async-concurrency must be 1–10000, got %d", c.Concurrency))
	}
	if c.MaxDeadLetters < 1 {
		errs = append(errs, fmt.Errorf("-async-max-dead-letters must be at least 1, got %d", c.MaxDeadLetters))
	}
	if c.SegmentBytes < 1<<16 {
		errs = append(errs, fmt.Errorf("-async-segment-bytes must be at least 65536, got %d", c.SegmentBytes))
	}
	return errors.Join(errs...)
}

// Options are the queue's programmatic settings; zero values mean defaults.
type Options struct {
	Logger *slog.Logger
	Clock  Clock
	// Policy returns the retry policy of a function/qualifier at decision
	// time (so configuration changes apply to queued events); nil means
	// DefaultPolicy. Values are clamped to the valid ranges.
	Policy func(function, qualifier string) Policy
	// OnComplete is called once per finished event, after a dead letter was
	// stored and before the event is removed from the log (the engine sends
	// OnSuccess/OnFailure destination records from here). It may Enqueue.
	OnComplete func(ctx context.Context, c Completion)
	// RetryDelays[i] is the wait before retry i+1 after a function error
	// (default 1 min, 2 min).
	RetryDelays []time.Duration
	// ThrottleBackoffMin/Max bound the exponential backoff after throttles
	// and system errors (default 1 s, 5 min).
	ThrottleBackoffMin, ThrottleBackoffMax time.Duration
	// DrainTimeout: after Run's context ends, attempts in flight get this
	// long before their context is cancelled (default 30 s).
	DrainTimeout time.Duration
}

// Errors.
var (
	ErrClosed    = errors.New("asyncq: queue closed")
	ErrDuplicate = errors.New("asyncq: an event with this ID is already pending")
	ErrRunning   = errors.New("asyncq: Run is already running")
)

// Stats are the queue's counters (monotonic) and gauges.
type Stats struct {
	Enqueued         uint64 // events accepted
	Succeeded        uint64 // events delivered successfully
	FunctionErrors   uint64 // attempts that ended in a function error
	Throttles        uint64 // attempts throttled or failed by the system
	Retries          uint64 // re-attempts scheduled
	DeadLettered     uint64 // events given up (all conditions)
	RetriesExhausted uint64 // … of which RetriesExhausted
	AgeExceeded      uint64 // … of which EventAgeExceeded
	Replayed         uint64 // pending events recovered when opening
	CorruptRecords   uint64 // damaged or torn records skipped
	DroppedBytes     uint64 // bytes skipped after damaged records
	Fsyncs           uint64 // log fsyncs (group commits)
	Rotations        uint64 // log compactions
	Errors           uint64 // storage errors after an attempt (event retried later)
	Pending          int    // events not finished (gauge)
	InFlight         int    // attempts running (gauge)
}

type counters struct {
	enqueued, succeeded, functionErrors, throttles, retries, deadLettered, retriesExhausted,
	ageExceeded, replayed, corrupt, droppedBytes, fsyncs, rotations, errors atomic.Uint64
}

// Queue is a durable, ordered queue of asynchronous invocations.
type Queue struct {
	cfg   Config
	opt   Options
	log   *slog.Logger
	clock Clock
	wal   *wal
	dlq   *dlq
	stats counters
	lock  *os.File

	mu       sync.Mutex
	items    map[string]*item
	ready    itemHeap // dispatchable items ordered by (due, seq)
	nextSeq  uint64
	inflight int
	closed   bool
	running  bool
	wake     chan struct{}
}

// due is when the next attempt may start: the retry time, or the enqueue
// time for an event not attempted yet (so fresh events queue behind due
// retries instead of starving them).
func (it *item) due() time.Time {
	if it.st.due.IsZero() {
		return it.ev.EnqueuedAt
	}
	return it.st.due
}

type item struct {
	ev       Event
	st       state
	index    int  // position in ready, -1 when not there
	durable  bool // the event record is on disk
	inflight bool
}

// Open opens (creating if needed) the queue stored in dir, replays the
// events accepted before a restart and compacts the log.
func Open(dir string, cfg Config, opt Options) (*Queue, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("asyncq: %w", err)
	}
	if opt.Logger == nil {
		opt.Logger = slog.New(slog.DiscardHandler)
	}
	if opt.Clock == nil {
		opt.Clock = realClock{}
	}
	if len(opt.RetryDelays) == 0 {
		opt.RetryDelays = []time.Duration{time.Minute, 2 * time.Minute}
	}
	if opt.ThrottleBackoffMin <= 0 {
		opt.ThrottleBackoffMin = time.Second
	}
	if opt.ThrottleBackoffMax <= 0 {
		opt.ThrottleBackoffMax = 5 * time.Minute
	}
	if opt.DrainTimeout <= 0 {
		opt.DrainTimeout = 30 * time.Second
	}
	if err := os.MkdirAll(filepath.Join(dir, "dlq"), 0o700); err != nil {
		return nil, fmt.Errorf("asyncq: create queue dir: %w", err)
	}
	lock, err := lockDir(dir)
	if err != nil {
		return nil, err
	}
	q := &Queue{
		cfg: cfg, opt: opt, log: opt.Logger, clock: opt.Clock, lock: lock,
		items: make(map[string]*item), wake: make(chan struct{}, 1),
	}
	q.dlq = &dlq{dir: filepath.Join(dir, "dlq"), max: cfg.MaxDeadLetters, log: q.log, stats: &q.stats, counts: map[string]int{}}
	q.wal = &wal{dir: dir, segBytes: cfg.SegmentBytes, log: q.log, stats: &q.stats, snapshot: q.snapshot}
	if err := q.wal.replay(q.apply); err != nil {
		lock.Close()
		return nil, err
	}
	for _, it := range q.items {
		it.durable = true
		heap.Push(&q.ready, it)
	}
	q.stats.replayed.Store(uint64(len(q.items)))
	if err := q.wal.start(); err != nil {
		lock.Close()
		return nil, err
	}
	if n := len(q.items); n > 0 {
		q.log.Info("asyncq: recovered pending events", "events", n)
	}
	return q, nil
}

// apply replays one log record.
func (q *Queue) apply(typ byte, body []byte) {
	switch typ {
	case recEvent:
		ev, err := decodeEvent(body)
		if err != nil {
			q.stats.corrupt.Add(1)
			return
		}
		if old, ok := q.items[ev.ID]; ok {
			old.ev = ev // a compaction copy of the same event
		} else {
			q.items[ev.ID] = &item{ev: ev, index: -1}
		}
		q.nextSeq = max(q.nextSeq, ev.Seq+1)
	case recState:
		id, st, err := decodeState(body)
		if err != nil {
			q.stats.corrupt.Add(1)
			return
		}
		if it, ok := q.items[id]; ok {
			it.st = st
		}
	case recDone:
		id, err := decodeDone(body)
		if err != nil {
			q.stats.corrupt.Add(1)
			return
		}
		delete(q.items, id)
	default:
		q.stats.corrupt.Add(1)
	}
}

// snapshot renders every pending event (event + state record) for a
// compaction. Called by the log writer.
func (q *Queue) snapshot() []byte {
	q.mu.Lock()
	defer q.mu.Unlock()
	var buf []byte
	for _, it := range q.items {
		buf = appendFrame(buf, recEvent, encodeEvent(&it.ev))
		if it.st.attempts > 0 || it.st.throttles > 0 || !it.st.due.IsZero() {
			buf = appendFrame(buf, recState, encodeState(it.ev.ID, &it.st))
		}
	}
	return buf
}

// Enqueue accepts ev and returns once it is on disk (fsynced): an accepted
// event survives a crash or restart and is delivered at least once.
func (q *Queue) Enqueue(ctx context.Context, ev Event) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if ev.Function == "" {
		return errors.New("asyncq: event without function name")
	}
	if ev.ID == "" {
		ev.ID = newUUID()
	}
	ev.Payload = append([]byte(nil), ev.Payload...)
	ev.Meta = maps.Clone(ev.Meta)
	ev.Attempts = 0
	ev.EnqueuedAt = q.clock.Now().UTC()

	q.mu.Lock()
	if q.closed {
		q.mu.Unlock()
		return ErrClosed
	}
	if _, dup := q.items[ev.ID]; dup {
		q.mu.Unlock()
		return fmt.Errorf("%w: %s", ErrDuplicate, ev.ID)
	}
	ev.Seq = q.nextSeq
	q.nextSeq++
	it := &item{ev: ev, index: -1}
	q.items[ev.ID] = it // visible to compaction before its record is written
	q.mu.Unlock()

	body := encodeEvent(&it.ev)
	if len(body) > maxRecord {
		q.forget(it)
		return fmt.Errorf("asyncq: event of %d bytes is too large", len(body))
	}
	if err := q.wal.append(appendFrame(nil, recEvent, body)); err != nil {
		q.forget(it)
		return err
	}
	q.mu.Lock()
	it.durable = true
	heap.Push(&q.ready, it)
	q.mu.Unlock()
	q.stats.enqueued.Add(1)
	q.signal()
	return nil
}

func (q *Queue) forget(it *item) {
	q.mu.Lock()
	if q.items[it.ev.ID] == it {
		delete(q.items, it.ev.ID)
	}
	q.mu.Unlock()
}

func (q *Queue) signal() {
	select {
	case q.wake <- struct{}{}:
	default:
	}
}

// Run delivers events until ctx ends, at most Config.Concurrency at a time,
// in order of due time then enqueue order. On shutdown it stops starting
// attempts, lets attempts in flight finish (cancelling their context after
// Options.DrainTimeout) and returns nil; an interrupted attempt leaves its
// event pending for the next Run. Only one Run may be active.
func (q *Queue) Run(ctx context.Context, h Handler) error {
	q.mu.Lock()
	if q.closed {
		q.mu.Unlock()
		return ErrClosed
	}
	if q.running {
		q.mu.Unlock()
		return ErrRunning
	}
	q.running = true
	q.mu.Unlock()
	defer func() {
		q.mu.Lock()
		q.running = false
		q.mu.Unlock()
	}()

	attemptCtx, cancelAttempts := context.WithCancel(context.WithoutCancel(ctx))
	defer cancelAttempts()
	var wg sync.WaitGroup
	sem := make(chan struct{}, q.cfg.Concurrency)
	defer func() {
		done := make(chan struct{})
		go func() { wg.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(q.opt.DrainTimeout):
			cancelAttempts()
			<-done
		}
	}()

	for {
		// Wait for a free slot first, so that the earliest item is taken.
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
			return nil
		}
		if ctx.Err() != nil {
			return nil
		}
		it, wait := q.next()
		if it == nil {
			<-sem
			var timer <-chan time.Time
			if wait > 0 {
				timer = q.clock.After(wait)
			}
			select {
			case <-q.wake:
			case <-timer:
			case <-ctx.Done():
				return nil
			}
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			q.deliver(ctx, attemptCtx, h, it)
		}()
	}
}

// next pops the earliest due item, or returns how long to wait for one
// (0: nothing is pending).
func (q *Queue) next() (*item, time.Duration) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.ready.Len() == 0 {
		return nil, 0
	}
	top := q.ready[0]
	now := q.clock.Now()
	if wait := top.due().Sub(now); wait > 0 {
		return nil, wait
	}
	heap.Pop(&q.ready)
	top.inflight = true
	q.inflight++
	return top, 0
}

// deliver makes one attempt and records its outcome.
func (q *Queue) deliver(runCtx, ctx context.Context, h Handler, it *item) {
	pol := DefaultPolicy()
	if q.opt.Policy != nil {
		pol = q.opt.Policy(it.ev.Function, it.ev.Qualifier)
	}
	pol = pol.clamp()
	now := q.clock.Now()
	expires := it.ev.EnqueuedAt.Add(pol.MaximumEventAge)
	if !now.Before(expires) {
		q.finish(ctx, it, ConditionEventAgeExceeded, it.st.last)
		return
	}

	ev := it.ev
	ev.Attempts = it.st.attempts
	ev.Payload = append([]byte(nil), it.ev.Payload...)
	res := q.attempt(ctx, h, ev)

	if runCtx.Err() != nil && res.Kind != Succeeded {
		// Shutting down: the attempt was probably cut short. Leave the event
		// as it was, for the next Run.
		q.requeue(it, nil)
		return
	}
	if res.Kind == NoAttempt {
		res.Kind = Throttled
		if res.Message == "" {
			res.Message = "handler reported no outcome"
		}
	}
	now = q.clock.Now()
	st := it.st
	st.last = res
	switch res.Kind {
	case Succeeded:
		q.stats.succeeded.Add(1)
		st.attempts++
		q.setState(it, st)
		q.finish(ctx, it, ConditionSuccess, res)
		return
	case FunctionError:
		q.stats.functionErrors.Add(1)
		st.attempts++
		st.throttles = 0
		if st.attempts > pol.MaximumRetryAttempts {
			q.setState(it, st)
			q.finish(ctx, it, ConditionRetriesExhausted, res)
			return
		}
		st.due = now.Add(q.opt.RetryDelays[min(st.attempts-1, len(q.opt.RetryDelays)-1)])
	case Throttled:
		q.stats.throttles.Add(1)
		st.throttles++
		st.due = now.Add(q.backoff(st.throttles))
	default: // Rejected or unknown
		q.setState(it, st)
		q.finish(ctx, it, ConditionRetriesExhausted, res)
		return
	}
	if st.due.After(expires) {
		q.setState(it, st)
		q.finish(ctx, it, ConditionEventAgeExceeded, res)
		return
	}
	q.stats.retries.Add(1)
	q.requeue(it, &st)
}

// attempt calls the handler; a panic is logged and treated as a system
// error (the event is retried with backoff) instead of ending the process.
func (q *Queue) attempt(ctx context.Context, h Handler, ev Event) (res Result) {
	defer func() {
		if r := recover(); r != nil {
			q.stats.errors.Add(1)
			q.log.Error("asyncq: handler panicked; the event will be retried", "id", ev.ID, "panic", r,
				"stack", string(debug.Stack()))
			res = Result{Kind: Throttled, StatusCode: 500, Message: fmt.Sprintf("handler panicked: %v", r)}
		}
	}()
	return h(ctx, ev)
}

func (q *Queue) setState(it *item, st state) {
	q.mu.Lock()
	it.st = st
	q.mu.Unlock()
}

func (q *Queue) backoff(n int) time.Duration {
	d := q.opt.ThrottleBackoffMin
	for i := 1; i < n && d < q.opt.ThrottleBackoffMax; i++ {
		d *= 2
	}
	return min(d, q.opt.ThrottleBackoffMax)
}

// requeue puts an item back, with a new state when st is not nil (the state
// record is written after the in-memory update).
func (q *Queue) requeue(it *item, st *state) {
	q.mu.Lock()
	if st != nil {
		it.st = *st
	}
	it.inflight = false
	q.inflight--
	heap.Push(&q.ready, it)
	q.mu.Unlock()
	q.signal()
	if st != nil {
		if err := q.wal.append(appendFrame(nil, recState, encodeState(it.ev.ID, st))); err != nil {
			// The event stays pending in memory; after a crash an older state
			// is replayed, which costs at most an extra attempt.
			q.stats.errors.Add(1)
			q.log.Error("asyncq: record retry state", "id", it.ev.ID, "err", err)
		}
	}
}

// finish dead-letters (unless successful), notifies and acknowledges.
func (q *Queue) finish(ctx context.Context, it *item, condition string, last Result) {
	c := Completion{Event: it.ev, Condition: condition, Attempts: it.st.attempts, Result: last, Time: q.clock.Now().UTC()}
	c.Event.Attempts = it.st.attempts
	if condition != ConditionSuccess {
		if err := q.dlq.add(&c); err != nil {
			// Keep the event pending and try again later rather than lose it.
			q.stats.errors.Add(1)
			q.log.Error("asyncq: store dead letter; retrying later", "id", it.ev.ID, "err", err)
			st := it.st
			st.due = q.clock.Now().Add(q.backoff(1))
			q.requeue(it, &st)
			return
		}
		q.stats.deadLettered.Add(1)
		if condition == ConditionEventAgeExceeded {
			q.stats.ageExceeded.Add(1)
		} else {
			q.stats.retriesExhausted.Add(1)
		}
	}
	if q.opt.OnComplete != nil {
		q.opt.OnComplete(ctx, c)
	}
	q.mu.Lock()
	delete(q.items, it.ev.ID)
	it.inflight = false
	q.inflight--
	q.mu.Unlock()
	if err := q.wal.append(appendFrame(nil, recDone, encodeDone(it.ev.ID))); err != nil {
		// Not acknowledged on disk: after a restart the event is delivered
		// again (at-least-once).
		q.stats.errors.Add(1)
		q.log.Error("asyncq: acknowledge event", "id", it.ev.ID, "err", err)
	}
}

// DeadLetters returns the dead letters stored for a function, oldest first
// (at most Config.MaxDeadLetters).
func (q *Queue) DeadLetters(function string) ([]DeadLetter, error) {
	return q.dlq.list(function)
}

// PurgeDeadLetters deletes the dead letters of a function.
func (q *Queue) PurgeDeadLetters(function string) error {
	return q.dlq.purge(function)
}

// Pending returns the pending events of a function ("" for all), in
// delivery order of their enqueue sequence.
func (q *Queue) Pending(function string) []Event {
	q.mu.Lock()
	defer q.mu.Unlock()
	var out []Event
	for _, it := range q.items {
		if function == "" || it.ev.Function == function {
			ev := it.ev
			ev.Attempts = it.st.attempts
			out = append(out, ev)
		}
	}
	slices.SortFunc(out, func(a, b Event) int { return cmp.Compare(a.Seq, b.Seq) })
	return out
}

// Stats returns the counters.
func (q *Queue) Stats() Stats {
	q.mu.Lock()
	pending, inflight := len(q.items), q.inflight
	q.mu.Unlock()
	s := &q.stats
	return Stats{
		Enqueued: s.enqueued.Load(), Succeeded: s.succeeded.Load(), FunctionErrors: s.functionErrors.Load(),
		Throttles: s.throttles.Load(), Retries: s.retries.Load(), DeadLettered: s.deadLettered.Load(),
		RetriesExhausted: s.retriesExhausted.Load(), AgeExceeded: s.ageExceeded.Load(), Replayed: s.replayed.Load(),
		CorruptRecords: s.corrupt.Load(), DroppedBytes: s.droppedBytes.Load(), Fsyncs: s.fsyncs.Load(),
		Rotations: s.rotations.Load(), Errors: s.errors.Load(), Pending: pending, InFlight: inflight,
	}
}

// Close stops the log writer and releases the folder. Stop Run (cancel its
// context and wait for it to return) first; Enqueue then fails with ErrClosed.
func (q *Queue) Close() error {
	q.mu.Lock()
	if q.closed {
		q.mu.Unlock()
		return nil
	}
	q.closed = true
	q.mu.Unlock()
	err := q.wal.close()
	return errors.Join(err, q.lock.Close())
}

func newUUID() string {
	var b [16]byte
	rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

// itemHeap orders items by due time, then sequence.
type itemHeap []*item

func (h itemHeap) Len() int { return len(h) }
func (h itemHeap) Less(i, j int) bool {
	if di, dj := h[i].due(), h[j].due(); !di.Equal(dj) {
		return di.Before(dj)
	}
	return h[i].ev.Seq < h[j].ev.Seq
}
func (h itemHeap) Swap(i, j int) {
	h[i], h[j] = h[j], h[i]
	h[i].index = i
	h[j].index = j
}
func (h *itemHeap) Push(x any) {
	it := x.(*item)
	it.index = len(*h)
	*h = append(*h, it)
}
func (h *itemHeap) Pop() any {
	old := *h
	n := len(old)
	it := old[n-1]
	old[n-1] = nil
	it.index = -1
	*h = old[:n-1]
	return it
}
