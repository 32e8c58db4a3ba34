// Package chserver runs Fluoro's managed clickhouse-server: the ClickHouse
// that `fluoro up` (and the test harness schema/chtest) starts as a child
// process when no --clickhouse DSN is given.
//
// Start renders the configuration templates of deploy/clickhouse into the
// server's folder (default ./.fluoro/clickhouse: config.xml, users.xml,
// data/, tmp/, log/), starts clickhouse-server in its own process group,
// binds it to 127.0.0.1, waits until it answers a native-protocol ping and
// returns a *Server whose DSN the rest of Fluoro connects to. Stop ends it
// with SIGTERM and, after a grace period, SIGKILL.
//
// The package imports clickhouse-go (for the readiness ping) and must only be
// imported by main and by schema's own packages.
package chserver
