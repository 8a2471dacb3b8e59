package prune

import (
	"github.com/mlops-dev/mlops/internal/onnx"
	"github.com/mlops-dev/mlops/internal/onnx/onnxpb"
)

// countFLOPs infers shapes through the main graph at batch size 1 (every
// dynamic dimension taken as 1) and adds up the floating-point operations of
// Conv, Gemm and MatMul (2 per multiply-add). complete is false when a
// shape on the way could not be inferred, so the count is a lower bound.
func countFLOPs(m *onnx.Model) (flops int64, complete bool) {
	g := m.Graph()
	order, err := g.Topo()
	if err != nil {
		return 0, false
	}
	shapes := map[string][]int64{}
	for _, in := range g.Proto.GetInput() {
		var dims []int64
		for _, d := range in.GetType().GetTensorType().GetShape().GetDim() {
			v := d.GetDimValue()
			if v <= 0 {
				v = 1
			}
			dims = append(dims, v)
		}
		shapes[in.GetName()] = dims
	}
	for _, t := range g.Proto.GetInitializer() {
		shapes[t.GetName()] = t.GetDims()
	}
	complete = true
	for _, n := range order {
		out, f, ok := inferNode(m, g, n, shapes)
		if !ok {
			if isCompute(n.GetOpType()) {
				complete = false
			}
			continue
		}
		flops += f
		if len(n.GetOutput()) > 0 {
			shapes[n.GetOutput()[0]] = out
		}
	}
	return flops, complete
}

func isCompute(op string) bool { return op == "Conv" || op == "Gemm" || op == "MatMul" }

func prod(d []int64) int64 {
	p := int64(1)
	for _, v := range d {
		p *= v
	}
	return p
}

// inferNode returns the first output's shape and the node's FLOPs.
func inferNode(m *onnx.Model, g *onnx.Graph, n *onnxpb.NodeProto, shapes map[string][]int64) ([]int64, int64, bool) {
	in := n.GetInput()
	get := func(i int) ([]int64, bool) {
		if i >= len(in) {
			return nil, false
		}
		s, ok := shapes[in[i]]
		return s, ok
	}
	x, ok := get(0)
	if !ok {
		return nil, 0, false
	}
	switch op := n.GetOpType(); {
	case op == "Conv":
		w, ok := get(1)
		if !ok || len(x) != len(w) || len(x) < 3 {
			return nil, 0, false
		}
		spatial, ok := windowOut(n, x[2:], w[2:])
		if !ok {
			return nil, 0, false
		}
		out := append([]int64{x[0], w[0]}, spatial...)
		return out, 2 * prod(out) * prod(w[1:]), true
	case op == "MaxPool" || op == "AveragePool" || op == "LpPool":
		k := onnx.AttrInts(n, "kernel_shape")
		if len(k) != len(x)-2 {
			return nil, 0, false
		}
		spatial, ok := windowOut(n, x[2:], k)
		if !ok {
			return nil, 0, false
		}
		return append([]int64{x[0], x[1]}, spatial...), 0, true
	case op == "GlobalAveragePool" || op == "GlobalMaxPool" || op == "GlobalLpPool":
		out := append([]int64(nil), x...)
		for i := 2; i < len(out); i++ {
			out[i] = 1
		}
		return out, 0, true
	case op == "Flatten":
		axis := int(onnx.AttrInt(n, "axis", 1))
		if axis < 0 {
			axis += len(x)
		}
		if axis < 0 || axis > len(x) {
			return nil, 0, false
		}
		return []int64{prod(x[:axis]), prod(x[axis:])}, 0, true
	case op == "Gemm":
		w, ok := get(1)
		if !ok || len(x) != 2 || len(w) != 2 {
			return nil, 0, false
		}
		mDim, k := x[0], x[1]
		if onnx.AttrInt(n, "transA", 0) != 0 {
			mDim, k = x[1], x[0]
		}
		nDim := w[1]
		if onnx.AttrInt(n, "transB", 0) != 0 {
			nDim = w[0]
		}
		return []int64{mDim, nDim}, 2 * mDim * k * nDim, true
	case op == "MatMul":
		w, ok := get(1)
		if !ok || len(x) < 2 || len(w) < 2 {
			return nil, 0, false
		}
		out := append(append([]int64(nil), x[:len(x)-1]...), w[len(w)-1])
		return out, 2 * prod(x) * w[len(w)-1], true
	case op == "Reshape":
		t := g.Initializer(in[1])
		if t == nil {
			return nil, 0, false
		}
		target := append([]int64(nil), t.GetInt64Data()...)
		if len(target) == 0 {
			raw, err := onnx.AsInt64s(m, t)
			if err != nil {
				return nil, 0, false
			}
			target = raw
		}
		return reshape(x, target)
	case passThrough(op) || op == "BatchNormalization" || op == "Softmax" || op == "LogSoftmax":
		return append([]int64(nil), x...), 0, true
	case op == "Add" || op == "Sub" || op == "Mul" || op == "Div" || op == "PRelu":
		y, ok := get(1)
		if !ok {
			return nil, 0, false
		}
		return broadcast(x, y)
	}
	return nil, 0, false
}

// windowOut is the spatial output size of a sliding window (Conv, pooling).
func windowOut(n *onnxpb.NodeProto, in, kernel []int64) ([]int64, bool) {
	r := len(in)
	strides, dil, pads := onnx.AttrInts(n, "strides"), onnx.AttrInts(n, "dilations"), onnx.AttrInts(n, "pads")
	autoPad := onnx.AttrString(n, "auto_pad", "NOTSET")
	ceil := onnx.AttrInt(n, "ceil_mode", 0) != 0
	out := make([]int64, r)
	for i := 0; i < r; i++ {
		s, d := int64(1), int64(1)
		if i < len(strides) {
			s = strides[i]
		}
		if i < len(dil) {
			d = dil[i]
		}
		if s <= 0 || d <= 0 {
			return nil, false
		}
		if autoPad == "SAME_UPPER" || autoPad == "SAME_LOWER" {
			out[i] = (in[i] + s - 1) / s
			continue
		}
		var p int64
		if autoPad != "VALID" && len(pads) == 2*r {
			p = pads[i] + pads[i+r]
		}
		span := in[i] + p - ((kernel[i]-1)*d + 1)
		if span < 0 {
			return nil, false
		}
		if ceil {
			out[i] = (span+s-1)/s + 1
		} else {
			out[i] = span/s + 1
		}
	}
	return out, true
}

func reshape(x, target []int64) ([]int64, int64, bool) {
	out := make([]int64, len(target))
	known, infer := int64(1), -1
	for i, v := range target {
		switch {
		case v == 0 && i < len(x):
			out[i] = x[i]
		case v == -1 && infer < 0:
			infer = i
			continue
		case v > 0:
			out[i] = v
		default:
			return nil, 0, false
		}
		known *= out[i]
	}
	if infer >= 0 {
		if known == 0 || prod(x)%known != 0 {
			return nil, 0, false
		}
		out[infer] = prod(x) / known
	}
	return out, 0, true
}

func broadcast(a, b []int64) ([]int64, int64, bool) {
	if len(b) > len(a) {
		a, b = b, a
	}
	out := append([]int64(nil), a...)
	off := len(a) - len(b)
	for i, v := range b {
		switch {
		case out[off+i] == v || v == 1:
		case out[off+i] == 1:
			out[off+i] = v
		default:
			return nil, 0, false
		}
	}
	return out, 0, true
}
