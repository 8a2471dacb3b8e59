//go:build !linux

package main

import "time"

var start = time.Now()

// cpuTime falls back to wall time outside Linux.
func cpuTime() time.Duration { return time.Since(start) }
