package retrain

import (
	"fmt"
	"math"
	"math/rand/v2"

	"github.com/gomlx/compute/dtypes"
	"github.com/gomlx/gomlx/core/tensors"
	"github.com/gomlx/gomlx/ml/model"

	"github.com/mlops-dev/mlops/internal/onnx"
	"github.com/mlops-dev/mlops/internal/onnx/onnxpb"
)

// reinitStream is --reinit's random stream of the seed (data's split and
// shuffle streams are 0x5e11 and 0x5400+epoch).
const reinitStream = 0x1417

// reinitialize gives every trainable initializer a fresh seeded value, the
// way torch initializes a new layer: weights of Gemm, MatMul and Conv are
// uniform in ±1/√fan_in (kaiming_uniform with a = √5) and so are their
// biases (with the layer's fan_in); normalization scales are 1 and shifts 0;
// anything else is normal with σ = 0.02. BatchNormalization running
// statistics restart at mean 0, variance 1.
func reinitialize(m *onnx.Model, store *model.Store, names []string, bn []bnStat, seed uint64) error {
	r := rand.New(rand.NewPCG(seed, reinitStream))
	g := m.Graph()
	for _, name := range names {
		t := g.Initializer(name)
		n, err := onnx.NumElements(t)
		if err != nil {
			return err
		}
		kind, fanIn := initRole(g, name, t)
		vals := make([]float64, n)
		switch kind {
		case "uniform":
			b := 1 / math.Sqrt(float64(max(1, fanIn)))
			for i := range vals {
				vals[i] = (2*r.Float64() - 1) * b
			}
		case "one":
			for i := range vals {
				vals[i] = 1
			}
		case "zero":
		default:
			for i := range vals {
				vals[i] = 0.02 * r.NormFloat64()
			}
		}
		if err := setVariable(store, name, vals); err != nil {
			return err
		}
	}
	for _, st := range bn {
		for name, val := range map[string]float64{st.mean: 0, st.vr: 1} {
			t := g.Initializer(name)
			n, _ := onnx.NumElements(t)
			vals := make([]float64, n)
			for i := range vals {
				vals[i] = val
			}
			if err := setVariable(store, name, vals); err != nil {
				return err
			}
		}
	}
	return nil
}

// initRole tells how torch would initialize the initializer name from the
// node that consumes it, and the fan-in of that layer.
func initRole(g *onnx.Graph, name string, t *onnxpb.TensorProto) (string, int64) {
	for _, n := range g.Consumers(name) {
		idx := -1
		for i, in := range n.GetInput() {
			if in == name {
				idx = i
			}
		}
		switch n.GetOpType() {
		case "Gemm":
			w := g.Initializer(n.GetInput()[1])
			if w == nil || len(w.GetDims()) != 2 {
				continue
			}
			fan := w.GetDims()[0]
			if onnx.AttrInt(n, "transB", 0) == 1 {
				fan = w.GetDims()[1]
			}
			if idx == 1 || idx == 2 {
				return "uniform", fan
			}
		case "Conv", "ConvTranspose":
			w := g.Initializer(n.GetInput()[1])
			if w == nil || len(w.GetDims()) < 3 {
				continue
			}
			fan := int64(1)
			for _, d := range w.GetDims()[1:] {
				fan *= d
			}
			if idx == 1 || idx == 2 {
				return "uniform", fan
			}
		case "MatMul":
			if d := t.GetDims(); idx == 1 && len(d) >= 2 {
				return "uniform", d[len(d)-2]
			}
		case "Add":
			// The bias of a MatMul layer: fan-in of the MatMul's weight.
			for _, in := range n.GetInput() {
				if p := g.Producer(in); p != nil && p.GetOpType() == "MatMul" {
					if w := g.Initializer(p.GetInput()[1]); w != nil && len(w.GetDims()) >= 2 {
						return "uniform", w.GetDims()[len(w.GetDims())-2]
					}
				}
			}
		case "BatchNormalization", "LayerNormalization", "InstanceNormalization", "GroupNormalization":
			if idx == 1 {
				return "one", 0
			}
			return "zero", 0
		}
	}
	return "normal", 0
}

// setVariable replaces a store variable's value, in its own element type.
func setVariable(store *model.Store, name string, vals []float64) error {
	v := store.GetVariable(varPath(name))
	if v == nil {
		return fmt.Errorf("initializer %q is missing from the training graph", name)
	}
	dims := v.Shape().Dimensions
	var t *tensors.Tensor
	switch v.DType() {
	case dtypes.Float32:
		f := make([]float32, len(vals))
		for i, x := range vals {
			f[i] = float32(x)
		}
		t = tensors.FromFlatDataAndDimensions(f, dims...)
	case dtypes.Float64:
		t = tensors.FromFlatDataAndDimensions(vals, dims...)
	default:
		return fmt.Errorf("initializer %q has element type %s, which does not train", name, v.DType())
	}
	return v.SetValue(t)
}
