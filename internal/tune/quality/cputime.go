//go:build linux

package main

import (
	"runtime"
	"time"

	"golang.org/x/sys/unix"
)

func init() { runtime.LockOSThread() } // cpuTime measures the main goroutine's thread

// cpuTime is the CPU time of the calling OS thread (Linux; the main goroutine is locked to
// its thread), which leaves out waiting for a core on a shared machine.
func cpuTime() time.Duration {
	var ru unix.Rusage
	if err := unix.Getrusage(unix.RUSAGE_THREAD, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
