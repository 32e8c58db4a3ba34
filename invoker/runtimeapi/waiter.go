package runtimeapi

import "sync"

// Waiter is a runtime's pending GET /runtime/invocation/next. A Backend that
// has no invocation ready keeps it and, once one is assigned, calls Claim
// and then Send from whatever goroutine assigned it: on the server's own
// connections Send writes the HTTP answer to the runtime directly, so the
// invocation is not handed over to another goroutine first.
type Waiter struct {
	mu    sync.Mutex
	state waiterState
	send  func(*Invoke) bool
	done  chan struct{} // closed when the waiter is answered or gone
}

type waiterState uint8

const (
	waiterPending waiterState = iota
	waiterClaimed
	waiterAnswered
	waiterGone
)

func newWaiter(send func(*Invoke) bool) *Waiter {
	return &Waiter{send: send, done: make(chan struct{})}
}

// Claim reserves the waiter for one invocation. It returns false when the
// runtime's request is gone (the runtime disconnected or the server closed)
// or the waiter was claimed before; the invocation must then wait for the
// runtime's next GET /next.
func (w *Waiter) Claim() bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.state != waiterPending {
		return false
	}
	w.state = waiterClaimed
	return true
}

// Send answers the claimed request with inv. It returns false when the
// answer could not be written (the runtime went away meanwhile).
func (w *Waiter) Send(inv *Invoke) bool {
	ok := w.send(inv)
	w.mu.Lock()
	w.state = waiterAnswered
	w.mu.Unlock()
	close(w.done)
	return ok
}

// cancel marks an unclaimed waiter gone. It returns false when the waiter
// was claimed (Send then closes done).
func (w *Waiter) cancel() bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.state != waiterPending {
		return false
	}
	w.state = waiterGone
	close(w.done)
	return true
}
