// Package logs produces the platform log lines Lambda writes around a
// function's own output (INIT_START, START, END, REPORT, INIT_REPORT, in
// CloudWatch's tab-separated format, XRAY ids included), names log streams
// the way Lambda does, computes the base64 4 KB tail returned for
// X-Amz-Log-Type: Tail, and keeps the recent log events of every function in
// a bounded in-memory ring that the HTTP API serves (the dashboard reads it).
//
// It imports only the standard library.
package logs
