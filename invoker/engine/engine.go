package engine

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/fluoro/fluoro/invoker/logs"
	"github.com/fluoro/fluoro/invoker/runtimeapi"
	"github.com/fluoro/fluoro/invoker/sandbox"
	"github.com/fluoro/fluoro/invoker/xrayemit"
)

// Config is the engine's user-set configuration (flags live in the
// invoker package).
type Config struct {
	// MaxConcurrency is the engine-wide limit of environments in use (the
	// account's concurrent executions, 1,000 on AWS).
	MaxConcurrency int
	// MinUnreserved is the capacity reservations must leave to functions
	// without one (100 on AWS, capped at MaxConcurrency/10 here).
	MinUnreserved int
	// IdleTimeout is how long an unused environment is kept.
	IdleTimeout time.Duration
	// InitTimeout bounds Init (10 s on AWS).
	InitTimeout time.Duration
	// WorkDir holds per-environment temporary directories.
	WorkDir string
	// Region and AccountID build ARNs and environment variables.
	Region, AccountID string
	// XRayDaemonAddr is given to functions as AWS_XRAY_DAEMON_ADDRESS.
	XRayDaemonAddr string
	// LambdaEndpoint, when set, is given to functions as
	// AWS_ENDPOINT_URL_LAMBDA so SDK calls to Lambda reach this invoker.
	LambdaEndpoint string
}

// Emitter sends X-Ray documents (xrayemit.UDPEmitter satisfies it).
type Emitter interface {
	Emit(ctx context.Context, doc *xrayemit.Document) error
}

// Bootstrap says how to start a managed runtime's bootstrap.
type Bootstrap struct {
	Path string
	Args []string
	// Env is added to the function's environment (NODE_PATH, …) before the
	// customer's variables.
	Env []string
	// RuntimeDir becomes LAMBDA_RUNTIME_DIR.
	RuntimeDir string
}

// Runtimes resolves managed runtimes (nodejs*, python*) to bootstraps.
type Runtimes interface {
	Bootstrap(runtime string) (*Bootstrap, error)
}

// Settings are the engine's collaborators.
type Settings struct {
	Logger   *slog.Logger
	Sandbox  *sandbox.Manager
	Emitter  Emitter        // nil: no segments
	Logs     *logs.Registry // nil: a private registry
	Runtimes Runtimes       // nil: custom runtimes only
}

// Spec is an immutable description of what an environment runs: one
// function version with one configuration revision. Environments are pooled
// per Spec.Key().
type Spec struct {
	FunctionName string
	FunctionARN  string // unqualified
	Version      string // "$LATEST" or a number
	Revision     string // configuration revision; a new one gets new environments
	Runtime      string
	Handler      string
	MemoryMB     int
	Timeout      time.Duration
	Env          map[string]string // customer variables
	CodeDir      string
	LogFormat    string
	LogLevel     string // application log level
	SystemLevel  string
	LogGroup     string

	keyOnce sync.Once
	key     string
}

// Key identifies the spec's environment pool.
func (s *Spec) Key() string {
	s.keyOnce.Do(func() { s.key = s.FunctionName + "\x00" + s.Version + "\x00" + s.Revision })
	return s.key
}

// Request is one invocation.
type Request struct {
	RequestID     string
	Payload       []byte
	ContentType   string
	ClientContext string // decoded JSON
	Cognito       string
	TenantID      string
	InvokedARN    string // as invoked (with qualifier if any)
	Trace         Trace
	// Tail asks for the base64 4 KB log tail (the call then waits for the
	// REPORT line).
	Tail bool
}

// Trace is the trace context of an invocation, decided by the caller.
type Trace struct {
	// Header carries Root, the upstream Parent, Lineage and extras.
	Header xrayemit.Header
	// Sampled: the engine emits the AWS::Lambda::Function segment (parent
	// ServiceSegmentID) and passes Sampled=1 to the runtime.
	Sampled          bool
	ServiceSegmentID string
}

