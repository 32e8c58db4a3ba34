// Package httpserve serves an http.Handler over HTTP/1.1 with less work per
// request than net/http's server, for the invoker's Lambda REST API, whose
// clients (the AWS SDKs and CLI) make one request at a time on keep-alive
// connections and whose Invoke answers are small.
//
// One goroutine serves each connection: it parses a request (ReadRequest:
// the usual requests straight from the read buffer with a few allocations,
// the rest with http.ReadRequest), runs the handler on that goroutine, and
// writes the answer in one write (status line, headers and body; header and
// a large body with one writev), through raw system calls (invoker/sockio).
// Compared with net/http's server there is no background read of the
// connection while the handler runs (a read system call and a poller
// wake-up per request), no per-request cancelable context, bufio writers or
// chunked-encoding decision for answers that fit the buffer, and no header
// canonicalisation or sorting on output.
//
// What a handler sees is what net/http gives it: the request with Body,
// Host, RemoteAddr and RequestURI; http.Request.Context is the server's
// context (cancelled when Shutdown gives up waiting), not cancelled when the
// client goes away. The http.ResponseWriter buffers the answer (up to
// 64 KiB; beyond that the header goes out and the body streams, with the
// handler's Content-Length or chunked) and implements http.Flusher.
// Keep-alive follows HTTP/1.1 (Connection: close from either side, HTTP/1.0
// closes), Expect: 100-continue is answered when the handler first reads the
// body, an unread request body is discarded up to 256 KiB before the answer
// (beyond that the connection closes after it), headers are limited to
// MaxHeaderBytes, and handler panics close the connection and are logged.
// Timeouts (ReadHeaderTimeout, IdleTimeout) are enforced by a sweep of the
// connections rather than a deadline per request.
//
// It imports only the standard library and invoker/sockio.
package httpserve
