package engine

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"time"

	"github.com/fluoro/fluoro/invoker/logs"
	"github.com/fluoro/fluoro/invoker/runtimeapi"
	"github.com/fluoro/fluoro/invoker/sandbox"
	"github.com/fluoro/fluoro/invoker/xrayemit"
)

type envState uint8

const (
	stateStarting envState = iota // Init running; holds a slot
	stateIdle                     // runtime waits in /next; in pool.idle
	stateBusy                     // invocation assigned; holds a slot
	stateOverhead                 // responded, runtime not yet back in /next; holds a slot
	stateDead
)

// env is one execution environment.
type env struct {
	e      *Engine
	pool   *pool
	spec   *Spec
	id     uint64
	stream string
	logw   *logs.Writer

	// Set by launch before the process starts.
	proc      *sandbox.Process
	api       *runtimeapi.Server
	lp        *logPipe
	dir       string
	initStart time.Time
	initEnd   time.Time // written before initDone is closed

	// Guarded by e.mu.
	state          envState
	claimed        bool
	holdsSlot      bool
	slotUnreserved bool
	idleSince      time.Time

	initDone   chan struct{} // closed at the first /next
	initFailed chan struct{} // closed at /runtime/init/error
	exited     chan struct{} // closed when the process exited
	dead       chan struct{} // closed when the exit was fully handled

	// Guarded by mu (the runtime side).
	mu      sync.Mutex
	started bool
	queued  *invocation          // assigned while the runtime was not waiting in /next
	waiters []*runtimeapi.Waiter // the runtime's pending /next requests, oldest first
	cur     *invocation          // delivered, not yet answered
	// One timer per environment bounds the running invocation (timing) by
	// timingDeadline; see armTimeout.
	timer          *time.Timer
	timerArmed     bool
	timing         *invocation
	timingDeadline time.Time
	finishing      *invocation // answered, waiting for the runtime's next /next
	initErrType    string
	initErrBody    []byte
	killReason     string
	exitErr        error

	// tail is the log tail of the current invocation (guarded by lp.mu).
	tail *bytes.Buffer
}

func (e *Engine) newEnv(p *pool) *env {
	id := e.envSeq.Add(1)
	return &env{
		e: e, pool: p, spec: p.spec, id: id,
		stream:     logs.StreamName(time.Now(), p.spec.Version),
		logw:       e.logs.Writer(p.spec.FunctionName),
		initDone:   make(chan struct{}),
		initFailed: make(chan struct{}),
		exited:     make(chan struct{}),
		dead:       make(chan struct{}),
	}
}

// invocation is one request's passage through an environment.
type invocation struct {
	env     *env
	req     *Request
	rt      runtimeapi.Invoke
	cold    bool
	timeout time.Duration

	fnSegID, invSegID string
	traceRoot         string

	// Guarded by env.mu.
	completed bool
	retry     bool
	resp      *runtimeapi.Response
	status    string // "", "timeout", "error"
	errType   string // platform error type
	errMsg    string

	delivered, responded, ended time.Time

	done     chan struct{} // closed once completed
	finished chan struct{} // closed after END/REPORT (only when req.Tail)
	tail     *bytes.Buffer
}

func newInvocation(v *env, req *Request) *invocation {
	inv := &invocation{env: v, req: req, timeout: v.spec.Timeout, done: make(chan struct{})}
	inv.rt = runtimeapi.Invoke{
		RequestID:       req.RequestID,
		FunctionARN:     req.InvokedARN,
		ClientContext:   req.ClientContext,
		CognitoIdentity: req.Cognito,
		TenantID:        req.TenantID,
		ContentType:     req.ContentType,
		Payload:         req.Payload,
	}
	h := req.Trace.Header
	h.Extra = nil
	if h.Root == "" {
		h.Root = xrayemit.NewTraceID(time.Now())
	}
	if req.Trace.Sampled {
		inv.fnSegID, inv.invSegID = xrayemit.NewID(), xrayemit.NewID()
		h.Parent, h.Sampled = inv.invSegID, '1'
	} else {
		if h.Parent == "" {
			h.Parent = xrayemit.NewID()
		}
		h.Sampled = '0'
	}
	inv.rt.TraceID = h.String()
	inv.traceRoot = h.Root
	if req.Tail {
		inv.finished = make(chan struct{})
		inv.tail = new(bytes.Buffer)
	}
	return inv
}

