package quant

import (
	"fmt"

	"github.com/mlops-dev/mlops/internal/onnx"
	"github.com/mlops-dev/mlops/internal/onnx/onnxpb"
	"google.golang.org/protobuf/proto"
)

// dynamicNode rewrites one MatMul, Gemm or Conv for dynamic quantization.
// MatMul and Gemm become com.microsoft DynamicQuantizeMatMul (ORT's fused
// kernel: quantize A per call, integer GEMM, dequantize, add bias); Conv
// becomes DynamicQuantizeLinear + ConvInteger + rescale, since ORT has no
// fused dynamic Conv.
func (r *rewriter) dynamicNode(s *scope, n *onnxpb.NodeProto, uses map[string]int) (string, error) {
	switch n.GetOpType() {
	case "MatMul":
		return r.dynamicMatMul(s, n, uses)
	case "Gemm":
		return r.dynamicGemm(s, n)
	case "Gather":
		return r.dynamicGather(s, n)
	case "Conv":
		if r.opset < 10 {
			return r.weightOnlyConv(s, n)
		}
		return r.dynamicConv(s, n)
	}
	return "op type not supported in dynamic mode", nil
}

func (r *rewriter) dynamicMatMul(s *scope, n *onnxpb.NodeProto, uses map[string]int) (string, error) {
	in := n.GetInput()
	if len(in) != 2 || len(n.GetOutput()) != 1 {
		return "malformed MatMul", nil
	}
	c := s.resolveConst(in[1])
	if c == nil {
		return "weight B is computed at run time (only constant-weight MatMuls are quantized)", nil
	}
	if len(c.dims()) != 2 {
		return fmt.Sprintf("weight B has rank %d; only 2-D weights are quantized", len(c.dims())), nil
	}
	cols := c.dims()[1]
	qw, why, err := r.weight(c, weightVariant{typ: r.opts.WeightType, perChannel: r.opts.perChannel("MatMul"), axis: 1})
	if why != "" || err != nil {
		return why, err
	}
	out := n.GetOutput()[0]
	ft := onnx.TypeOf(c.tensor)
	inputs := []string{in[0], qw.q, qw.scale, qw.zp}
	// Fold a following bias Add into the kernel when the MatMul's only
	// reader is that Add and the other operand is a constant [N] vector.
	if add, bias := r.biasAdd(s, out, cols, uses); add != nil && ft == onnx.Float {
		inputs = append(inputs, bias)
		out = add.GetOutput()[0]
		s.replace[add] = []*onnxpb.NodeProto{}
	}
	a, y := r.float32IO(s, n, in[0], out, ft, "DynamicQuantizeMatMul")
	inputs[0] = a
	s.replace[n] = []*onnxpb.NodeProto{node("DynamicQuantizeMatMul", "com.microsoft",
		r.names.fresh(nodeLabel(n)+"_quant"), inputs, []string{y})}
	r.lastOut = out
	r.msOps = true
	return "", nil
}

// biasAdd finds Add(out, bias) with bias a constant float vector of length
// cols, where the Add is the only reader of out.
func (r *rewriter) biasAdd(s *scope, out string, cols int64, uses map[string]int) (*onnxpb.NodeProto, string) {
	return findBiasAdd(s, out, cols, onnx.Float, uses)
}

// findBiasAdd finds Add(out, bias) with bias a constant [cols] vector of
// type dt, where the Add is the only reader of out.
func findBiasAdd(s *scope, out string, cols int64, dt onnx.DataType, uses map[string]int) (*onnxpb.NodeProto, string) {
	if uses[out] != 1 {
		return nil, ""
	}
	for _, a := range s.g.GetNode() {
		if a.GetOpType() != "Add" || a.GetDomain() != "" || len(a.GetInput()) != 2 {
			continue
		}
		var other string
		switch {
		case a.GetInput()[0] == out:
			other = a.GetInput()[1]
		case a.GetInput()[1] == out:
			other = a.GetInput()[0]
		default:
			continue
		}
		if _, done := s.replace[a]; done {
			return nil, ""
		}
		c := s.resolveConst(other)
		if c == nil || c.transposed || len(c.dims()) != 1 || c.dims()[0] != cols || onnx.TypeOf(c.tensor) != dt {
			return nil, ""
		}
		return a, other
	}
	return nil, ""
}

