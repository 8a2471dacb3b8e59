package backend

import (
	"syscall"
	"time"
)

// cpuTime is this process's user+system CPU time so far: unlike wall time, it does not grow
// while other processes on this shared machine hold the cores.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
