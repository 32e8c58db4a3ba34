// Package sockio reads and writes the invoker's loopback HTTP connections
// with raw system calls on their non-blocking sockets.
//
// A Go read or write on a net.Conn enters the scheduler's system-call
// state: the first one after the process was idle wakes the runtime's
// monitor thread (sysmon, asleep while nothing runs), and a call that spans
// one of its 20 µs ticks loses its P to another thread. The invoker makes
// a handful of such calls per invocation on one P (-invoker-procs 1), each
// a loopback TCP send that runs the receiver's network stack and wakes it
// (10–40 µs), so those wake-ups and hand-offs cost as much CPU as the
// calls. On a non-blocking socket a read or write never blocks, so the
// package issues it with syscall.RawSyscall, which keeps the P and leaves
// sysmon asleep; when the socket is not ready it waits in Go's network
// poller as usual (syscall.RawConn), so deadlines, Close and the poller
// behave as for any net.Conn.
//
// Wrap applies this to a connection on Linux; elsewhere it returns the
// connection unchanged.
package sockio