func (r *rewriter) dynamicGemm(s *scope, n *onnxpb.NodeProto) (string, error) {
	in := n.GetInput()
	if len(in) < 2 || len(n.GetOutput()) != 1 {
		return "malformed Gemm", nil
	}
	if attrIntOr(n, "transA", 0) != 0 {
		return "transA=1 is not supported by ORT's integer MatMul kernels", nil
	}
	c := s.resolveConst(in[1])
	if c == nil {
		return "weight B is computed at run time", nil
	}
	dims := c.dims()
	if len(dims) != 2 {
		return "weight B is not 2-D", nil
	}
	transB := attrIntOr(n, "transB", 0) != 0
	cols := dims[1]
	if transB {
		cols = dims[0]
	}
	alpha, beta := attrFloatOr(n, "alpha", 1), attrFloatOr(n, "beta", 1)
	inputs := []string{in[0]}
	var biasName string
	if len(in) > 2 && in[2] != "" {
		cc := s.resolveConst(in[2])
		if cc == nil {
			return "bias C is computed at run time", nil
		}
		vals, _, why, err := r.constFloats(cc)
		if why != "" || err != nil {
			return why, err
		}
		if len(vals) != 1 && int64(len(vals)) != cols {
			return fmt.Sprintf("bias C has %d values; only a scalar or a [%d] vector folds into the kernel", len(vals), cols), nil
		}
		bias := make([]float32, cols)
		for i := range bias {
			bias[i] = beta * vals[min(i, len(vals)-1)]
		}
		biasName = r.names.fresh(in[2] + "_bias")
		bt, err := floatTensor(biasName, []int64{cols}, bias)
		if err != nil {
			return "", err
		}
		s.addInit(bt)
	}
	qw, why, err := r.weight(c, weightVariant{typ: r.opts.WeightType, perChannel: r.opts.perChannel("Gemm"),
		axis: 1, transpose: transB, scaleBy: alpha})
	if why != "" || err != nil {
		return why, err
	}
	inputs = append(inputs, qw.q, qw.scale, qw.zp)
	if biasName != "" {
		inputs = append(inputs, biasName)
	}
	a, y := r.float32IO(s, n, in[0], n.GetOutput()[0], onnx.TypeOf(c.tensor), "DynamicQuantizeMatMul")
	inputs[0] = a
	s.replace[n] = []*onnxpb.NodeProto{node("DynamicQuantizeMatMul", "com.microsoft",
		r.names.fresh(nodeLabel(n)+"_quant"), inputs, []string{y})}
	r.lastOut = n.GetOutput()[0]
	r.msOps = true
	return "", nil
}

// convWeightType is what ORT's ConvInteger kernel accepts for weights.
const convWeightType = Uint8

func (r *rewriter) dynamicConv(s *scope, n *onnxpb.NodeProto) (string, error) {
	in := n.GetInput()
	if len(in) < 2 || len(n.GetOutput()) != 1 {
		return "malformed Conv", nil
	}
	c := s.resolveConst(in[1])
	if c == nil {
		return "weight W is computed at run time", nil
	}
	dims := c.dims()
	if len(dims) < 3 {
		return "weight W has rank < 3", nil
	}
	perChannel := r.opts.perChannel("Conv")
	qw, why, err := r.weight(c, weightVariant{typ: convWeightType, perChannel: perChannel, axis: 0, shareZP: true})
	if why != "" || err != nil {
		return why, err
	}
	bcast := make([]int64, len(dims)-1) // [M,1,1,...] so scales and bias broadcast over NCHW
	for i := range bcast {
		bcast[i] = 1
	}
	bcast[0] = dims[0]
	var biasName string
	if len(in) > 2 && in[2] != "" {
		cc := s.resolveConst(in[2])
		if cc == nil {
			return "bias B is computed at run time", nil
		}
		vals, _, why, err := r.constFloats(cc)
		if why != "" || err != nil {
			return why, err
		}
		if int64(len(vals)) != dims[0] {
			return fmt.Sprintf("bias has %d values, want %d", len(vals), dims[0]), nil
		}
		biasName = r.names.fresh(in[2] + "_bcast")
		bt, err := floatTensor(biasName, bcast, vals)
		if err != nil {
			return "", err
		}
		s.addInit(bt)
	}
	wscale := qw.scale
	zp := qw.zp
	if perChannel {
		wscale = r.names.fresh(qw.scale + "_bcast")
		st, err := floatTensor(wscale, bcast, qw.w.Scales())
		if err != nil {
			return "", err
		}
		s.addInit(st)
		// ORT's ConvInteger takes one weight zero point; symmetric channels share it.
		zp = r.names.fresh(qw.zp + "_shared")
		zt, err := rawTensor(zp, 2, nil, qw.w.ZeroPointBytes()[:1])
		if err != nil {
			return "", err
		}
		s.addInit(zt)
	}
	base := nodeLabel(n)
	x, out := r.float32IO(s, n, in[0], n.GetOutput()[0], onnx.TypeOf(c.tensor), "DynamicQuantizeLinear")
	xq, xs, xzp := r.dynamicInput(s, n, x)
	ci := r.names.fresh(base + "_int32")
	cf := r.names.fresh(base + "_float")
	sc := r.names.fresh(base + "_scale")
	scaled := out
	if biasName != "" {
		scaled = r.names.fresh(base + "_nobias")
	}
	var attrs []*onnxpb.AttributeProto
	for _, a := range n.GetAttribute() {
		attrs = append(attrs, proto.Clone(a).(*onnxpb.AttributeProto))
	}
	nodes := []*onnxpb.NodeProto{
		node("ConvInteger", "", r.names.fresh(base+"_conv"), []string{xq, qw.q, xzp, zp}, []string{ci}, attrs...),
		node("Cast", "", r.names.fresh(base+"_cast"), []string{ci}, []string{cf}, attrInt("to", 1)),
		node("Mul", "", r.names.fresh(base+"_scales"), []string{xs, wscale}, []string{sc}),
		node("Mul", "", r.names.fresh(base+"_rescale"), []string{cf, sc}, []string{scaled}),
	}
	if biasName != "" {
		nodes = append(nodes, node("Add", "", r.names.fresh(base+"_bias"), []string{scaled, biasName}, []string{out}))
	}
	s.replace[n] = nodes
	r.lastOut = n.GetOutput()[0]
	return "", nil
}

