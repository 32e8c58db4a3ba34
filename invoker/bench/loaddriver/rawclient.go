package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"strconv"
	"time"
)

// rawCaller sends Invoke requests over one keep-alive connection of its
// own, writing the request bytes it prepared once and parsing the answer by
// hand: what a load generator such as wrk does, so that the driver's own
// CPU takes as little as possible of the machine it measures (net/http's
// client runs two goroutines per connection and allocates per request).
// It speaks enough HTTP/1.1 for the Invoke API: a status line, headers, and
// a body framed by Content-Length or chunked encoding. It is not safe for
// concurrent use: each caller goroutine has its own.
type rawCaller struct {
	addr    string // host:port
	req     []byte // the whole request, written as is for every invoke
	timeout time.Duration

	conn net.Conn
	br   *bufio.Reader
	body []byte // reused for the answer's body
}

func newRawCaller(endpoint, path string, payload []byte, timeout time.Duration) (*rawCaller, error) {
	u, err := url.Parse(endpoint)
	if err != nil || u.Host == "" {
		return nil, fmt.Errorf("raw client: bad endpoint %q", endpoint)
	}
	var b bytes.Buffer
	fmt.Fprintf(&b, "POST %s HTTP/1.1\r\nHost: %s\r\nUser-Agent: fluoro-loaddriver\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n", path, u.Host, len(payload))
	b.Write(payload)
	return &rawCaller{addr: u.Host, req: b.Bytes(), timeout: timeout}, nil
}

func (c *rawCaller) close() {
	if c.conn != nil {
		c.conn.Close()
		c.conn, c.br = nil, nil
	}
}

func (c *rawCaller) invoke(ctx context.Context) (time.Duration, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	deadline := time.Now().Add(c.timeout)
	if d, ok := ctx.Deadline(); ok && d.Before(deadline) {
		deadline = d
	}
	start := time.Now()
	if c.conn == nil {
		conn, err := (&net.Dialer{Timeout: 2 * time.Second}).DialContext(ctx, "tcp", c.addr)
		if err != nil {
			return 0, err
		}
		c.conn, c.br = conn, bufio.NewReaderSize(conn, 4096)
	}
	if err := c.conn.SetDeadline(deadline); err != nil {
		c.close()
		return 0, err
	}
	if _, err := c.conn.Write(c.req); err != nil {
		c.close()
		return 0, err
	}
	a, err := readAnswer(c.br, c.body[:0])
	took := time.Since(start)
	if err != nil {
		c.close()
		return 0, err
	}
	c.body = a.body
	if a.close {
		c.close()
	}
	switch {
	case a.status == 429:
		return took, errThrottled
	case a.status != 200:
		return took, fmt.Errorf("HTTP %d: %.200s", a.status, a.body)
	case a.functionError != "":
		return took, fmt.Errorf("function error %s: %.200s", a.functionError, a.body)
	}
	return took, nil
}

// answer is the part of an HTTP response the driver looks at.
type answer struct {
	status        int
	functionError string // X-Amz-Function-Error
	close         bool   // Connection: close, or HTTP/1.0
	body          []byte
}

var errMalformed = errors.New("raw client: malformed response")

// readAnswer reads one response from br, appending its body to body.
func readAnswer(br *bufio.Reader, body []byte) (answer, error) {
	var a answer
	line, err := readLine(br)
	if err != nil {
		return a, err
	}
	// "HTTP/1.1 200 OK"
	if len(line) < 12 || !bytes.HasPrefix(line, []byte("HTTP/1.")) || line[8] != ' ' {
		return a, fmt.Errorf("%w: status line %q", errMalformed, line)
	}
	a.close = line[7] == '0'
	a.status, err = strconv.Atoi(string(line[9:12]))
	if err != nil || a.status < 100 {
		return a, fmt.Errorf("%w: status line %q", errMalformed, line)
	}
	length, chunked := -1, false
	for {
		line, err := readLine(br)
		if err != nil {
			return a, err
		}
		if len(line) == 0 {
			break
		}
		name, value, ok := bytes.Cut(line, []byte(":"))
		if !ok {
			return a, fmt.Errorf("%w: header line %q", errMalformed, line)
		}
		value = bytes.TrimSpace(value)
		switch {
		case bytes.EqualFold(name, []byte("Content-Length")):
			n, err := strconv.Atoi(string(value))
			if err != nil || n < 0 {
				return a, fmt.Errorf("%w: Content-Length %q", errMalformed, value)
			}
			length = n
		case bytes.EqualFold(name, []byte("Transfer-Encoding")):
			chunked = bytes.EqualFold(value, []byte("chunked"))
			if !chunked {
				return a, fmt.Errorf("%w: Transfer-Encoding %q", errMalformed, value)
			}
		case bytes.EqualFold(name, []byte("Connection")):
			a.close = bytes.EqualFold(value, []byte("close"))
		case bytes.EqualFold(name, []byte("X-Amz-Function-Error")):
			a.functionError = string(value)
		}
	}
	switch {
	case chunked:
		body, err = readChunked(br, body)
	case length >= 0:
		body, err = readN(br, body, length)
	case a.status == 204 || a.status == 304 || a.status < 200:
	default: // the body ends with the connection
		var b bytes.Buffer
		_, err = b.ReadFrom(br)
		body, a.close = append(body, b.Bytes()...), true
	}
	a.body = body
	return a, err
}

// maxLine bounds a status, header or chunk-size line.
const maxLine = 64 << 10

func readLine(br *bufio.Reader) ([]byte, error) {
	line, err := br.ReadSlice('\n')
	if err == bufio.ErrBufferFull || len(line) > maxLine {
		return nil, fmt.Errorf("%w: line too long", errMalformed)
	}
	if err != nil {
		if err == io.EOF && len(line) > 0 {
			err = io.ErrUnexpectedEOF
		}
		return nil, err
	}
	return bytes.TrimRight(line, "\r\n"), nil
}

func readN(br *bufio.Reader, body []byte, n int) ([]byte, error) {
	const maxBody = 64 << 20
	if n > maxBody || len(body)+n > maxBody {
		return body, fmt.Errorf("%w: body of %d bytes", errMalformed, n)
	}
	start := len(body)
	body = append(body, make([]byte, n)...)
	if _, err := io.ReadFull(br, body[start:]); err != nil {
		if err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		return body[:start], err
	}
	return body, nil
}

func readChunked(br *bufio.Reader, body []byte) ([]byte, error) {
	for {
		line, err := readLine(br)
		if err != nil {
			return body, err
		}
		if i := bytes.IndexByte(line, ';'); i >= 0 {
			line = line[:i] // chunk extensions
		}
		n, err := strconv.ParseUint(string(bytes.TrimSpace(line)), 16, 31)
		if err != nil {
			return body, fmt.Errorf("%w: chunk size %q", errMalformed, line)
		}
		if n == 0 {
			for { // trailers, up to the blank line
				t, err := readLine(br)
				if err != nil {
					return body, err
				}
				if len(t) == 0 {
					return body, nil
				}
			}
		}
		if body, err = readN(br, body, int(n)); err != nil {
			return body, err
		}
		if crlf, err := readLine(br); err != nil || len(crlf) != 0 {
			return body, fmt.Errorf("%w: chunk not followed by CRLF", errMalformed)
		}
	}
}
