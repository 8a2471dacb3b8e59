//go:build unix

package runtime

import (
	"fmt"
	"os"
	"syscall"
)

// readModel maps a model file read-only, so reading its inputs and outputs
// does not copy weights stored inline (up to 2 GB) into the Go heap. The
// caller must call release when done with the bytes.
func readModel(path string) (data []byte, release func(), err error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, nil, err
	}
	if fi.IsDir() {
		return nil, nil, fmt.Errorf("%s is a folder, not a model file", path)
	}
	if fi.Size() == 0 {
		return nil, func() {}, nil
	}
	if fi.Size() > int64(^uint(0)>>1) {
		return nil, nil, fmt.Errorf("%s is too large to map", path)
	}
	b, err := syscall.Mmap(int(f.Fd()), 0, int(fi.Size()), syscall.PROT_READ, syscall.MAP_SHARED)
	if err != nil {
		// Some filesystems cannot map files; read it instead.
		b, err := os.ReadFile(path)
		return b, func() {}, err
	}
	return b, func() { _ = syscall.Munmap(b) }, nil // nothing to do if unmapping fails
}