// Result is the outcome of an invocation.
type Result struct {
	Payload     *bytes.Buffer // release with Release
	ContentType string
	// FunctionError is "Unhandled" for function and platform errors.
	FunctionError string
	// ErrorType is the error's type (runtime's or platform's), "" on success.
	ErrorType string
	// Status is "", "timeout" or "error" (platform failures), as on REPORT.
	Status          string
	ExecutedVersion string
	LogTail         string // base64, when Request.Tail
	Cold            bool
	// Start and End bound the attempt inside the engine.
	Start, End time.Time
}

// Release returns the payload buffer to the pool.
func (r *Result) Release() {
	if r != nil && r.Payload != nil {
		runtimeapi.PutBuffer(r.Payload)
		r.Payload = nil
	}
}

// Throttle reasons (TooManyRequestsException.Reason).
const (
	ReasonConcurrent = "ConcurrentInvocationLimitExceeded"
	ReasonReserved   = "ReservedFunctionConcurrentInvocationLimitExceeded"
)

// ThrottleError is returned by Invoke when no concurrency is available.
type ThrottleError struct{ Reason string }

func (e *ThrottleError) Error() string { return "Rate Exceeded. (" + e.Reason + ")" }

// ErrClosed is returned by Invoke after Close.
var ErrClosed = errors.New("engine: closed")

// Engine runs invocations. It is safe for concurrent use.
type Engine struct {
	cfg  Config
	set  Settings
	log  *slog.Logger
	logs *logs.Registry

	mu              sync.Mutex
	pools           map[string]*pool
	fns             map[string]*fnCount
	unreservedInUse int
	reservedTotal   int
	envs            map[*env]struct{}
	closed          bool

	envSeq   atomic.Uint64
	wg       sync.WaitGroup // environment goroutines
	reaperWG sync.WaitGroup
	stop     chan struct{}
}

type fnCount struct {
	inUse    int
	reserved int // -1: none
}

type pool struct {
	key      string
	spec     *Spec
	idle     []*env // LIFO
	overhead []*env // responded, runtime not yet back in /next, unclaimed
	size     int
	stale    bool
}

// New creates an engine and starts its idle reaper; Close stops it.
func New(cfg Config, set Settings) (*Engine, error) {
	if cfg.MaxConcurrency <= 0 {
		cfg.MaxConcurrency = 1000
	}
	if cfg.MinUnreserved <= 0 {
		cfg.MinUnreserved = 100
	}
	cfg.MinUnreserved = min(cfg.MinUnreserved, max(cfg.MaxConcurrency/10, 1))
	if cfg.IdleTimeout <= 0 {
		cfg.IdleTimeout = 10 * time.Minute
	}
	if cfg.InitTimeout <= 0 {
		cfg.InitTimeout = 10 * time.Second
	}
	if cfg.WorkDir == "" {
		return nil, errors.New("engine: WorkDir is required")
	}
	if set.Sandbox == nil {
		return nil, errors.New("engine: Settings.Sandbox is required")
	}
	if set.Logger == nil {
		set.Logger = slog.New(slog.DiscardHandler)
	}
	if set.Logs == nil {
		set.Logs = logs.NewRegistry(0)
	}
	envDir := filepath.Join(cfg.WorkDir, "envs")
	if err := os.RemoveAll(envDir); err != nil { // leftovers of a previous run
		return nil, fmt.Errorf("engine: %w", err)
	}
	if err := os.MkdirAll(envDir, 0o711); err != nil {
		return nil, fmt.Errorf("engine: %w", err)
	}
	e := &Engine{
		cfg: cfg, set: set, log: set.Logger, logs: set.Logs,
		pools: make(map[string]*pool), fns: make(map[string]*fnCount), envs: make(map[*env]struct{}),
		stop: make(chan struct{}),
	}
	e.reaperWG.Add(1)
	go e.reaper()
	return e, nil
}

// Logs returns the registry of recent function logs.
func (e *Engine) Logs() *logs.Registry { return e.logs }

// Config returns the effective configuration.
func (e *Engine) Config() Config { return e.cfg }

