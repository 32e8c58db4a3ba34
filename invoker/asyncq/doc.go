// Package asyncq is the invoker's durable queue of asynchronous (Event)
// invocations: an accepted event survives a crash or restart, is delivered
// in order, retried per the function's event-invoke configuration
// (MaximumRetryAttempts 0–2, MaximumEventAgeInSeconds) and, when given up,
// kept in a per-function dead-letter store (lambda.md §4.8).
//
// # Exported API
//
//	func Open(dir string, cfg Config, opt Options) (*Queue, error)
//	func (*Queue) Enqueue(ctx context.Context, ev Event) error   // returns after fsync
//	func (*Queue) Run(ctx context.Context, h Handler) error      // delivers until ctx ends, then drains
//	func (*Queue) DeadLetters(function string) ([]DeadLetter, error) // type DeadLetter = Completion
//	func (*Queue) PurgeDeadLetters(function string) error
//	func (*Queue) Pending(function string) []Event
//	func (*Queue) Stats() Stats
//	func (*Queue) Close() error
//	type Handler func(ctx context.Context, ev Event) Result
//	type Event struct{ ID, Function, Qualifier string; Payload []byte; ClientContext, TraceHeader string;
//	                   Meta map[string]string; Seq uint64; EnqueuedAt time.Time; Attempts int }
//	type Result struct{ Kind Kind; StatusCode int; ExecutedVersion, FunctionError string; Payload []byte; Message string }
//	type Kind: NoAttempt (zero: none made), Succeeded, FunctionError, Throttled, Rejected
//	type Completion struct{ Event Event; Condition string; Attempts int; Result Result; Time time.Time }
//	func (Completion) Record(functionARN string) InvocationRecord // destination document
//	type Policy struct{ MaximumRetryAttempts int; MaximumEventAge time.Duration }; func DefaultPolicy() Policy
//	type Config struct{ Concurrency, MaxDeadLetters int; SegmentBytes int64 } // -async-* flags
//	type Options struct{ Logger; Clock; Policy func(fn, qualifier string) Policy;
//	                     OnComplete func(ctx, Completion); RetryDelays []time.Duration;
//	                     ThrottleBackoffMin, ThrottleBackoffMax, DrainTimeout time.Duration }
//	var ErrClosed, ErrDuplicate, ErrRunning
//
// # How the engine uses it
//
//	q, err := asyncq.Open(filepath.Join(dataDir, "async"), cfg, asyncq.Options{
//	        Logger: log,
//	        Policy: func(fn, qual string) asyncq.Policy { … from PutFunctionEventInvokeConfig, else DefaultPolicy() },
//	        OnComplete: func(ctx context.Context, c asyncq.Completion) {
//	                // OnSuccess (c.Condition == ConditionSuccess) / OnFailure destination:
//	                // rec := c.Record(versionARN); enqueue an Event for the destination function
//	                // with Payload = json.Marshal(rec).
//	        },
//	})
//	go q.Run(ctx, func(ctx context.Context, ev asyncq.Event) asyncq.Result {
//	        // a synchronous invocation of ev.Function:ev.Qualifier with ev.Payload, ev.TraceHeader:
//	        //   response            → Result{Kind: Succeeded, StatusCode: 200, ExecutedVersion, Payload}
//	        //   function error/timeout/crash → Result{Kind: FunctionError, StatusCode: 200, FunctionError: "Unhandled", Payload: error doc}
//	        //   429 / no capacity / 5xx  → Result{Kind: Throttled, StatusCode, Message}
//	        //   function or qualifier gone → Result{Kind: Rejected, StatusCode: 404, Message}
//	})
//	// Invoke with X-Amz-Invocation-Type: Event:
//	err := q.Enqueue(ctx, asyncq.Event{ID: requestID, Function: name, Qualifier: q, Payload: body, TraceHeader: hdr}) // then 202
//	// Shutdown: cancel Run's ctx, wait for Run to return, then q.Close().
//
// # Delivery semantics
//
// At least once. Events are attempted in order of due time, then enqueue
// order (fresh events are due when enqueued), at most Config.Concurrency at a
// time. Function errors count against MaximumRetryAttempts and are retried
// after Options.RetryDelays (1 min, then 2 min, as AWS does). Throttles and
// system errors do not count; they back off exponentially from 1 s to 5 min.
// An event whose age would exceed MaximumEventAge before its next attempt,
// or is found older than that, is given up with condition EventAgeExceeded;
// one out of retries with RetriesExhausted (also for Rejected). Given-up
// events are stored as dead letters (newest Config.MaxDeadLetters per
// function) before Options.OnComplete runs and the event is acknowledged.
// An attempt still running at shutdown whose result is not a success leaves
// its event unchanged for the next Run. A panicking Handler is logged and
// treated as Throttled.
//
// # Storage
//
// dir/wal-<n>.log is an append-only log of checksummed records (event
// accepted, retry state after a failed attempt, done); dir/dlq/<function>.log
// holds dead letters in the same framing; dir/LOCK is flock'ed so only one
// process uses the folder. Framing: uint32 length, uint32 CRC-32C of
// type+body, type byte, body (a compact binary encoding with a version
// number). Enqueue, retry state and acknowledgements are fsynced; concurrent
// writers share one fsync (group commit by a single writer goroutine), which
// is why a log was chosen over one file per event (two fsyncs plus a
// directory sync each, no batching). When the active segment passes
// Config.SegmentBytes (or twice the live data), the writer starts a new
// segment holding a snapshot of the pending events, syncs it and deletes the
// older segments, so the log stays about the size of the pending set; Open
// compacts the same way. On Open, the segments are replayed in order; the
// first torn or damaged record ends its segment (the rest is skipped and
// counted in Stats.CorruptRecords/DroppedBytes), so a crash in the middle of
// a write loses nothing that Enqueue had acknowledged.
package asyncq
