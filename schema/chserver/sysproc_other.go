//go:build !linux

package chserver

import "syscall"

// sysProcAttr puts the server in its own process group.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true}
}

// checkOwner is only implemented on Linux.
func checkOwner(string) error { return nil }
