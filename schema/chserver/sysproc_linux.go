package chserver

import (
	"fmt"
	"os"
	"syscall"
)

// sysProcAttr puts the server in its own process group (so a terminal's
// Ctrl-C reaches Fluoro, which then stops the server in order) and asks the
// kernel to terminate it if Fluoro dies without stopping it.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGTERM}
}

// checkOwner fails early, with the fix, when the data folder belongs to
// another user than the one Fluoro runs as: clickhouse-server refuses to
// start as root on data it does not own (and as another user it could not
// write it), and its own message is buried in its log.
func checkOwner(dir string) error {
	fi, err := os.Stat(dir)
	if err != nil {
		return fmt.Errorf("clickhouse dir: %w", err)
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return nil
	}
	if euid := os.Geteuid(); int(st.Uid) != euid {
		return fmt.Errorf("clickhouse dir %s belongs to uid %d but Fluoro runs as uid %d; clickhouse-server refuses that: run Fluoro as uid %d, or `chown -R %d %s`, or pick another --clickhouse-dir",
			dir, st.Uid, euid, st.Uid, euid, dir)
	}
	return nil
}
