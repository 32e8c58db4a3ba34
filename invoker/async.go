package invoker

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/fluoro/fluoro/invoker/asyncq"
	"github.com/fluoro/fluoro/invoker/lambdaapi"
	"github.com/fluoro/fluoro/invoker/store"
	"github.com/fluoro/fluoro/invoker/xrayemit"
)

// Meta keys the runner keeps in queued events.
const (
	metaSampled  = "sampled"
	metaSegment  = "service_segment_id"
	metaReceived = "received"
)

// asyncRunner connects the durable queue (invoker/asyncq) to the API: it
// accepts Event invocations, makes the attempts, sends destination records
// and the AWS::Lambda segment of sampled events, and serves dead letters.
type asyncRunner struct {
	inv *Invoker
	api *lambdaapi.Server // set after the API exists
	q   *asyncq.Queue

	runDone chan struct{}
	cancel  context.CancelFunc

	mu       sync.Mutex
	attempts map[string][]xrayemit.Span // sampled events' attempts, by request id
}

func newAsyncRunner(inv *Invoker) (*asyncRunner, error) {
	a := &asyncRunner{inv: inv, attempts: map[string][]xrayemit.Span{}}
	q, err := asyncq.Open(filepath.Join(inv.cfg.DataDir, "async"), inv.cfg.Async, asyncq.Options{
		Logger:     inv.log,
		Policy:     a.policy,
		OnComplete: a.onComplete,
	})
	if err != nil {
		return nil, err
	}
	a.q = q
	return a, nil
}

// policy returns the retry settings of PutFunctionEventInvokeConfig.
func (a *asyncRunner) policy(function, qualifier string) asyncq.Policy {
	p := asyncq.DefaultPolicy()
	if a.api == nil {
		return p
	}
	if c, ok := a.api.EventConfig(function, qualifier); ok {
		if c.MaximumRetryAttempts != nil {
			p.MaximumRetryAttempts = *c.MaximumRetryAttempts
		}
		if c.MaximumEventAgeInSeconds != nil {
			p.MaximumEventAge = time.Duration(*c.MaximumEventAgeInSeconds) * time.Second
		}
	}
	return p
}

// Enqueue implements lambdaapi.AsyncQueue.
func (a *asyncRunner) Enqueue(ctx context.Context, ev *lambdaapi.AsyncEvent) error {
	meta := map[string]string{metaReceived: ev.Received.UTC().Format(time.RFC3339Nano)}
	if ev.Sampled {
		meta[metaSampled] = "1"
		meta[metaSegment] = ev.ServiceSegmentID
	}
	return a.q.Enqueue(ctx, asyncq.Event{
		ID: ev.RequestID, Function: ev.FunctionName, Qualifier: ev.Qualifier, Payload: ev.Payload,
		ClientContext: ev.ClientContext, TraceHeader: ev.TraceHeader, Meta: meta,
	})
}

func toAPIEvent(ev asyncq.Event) *lambdaapi.AsyncEvent {
	out := &lambdaapi.AsyncEvent{
		RequestID: ev.ID, FunctionName: ev.Function, Qualifier: ev.Qualifier, Payload: ev.Payload,
		Received: ev.EnqueuedAt, TraceHeader: ev.TraceHeader, ClientContext: ev.ClientContext,
		Sampled: ev.Meta[metaSampled] == "1", ServiceSegmentID: ev.Meta[metaSegment],
	}
	if t, err := time.Parse(time.RFC3339Nano, ev.Meta[metaReceived]); err == nil {
		out.Received = t
	}
	return out
}

// handle makes one attempt.
func (a *asyncRunner) handle(ctx context.Context, ev asyncq.Event) asyncq.Result {
	apiEv := toAPIEvent(ev)
	out := a.api.InvokeEvent(ctx, apiEv)
	if apiEv.Sampled {
		a.mu.Lock()
		a.attempts[ev.ID] = append(a.attempts[ev.ID], xrayemit.Span{
			ID: xrayemit.NewID(), Start: out.Start, End: out.End, Status: out.Status,
			Error: out.FunctionError != "" || (out.Status >= 400 && out.Status < 500), Fault: out.Status >= 500,
		})
		a.mu.Unlock()
	}
	res := asyncq.Result{StatusCode: out.Status, ExecutedVersion: out.ExecutedVersion, FunctionError: out.FunctionError,
		Payload: out.Payload, Message: out.Message}
	switch {
	case out.Status == http.StatusOK && out.FunctionError == "":
		res.Kind = asyncq.Succeeded
	case out.Status == http.StatusOK:
		res.Kind = asyncq.FunctionError
	case out.Status == http.StatusNotFound:
		res.Kind = asyncq.Rejected
	default:
		res.Kind = asyncq.Throttled
	}
	return res
}

