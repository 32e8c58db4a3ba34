// Package invoker is Fluoro's Lambda-compatible invocation engine: it serves
// the AWS Lambda REST API (default 127.0.0.1:3001, the SAM CLI convention),
// runs functions in sandboxed execution environments with the Lambda Runtime
// API, queues Event invocations durably, and traces every sampled invocation
// into Fluoro by sending the AWS::Lambda and AWS::Lambda::Function segments
// over UDP to the collector, exactly as AWS Lambda does.
//
// The package wires its parts together:
//
//	lambdaapi   REST API (control plane + Invoke)
//	engine      execution environments, concurrency, timeouts, logs
//	runtimeapi  Runtime API 2018-06-01 server per environment
//	sandbox     process isolation (user, cgroups/rlimits)
//	store       durable functions, versions, aliases, code packages
//	async       Event invocations: retries, destinations, dead letters
//	sampling    X-Ray centralized sampling client
//	xrayemit    segment documents and the UDP emitter
//	logs        platform log lines and the recent-log ring
//
// It imports only the standard library and invoker/... packages: it talks to
// the rest of Fluoro only through UDP segments and the sampling HTTP API.
// See README.md for the API surface, extensions and limits.
package invoker