// launch starts the environment for inv (a cold start) and waits for Init.
// It returns a function-error result when Init failed, nil when the
// environment is ready.
func (v *env) launch(inv *invocation) *Result {
	inv.cold = true
	v.initStart = time.Now()
	if err := v.start(); err != nil {
		v.e.log.Warn("environment failed to start", "function", v.spec.FunctionName, "err", err)
		v.e.removeEnv(v)
		close(v.exited)
		close(v.dead)
		msg := "RequestId: " + inv.req.RequestID + " Error: " + err.Error()
		return v.initFailure(inv, "Runtime.InvalidEntrypoint", msg, nil, "error")
	}
	timer := time.NewTimer(v.e.cfg.InitTimeout)
	defer timer.Stop()
	select {
	case <-v.initDone:
		return nil
	case <-v.initFailed:
		v.mu.Lock()
		typ, body := v.initErrType, v.initErrBody
		v.mu.Unlock()
		if typ == "" {
			typ = errorTypeOf(body, "Runtime.Unknown")
		}
		v.kill("failure")
		return v.initFailure(inv, typ, "", body, "error")
	case <-v.exited:
		<-v.dead
		typ, msg := v.crashError(inv.req.RequestID)
		return v.initFailure(inv, typ, msg, nil, "error")
	case <-timer.C:
		v.kill("timeout")
		msg := "RequestId: " + inv.req.RequestID + " Error: Task timed out after " + logs.FormatSeconds(v.e.cfg.InitTimeout) + " seconds"
		return v.initFailure(inv, "Sandbox.Timedout", msg, nil, "timeout")
	}
}

// initFailure logs and traces a failed Init and returns the invocation's
// result. body (the runtime's /init/error payload) wins over msg.
func (v *env) initFailure(inv *invocation, typ, msg string, body []byte, status string) *Result {
	now := time.Now()
	initDur := now.Sub(v.initStart)
	v.platformLine(logs.InitReportLine(initDur, "init", status, typ), inv)
	inv.mu().Lock()
	inv.completed, inv.status, inv.errType, inv.errMsg = true, "error", typ, msg
	inv.delivered, inv.responded, inv.ended = now, now, now
	inv.mu().Unlock()
	v.platformLine(logs.StartLine(inv.req.RequestID, v.spec.Version), inv)
	v.finish(inv)
	res := &Result{
		ContentType: "application/json", FunctionError: "Unhandled", ErrorType: typ, Status: "error",
		ExecutedVersion: v.spec.Version, Cold: true, Start: v.initStart, End: now,
	}
	if body != nil {
		res.Payload = runtimeapi.GetBuffer()
		res.Payload.Write(body)
	} else {
		res.Payload = platformBody(typ, msg)
	}
	if inv.tail != nil {
		res.LogTail = logs.Tail(inv.tail.Bytes())
	}
	return res
}

func (inv *invocation) mu() *sync.Mutex { return &inv.env.mu }

