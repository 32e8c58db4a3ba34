// Package runtimeapi serves the Lambda Runtime API (version 2018-06-01) that
// a function's runtime talks to inside one execution environment: the
// long-polled GET /runtime/invocation/next, the /response and /error posts of
// an invocation, and /runtime/init/error. Every environment gets its own
// Server on its own loopback port (the runtime finds it through
// AWS_LAMBDA_RUNTIME_API).
//
// The package is protocol only: it parses and renders the wire format
// (Lambda-Runtime-* headers, payload limits, error bodies, the error-cause
// content type, streamed responses with error trailers) and hands every
// call to a Backend, which owns the environment's state machine. The same
// listener answers the Extensions API (2020-01-01) through an optional
// ExtensionsBackend, and the Telemetry (2022-07-01) and Logs (2020-08-15)
// APIs with the "NotSupported" answer Lambda's emulator gives, so
// extensions that probe them keep running.
//
// Connections are served by the package itself rather than net/http's
// server (conn.go): one goroutine per connection, one write per answer, and
// a GET /next that finds no invocation is parked as a Waiter that the
// backend answers from the goroutine assigning the invocation. Requests are
// parsed by invoker/httpserve.ReadRequest (a fast path for the runtimes'
// usual requests, net/http's parser for the rest), and the socket is read
// and written with raw system calls (invoker/sockio).
//
// It imports only the standard library, invoker/httpserve and
// invoker/sockio.
package runtimeapi
