// Package store keeps the invoker's durable state in its data folder:
// functions with their $LATEST configuration, immutable published versions
// (a code package hash plus a configuration snapshot), aliases, reserved
// concurrency, event-invoke configurations, and the code packages
// themselves. Everything survives a restart.
//
// Layout of the data folder:
//
//	functions/<name>.json   one document per function (atomic rename on write)
//	code/<sha256 hex>.zip   uploaded code packages, shared by functions and versions
//
// Extracted code lives in a separate work folder (code/<sha256 hex>/), rebuilt
// on demand from the zip, so it can be placed where the unprivileged
// function user may read it.
//
// Function values handed out by the store are immutable snapshots: every
// change copies the function, persists it and swaps it in, so invocations
// read configuration without locks or copies.
//
// It imports only the standard library.
package store