// dynamicInput returns the DynamicQuantizeLinear outputs for x, inserting
// the node before n the first time x is needed in this scope.
func (r *rewriter) dynamicInput(s *scope, n *onnxpb.NodeProto, x string) (q, scale, zp string) {
	if a, ok := r.acts[s]["dyn:"+x]; ok {
		return a.q, a.scale, a.zp
	}
	a := &qact{q: r.names.fresh(x + "_quantized"), scale: r.names.fresh(x + "_scale"), zp: r.names.fresh(x + "_zero_point")}
	s.pre[n] = append(s.pre[n], node("DynamicQuantizeLinear", "", r.names.fresh(x+"_dql"), []string{x}, []string{a.q, a.scale, a.zp}))
	r.acts[s]["dyn:"+x] = a
	return a.q, a.scale, a.zp
}

// qact is an activation in quantized form.
type qact struct {
	q, scale, zp string
	p            Params
	dq           string // float name that reads the dequantized value (QDQ)
}

// weightOnlyConv stores a Conv weight as int8 with a com.microsoft
// DequantizeLinear in front of the float Conv: for opsets below 10, which
// have no ConvInteger, the model still shrinks by 4x.
func (r *rewriter) weightOnlyConv(s *scope, n *onnxpb.NodeProto) (string, error) {
	in := n.GetInput()
	if len(in) < 2 {
		return "malformed Conv", nil
	}
	c := s.resolveConst(in[1])
	if c == nil {
		return "weight W is computed at run time", nil
	}
	if dt := onnx.TypeOf(c.tensor); dt != onnx.Float {
		return "weight W is " + dt.String() + ": weight-only Conv quantization (opset < 10) needs float32", nil
	}
	qw, why, err := r.weight(c, weightVariant{typ: r.opts.WeightType, perChannel: r.opts.perChannel("Conv"), axis: 0})
	if why != "" || err != nil {
		return why, err
	}
	n.Input[1] = r.dequantizeWeight(s, n, qw)
	r.lastOut = n.GetOutput()[0]
	return "", nil
}

// dynamicGather stores an embedding table (a constant float Gather data
// input, axis 0) as int8 and dequantizes only the gathered rows.
func (r *rewriter) dynamicGather(s *scope, n *onnxpb.NodeProto) (string, error) {
	in := n.GetInput()
	if len(in) != 2 || len(n.GetOutput()) != 1 || attrIntOr(n, "axis", 0) != 0 {
		return "only axis-0 Gather from a table is quantized", nil
	}
	c := s.resolveConst(in[0])
	qw, why, err := r.weight(c, weightVariant{typ: r.opts.WeightType})
	if why != "" || err != nil {
		return why, err
	}
	out := n.GetOutput()[0]
	gq := r.names.fresh(out + "_quantized")
	_, y := r.float32IO(s, n, "", out, onnx.TypeOf(c.tensor), "DequantizeLinear")
	s.replace[n] = []*onnxpb.NodeProto{
		node("Gather", "", r.names.fresh(nodeLabel(n)+"_quant"), []string{qw.q, in[1]}, []string{gq}),
		node("DequantizeLinear", r.qdqDomain(), r.names.fresh(out+"_dq"), []string{gq, qw.scale, qw.zp}, []string{y}),
	}
	r.lastOut = out
	return "", nil
}

// isEmbedding reports whether a Gather reads a constant float table; other
// Gathers (shape arithmetic) are not quantization candidates at all.
func isEmbedding(s *scope, n *onnxpb.NodeProto) bool {
	if len(n.GetInput()) < 1 {
		return false
	}
	c := s.resolveConst(n.GetInput()[0])
	return c != nil && isFloatType(onnx.TypeOf(c.tensor)) && len(c.dims()) >= 1 && !c.transposed
}
