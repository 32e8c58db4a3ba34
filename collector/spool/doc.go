// Package spool is the collector's on-disk overflow queue: an append-only,
// bounded FIFO of raw segment documents that survives a restart.
//
// The collector writes a batch here when ClickHouse is slow or down and
// replays it, in order, once the sink accepts writes again.
//
// # Layout
//
// A spool is a directory holding segment files named by a 16-hex-digit
// sequence number (0000000100000000.spool, …), a checkpoint file and a lock
// file. Each segment file starts with an 8-byte magic ("FLSPOOL1") and then
// holds records:
//
//	uint32 LE  payload length n
//	uint32 LE  CRC-32C of the next 8+n bytes
//	int64  LE  received time (Unix nanoseconds)
//	n bytes    payload (one raw segment document)
//
// Appends always go to the newest segment; a process never appends to a file
// written by an earlier process, so a torn tail left by a crash (a short
// record or a checksum mismatch) is detected when the spool is opened or read
// and skipped: every intact record before it is still delivered.
//
// The checkpoint (segment sequence number and offset of the next unread
// record) is rewritten after each Commit. Records committed just before a
// crash may be replayed again; the storage deduplicates documents by
// (trace_id, id, version), so replay is at-least-once and readers see each
// document once.
//
// # Concurrency
//
// Append may be called from any goroutine. Peek, Commit and Prepend belong to
// the single consumer.
//
// This package imports only the standard library.
package spool
