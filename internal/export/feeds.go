package export

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"

	"github.com/mlops-dev/mlops/internal/onnx"
	"github.com/mlops-dev/mlops/internal/onnx/onnxpb"
	"github.com/mlops-dev/mlops/internal/runtime"
)

// randomFeeds builds seeded inputs for every real graph input (initializers
// listed as inputs are skipped). Symbolic or unknown dimensions become 1.
// Floats are uniform in [0,1), integers are intFill (0 is a safe index, 1 a
// safe shape or size), booleans false.
func randomFeeds(g *onnxpb.GraphProto, seed uint64, intFill int64) (map[string]*runtime.Tensor, error) {
	inits := map[string]bool{}
	for _, t := range g.GetInitializer() {
		inits[t.GetName()] = true
	}
	rng := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	feeds := map[string]*runtime.Tensor{}
	for _, in := range g.GetInput() {
		if inits[in.GetName()] {
			continue
		}
		tt := in.GetType().GetTensorType()
		if tt == nil {
			return nil, fmt.Errorf("input %q is not a tensor (%s); cannot make a test input for it", in.GetName(), onnx.TypeString(in.GetType()))
		}
		var shape []int64
		n := int64(1)
		for _, d := range tt.GetShape().GetDim() {
			v := d.GetDimValue()
			if v <= 0 {
				v = 1
			}
			shape = append(shape, v)
			n *= v
		}
		if n > 1<<26 {
			return nil, fmt.Errorf("input %q has %d elements; too large for a test input", in.GetName(), n)
		}
		dt := onnx.DataType(tt.GetElemType())
		switch dt {
		case onnx.Float, onnx.Float16, onnx.Double, onnx.BFloat16:
			v := make([]float32, n)
			for i := range v {
				v[i] = rng.Float32()
			}
			switch dt {
			case onnx.Float:
				feeds[in.GetName()] = runtime.NewTensorFloat32(shape, v)
			case onnx.Float16:
				feeds[in.GetName()] = runtime.NewTensorFloat16(shape, v)
			case onnx.BFloat16:
				feeds[in.GetName()] = runtime.NewTensorBFloat16(shape, v)
			default:
				d := make([]float64, n)
				for i := range v {
					d[i] = float64(v[i])
				}
				feeds[in.GetName()] = runtime.NewTensorFloat64(shape, d)
			}
		case onnx.String:
			feeds[in.GetName()] = runtime.NewTensorString(shape, make([]string, n))
		default:
			size := dt.ByteSize()
			if size <= 0 {
				return nil, fmt.Errorf("input %q has element type %s; cannot make a test input for it", in.GetName(), dt)
			}
			t := &runtime.Tensor{DataType: dt, Shape: shape, Data: make([]byte, int64(size)*n)}
			if intFill != 0 && dt != onnx.Bool {
				for i := int64(0); i < n; i++ {
					t.Data[i*int64(size)] = byte(intFill) // little-endian: the low byte
				}
			}
			feeds[in.GetName()] = t
		}
	}
	return feeds, nil
}

// runModel runs model bytes on feeds and returns every graph output.
func runModel(ctx context.Context, rt *runtime.Runtime, model []byte, feeds map[string]*runtime.Tensor) (map[string]*runtime.Tensor, error) {
	s, err := rt.NewSessionContext(ctx, model, runtime.SessionOptions{})
	if err != nil {
		return nil, err
	}
	defer s.Close()
	return s.Run(ctx, feeds, nil)
}

// Deviation is how far one output of the converted model is from the
// reference.
type Deviation struct {
	Output string  `json:"output"`
	MaxAbs float64 `json:"max_abs"`
	MaxRel float64 `json:"max_rel"`
}

// compareOutputs measures every output present in ref; outputs that are not
// numeric must match exactly (shape and bytes).
func compareOutputs(ref, got map[string]*runtime.Tensor, order []string) ([]Deviation, error) {
	var devs []Deviation
	for _, name := range order {
		a, ok := ref[name]
		if !ok {
			continue
		}
		b, ok := got[name]
		if !ok {
			return nil, fmt.Errorf("output %q is missing from the converted model", name)
		}
		if fmt.Sprint(a.Shape) != fmt.Sprint(b.Shape) {
			return nil, fmt.Errorf("output %q: shape %v became %v", name, a.Shape, b.Shape)
		}
		av, errA := a.AsFloat32s()
		bv, errB := b.AsFloat32s()
		if errA != nil || errB != nil {
			if a.DataType != b.DataType || string(a.Data) != string(b.Data) || fmt.Sprint(a.Strings) != fmt.Sprint(b.Strings) {
				return nil, fmt.Errorf("output %q (%s) differs", name, a.DataType)
			}
			devs = append(devs, Deviation{Output: name})
			continue
		}
		devs = append(devs, deviation(name, av, bv))
	}
	return devs, nil
}

func deviation(name string, a, b []float32) Deviation {
	d := Deviation{Output: name}
	for i := range a {
		x, y := float64(a[i]), float64(b[i])
		if math.IsNaN(x) && math.IsNaN(y) || x == y {
			continue
		}
		abs := math.Abs(x - y)
		if math.IsNaN(abs) {
			abs = math.Inf(1)
		}
		d.MaxAbs = math.Max(d.MaxAbs, abs)
		d.MaxRel = math.Max(d.MaxRel, abs/math.Max(math.Abs(x), 1e-6))
	}
	return d
}
