package quant

import (
	"fmt"

	"github.com/mlops-dev/mlops/internal/onnx/onnxpb"
	"google.golang.org/protobuf/proto"
)

// qoperatorNode replaces a Conv/MatMul/Gemm by its integer operator
// (QLinearConv, QLinearMatMul, com.microsoft QGemm). Inputs are taken in
// quantized form when an earlier integer operator produced them, otherwise a
// QuantizeLinear is inserted; the output is dequantized back to its float
// name, and that DequantizeLinear disappears when only integer operators
// read it.
func (r *rewriter) qoperatorNode(s *scope, n *onnxpb.NodeProto) (string, error) {
	p, why := r.planStatic(s, n)
	if why != "" {
		return why, nil
	}
	op := n.GetOpType()
	alpha, beta := attrFloatOr(n, "alpha", 1), attrFloatOr(n, "beta", 1)
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
	if p.bias != nil {
		if biasQ, _, why, err = r.staticBias(s, n, p, xa.p.Scale, qw, beta); why != "" || err != nil {
			return why, err
		}
	}
	x, err := r.quantizedInput(s, n, p.ops[0].name)
	if err != nil {
		return "", err
	}
	var b *qact
	if qw != nil {
		b = &qact{q: qw.q, scale: qw.scale, zp: qw.zp}
	} else if b, err = r.quantizedInput(s, n, p.ops[1].name); err != nil {
		return "", err
	}
	y := n.GetOutput()[0]
	ya, err := r.actParams(s, y)
	if err != nil {
		return "", err
	}
	yq := r.names.fresh(y + "_quantized")
	name := r.names.fresh(nodeLabel(n) + "_quant")
	var q *onnxpb.NodeProto
	switch op {
	case "Conv":
		in := []string{x.q, x.scale, x.zp, b.q, b.scale, b.zp, ya.scale, ya.zp}
		if biasQ != "" {
			in = append(in, biasQ)
		}
		q = node("QLinearConv", "", name, in, []string{yq}, cloneAttrs(n)...)
	case "MatMul":
		q = node("QLinearMatMul", "", name, []string{x.q, x.scale, x.zp, b.q, b.scale, b.zp, ya.scale, ya.zp}, []string{yq})
	case "Gemm":
		c := ""
		if biasQ != "" {
			c = biasQ
		}
		attrs := []*onnxpb.AttributeProto{attrInt("transA", attrIntOr(n, "transA", 0)), attrInt("transB", attrIntOr(n, "transB", 0)),
			{Name: proto.String("alpha"), Type: onnxpb.AttributeProto_FLOAT.Enum(), F: proto.Float32(alpha)}}
		q = node("QGemm", "com.microsoft", name, []string{x.q, x.scale, x.zp, b.q, b.scale, b.zp, c, ya.scale, ya.zp}, []string{yq}, attrs...)
		r.msOps = true
	default:
		return fmt.Sprintf("%s has no integer operator", op), nil
	}
	s.replace[n] = []*onnxpb.NodeProto{q}
	s.post[n] = append(s.post[n], node("DequantizeLinear", "", r.names.fresh(y+"_dq"), []string{yq, ya.scale, ya.zp}, []string{y}))
	r.acts[s]["q:"+y] = &qact{q: yq, scale: ya.scale, zp: ya.zp, p: ya.p}
	r.lastOut = y
	return "", nil
}

// quantizedInput returns x in quantized form, inserting a QuantizeLinear
// before n unless an integer operator already produced it.
func (r *rewriter) quantizedInput(s *scope, n *onnxpb.NodeProto, x string) (*qact, error) {
	if a, ok := r.acts[s]["q:"+x]; ok {
		return a, nil
	}
	pa, err := r.actParams(s, x)
	if err != nil {
		return nil, err
	}
	a := &qact{q: r.names.fresh(x + "_quantized"), scale: pa.scale, zp: pa.zp, p: pa.p}
	s.pre[n] = append(s.pre[n], node("QuantizeLinear", "", r.names.fresh(a.q), []string{x, a.scale, a.zp}, []string{a.q}))
	r.acts[s]["q:"+x] = a
	return a, nil
}

func cloneAttrs(n *onnxpb.NodeProto) []*onnxpb.AttributeProto {
	out := make([]*onnxpb.AttributeProto, 0, len(n.GetAttribute()))
	for _, a := range n.GetAttribute() {
		out = append(out, proto.Clone(a).(*onnxpb.AttributeProto))
	}
	return out
}
