package quant

import (
	"github.com/mlops-dev/mlops/internal/onnx"
	"github.com/mlops-dev/mlops/internal/onnx/onnxpb"
)

type onnxDataType = onnx.DataType

// qdqNode wraps a Conv/MatMul/Gemm in QuantizeLinear/DequantizeLinear pairs:
// on its activation inputs, on its output, and a DequantizeLinear on its
// int8 weight and int32 bias. ONNX Runtime fuses DQ -> op -> Q into its
// integer kernels; any runtime can still execute the float graph.
func (r *rewriter) qdqNode(s *scope, n *onnxpb.NodeProto) (string, error) {
	p, why := r.planStatic(s, n)
	if why != "" {
		return why, nil
	}
	var qw *qweight
	if p.ops[1].weight != nil {
		var err error
		if qw, why, err = r.staticWeight(n, p); why != "" || err != nil {
			return why, err
		}
	}
	xa, err := r.actParams(s, p.ops[0].name)
	if err != nil {
		return "", err
	}
	var biasQ string
	var biasScales []float32
	if p.bias != nil && qw != nil {
		biasQ, biasScales, why, err = r.staticBias(s, n, p, xa.p.Scale, qw, 1)
		if why != "" || err != nil {
			return why, err
		}
	}
	x, err := r.qdqActivation(s, n, p.ops[0].name)
	if err != nil {
		return "", err
	}
	n.Input[0] = x
	if qw != nil {
		n.Input[1] = r.dequantizeWeight(s, n, qw)
	} else {
		if n.Input[1], err = r.qdqActivation(s, n, p.ops[1].name); err != nil {
			return "", err
		}
	}
	if biasQ != "" {
		bs := r.names.fresh(biasQ + "_scale")
		st, err := floatTensor(bs, dimsOf(biasScales), biasScales)
		if err != nil {
			return "", err
		}
		s.addInit(st)
		bdq := r.names.fresh(p.biasName + "_dequantized")
		var attrs []*onnxpb.AttributeProto
		if len(biasScales) > 1 {
			attrs = append(attrs, attrInt("axis", 0))
		}
		s.pre[n] = append(s.pre[n], node("DequantizeLinear", r.qdqDomain(), r.names.fresh(bdq), []string{biasQ, bs}, []string{bdq}, attrs...))
		n.Input[2] = bdq
	}
	// Output: the op now writes y_float; Q/DQ after it restore the name y, so
	// readers (and graph outputs) are untouched.
	y := n.GetOutput()[0]
	ya, err := r.actParams(s, y)
	if err != nil {
		return "", err
	}
	yf := r.names.fresh(y + "_float")
	yq := r.names.fresh(y + "_quantized")
	n.Output[0] = yf
	s.post[n] = append(s.post[n],
		node("QuantizeLinear", r.qdqDomain(), r.names.fresh(yq), []string{yf, ya.scale, ya.zp}, []string{yq}),
		node("DequantizeLinear", r.qdqDomain(), r.names.fresh(y+"_dq"), []string{yq, ya.scale, ya.zp}, []string{y}))
	r.acts[s]["qdq:"+y] = &qact{dq: y}
	r.lastOut = y
	return "", nil
}

// qdqActivation returns the name of x after a QuantizeLinear/DequantizeLinear
// round trip, inserting the pair before n the first time.
func (r *rewriter) qdqActivation(s *scope, n *onnxpb.NodeProto, x string) (string, error) {
	if a, ok := r.acts[s]["qdq:"+x]; ok {
		return a.dq, nil
	}
	a, err := r.actParams(s, x)
	if err != nil {
		return "", err
	}
	xq := r.names.fresh(x + "_quantized")
	xdq := r.names.fresh(x + "_dequantized")
	s.pre[n] = append(s.pre[n],
		node("QuantizeLinear", r.qdqDomain(), r.names.fresh(xq), []string{x, a.scale, a.zp}, []string{xq}),
		node("DequantizeLinear", r.qdqDomain(), r.names.fresh(xdq), []string{xq, a.scale, a.zp}, []string{xdq}))
	r.acts[s]["qdq:"+x] = &qact{dq: xdq}
	return xdq, nil
}

// dequantizeWeight returns a DequantizeLinear output for a quantized weight,
// one per weight and scope.
func (r *rewriter) dequantizeWeight(s *scope, n *onnxpb.NodeProto, qw *qweight) string {
	if a, ok := r.acts[s]["wdq:"+qw.q]; ok {
		return a.dq
	}
	out := r.names.fresh(qw.q + "_dequantized")
	var attrs []*onnxpb.AttributeProto
	if len(qw.w.Params) > 1 {
		attrs = append(attrs, attrInt("axis", int64(qw.w.Axis)))
	}
	s.pre[n] = append(s.pre[n], node("DequantizeLinear", r.qdqDomain(), r.names.fresh(out), []string{qw.q, qw.scale, qw.zp}, []string{out}, attrs...))
	r.acts[s]["wdq:"+qw.q] = &qact{dq: out}
	return out
}

func dimsOf(scales []float32) []int64 {
	if len(scales) == 1 {
		return nil
	}
	return []int64{int64(len(scales))}
}

// qdqDomain is where QuantizeLinear/DequantizeLinear come from: the ONNX
// domain from opset 10, else ONNX Runtime's com.microsoft versions, so that
// old-opset models can still hold int8 tensors.
func (r *rewriter) qdqDomain() string {
	if r.opset >= 10 {
		return ""
	}
	r.msOps = true
	return "com.microsoft"
}
