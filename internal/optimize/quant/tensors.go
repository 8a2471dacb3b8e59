package quant

import (
	"fmt"

	"github.com/mlops-dev/mlops/internal/onnx"
	"github.com/mlops-dev/mlops/internal/onnx/onnxpb"
	"google.golang.org/protobuf/proto"
)

// qweight is a quantized constant stored as three initializers.
type qweight struct {
	q, scale, zp string
	w            *Weight
	dims         []int64 // dims of the quantized tensor
}

// weightVariant says how a constant is to be quantized for one consumer.
type weightVariant struct {
	typ        QType
	perChannel bool
	axis       int
	transpose  bool    // store the 2-D transpose (Gemm transB=1 for MatMul kernels)
	scaleBy    float32 // folded into the scales (Gemm alpha); 0 means 1
	shareZP    bool    // all channels must share one zero point (ConvInteger)
}

func (v weightVariant) key() string {
	return fmt.Sprintf("%v/%v/%d/%v/%g/%v", v.typ, v.perChannel, v.axis, v.transpose, v.scaleBy, v.shareZP)
}

// weight quantizes constant c once per variant and returns its initializers.
// why is non-empty when c cannot be quantized this way.
func (r *rewriter) weight(c *constant, v weightVariant) (*qweight, string, error) {
	k := c.key + "|" + v.key()
	if qw, ok := r.weights[k]; ok {
		return qw, "", nil
	}
	t := c.tensor
	if dt := onnx.TypeOf(t); dt != onnx.Float && (!isFloatType(dt) || r.opts.Mode != Dynamic) {
		if isFloatType(dt) {
			return nil, fmt.Sprintf("weight %s is %v: static mode quantizes float32 models; use --mode dynamic or --bits 4 for %v models", t.GetName(), dt, dt), nil
		}
		return nil, fmt.Sprintf("weight %s is %v, not a float type", t.GetName(), dt), nil
	}
	data, err := r.reader.floats(t)
	if err != nil {
		return nil, "", onnx.TensorError("read weight", t, err)
	}
	var known *[2]float32
	if lo, hi, ok := r.reader.rangeOf(t); ok && !v.perChannel {
		known = &[2]float32{lo, hi}
	}
	dims := append([]int64(nil), t.GetDims()...)
	if v.transpose != c.transposed {
		if len(dims) != 2 {
			return nil, fmt.Sprintf("weight %s has rank %d, want 2", t.GetName(), len(dims)), nil
		}
		data = transpose2D(data, int(dims[0]), int(dims[1]))
		dims[0], dims[1] = dims[1], dims[0]
	}
	if v.scaleBy != 0 && v.scaleBy != 1 {
		known = nil
		scaled := make([]float32, len(data))
		for i, x := range data {
			scaled[i] = x * v.scaleBy
		}
		data = scaled
	}
	symmetric := r.opts.SymmetricWeights
	if v.shareZP && v.perChannel && !symmetric {
		// A shared zero point with per-channel scales exists only for
		// symmetric ranges.
		symmetric = true
	}
	var dst []byte
	if r.spill != nil && len(data) >= spillThreshold {
		// spill.put below moves exactly these tensors (len >=
		// spillThreshold) to the spill file: one buffer serves them all.
		if cap(r.qbuf) < len(data) {
			r.qbuf = make([]byte, len(data))
		}
		dst = r.qbuf
	}
	w, err := QuantizeWeight(data, dims, WeightOptions{Type: v.typ, Symmetric: symmetric,
		ReduceRange: r.opts.ReduceRange, PerChannel: v.perChannel, Axis: v.axis, Range: known, Dst: dst})
	if err != nil {
		return nil, fmt.Sprintf("weight %s: %v", t.GetName(), err), nil
	}
	base := t.GetName()
	if base == "" {
		base = "const"
	}
	qw := &qweight{
		q: r.names.fresh(base + "_quantized"), scale: r.names.fresh(base + "_scale"),
		zp: r.names.fresh(base + "_zero_point"), w: w, dims: dims,
	}
	var pdims []int64
	if v.perChannel {
		pdims = []int64{int64(len(w.Params))}
	}
	qt, err := rawTensor(qw.q, onnx.DataType(v.typ.ONNXType()), dims, w.Data)
	if err != nil {
		return nil, "", err
	}
	st, err := floatTensor(qw.scale, pdims, w.Scales())
	if err != nil {
		return nil, "", err
	}
	zt, err := rawTensor(qw.zp, onnx.DataType(v.typ.ONNXType()), pdims, w.ZeroPointBytes())
	if err != nil {
		return nil, "", err
	}
	if err := r.spill.put(qt); err != nil {
		return nil, "", err
	}
	w.Data = nil // the tensor (or the spill file) owns the bytes now
	c.owner.addInit(qt)
	c.owner.addInit(st)
	c.owner.addInit(zt)
	r.weights[k] = qw
	r.res.WeightsQuantized++
	return qw, "", nil
}

func transpose2D(x []float32, rows, cols int) []float32 {
	out := make([]float32, len(x))
	for i := 0; i < rows; i++ {
		for j := 0; j < cols; j++ {
			out[j*rows+i] = x[i*cols+j]
		}
	}
	return out
}

func rawTensor(name string, dt onnx.DataType, dims []int64, raw []byte) (*onnxpb.TensorProto, error) {
	t := &onnxpb.TensorProto{Name: proto.String(name)}
	if err := onnx.SetRaw(t, dt, dims, raw); err != nil {
		return nil, fmt.Errorf("build tensor %s: %w", name, err)
	}
	return t, nil
}

func floatTensor(name string, dims []int64, vals []float32) (*onnxpb.TensorProto, error) {
	t := &onnxpb.TensorProto{Name: proto.String(name)}
	if err := onnx.SetValues(t, dims, vals); err != nil {
		return nil, fmt.Errorf("build tensor %s: %w", name, err)
	}
	return t, nil
}

func int32Tensor(name string, dims []int64, vals []int32) (*onnxpb.TensorProto, error) {
	t := &onnxpb.TensorProto{Name: proto.String(name)}
	if err := onnx.SetValues(t, dims, vals); err != nil {
		return nil, fmt.Errorf("build tensor %s: %w", name, err)
	}
	return t, nil
}

func int64Tensor(name string, dims []int64, vals []int64) (*onnxpb.TensorProto, error) {
	t := &onnxpb.TensorProto{Name: proto.String(name)}
	if err := onnx.SetValues(t, dims, vals); err != nil {
		return nil, fmt.Errorf("build tensor %s: %w", name, err)
	}
	return t, nil
}

// constFloats reads a constant float tensor's values and dims.
func (r *rewriter) constFloats(c *constant) ([]float32, []int64, string, error) {
	if !isFloatType(onnx.TypeOf(c.tensor)) {
		return nil, nil, fmt.Sprintf("%s is %v, not a float type", c.tensor.GetName(), onnx.TypeOf(c.tensor)), nil
	}
	v, err := r.reader.floats(c.tensor)
	if err != nil {
		return nil, nil, "", onnx.TensorError("read", c.tensor, err)
	}
	if c.transposed {
		d := c.tensor.GetDims()
		return transpose2D(v, int(d[0]), int(d[1])), c.dims(), "", nil
	}
	return append([]float32(nil), v...), c.dims(), "", nil
}
