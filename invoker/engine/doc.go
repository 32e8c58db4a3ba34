// Package engine runs function invocations in execution environments, the
// way Lambda does.
//
// An environment is one sandboxed runtime process (package sandbox) with its
// own Runtime API listener (package runtimeapi) on a loopback port, a private
// TMPDIR, a log stream, and the lifecycle Init → Invoke → Shutdown:
//
//   - Init starts the bootstrap and ends when the runtime first calls
//     /runtime/invocation/next (bounded by InitTimeout, 10 s); its duration
//     is reported on the first REPORT line and as the Initialization
//     subsegment.
//   - Invoke hands one invocation to the runtime's pending /next — the
//     invoking goroutine writes the /next answer to the runtime's connection
//     itself (runtimeapi.Waiter), or queues the invocation for the runtime's
//     next /next when it is not waiting yet — and waits for /response or
//     /error, the function timeout, or the process's exit. Exactly one
//     invocation runs per environment at a time.
//   - After the response the environment is in "overhead" until the runtime
//     calls /next again; only then are END/REPORT written, the
//     AWS::Lambda::Function segment emitted, and the environment returned to
//     the idle pool (or handed straight to an invocation that claimed it).
//   - Shutdown (idle reaping, code/configuration change, timeout, crash, engine
//     stop) kills the process group; a timed-out or crashed environment is
//     never reused, the next invocation starts a fresh one.
//
// Scheduling: warm environments are reused last-in first-out; an invocation
// that finds none claims an environment in overhead or starts a new one
// (scale-out). Concurrency is counted per environment in use: a function with
// reserved concurrency uses only its reservation
// (ReservedFunctionConcurrentInvocationLimitExceeded beyond it), the others
// share MaxConcurrency minus all reservations
// (ConcurrentInvocationLimitExceeded). Throttles are returned at once, never
// queued.
//
// The hot path allocates no large buffers (response bodies come from
// runtimeapi's pool), does not poll, and takes one engine mutex briefly per
// state change. Hooks for extensions: environments implement the
// runtimeapi.Backend; the Extensions API answers "not supported" until an
// ExtensionsBackend is added, without changing the lifecycle above.
//
// It imports only the standard library and invoker/... packages.
package engine
