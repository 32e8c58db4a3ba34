package sockio

import "net"

// WriteBuffers writes bufs to c in order, with one writev where c allows.
// It may modify the elements of bufs.
func WriteBuffers(c net.Conn, bufs ...[]byte) (int64, error) {
	if bw, ok := c.(interface {
		WriteBuffers([][]byte) (int64, error)
	}); ok {
		return bw.WriteBuffers(bufs)
	}
	b := net.Buffers(bufs)
	return b.WriteTo(c)
}
