package engine

import (
	"context"

	"github.com/mlops-dev/mlops/internal/deploy/oip"
)

// TensorMeta describes a model input or output. Shape uses -1 for dynamic
// dimensions.
type TensorMeta struct {
	Name     string       `json:"name"`
	Datatype oip.Datatype `json:"datatype"`
	Shape    []int64      `json:"shape"`
	// DimNames holds each dimension's symbolic name ("batch"), "" where it
	// has none; warm-up gives dimensions of the same name the same size.
	DimNames []string `json:"-"`
}

// Backend runs one loaded model version. Run must be safe for concurrent use.
type Backend interface {
	Inputs() []TensorMeta
	Outputs() []TensorMeta
	// Run gets inputs in Inputs() order and returns the named outputs
	// (all outputs, in Outputs() order, when outputs is empty).
	Run(ctx context.Context, inputs []*oip.Tensor, outputs []string) ([]*oip.Tensor, error)
	Close() error
}

// Resolved is a model reference turned into something loadable.
type Resolved struct {
	// Path is the local model file.
	Path string
	// Version identifies the content: the registry version number, or a
	// digest prefix for plain files, so a reload can tell whether anything changed.
	Version string
}

// Loader resolves model references and opens backends. Resolve is called by
// every reload and poll, so it should be cheap when nothing changed; its
// errors name ref (the engine passes them on as they are).
type Loader interface {
	Resolve(ctx context.Context, ref string) (Resolved, error)
	Open(ctx context.Context, r Resolved) (Backend, error)
}
