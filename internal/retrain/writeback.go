package retrain

import (
	"context"
	"fmt"

	"github.com/gomlx/compute/dtypes"
	"github.com/gomlx/gomlx/core/tensors"
	"github.com/gomlx/gomlx/ml/model"

	"github.com/mlops-dev/mlops/internal/onnx"
)

// weights are trained initializer values by name: []float32 or []float64,
// in the initializer's own element type.
type weights map[string]any

// readWeights copies the current values of the named initializers out of
// the store.
func readWeights(store *model.Store, names []string) (weights, error) {
	out := weights{}
	for _, n := range names {
		v := store.GetVariable(varPath(n))
		if v == nil {
			return nil, fmt.Errorf("initializer %q is missing from the training graph", n)
		}
		t, err := v.Value()
		if err != nil {
			return nil, fmt.Errorf("read %q: %w", n, err)
		}
		vals, err := flatFloats(t)
		if err != nil {
			return nil, fmt.Errorf("read %q: %w", n, err)
		}
		out[n] = vals
	}
	return out, nil
}

func flatFloats(t *tensors.Tensor) (any, error) {
	switch t.DType() {
	case dtypes.Float32:
		return tensors.CopyFlatData[float32](t)
	case dtypes.Float64:
		return tensors.CopyFlatData[float64](t)
	}
	return nil, fmt.Errorf("element type %s is not trainable", t.DType())
}

// saveWithWeights writes src to path with only the given initializers'
// values replaced: nodes, names, opsets, metadata and the external-data
// layout are src's (tensors stored externally in src are stored externally
// in the output, in a data file named after it). src itself is unchanged.
func saveWithWeights(ctx context.Context, src *onnx.Model, w weights, path string) error {
	m := src.Clone()
	defer m.Close()
	g := m.Graph()
	minExternal := int64(-1)
	for _, t := range g.Proto.GetInitializer() {
		if onnx.IsExternal(t) {
			if s := onnx.DataBytes(t); minExternal < 0 || s < minExternal {
				minExternal = s
			}
		}
	}
	for name, vals := range w {
		t := g.Initializer(name)
		if t == nil {
			return fmt.Errorf("initializer %q is not in the model", name)
		}
		var err error
		switch x := vals.(type) {
		case []float32:
			err = onnx.SetValues(t, t.GetDims(), x)
		case []float64:
			err = onnx.SetValues(t, t.GetDims(), x)
		default:
			err = fmt.Errorf("initializer %q: unsupported values %T", name, vals)
		}
		if err != nil {
			return err
		}
	}
	opts := onnx.SaveOptions{External: onnx.ExternalAuto}
	if minExternal >= 0 {
		opts = onnx.SaveOptions{External: onnx.ExternalAlways, Threshold: max(1, minExternal)}
	}
	return m.SaveContext(ctx, path, opts)
}