// start creates the environment's directory, log pipe and Runtime API
// listener and starts the bootstrap.
func (v *env) start() error {
	e, s := v.e, v.spec
	v.dir = filepath.Join(e.cfg.WorkDir, "envs", strconv.FormatUint(v.id, 10))
	tmp := filepath.Join(v.dir, "tmp")
	if err := os.Mkdir(v.dir, 0o711); err != nil {
		return fmt.Errorf("environment directory: %w", err)
	}
	if err := e.set.Sandbox.MakeDir(tmp); err != nil {
		return err
	}
	var b *Bootstrap
	path := filepath.Join(s.CodeDir, "bootstrap")
	var args []string
	if !IsCustomRuntime(s.Runtime) {
		if e.set.Runtimes == nil {
			return fmt.Errorf("runtime %s is not available", s.Runtime)
		}
		var err error
		if b, err = e.set.Runtimes.Bootstrap(s.Runtime); err != nil {
			return err
		}
		path, args = b.Path, b.Args
	}
	api, err := runtimeapi.Listen("127.0.0.1:0", v, e.log)
	if err != nil {
		return err
	}
	v.api = api
	r, w, err := os.Pipe()
	if err != nil {
		_ = api.Close()
		return fmt.Errorf("log pipe: %w", err)
	}
	v.lp = newLogPipe(r, v.sinkLine)
	v.logw.Append(v.stream, time.Now(), logs.InitStartLine(s.Runtime+".v1", RuntimeVersionARN(e.cfg.Region, s.Runtime)))
	proc, err := e.set.Sandbox.Start(sandbox.Spec{
		Path: path, Args: args, Env: v.environ(b, api.Addr(), tmp), Dir: s.CodeDir, Output: w, MemoryMB: s.MemoryMB,
	})
	_ = w.Close()
	if err != nil {
		_ = r.Close()
		_ = api.Close()
		return err
	}
	v.proc = proc
	e.mu.Lock()
	closed := e.closed
	if !closed {
		e.wg.Add(3) // under e.mu: Close cannot be waiting on wg yet
	}
	e.mu.Unlock()
	if closed {
		proc.Kill()
		_ = proc.Wait()
		proc.Cleanup()
		_ = r.Close()
		_ = api.Close()
		return ErrClosed
	}
	go func() {
		defer e.wg.Done()
		if err := api.Serve(); err != nil {
			e.log.Warn("runtime API", "function", s.FunctionName, "err", err)
		}
	}()
	go func() {
		defer e.wg.Done()
		v.lp.run()
	}()
	go func() {
		defer e.wg.Done()
		v.watch()
	}()
	return nil
}

// sinkLine stores one line of the runtime's output (lp.mu held).
func (v *env) sinkLine(line []byte) {
	v.logw.Append(v.stream, time.Now(), string(line))
	if v.tail != nil {
		v.tail.Write(line)
		v.tail.WriteByte('\n')
	}
}

// platformLine writes a platform line in order with the function's output.
func (v *env) platformLine(line string, inv *invocation) {
	write := func() {
		v.logw.Append(v.stream, time.Now(), line)
		if inv != nil && inv.tail != nil {
			inv.tail.WriteString(line)
			inv.tail.WriteByte('\n')
		}
	}
	if v.lp != nil {
		v.lp.with(write)
	} else {
		write()
	}
}

// kill stops the process group (reason: "spindown", "timeout", "failure").
func (v *env) kill(reason string) {
	v.mu.Lock()
	if v.killReason == "" {
		v.killReason = reason
	}
	v.mu.Unlock()
	if v.proc != nil {
		v.proc.Kill()
	}
}

