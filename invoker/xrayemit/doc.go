// Package xrayemit builds and sends the X-Ray segment documents that the
// invoker itself produces for traced invocations (the AWS::Lambda service
// segment and the AWS::Lambda::Function segment with its Initialization,
// Invocation and Overhead subsegments), and parses/formats the X-Ray trace
// header (X-Amzn-Trace-Id, Lambda-Runtime-Trace-Id, _X_AMZN_TRACE_ID).
//
// Documents travel as UDP datagrams in the X-Ray daemon framing
// ({"format": "json", "version": 1}\n + one JSON document) to the address the
// collector listens on. The wire format is the only contract with the
// collector: this package has its own minimal document structs and imports
// nothing but the standard library. Example documents it emits are kept in
// testdata/*.json; a root test checks that the collector's decoder accepts
// them.
//
// Emission is fire-and-forget and never blocks an invocation: Emit enqueues
// into a bounded queue, a single goroutine (Run) marshals and sends, and
// documents that do not fit are dropped and counted.
package xrayemit