// onComplete emits the event's service segment and sends the destination
// record (OnSuccess / OnFailure) to a Lambda destination as a new Event
// invocation. Failures also stay in the dead-letter store, which is where
// SQS, SNS and EventBridge destinations and DeadLetterConfig point here.
func (a *asyncRunner) onComplete(ctx context.Context, c asyncq.Completion) {
	apiEv := toAPIEvent(c.Event)
	a.mu.Lock()
	spans := a.attempts[c.Event.ID]
	delete(a.attempts, c.Event.ID)
	a.mu.Unlock()
	end := c.Time
	if n := len(spans); n > 0 {
		end = spans[n-1].End
	}
	a.api.EmitEventSegment(apiEv, spans, end)

	cfg, ok := a.api.EventConfig(c.Event.Function, c.Event.Qualifier)
	if !ok {
		return
	}
	dest := cfg.OnFailure
	if c.Condition == asyncq.ConditionSuccess {
		dest = cfg.OnSuccess
	}
	name, ok := lambdaDestination(dest)
	if !ok {
		return
	}
	version := c.Result.ExecutedVersion
	if version == "" {
		version = store.Latest
	}
	rec, err := json.Marshal(c.Record(a.api.FunctionARN(c.Event.Function) + ":" + version))
	if err != nil {
		return
	}
	destEv := &lambdaapi.AsyncEvent{
		RequestID: newRequestID(), FunctionName: name, Payload: rec, Received: time.Now(),
		TraceHeader: c.Event.TraceHeader, Sampled: false,
	}
	if err := a.Enqueue(ctx, destEv); err != nil {
		a.inv.log.Warn("send destination record", "function", c.Event.Function, "destination", dest, "err", err)
	}
}

// lambdaDestination returns the function name of a Lambda destination ARN.
func lambdaDestination(arn string) (string, bool) {
	parts := strings.Split(arn, ":")
	if len(parts) < 7 || parts[0] != "arn" || parts[2] != "lambda" || parts[5] != "function" {
		return "", false
	}
	return parts[6], true
}

// DeadLetters implements lambdaapi.AsyncQueue: the destination records of
// the function's failed events, with the last error message.
func (a *asyncRunner) DeadLetters(function string, limit int) []any {
	cs, err := a.q.DeadLetters(function)
	if err != nil {
		a.inv.log.Warn("read dead letters", "function", function, "err", err)
		return nil
	}
	if limit > 0 && len(cs) > limit {
		cs = cs[len(cs)-limit:]
	}
	out := make([]any, 0, len(cs))
	for _, c := range cs {
		version := c.Result.ExecutedVersion
		if version == "" {
			version = store.Latest
		}
		out = append(out, struct {
			asyncq.InvocationRecord
			ErrorMessage string `json:"errorMessage,omitempty"`
		}{c.Record(a.api.FunctionARN(function) + ":" + version), c.Result.Message})
	}
	return out
}

// run delivers queued events until ctx is done or stop is called.
func (a *asyncRunner) run(ctx context.Context) error {
	ctx, cancel := context.WithCancel(ctx)
	a.mu.Lock()
	a.cancel = cancel
	a.runDone = make(chan struct{})
	done := a.runDone
	a.mu.Unlock()
	defer close(done)
	if err := a.q.Run(ctx, a.handle); err != nil {
		return fmt.Errorf("async queue: %w", err)
	}
	return nil
}

// stop ends run and waits for the attempts in flight.
func (a *asyncRunner) stop() {
	a.mu.Lock()
	cancel, done := a.cancel, a.runDone
	a.mu.Unlock()
	if cancel != nil {
		cancel()
		<-done
	}
}

func (a *asyncRunner) close() error { return a.q.Close() }

// newRequestID returns a random UUID v4 for destination invocations.
func newRequestID() string {
	var b [16]byte
	randRead(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:])
}