// watch waits for the process to exit and settles everything it leaves.
func (v *env) watch() {
	err := v.proc.Wait()
	close(v.exited)
	now := time.Now()
	v.lp.drain()
	v.mu.Lock()
	v.exitErr = err
	cur, fin := v.cur, v.finishing
	v.cur, v.finishing = nil, nil
	v.mu.Unlock()
	if cur != nil {
		typ, msg := v.crashError(cur.req.RequestID)
		v.mu.Lock()
		first := !cur.completed
		if first {
			cur.completed, cur.status, cur.errType, cur.errMsg = true, "error", typ, msg
			cur.responded = now
		}
		v.mu.Unlock()
		if first {
			close(cur.done)
		}
		cur.ended = now
		v.finish(cur)
	}
	if fin != nil {
		fin.ended = now
		v.finish(fin)
	}
	v.e.removeEnv(v)
	// An invocation queued for this environment but never delivered: a
	// timed-out one is finished, any other is retried elsewhere.
	v.mu.Lock()
	inv := v.queued
	v.queued, v.waiters = nil, nil
	if v.timer != nil {
		v.timer.Stop()
		v.timerArmed = false
	}
	first := inv != nil && !inv.completed
	if first {
		inv.completed, inv.retry = true, true
	}
	v.mu.Unlock()
	if first {
		close(inv.done)
	} else if inv != nil {
		inv.ended = now
		v.finish(inv)
	}
	_ = v.api.Close()
	v.lp.close()
	v.proc.Cleanup()
	if err := os.RemoveAll(v.dir); err != nil {
		v.e.log.Warn("remove environment directory", "dir", v.dir, "err", err)
	}
	close(v.dead)
}

// crashError classifies the process's exit for the invocation requestID.
func (v *env) crashError(requestID string) (typ, msg string) {
	v.mu.Lock()
	err := v.exitErr
	v.mu.Unlock()
	typ = "Runtime.ExitError"
	reason := "Runtime exited without providing a reason"
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		reason = "Runtime exited with error: " + ee.Error()
	} else if err != nil {
		reason = "Runtime exited with error: " + err.Error()
	}
	if v.proc != nil && v.proc.OOMKilled() {
		typ = "Runtime.OutOfMemory"
	}
	return typ, "RequestId: " + requestID + " Error: " + reason
}

// removeEnv takes v out of its pool and releases its slot.
func (e *Engine) removeEnv(v *env) {
	e.mu.Lock()
	defer e.mu.Unlock()
	v.state = stateDead
	p := v.pool
	p.idle = removeEnvFrom(p.idle, v)
	p.overhead = removeEnvFrom(p.overhead, v)
	if _, ok := e.envs[v]; ok {
		delete(e.envs, v)
		p.size--
	}
	e.releaseSlot(v)
}

func removeEnvFrom(list []*env, v *env) []*env {
	for i, x := range list {
		if x == v {
			copy(list[i:], list[i+1:])
			list[len(list)-1] = nil
			return list[:len(list)-1]
		}
	}
	return list
}

// toOverhead makes v claimable by the next invocation while its runtime
// finishes the previous one.
func (e *Engine) toOverhead(v *env) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if v.state == stateDead {
		return
	}
	v.state = stateOverhead
	if !v.pool.stale && !e.closed {
		v.pool.overhead = append(v.pool.overhead, v)
	}
}

// afterOverhead runs when the runtime is back in /next: v goes to its
// claimer, to the idle pool, or away.
func (e *Engine) afterOverhead(v *env) {
	e.mu.Lock()
	if v.state == stateDead {
		e.mu.Unlock()
		return
	}
	p := v.pool
	p.overhead = removeEnvFrom(p.overhead, v)
	if v.claimed {
		v.claimed = false
		v.state = stateBusy
		e.mu.Unlock()
		return
	}
	if p.stale || e.closed {
		v.state = stateDead
		e.releaseSlot(v)
		e.mu.Unlock()
		v.kill("spindown")
		return
	}
	v.state = stateIdle
	v.idleSince = time.Now()
	e.releaseSlot(v)
	p.idle = append(p.idle, v)
	e.mu.Unlock()
}

