//go:build linux

package sockio

import (
	"bytes"
	"errors"
	"io"
	"net"
	"os"
	"testing"
	"time"
)

// pair returns a raw-wrapped server side and a plain client side of a
// loopback TCP connection.
func pair(t *testing.T) (*Conn, net.Conn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	accepted := make(chan net.Conn, 1)
	go func() {
		c, _ := ln.Accept()
		accepted <- c
	}()
	client, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	server := <-accepted
	if server == nil {
		t.Fatal("accept failed")
	}
	rc, err := server.(*net.TCPConn).SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	c := wrap(server, rc) // raw even in race builds
	t.Cleanup(func() { c.Close(); client.Close() })
	return c, client
}

func TestReadWrite(t *testing.T) {
	c, client := pair(t)
	// Read waits for data, then returns what is there.
	go func() {
		time.Sleep(20 * time.Millisecond)
		_, _ = client.Write([]byte("hello"))
	}()
	buf := make([]byte, 64)
	n, err := c.Read(buf)
	if err != nil || string(buf[:n]) != "hello" {
		t.Fatalf("Read = %q, %v", buf[:n], err)
	}
	// A write larger than the socket buffers completes once the peer reads.
	big := bytes.Repeat([]byte("0123456789abcdef"), 1<<18) // 4 MiB
	got := make(chan []byte, 1)
	go func() {
		b, _ := io.ReadAll(io.LimitReader(client, int64(len(big)+6)))
		got <- b
	}()
	if n, err := c.Write(big); err != nil || n != len(big) {
		t.Fatalf("Write = %d, %v", n, err)
	}
	if n, err := WriteBuffers(c, []byte("ab"), nil, []byte("cdef")); err != nil || n != 6 {
		t.Fatalf("WriteBuffers = %d, %v", n, err)
	}
	b := <-got
	if !bytes.Equal(b[:len(big)], big) || string(b[len(big):]) != "abcdef" {
		t.Fatalf("peer read %d bytes, tail %q", len(b), b[len(big):])
	}
}

func TestWriteBuffersLarge(t *testing.T) {
	c, client := pair(t)
	parts := [][]byte{bytes.Repeat([]byte("a"), 3<<20), []byte("-"), bytes.Repeat([]byte("b"), 3<<20)}
	want := bytes.Join(parts, nil)
	got := make(chan []byte, 1)
	go func() {
		b, _ := io.ReadAll(io.LimitReader(client, int64(len(want))))
		got <- b
	}()
	if n, err := WriteBuffers(c, parts...); err != nil || n != int64(len(want)) {
		t.Fatalf("WriteBuffers = %d, %v", n, err)
	}
	if b := <-got; !bytes.Equal(b, want) {
		t.Fatalf("peer read %d bytes, want %d", len(b), len(want))
	}
}

func TestEOFDeadlineClose(t *testing.T) {
	cases := []struct {
		name  string
		setup func(c *Conn, client net.Conn)
		check func(err error) bool
	}{
		{"peer closes: EOF", func(c *Conn, client net.Conn) { client.Close() },
			func(err error) bool { return errors.Is(err, io.EOF) }},
		{"read deadline", func(c *Conn, client net.Conn) { _ = c.SetReadDeadline(time.Now().Add(20 * time.Millisecond)) },
			func(err error) bool {
				var ne net.Error
				return errors.Is(err, os.ErrDeadlineExceeded) && errors.As(err, &ne) && ne.Timeout()
			}},
		{"closed under the reader", func(c *Conn, client net.Conn) {
			go func() { time.Sleep(20 * time.Millisecond); c.Close() }()
		}, func(err error) bool { return errors.Is(err, net.ErrClosed) }},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c, client := pair(t)
			tc.setup(c, client)
			done := make(chan error, 1)
			go func() {
				_, err := c.Read(make([]byte, 8))
				done <- err
			}()
			select {
			case err := <-done:
				if !tc.check(err) {
					t.Fatalf("Read error %v", err)
				}
			case <-time.After(3 * time.Second):
				t.Fatal("Read did not return")
			}
		})
	}
}

func TestWriteToClosedPeer(t *testing.T) {
	c, client := pair(t)
	client.Close()
	var err error
	for range 100 { // the first writes may still be accepted
		if _, err = c.Write(make([]byte, 64<<10)); err != nil {
			break
		}
		time.Sleep(time.Millisecond)
	}
	var op *net.OpError
	if err == nil || !errors.As(err, &op) || op.Op != "write" {
		t.Fatalf("write to a closed peer: %v", err)
	}
}

func TestWrapKeepsOtherConns(t *testing.T) {
	a, b := net.Pipe() // no socket underneath
	defer a.Close()
	defer b.Close()
	if Wrap(a) != a {
		t.Fatal("Wrap changed a net.Pipe conn")
	}
}
