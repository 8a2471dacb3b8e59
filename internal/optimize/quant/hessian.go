package quant

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sort"

	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/blas64"

	"github.com/mlops-dev/mlops/internal/data"
	"github.com/mlops-dev/mlops/internal/infer"
	"github.com/mlops-dev/mlops/internal/onnx"
	"github.com/mlops-dev/mlops/internal/onnx/onnxpb"
	"github.com/mlops-dev/mlops/internal/runtime"
)

// HessianFunc returns X^T X ([K, K] row-major, float64) of each named
// activation over the calibration data, flattening all but its last axis
// (of length K) into rows.
type HessianFunc func(ctx context.Context, dims map[string]int) (map[string][]float64, error)

// hessianBudget bounds the Hessians held at once; more inputs take more
// passes over the calibration data.
const hessianBudget = 1 << 30

// NewHessianFunc runs the float model m through ONNX Runtime over the data
// open returns, with the wanted activations added as outputs (routed out of
// If/Loop/Scan bodies like static calibration does).
func NewHessianFunc(rt *runtime.Runtime, m *onnx.Model, open func(context.Context) (data.Source, error), o CalibrationOptions) HessianFunc {
	return func(ctx context.Context, dims map[string]int) (map[string][]float64, error) {
		inputs := map[string]bool{}
		for _, vi := range m.Proto.GetGraph().GetInput() {
			inputs[vi.GetName()] = true
		}
		var fetch []string
		hs := map[string][]float64{}
		for name, k := range dims {
			hs[name] = make([]float64, k*k)
			if !inputs[name] {
				fetch = append(fetch, name)
			}
		}
		sort.Strings(fetch)
		sess, carries, cleanup, err := liftedSession(rt, m, fetch, o.Session)
		if err != nil {
			return nil, err
		}
		defer cleanup()
		defer sess.Close()
		outNames := make([]string, 0, len(carries))
		for k := range carries {
			outNames = append(outNames, k)
		}
		sort.Strings(outNames)
		src, err := open(ctx)
		if err != nil {
			return nil, fmt.Errorf("calibration data: %w", err)
		}
		defer src.Close()
		var buf []float64
		samples := 0
		for o.MaxSamples == 0 || samples < o.MaxSamples {
			b, err := src.Next(ctx)
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				return nil, fmt.Errorf("calibration data: %w", err)
			}
			o.Progress.Batch("gptq statistics", src, b)
			feeds, err := infer.Feed(b)
			if err != nil {
				return nil, err
			}
			add := func(name string, t *runtime.Tensor) error {
				h, ok := hs[name]
				if !ok {
					return nil
				}
				if buf, err = accumulateHessian(h, dims[name], t, buf); err != nil {
					return fmt.Errorf("calibration tensor %s: %w", name, err)
				}
				return nil
			}
			for name, t := range feeds {
				if err := add(name, t); err != nil {
					return nil, err
				}
			}
			if len(outNames) > 0 {
				outs, err := sess.Run(ctx, feeds, outNames)
				if err != nil {
					return nil, fmt.Errorf("calibration run on rows %d..%d: %w", b.Offset, b.Offset+b.Rows-1, err)
				}
				for name, t := range outs {
					if err := add(carries[name], t); err != nil {
						return nil, err
					}
				}
			}
			samples += b.Rows
		}
		if samples == 0 {
			return nil, fmt.Errorf("%w: give --calibration-data a file with at least one row", ErrEmptyCalibration)
		}
		return hs, nil
	}
}

// accumulateHessian adds X^T X of t (rows of length k) to h.
func accumulateHessian(h []float64, k int, t *runtime.Tensor, buf []float64) ([]float64, error) {
	var vals []float32
	switch t.DataType {
	case onnx.Float:
		v, err := t.Float32s()
		if err != nil {
			return buf, err
		}
		vals = v
	case onnx.Float16, onnx.BFloat16:
		tp := &onnxpb.TensorProto{DataType: ptrInt32(int32(t.DataType)), Dims: t.Shape, RawData: t.Data}
		v, err := onnx.AsFloat32s(nil, tp)
		if err != nil {
			return buf, err
		}
		vals = v
	default:
		return buf, fmt.Errorf("type %v is not a float type", t.DataType)
	}
	if len(vals) == 0 {
		return buf, nil
	}
	if len(vals)%k != 0 {
		return buf, fmt.Errorf("%d values are not rows of %d", len(vals), k)
	}
	rows := len(vals) / k
	if cap(buf) < len(vals) {
		buf = make([]float64, len(vals))
	}
	x := buf[:len(vals)]
	for i, v := range vals {
		x[i] = float64(v)
	}
	blas64.Implementation().Dgemm(blas.Trans, blas.NoTrans, k, k, rows, 1, x, k, x, k, 1, h, k)
	return buf, nil
}

func ptrInt32(v int32) *int32 { return &v }

// nbitsCandidate is a main-graph MatMul/Gemm 4-bit mode will rewrite.
type nbitsCandidate struct {
	label, op string
	t         *nbitsTarget
}

// prequantize computes the Hessians of the inputs of every 4-bit candidate
// in the main graph, in groups that fit hessianBudget (one pass over the
// calibration data each), and quantizes each group's weights while its
// Hessians are in memory. The graph rewrite then finds the weights cached.
func (r *rewriter) prequantize(hessians HessianFunc) error {
	g := r.m.Proto.GetGraph()
	s := newScope(g, nil, "", r.m.Proto.GetIrVersion() < 4)
	var cands []nbitsCandidate
	dims := map[string]int{}
	var order []string
	for _, n := range g.GetNode() {
		op := n.GetOpType()
		if (n.GetDomain() != "" && n.GetDomain() != "ai.onnx") || (op != "MatMul" && op != "Gemm") {
			continue
		}
		if ok, _ := r.opts.wants(n.GetName(), op); !ok || !contains(r.opts.opTypes(), op) {
			continue
		}
		if r.opts.keepFP(append(append([]string{n.GetName()}, n.GetInput()...), n.GetOutput()...)...) {
			continue
		}
		t, why := r.planNBits(s, n)
		if why != "" {
			continue
		}
		// The rewrite resolves constants in its own scope; keep the key.
		cands = append(cands, nbitsCandidate{label: nodeLabel(n), op: op, t: t})
		if _, ok := dims[t.input]; !ok {
			dims[t.input] = t.K
			order = append(order, t.input)
		}
	}
	for len(order) > 0 {
		group := map[string]int{}
		var used int64
		for len(order) > 0 {
			k := int64(dims[order[0]])
			if len(group) > 0 && used+8*k*k > hessianBudget {
				break
			}
			group[order[0]] = dims[order[0]]
			used += 8 * k * k
			order = order[1:]
		}
		hs, err := hessians(r.ctx, group)
		if err != nil {
			return err
		}
		for _, c := range cands {
			if h, ok := hs[c.t.input]; ok {
				if err := r.ctx.Err(); err != nil {
					return err
				}
				if _, why, err := r.blockWeight(c.label, c.op, c.t, h); err != nil || why != "" {
					if err != nil {
						return fmt.Errorf("quantize %s node %q: %w", c.op, c.label, err)
					}
				}
			}
		}
	}
	return nil
}