// run delivers inv to the (initialised) environment and waits for the
// outcome. retry reports an invocation that never reached the runtime
// because the environment died first.
func (v *env) run(inv *invocation) (*Result, bool) {
	start := time.Now()
	deadline := start.Add(inv.timeout)
	inv.rt.DeadlineMs = deadline.UnixMilli()
	v.assign(inv)
	v.armTimeout(inv, deadline)
	select {
	case <-inv.done: // answered, failed, or timed out (onTimeout)
	case <-v.exited:
		<-v.dead
		v.mu.Lock()
		if !inv.completed { // enqueued after the environment was cleaned up
			inv.completed, inv.retry = true, true
			close(inv.done)
		}
		v.mu.Unlock()
		<-inv.done
	}
	v.mu.Lock()
	if v.timing == inv {
		v.timing = nil
	}
	v.mu.Unlock()
	if inv.retry {
		return nil, true
	}
	if inv.finished != nil {
		select {
		case <-inv.finished:
		case <-time.After(3 * time.Second):
		}
	}
	return v.result(inv, start), false
}

// armTimeout makes inv time out at deadline. The environment keeps one
// timer for all its invocations and does not move it per invocation: a new
// timer, or a Reset to an earlier time, wakes the Go scheduler's network
// poller thread on every invocation. When the timer fires before the
// current invocation's deadline (it was set for an earlier one), it re-arms
// itself for the rest.
func (v *env) armTimeout(inv *invocation, deadline time.Time) {
	v.mu.Lock()
	defer v.mu.Unlock()
	v.timing, v.timingDeadline = inv, deadline
	if v.timerArmed {
		return
	}
	v.timerArmed = true
	if v.timer == nil {
		v.timer = time.AfterFunc(time.Until(deadline), v.onTimeout)
	} else {
		v.timer.Reset(time.Until(deadline))
	}
}

// onTimeout runs when the environment's timer fires.
func (v *env) onTimeout() {
	v.mu.Lock()
	inv := v.timing
	if inv == nil {
		v.timerArmed = false
		v.mu.Unlock()
		return
	}
	if d := time.Until(v.timingDeadline); d > 0 {
		v.timer.Reset(d)
		v.mu.Unlock()
		return
	}
	v.timing = nil
	v.timerArmed = false
	v.mu.Unlock()
	v.timeoutInvocation(inv)
}

// timeoutInvocation fails inv with Sandbox.Timedout and resets the
// environment.
func (v *env) timeoutInvocation(inv *invocation) {
	v.mu.Lock()
	if inv.completed {
		v.mu.Unlock()
		return
	}
	inv.completed, inv.status, inv.errType = true, "timeout", "Sandbox.Timedout"
	inv.errMsg = "RequestId: " + inv.req.RequestID + " Error: Task timed out after " + logs.FormatSeconds(inv.timeout) + " seconds"
	inv.responded = time.Now()
	v.mu.Unlock()
	close(inv.done)
	v.kill("timeout")
}

func (v *env) result(inv *invocation, start time.Time) *Result {
	res := &Result{
		ContentType: "application/json", ExecutedVersion: v.spec.Version, Cold: inv.cold,
		Start: start, End: inv.responded, Status: inv.status,
	}
	if inv.cold {
		res.Start = v.initStart
	}
	if inv.resp != nil {
		res.Payload = inv.resp.Body
		if inv.resp.Error {
			res.FunctionError = "Unhandled"
			res.ErrorType = inv.resp.ErrorType
			if res.ErrorType == "" {
				res.ErrorType = errorTypeOf(res.Payload.Bytes(), "")
			}
		}
	} else {
		res.FunctionError, res.ErrorType = "Unhandled", inv.errType
		res.Payload = platformBody(inv.errType, inv.errMsg)
	}
	if inv.tail != nil {
		inv.env.lp.with(func() { res.LogTail = logs.Tail(inv.tail.Bytes()) })
	}
	return res
}

// platformBody is the payload Lambda returns for platform errors.
func platformBody(typ, msg string) *bytes.Buffer {
	b := runtimeapi.GetBuffer()
	enc, _ := json.Marshal(struct {
		ErrorType    string `json:"errorType"`
		ErrorMessage string `json:"errorMessage"`
	}{typ, msg})
	b.Write(enc)
	return b
}

