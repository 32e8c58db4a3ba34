// Package clickhouse holds the deployment files of Fluoro's ClickHouse: the
// clickhouse-server configuration templates that schema/chserver renders for
// the managed server (`fluoro up` without --clickhouse).
//
// The files are plain text/template documents so that an operator can also
// read them as a reference for a hand-managed server. This package imports
// only the standard library.
package clickhouse

import _ "embed"

// ConfigTemplate is config.xml.tmpl: the server configuration. Its fields are
// Dir, ListenHost, TCPPort, HTTPPort, LogLevel, Compression, MarkCacheBytes and
// UncompressedCacheBytes.
//
//go:embed config.xml.tmpl
var ConfigTemplate string

// UsersTemplate is users.xml.tmpl: the users and profiles file referenced by
// the server configuration. Its only field is MaxMemoryUsageBytes.
//
//go:embed users.xml.tmpl
var UsersTemplate string
