package backend

import (
	"github.com/gomlx/compute/dtypes"
	"github.com/gomlx/compute/gobackend/extension"
	"github.com/gomlx/compute/shapes"
)

// scratch hands out temporary float32 slices from the backend's buffer pool, so kernels reuse
// memory between steps without state of their own. The zero value allocates.
type scratch struct {
	be *extension.Backend
}

// floats returns a slice of n float32 (contents undefined) and the function that releases it.
func (s scratch) floats(n int) ([]float32, func()) {
	if s.be == nil || n == 0 {
		return make([]float32, n), func() {}
	}
	buf, err := s.be.GetBuffer(shapes.Make(dtypes.Float32, n))
	if err != nil {
		// A finalized backend: fall back to the heap rather than fail mid-kernel.
		return make([]float32, n), func() {}
	}
	return buf.Flat.([]float32), func() { s.be.PutBuffer(buf) }
}