// errorTypeOf extracts errorType from a JSON error body.
func errorTypeOf(body []byte, def string) string {
	var e struct {
		ErrorType string `json:"errorType"`
	}
	if json.Unmarshal(body, &e) == nil && e.ErrorType != "" {
		return e.ErrorType
	}
	return def
}

// finish writes END and REPORT and emits the function segment.
func (v *env) finish(inv *invocation) {
	if v.lp != nil {
		v.lp.drain()
	}
	v.mu.Lock()
	status, errType, resp := inv.status, inv.errType, inv.resp
	delivered, responded, ended := inv.delivered, inv.responded, inv.ended
	v.mu.Unlock()
	if ended.IsZero() {
		ended = time.Now()
	}
	dur := time.Duration(0)
	if !delivered.IsZero() {
		dur = ended.Sub(delivered)
	}
	if status == "timeout" || dur > inv.timeout {
		dur = inv.timeout
	}
	rep := logs.Report{
		RequestID: inv.req.RequestID, Duration: dur, BilledDuration: dur, MemoryMB: v.spec.MemoryMB,
		Status: status,
	}
	if status == "error" {
		rep.ErrorType = errType
	}
	if v.proc != nil {
		rep.MaxMemoryBytes = v.proc.MaxMemoryBytes()
	}
	if inv.cold && !v.initEnd.IsZero() {
		rep.InitDuration = v.initEnd.Sub(v.initStart)
	}
	if inv.req.Trace.Sampled {
		rep.TraceID, rep.SegmentID, rep.Sampled = inv.traceRoot, inv.fnSegID, true
	}
	v.platformLine(logs.EndLine(inv.req.RequestID), inv)
	v.platformLine(rep.Line(), inv)
	if v.lp != nil {
		v.lp.with(func() {
			if v.tail == inv.tail {
				v.tail = nil
			}
		})
	}
	if inv.finished != nil {
		close(inv.finished)
	}
	if inv.req.Trace.Sampled && v.e.set.Emitter != nil {
		v.emitFunctionSegment(inv, status, errType, resp, delivered, responded, ended)
	}
}

func (v *env) emitFunctionSegment(inv *invocation, status, errType string, resp *runtimeapi.Response, delivered, responded, ended time.Time) {
	s := v.spec
	f := xrayemit.Function{
		TraceID:      inv.traceRoot,
		ID:           inv.fnSegID,
		ParentID:     inv.req.Trace.ServiceSegmentID,
		FunctionName: s.FunctionName,
		FunctionARN:  s.FunctionARN,
		QualifiedARN: s.FunctionARN + ":" + s.Version,
		AccountID:    v.e.cfg.AccountID,
		InvocationID: inv.invSegID,
		InvokeStart:  delivered,
		ResponseEnd:  responded,
		End:          ended,
	}
	if inv.cold {
		f.InitStart = v.initStart
		f.InitEnd = v.initEnd
		if f.InitEnd.IsZero() {
			f.InitEnd = responded
		}
	}
	if delivered.IsZero() { // Init failed: no Invocation subsegment
		f.InvokeStart = time.Time{}
	}
	switch {
	case status != "":
		f.Fault = true
		f.Cause = &xrayemit.Cause{WorkingDirectory: s.CodeDir, Exceptions: []xrayemit.Exception{{ID: xrayemit.NewID(), Type: errType, Message: inv.errMsg}}}
	case resp != nil && resp.Error:
		f.Error = true
		if c := xrayemit.RawCause(resp.XRayCause); c != nil {
			f.Cause = c
		} else {
			f.Cause = &xrayemit.Cause{WorkingDirectory: s.CodeDir, Exceptions: []xrayemit.Exception{{ID: xrayemit.NewID(),
				Type: errorTypeOf(resp.Body.Bytes(), resp.ErrorType), Message: errorMessageOf(resp.Body.Bytes())}}}
		}
	}
	_ = v.e.set.Emitter.Emit(context.Background(), xrayemit.NewFunctionSegment(f))
}

