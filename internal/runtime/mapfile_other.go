//go:build !unix

package runtime

import "os"

// readModel reads a model file (no memory mapping on this platform).
func readModel(path string) (data []byte, release func(), err error) {
	b, err := os.ReadFile(path)
	return b, func() {}, err
}