// SetReserved sets (n ≥ 0) or removes (n < 0) a function's reserved
// concurrency. It fails when the reservation would leave less than
// MinUnreserved for the other functions.
func (e *Engine) SetReserved(fn string, n int) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	c := e.count(fn)
	old := max(c.reserved, 0)
	if n >= 0 && e.cfg.MaxConcurrency-(e.reservedTotal-old+n) < e.cfg.MinUnreserved {
		return fmt.Errorf("%w: Specified ReservedConcurrentExecutions for function decreases account's UnreservedConcurrentExecution below its minimum value of [%d].",
			ErrReservation, e.cfg.MinUnreserved)
	}
	e.reservedTotal += max(n, 0) - old
	if n < 0 {
		c.reserved = -1
	} else {
		c.reserved = n
	}
	return nil
}

// ErrReservation is wrapped by SetReserved's refusal.
var ErrReservation = errors.New("reservation refused")

// Limits reports the engine-wide concurrency limit and what is left
// unreserved.
func (e *Engine) Limits() (total, unreserved int) {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.cfg.MaxConcurrency, e.cfg.MaxConcurrency - e.reservedTotal
}

func (e *Engine) count(fn string) *fnCount {
	c := e.fns[fn]
	if c == nil {
		c = &fnCount{reserved: -1}
		e.fns[fn] = c
	}
	return c
}

// takeSlot counts one more environment in use for fn. e.mu is held.
func (e *Engine) takeSlot(v *env) error {
	c := e.count(v.spec.FunctionName)
	if c.reserved >= 0 {
		if c.inUse >= c.reserved {
			return &ThrottleError{Reason: ReasonReserved}
		}
		v.slotUnreserved = false
	} else {
		if e.unreservedInUse >= e.cfg.MaxConcurrency-e.reservedTotal {
			return &ThrottleError{Reason: ReasonConcurrent}
		}
		e.unreservedInUse++
		v.slotUnreserved = true
	}
	c.inUse++
	v.holdsSlot = true
	return nil
}

// inheritSlot lets a new invocation take over the slot v holds for the
// invocation it is finishing, when that slot still fits the limits as they
// are now (a reservation may have changed since); otherwise it trades it for
// a fresh one. e.mu is held.
func (e *Engine) inheritSlot(v *env) error {
	c := e.count(v.spec.FunctionName)
	if v.holdsSlot && (c.reserved >= 0) == !v.slotUnreserved {
		if c.reserved >= 0 && c.inUse <= c.reserved {
			return nil
		}
		if c.reserved < 0 && e.unreservedInUse <= e.cfg.MaxConcurrency-e.reservedTotal {
			return nil
		}
	}
	e.releaseSlot(v)
	return e.takeSlot(v)
}

// releaseSlot undoes takeSlot. e.mu is held.
func (e *Engine) releaseSlot(v *env) {
	if !v.holdsSlot {
		return
	}
	v.holdsSlot = false
	e.fns[v.spec.FunctionName].inUse--
	if v.slotUnreserved {
		e.unreservedInUse--
	}
}

// acquire finds or creates an environment for spec and marks it in use.
func (e *Engine) acquire(spec *Spec) (v *env, cold bool, err error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.closed {
		return nil, false, ErrClosed
	}
	p := e.pools[spec.Key()]
	if p == nil {
		p = &pool{key: spec.Key(), spec: spec}
		e.pools[p.key] = p
	}
	if n := len(p.idle); n > 0 {
		v = p.idle[n-1]
		if err := e.takeSlot(v); err != nil {
			return nil, false, err
		}
		p.idle[n-1] = nil
		p.idle = p.idle[:n-1]
		v.state = stateBusy
		return v, false, nil
	}
	if n := len(p.overhead); n > 0 {
		v = p.overhead[n-1]
		p.overhead[n-1] = nil
		p.overhead = p.overhead[:n-1]
		if err := e.inheritSlot(v); err != nil {
			return nil, false, err
		}
		v.claimed = true // inherits the slot of the invocation it finishes
		return v, false, nil
	}
	v = e.newEnv(p)
	if err := e.takeSlot(v); err != nil {
		return nil, false, err
	}
	v.state = stateStarting
	p.size++
	e.envs[v] = struct{}{}
	return v, true, nil
}

