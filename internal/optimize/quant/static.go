package quant

import (
	"fmt"

	"github.com/mlops-dev/mlops/internal/onnx/onnxpb"
)

// operand is one input of a node being quantized statically: either a
// constant weight or an activation with a calibrated range.
type operand struct {
	name   string
	weight *constant
}

// staticPlan checks that a node can be quantized statically and returns
// its quantizable operands (in input order) and the bias input, if any.
type staticPlan struct {
	ops      []operand // [0] is the data input, [1] the weight or second activation
	axis     int       // per-channel axis of ops[1] when it is a weight
	bias     *constant
	biasName string
}

func (r *rewriter) planStatic(s *scope, n *onnxpb.NodeProto) (*staticPlan, string) {
	in := n.GetInput()
	if len(in) < 2 || len(n.GetOutput()) != 1 {
		return nil, "malformed " + n.GetOpType()
	}
	p := &staticPlan{}
	a := operand{name: in[0], weight: s.resolveConst(in[0])}
	b := operand{name: in[1], weight: s.resolveConst(in[1])}
	if a.weight != nil {
		return nil, "first input is a constant; only activations are quantized there"
	}
	switch n.GetOpType() {
	case "Conv":
		// A weight computed at run time is quantized like an activation.
		if len(in) > 2 && in[2] != "" {
			if p.bias = s.resolveConst(in[2]); p.bias == nil && r.opts.Format == QOperator {
				return nil, "bias B is computed at run time (QLinearConv needs a constant int32 bias)"
			}
			p.biasName = in[2]
		}
	case "MatMul":
		if r.opset < 10 {
			// ORT fuses DQ->MatMul->Q into QLinearMatMul, which these opsets lack.
			return nil, fmt.Sprintf("opset %d: ONNX Runtime would rewrite a quantized MatMul into QLinearMatMul, which needs opset 10", r.opset)
		}
		p.axis = 1
		if b.weight != nil && len(b.weight.dims()) != 2 {
			return nil, fmt.Sprintf("weight B has rank %d; only 2-D weights are quantized", len(b.weight.dims()))
		}
	case "Gemm":
		if attrIntOr(n, "transB", 0) == 0 {
			p.axis = 1
		}
		if len(in) > 2 && in[2] != "" {
			if p.bias = s.resolveConst(in[2]); p.bias == nil && r.opts.Format == QOperator {
				return nil, "bias C is computed at run time (QGemm needs a constant int32 bias)"
			}
			p.biasName = in[2]
		}
	default:
		return nil, "op type not supported in static mode"
	}
	if p.bias != nil && b.weight == nil {
		if r.opts.Format == QOperator {
			return nil, "a bias needs a constant weight to become int32"
		}
		p.bias = nil // QDQ: the bias stays float
	}
	if p.bias != nil && n.GetOpType() == "Gemm" {
		if _, dims, _, _ := r.constFloats(p.bias); len(dims) != 1 {
			if r.opts.Format == QOperator {
				return nil, "bias C is not a vector (QGemm needs an int32 [N] bias)"
			}
			p.bias = nil
		}
	}
	p.ops = []operand{a, b}
	needs := []string{a.name, n.GetOutput()[0]}
	if b.weight == nil {
		needs = append(needs, b.name)
	}
	for _, x := range needs {
		if _, ok := r.ranges[x]; !ok {
			return nil, "no calibration range for " + x
		}
	}
	return p, ""
}

// actParams returns the quantization parameters for activation x and the
// names of initializers holding them (created once per scope).
func (r *rewriter) actParams(s *scope, x string) (*qact, error) {
	if a, ok := r.acts[s]["p:"+x]; ok {
		return a, nil
	}
	rg := r.ranges[x]
	p, err := ComputeParams(rg.Min, rg.Max, r.opts.ActivationType, r.opts.SymmetricActivations, false)
	if err != nil {
		return nil, fmt.Errorf("activation %s: %w", x, err)
	}
	a := &qact{scale: r.names.fresh(x + "_scale"), zp: r.names.fresh(x + "_zero_point"), p: p}
	st, err := floatTensor(a.scale, nil, []float32{p.Scale})
	if err != nil {
		return nil, err
	}
	zt, err := rawTensor(a.zp, onnxType(r.opts.ActivationType), nil, []byte{ZeroPointByte(p.ZeroPoint, r.opts.ActivationType)})
	if err != nil {
		return nil, err
	}
	s.addInit(st)
	s.addInit(zt)
	r.acts[s]["p:"+x] = a
	return a, nil
}

// staticWeight quantizes the constant operand of a planned node.
func (r *rewriter) staticWeight(n *onnxpb.NodeProto, p *staticPlan) (*qweight, string, error) {
	c := p.ops[1].weight
	perChannel := r.opts.perChannel(n.GetOpType()) && len(c.dims()) > p.axis
	if r.opset < 13 && r.opts.Format == QDQ {
		perChannel = false // DequantizeLinear's axis attribute arrived in opset 13
	}
	return r.weight(c, weightVariant{typ: r.opts.WeightType, perChannel: perChannel, axis: p.axis})
}

// staticBias quantizes a bias vector to int32 with scale x_scale*w_scale.
func (r *rewriter) staticBias(s *scope, n *onnxpb.NodeProto, p *staticPlan, xs float32, qw *qweight, beta float32) (string, []float32, string, error) {
	vals, _, why, err := r.constFloats(p.bias)
	if why != "" || err != nil {
		return "", nil, why, err
	}
	channels := qw.dims[0]
	if n.GetOpType() != "Conv" {
		channels = qw.dims[1]
		if p.axis == 0 {
			channels = qw.dims[0]
		}
	}
	if int64(len(vals)) != channels {
		return "", nil, fmt.Sprintf("bias has %d values, want %d", len(vals), channels), nil
	}
	if beta != 1 {
		scaled := make([]float32, len(vals))
		for i, v := range vals {
			scaled[i] = beta * v
		}
		vals = scaled
	}
	q, scales, err := QuantizeBias(vals, xs, qw.w.Scales())
	if err != nil {
		return "", nil, err.Error(), nil
	}
	name := r.names.fresh(p.biasName + "_quantized")
	t, err := int32Tensor(name, []int64{int64(len(q))}, q)
	if err != nil {
		return "", nil, "", err
	}
	s.addInit(t)
	return name, scales, "", nil
}

func onnxType(t QType) onnxDataType { return onnxDataType(t.ONNXType()) }
