package registry

import (
	"os"

	"golang.org/x/sys/unix"
)

// startWriteback asks the kernel to begin writing [off, off+n) of f to disk
// without waiting, so that the fsync before a pulled file is renamed into
// place finds little left to do: the disk works while the network does.
// Errors are ignored; the fsync that follows reports real ones.
func startWriteback(f *os.File, off, n int64) {
	_ = unix.SyncFileRange(int(f.Fd()), off, n, unix.SYNC_FILE_RANGE_WRITE)
}
