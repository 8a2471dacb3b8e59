//go:build !linux

package tune

import "syscall"

// procAttr puts a trial in its own process group (no parent-death signal outside Linux).
func procAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true}
}
