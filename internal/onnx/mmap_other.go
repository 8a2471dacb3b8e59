//go:build !unix

package onnx

import "os"

// mappedFile holds a whole external data file; platforms without mmap read
// it into memory.
type mappedFile struct {
	data []byte
}

func mapFile(path string) (*mappedFile, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return &mappedFile{data: b}, nil
}

func (f *mappedFile) close() error {
	f.data = nil
	return nil
}
