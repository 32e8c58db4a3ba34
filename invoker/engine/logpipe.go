package engine

import (
	"bytes"
	"os"
	"sync"
	"syscall"
	"time"
	"unsafe"
)

// logPipe reads a runtime's combined stdout/stderr and turns it into lines.
// Reading and line handling happen under mu, so drain — which reads whatever
// the pipe holds right now — guarantees that everything the runtime wrote
// before, say, posting its response has been handled (attributed to the
// invocation's log tail) when drain returns. No polling: the reader sleeps
// in the netpoller between writes.
type logPipe struct {
	f    *os.File
	sink func(line []byte) // called with mu held

	mu      sync.Mutex
	buf     []byte
	partial []byte
	closed  bool
	done    chan struct{}
}

const (
	logReadSize = 32 << 10
	maxLogLine  = 256 << 10
)

func newLogPipe(f *os.File, sink func([]byte)) *logPipe {
	return &logPipe{f: f, sink: sink, buf: make([]byte, logReadSize), done: make(chan struct{})}
}

// run reads until EOF or close.
func (lp *logPipe) run() {
	defer close(lp.done)
	rc, err := lp.f.SyscallConn()
	if err != nil {
		return
	}
	for {
		eof := false
		err := rc.Read(func(fd uintptr) bool {
			lp.mu.Lock()
			defer lp.mu.Unlock()
			eof = lp.readAvailable(int(fd))
			return eof // false (EAGAIN): wait for the next write
		})
		if err != nil || eof {
			lp.mu.Lock()
			lp.flushPartial()
			lp.mu.Unlock()
			return
		}
	}
}

// readAvailable reads until the pipe would block (false) or ends (true).
// mu is held. The pipe is non-blocking, so the reads are raw system calls:
// drain runs twice per invocation and mostly finds the pipe empty, and a
// raw call does not wake the Go runtime's sysmon thread as a
// scheduler-visible one does after the process was idle (see package
// invoker/sockio).
func (lp *logPipe) readAvailable(fd int) (eof bool) {
	for {
		r, _, e := syscall.RawSyscall(syscall.SYS_READ, uintptr(fd), uintptr(unsafe.Pointer(&lp.buf[0])), uintptr(len(lp.buf)))
		if e == 0 && r > 0 {
			lp.consume(lp.buf[:r])
			continue
		}
		switch e {
		case syscall.EINTR:
			continue
		case syscall.EAGAIN:
			return false
		default: // 0 bytes: EOF, or a hard error
			return true
		}
	}
}

func (lp *logPipe) consume(b []byte) {
	for len(b) > 0 {
		i := bytes.IndexByte(b, '\n')
		if i < 0 {
			lp.partial = append(lp.partial, b...)
			if len(lp.partial) >= maxLogLine {
				lp.flushPartial()
			}
			return
		}
		line := b[:i]
		if len(lp.partial) > 0 {
			lp.partial = append(lp.partial, line...)
			line = lp.partial
		}
		lp.sink(trimCR(line))
		lp.partial = lp.partial[:0]
		b = b[i+1:]
	}
}

func trimCR(b []byte) []byte {
	if n := len(b); n > 0 && b[n-1] == '\r' {
		return b[:n-1]
	}
	return b
}

func (lp *logPipe) flushPartial() {
	if len(lp.partial) > 0 {
		lp.sink(lp.partial)
		lp.partial = lp.partial[:0]
	}
}

// drain handles everything currently in the pipe, including an unterminated
// last line.
func (lp *logPipe) drain() {
	lp.mu.Lock()
	defer lp.mu.Unlock()
	if lp.closed {
		return
	}
	if rc, err := lp.f.SyscallConn(); err == nil {
		_ = rc.Control(func(fd uintptr) { lp.readAvailable(int(fd)) })
	}
	lp.flushPartial()
}

// with runs fn under the pipe's lock (to interleave platform lines with the
// function's output in order).
func (lp *logPipe) with(fn func()) {
	lp.mu.Lock()
	defer lp.mu.Unlock()
	fn()
}

// close drains, then closes the read end and waits (briefly) for run.
func (lp *logPipe) close() {
	lp.drain()
	lp.mu.Lock()
	lp.closed = true
	lp.mu.Unlock()
	_ = lp.f.Close()
	select {
	case <-lp.done:
	case <-time.After(2 * time.Second):
	}
}
