package tune

import (
	"syscall"
	"time"
)

// terminate sends SIGTERM to the trial's process group, then SIGKILL after grace unless it
// exited (exited is closed).
func terminate(pid int, grace time.Duration, exited <-chan struct{}) {
	_ = syscall.Kill(-pid, syscall.SIGTERM)
	t := time.NewTimer(grace)
	defer t.Stop()
	select {
	case <-exited:
	case <-t.C:
		_ = syscall.Kill(-pid, syscall.SIGKILL)
	}
}

// killGroup sends SIGKILL to a process group.
func killGroup(pgid int) { _ = syscall.Kill(-pgid, syscall.SIGKILL) }
