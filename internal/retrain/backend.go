package retrain

import (
	"fmt"

	"github.com/gomlx/compute"

	"github.com/mlops-dev/mlops/internal/retrain/backend"
)

// defaultBackend is gomlx's pure-Go CPU backend with mlops' kernels (internal/retrain/backend).
// (Never the XLA one: it needs a shared library this project does not ship.)
func defaultBackend() (compute.Backend, error) {
	be, err := backend.New()
	if err != nil {
		return nil, fmt.Errorf("start the training backend: %w", err)
	}
	return be, nil
}
