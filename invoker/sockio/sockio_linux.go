//go:build linux

package sockio

import (
	"io"
	"net"
	"os"
	"sync"
	"syscall"
	"unsafe"
)

// Conn is a net.Conn whose Read and Write are raw system calls.
type Conn struct {
	net.Conn
	rc syscall.RawConn
	r  rawOp // the read in progress
	w  rawOp // the write in progress
}

// rawOp is one Read, Write or WriteBuffers call: its arguments and results
// live here, and its callback is bound once, so a call allocates nothing.
type rawOp struct {
	mu    sync.Mutex // net.Conn allows concurrent calls; the fd serialises them too
	p     []byte
	bufs  [][]byte
	one   [1][]byte // Write's single buffer
	iov   []syscall.Iovec
	n     int64
	errno syscall.Errno
	fn    func(fd uintptr) bool
}

// Wrap returns c with raw reads and writes when it exposes its socket
// (syscall.Conn), else c itself (and always c itself in race builds).
func Wrap(c net.Conn) net.Conn {
	if raceEnabled {
		return c
	}
	sc, ok := c.(syscall.Conn)
	if !ok {
		return c
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return c
	}
	return wrap(c, rc)
}

func wrap(c net.Conn, rc syscall.RawConn) *Conn {
	rw := &Conn{Conn: c, rc: rc}
	rw.r.fn = rw.r.read
	rw.w.fn = rw.w.write
	return rw
}

// Read reads what the socket holds, waiting in the poller while it holds
// nothing.
func (c *Conn) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	op := &c.r
	op.mu.Lock()
	defer op.mu.Unlock()
	op.p, op.n, op.errno = p, 0, 0
	err := c.rc.Read(op.fn)
	op.p = nil
	switch {
	case err != nil:
		return 0, c.opError("read", err)
	case op.errno != 0:
		return 0, c.opError("read", os.NewSyscallError("read", op.errno))
	case op.n == 0:
		return 0, io.EOF
	}
	return int(op.n), nil
}

func (op *rawOp) read(fd uintptr) bool {
	for {
		r, _, e := syscall.RawSyscall(syscall.SYS_READ, fd, uintptr(unsafe.Pointer(&op.p[0])), uintptr(len(op.p)))
		switch e {
		case 0:
			op.n = int64(r)
			return true
		case syscall.EINTR:
			continue
		case syscall.EAGAIN:
			return false
		default:
			op.errno = e
			return true
		}
	}
}

// Write writes all of p, waiting in the poller while the socket's buffer is
// full.
func (c *Conn) Write(p []byte) (int, error) {
	op := &c.w
	op.mu.Lock()
	defer op.mu.Unlock()
	op.one[0] = p
	n, err := c.write(op.one[:])
	op.one[0] = nil
	return int(n), err
}

// WriteBuffers writes the buffers in order, with writev when there are
// several. It may modify the elements of bufs.
func (c *Conn) WriteBuffers(bufs [][]byte) (int64, error) {
	c.w.mu.Lock()
	defer c.w.mu.Unlock()
	return c.write(bufs)
}

// write runs a write with c.w.mu held.
func (c *Conn) write(bufs [][]byte) (int64, error) {
	op := &c.w
	op.bufs, op.n, op.errno = bufs, 0, 0
	err := c.rc.Write(op.fn)
	op.bufs = nil
	clear(op.iov)
	n := op.n
	switch {
	case err != nil:
		return n, c.opError("write", err)
	case op.errno != 0:
		return n, c.opError("write", os.NewSyscallError("write", op.errno))
	}
	return n, nil
}

func (op *rawOp) write(fd uintptr) bool {
	for {
		for len(op.bufs) > 0 && len(op.bufs[0]) == 0 {
			op.bufs = op.bufs[1:]
		}
		if len(op.bufs) == 0 {
			return true
		}
		var r uintptr
		var e syscall.Errno
		if len(op.bufs) == 1 || len(op.bufs[1]) == 0 && len(op.bufs) == 2 {
			b := op.bufs[0]
			r, _, e = syscall.RawSyscall(syscall.SYS_WRITE, fd, uintptr(unsafe.Pointer(&b[0])), uintptr(len(b)))
		} else {
			op.iov = op.iov[:0]
			for _, b := range op.bufs {
				if len(b) > 0 {
					v := syscall.Iovec{Base: &b[0]}
					v.SetLen(len(b))
					op.iov = append(op.iov, v)
				}
			}
			r, _, e = syscall.RawSyscall(syscall.SYS_WRITEV, fd, uintptr(unsafe.Pointer(&op.iov[0])), uintptr(len(op.iov)))
		}
		switch e {
		case 0:
			op.n += int64(r)
			consume(&op.bufs, int64(r))
		case syscall.EINTR:
		case syscall.EAGAIN:
			return false
		default:
			op.errno = e
			return true
		}
	}
}

// CloseWrite shuts down the writing side when the connection supports it.
func (c *Conn) CloseWrite() error {
	if cw, ok := c.Conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return nil
}

func (c *Conn) opError(op string, err error) error {
	return &net.OpError{Op: op, Net: c.LocalAddr().Network(), Source: c.LocalAddr(), Addr: c.RemoteAddr(), Err: err}
}

// consume drops the first n bytes of *bufs.
func consume(bufs *[][]byte, n int64) {
	for len(*bufs) > 0 {
		l := int64(len((*bufs)[0]))
		if l > n {
			(*bufs)[0] = (*bufs)[0][n:]
			return
		}
		n -= l
		*bufs = (*bufs)[1:]
	}
}