func errorMessageOf(body []byte) string {
	var e struct {
		ErrorMessage string `json:"errorMessage"`
	}
	if json.Unmarshal(body, &e) == nil {
		return e.ErrorMessage
	}
	return ""
}

// ---- runtimeapi.Backend ----

// assign gives inv to the runtime: at once when it waits in /next (written
// to it from this goroutine), else at its next /next.
func (v *env) assign(inv *invocation) {
	for {
		v.mu.Lock()
		var w *runtimeapi.Waiter
		for len(v.waiters) > 0 && w == nil {
			w = v.waiters[0]
			v.waiters[0] = nil
			v.waiters = v.waiters[1:]
			if !w.Claim() {
				w = nil
			}
		}
		if w == nil {
			v.queued = inv
			v.mu.Unlock()
			return
		}
		v.cur = inv
		inv.delivered = time.Now()
		v.mu.Unlock()
		v.startLine(inv)
		if w.Send(&inv.rt) {
			return
		}
		// The runtime's request went away while the answer was written: the
		// invocation goes to its next /next.
		v.mu.Lock()
		if v.cur == inv {
			v.cur = nil
		}
		v.mu.Unlock()
	}
}

// startLine writes the START line of a delivered invocation.
func (v *env) startLine(inv *invocation) {
	line := logs.StartLine(inv.req.RequestID, v.spec.Version)
	v.lp.with(func() {
		v.tail = inv.tail
		v.logw.Append(v.stream, inv.delivered, line)
		if inv.tail != nil {
			inv.tail.WriteString(line)
			inv.tail.WriteByte('\n')
		}
	})
}

// Next implements runtimeapi.Backend: it completes the previous invocation
// from the runtime's side and returns the invocation assigned meanwhile, or
// keeps w for the next one.
func (v *env) Next(w *runtimeapi.Waiter) (*runtimeapi.Invoke, error) {
	now := time.Now()
	v.mu.Lock()
	if v.cur != nil {
		v.mu.Unlock()
		return nil, runtimeapi.StateTransitionError("Invoking", "Ready")
	}
	fin := v.finishing
	v.finishing = nil
	first := !v.started
	v.started = true
	v.mu.Unlock()
	if first {
		v.initEnd = now
		close(v.initDone)
	}
	if fin != nil {
		fin.ended = now
		v.finish(fin)
		v.e.afterOverhead(v)
	}
	v.mu.Lock()
	inv := v.queued
	if inv == nil {
		v.waiters = append(v.waiters, w)
		v.mu.Unlock()
		return nil, nil
	}
	v.queued = nil
	if inv.completed { // timed out while queued
		v.mu.Unlock()
		inv.ended = time.Now()
		v.finish(inv)
		return nil, runtimeapi.ErrInternal
	}
	v.cur = inv
	inv.delivered = time.Now()
	v.mu.Unlock()
	v.startLine(inv)
	return &inv.rt, nil
}

// Respond implements runtimeapi.Backend.
func (v *env) Respond(r *runtimeapi.Response) error {
	now := time.Now()
	v.mu.Lock()
	inv := v.cur
	if inv == nil || inv.completed || inv.rt.RequestID != r.RequestID {
		v.mu.Unlock()
		return runtimeapi.ErrInvalidRequestID
	}
	v.cur, v.finishing = nil, inv
	inv.completed, inv.resp, inv.responded = true, r, now
	v.mu.Unlock()
	v.lp.drain()
	v.e.toOverhead(v)
	close(inv.done)
	return nil
}

// InitError implements runtimeapi.Backend.
func (v *env) InitError(errorType string, body []byte) error {
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.started || v.initErrBody != nil {
		return runtimeapi.StateTransitionError("Ready", "InitError")
	}
	v.initErrType, v.initErrBody = errorType, body
	if v.initErrBody == nil {
		v.initErrBody = []byte{}
	}
	close(v.initFailed)
	return nil
}
