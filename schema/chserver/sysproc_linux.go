package chserver

import "syscall"

// sysProcAttr puts the server in its own process group (so a terminal's
// Ctrl-C reaches Fluoro, which then stops the server in order) and asks the
// kernel to terminate it if Fluoro dies without stopping it.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGTERM}
}
