//go:build !linux

package registry

import "os"

// startWriteback is a no-op where sync_file_range does not exist; the fsync
// before rename does all the work there.
func startWriteback(f *os.File, off, n int64) {}