// Invoke runs req in an environment of spec. Function and platform errors
// (timeouts, crashes, init failures) are results with FunctionError set; the
// error return is for throttles (*ThrottleError), ErrClosed and internal
// failures. Invocations are not cancelled by ctx: once started they run to
// completion or timeout, as on Lambda.
func (e *Engine) Invoke(ctx context.Context, spec *Spec, req *Request) (*Result, error) {
	for attempt := 0; ; attempt++ {
		v, cold, err := e.acquire(spec)
		if err != nil {
			return nil, err
		}
		inv := newInvocation(v, req)
		if cold {
			if res := v.launch(inv); res != nil {
				return res, nil
			}
		}
		res, retry := v.run(inv)
		if retry && attempt < 3 {
			continue
		}
		if retry {
			return nil, fmt.Errorf("engine: environments keep failing before delivery")
		}
		return res, nil
	}
}

// DropVersion retires the environments of fn's version (after its code or
// configuration changed): idle ones stop now, busy ones after their
// invocation.
func (e *Engine) DropVersion(fn, version string) {
	e.drop(func(s *Spec) bool { return s.FunctionName == fn && s.Version == version })
}

// DropFunction retires every environment of fn.
func (e *Engine) DropFunction(fn string) {
	e.drop(func(s *Spec) bool { return s.FunctionName == fn })
}

func (e *Engine) drop(match func(*Spec) bool) {
	var kill []*env
	e.mu.Lock()
	for k, p := range e.pools {
		if !match(p.spec) {
			continue
		}
		p.stale = true
		delete(e.pools, k)
		for _, v := range p.idle {
			v.state = stateDead
			kill = append(kill, v)
		}
		p.idle = nil
	}
	e.mu.Unlock()
	for _, v := range kill {
		v.kill("spindown")
	}
}

// reaper stops environments idle for longer than IdleTimeout.
func (e *Engine) reaper() {
	defer e.reaperWG.Done()
	period := min(max(e.cfg.IdleTimeout/4, 10*time.Millisecond), 30*time.Second)
	t := time.NewTicker(period)
	defer t.Stop()
	for {
		select {
		case <-e.stop:
			return
		case now := <-t.C:
			var kill []*env
			e.mu.Lock()
			for _, p := range e.pools {
				keep := p.idle[:0]
				for _, v := range p.idle {
					if now.Sub(v.idleSince) >= e.cfg.IdleTimeout {
						v.state = stateDead
						kill = append(kill, v)
					} else {
						keep = append(keep, v)
					}
				}
				clear(p.idle[len(keep):])
				p.idle = keep
			}
			e.mu.Unlock()
			for _, v := range kill {
				v.kill("spindown")
			}
		}
	}
}

// Stats is a snapshot of the engine's environments.
type Stats struct {
	Environments, Idle, InUse int
}

// Stats returns current counts.
func (e *Engine) Stats() Stats {
	e.mu.Lock()
	defer e.mu.Unlock()
	s := Stats{Environments: len(e.envs)}
	for _, p := range e.pools {
		s.Idle += len(p.idle)
	}
	for _, c := range e.fns {
		s.InUse += c.inUse
	}
	return s
}

// Close stops every environment and waits for them to exit. Invocations in
// flight fail as crashed.
func (e *Engine) Close() error {
	e.mu.Lock()
	if e.closed {
		e.mu.Unlock()
		return nil
	}
	e.closed = true // no environment starts after this (see env.start)
	all := make([]*env, 0, len(e.envs))
	for v := range e.envs {
		all = append(all, v)
	}
	e.mu.Unlock()
	close(e.stop)
	e.reaperWG.Wait()
	for _, v := range all {
		v.kill("spindown")
	}
	e.wg.Wait()
	return nil
}
