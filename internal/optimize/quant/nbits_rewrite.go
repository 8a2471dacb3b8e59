package quant

import (
	"fmt"

	"github.com/mlops-dev/mlops/internal/onnx"
	"github.com/mlops-dev/mlops/internal/onnx/onnxpb"
)

// LayerReconstruction is the error 4-bit quantization left in one weight.
type LayerReconstruction struct {
	Node      string  `json:"node"`
	OpType    string  `json:"op_type"`
	Weight    string  `json:"weight"`
	K         int     `json:"k"`
	N         int     `json:"n"`
	Algorithm string  `json:"algorithm"`
	Padded    bool    `json:"padded,omitempty"` // K is not a multiple of the block size
	WeightErr float64 `json:"weight_error"`
	// OutputErr is the relative error of the layer's output on the
	// calibration data (gptq, or any algorithm given calibration data).
	OutputErr *float64 `json:"output_error,omitempty"`
}

// CastNote records a Cast inserted because the target kernel computes in
// another float type than the model.
type CastNote struct {
	Node   string `json:"node"`
	From   string `json:"from"`
	To     string `json:"to"`
	Reason string `json:"reason"`
}

// nbitsTarget is a constant MatMul/Gemm weight seen as the [K, N] matrix B
// of the product.
type nbitsTarget struct {
	c    *constant
	K, N int
	// nk: the stored tensor is [N, K] (a Transpose in front, or Gemm
	// transB=1), which is already the operator's row order.
	nk      bool
	scaleBy float32 // Gemm alpha, folded into the scales
	ft      onnx.DataType
	input   string // the activation A
}

// qblock is a block-quantized constant stored as initializers.
type qblock struct {
	b, scales, zp string // zp is "" when symmetric
	k, n          int
	rec           LayerReconstruction
}

// nbitsNode rewrites one MatMul, Gemm or embedding Gather for 4-bit
// weight-only quantization.
func (r *rewriter) nbitsNode(s *scope, n *onnxpb.NodeProto, uses map[string]int) (string, error) {
	switch n.GetOpType() {
	case "MatMul", "Gemm":
		t, why := r.planNBits(s, n)
		if why != "" {
			return why, nil
		}
		return r.nbitsMatMul(s, n, t, uses)
	case "Gather":
		return r.nbitsGather(s, n)
	}
	return "op type not supported with --bits 4", nil
}

// planNBits resolves the weight of a MatMul or Gemm without reading it.
func (r *rewriter) planNBits(s *scope, n *onnxpb.NodeProto) (*nbitsTarget, string) {
	in := n.GetInput()
	if len(in) < 2 || len(n.GetOutput()) != 1 || (n.GetOpType() == "MatMul" && len(in) != 2) {
		return nil, "malformed " + n.GetOpType()
	}
	c := s.resolveConst(in[1])
	if c == nil {
		return nil, "weight B is computed at run time (only constant-weight MatMuls are quantized)"
	}
	dims := c.dims()
	if len(dims) != 2 {
		return nil, fmt.Sprintf("weight B has rank %d; only 2-D weights are quantized", len(dims))
	}
	ft := onnx.TypeOf(c.tensor)
	if !isFloatType(ft) {
		return nil, fmt.Sprintf("weight %s is %v, not a float type", c.tensor.GetName(), ft)
	}
	t := &nbitsTarget{c: c, K: int(dims[0]), N: int(dims[1]), nk: c.transposed, ft: ft, input: in[0]}
	if n.GetOpType() == "Gemm" {
		if attrIntOr(n, "transA", 0) != 0 {
			return nil, "transA=1 is not supported by MatMulNBits"
		}
		if attrIntOr(n, "transB", 0) != 0 {
			t.K, t.N = t.N, t.K
			t.nk = !t.nk
		}
		if a := attrFloatOr(n, "alpha", 1); a != 1 {
			t.scaleBy = a
		}
	}
	if t.K < 1 || t.N < 1 {
		return nil, "weight B is empty"
	}
	return t, ""
}

func (t *nbitsTarget) key() string {
	return fmt.Sprintf("%s|nbits/%v/%g", t.c.key, t.nk, t.scaleBy)
}

// blockWeight quantizes a target once and returns its initializers.
func (r *rewriter) blockWeight(node string, op string, t *nbitsTarget, hessian []float64) (*qblock, string, error) {
	if qb, ok := r.blocks[t.key()]; ok {
		return qb, "", nil
	}
	name := t.c.tensor.GetName()
	vals, err := r.reader.floats(t.c.tensor)
	if err != nil {
		return nil, "", onnx.TensorError("read weight", t.c.tensor, err)
	}
	alg := r.opts.algorithm()
	o := BlockOptions{BlockSize: r.opts.blockSize(), Bits: 4, Symmetric: r.opts.Symmetric4, Algorithm: alg, Hessian: hessian}
	if alg == GPTQ && hessian == nil {
		// Only main-graph layers are calibrated for gptq.
		o.Algorithm, alg = RTN, RTN
		r.res.Notes = append(r.res.Notes, fmt.Sprintf("%s: no calibration activations for gptq (inside a subgraph); quantized with rtn", node))
	}
	// Rows and codes reuse buffers from weight to weight: only the packed
	// bytes outlive this call.
	bw := &BlockWeight{K: t.K, N: t.N, BlockSize: o.BlockSize, Bits: 4, Codes: r.codeBuf}
	row := bw.KBlocks() * o.BlockSize
	var wt []float32
	if t.nk {
		wt = rowsInto(r.rowBuf, vals, t.K, t.N, row)
	} else {
		if cap(r.rowBuf) < t.N*row {
			r.rowBuf = make([]float32, t.N*row)
		}
		wt = r.rowBuf[:t.N*row]
		clear(wt)
		parallelFor(t.N, func(a, b int) {
			for n := a; n < b; n++ {
				for k := 0; k < t.K; k++ {
					wt[n*row+k] = vals[k*t.N+n]
				}
			}
		})
	}
	r.rowBuf = wt
	for _, v := range wt {
		if isBad(v) {
			return nil, fmt.Sprintf("weight %s has a non-finite value (%g)", name, v), nil
		}
	}
	if err := bw.quantizeRows(wt, o); err != nil {
		return nil, "", fmt.Errorf("quantize weight %s: %w", name, err)
	}
	r.codeBuf = bw.Codes
	we, oe := bw.reconstructionError(wt, hessian)
	rec := LayerReconstruction{Node: node, OpType: op, Weight: name, K: t.K, N: t.N, Algorithm: string(alg),
		Padded: t.K%o.BlockSize != 0, WeightErr: we}
	if oe >= 0 {
		rec.OutputErr = &oe
	}
	if t.scaleBy != 0 {
		for i := range bw.Scales {
			bw.Scales[i] *= t.scaleBy
		}
	}
	qb, err := r.storeBlocks(t.c, name, bw, t.ft)
	if err != nil {
		return nil, "", err
	}
	qb.rec = rec
	r.blocks[t.key()] = qb
	r.res.WeightsQuantized++
	return qb, "", nil
}

// kernelType is the float type the 4-bit kernels compute in for a model in
// ft: ORT 1.30's CPU kernels have float and float16, not bfloat16.
func kernelType(ft onnx.DataType) onnx.DataType {
	if ft == onnx.BFloat16 {
		return onnx.Float
	}
	return ft
}

// storeBlocks adds B, scales and zero points of bw as initializers of the
// constant's scope; B goes to the spill file of a large model.
func (r *rewriter) storeBlocks(c *constant, base string, bw *BlockWeight, ft onnx.DataType) (*qblock, error) {
	if base == "" {
		base = "const"
	}
	kt := kernelType(ft)
	kb := int64(bw.KBlocks())
	n := int64(bw.N)
	qb := &qblock{b: r.names.fresh(base + "_q4"), scales: r.names.fresh(base + "_scales"), k: bw.K, n: bw.N}
	bt, err := rawTensor(qb.b, onnx.Uint8, []int64{n, kb, int64(bw.BlockSize * bw.Bits / 8)}, bw.Pack())
	if err != nil {
		return nil, err
	}
	st, err := typedFloatTensor(qb.scales, kt, []int64{n, kb}, bw.Scales)
	if err != nil {
		return nil, err
	}
	// Scales and zero points are 1/32 and 1/256 of the float weight at block
	// 32: across a large model that is model-sized, so they spill too.
	for _, t := range []*onnxpb.TensorProto{bt, st} {
		if err := r.spill.put(t); err != nil {
			return nil, err
		}
	}
	c.owner.addInit(bt)
	c.owner.addInit(st)
	switch {
	case bw.ZeroPoints != nil:
		qb.zp = r.names.fresh(base + "_zero_points")
		zt, err := rawTensor(qb.zp, onnx.Uint8, []int64{n, (kb*int64(bw.Bits) + 7) / 8}, bw.PackedZeroPoints())
		if err != nil {
			return nil, err
		}
		if err := r.spill.put(zt); err != nil {
			return nil, err
		}
		c.owner.addInit(zt)
	}
	return qb, nil
}

func typedFloatTensor(name string, dt onnx.DataType, dims []int64, vals []float32) (*onnxpb.TensorProto, error) {
	if dt == onnx.Float {
		return floatTensor(name, dims, vals)
	}
	t := &onnxpb.TensorProto{}
	t.Name = &name
	if err := onnx.SetFromFloat32s(t, dt, dims, vals); err != nil {
		return nil, fmt.Errorf("build tensor %s: %w", name, err)
	}
	return t, nil
}

func (r *rewriter) nbitsMatMul(s *scope, n *onnxpb.NodeProto, t *nbitsTarget, uses map[string]int) (string, error) {
	label := nodeLabel(n)
	qb, why, err := r.blockWeight(label, n.GetOpType(), t, r.hessians[t.input])
	if why != "" || err != nil {
		return why, err
	}
	kt := kernelType(t.ft)
	in := n.GetInput()
	out := n.GetOutput()[0]
	// Bias: Gemm's C (times beta) or an Add of a constant [N] vector after
	// a MatMul, in the kernel's type.
	bias := ""
	if n.GetOpType() == "Gemm" && len(in) > 2 && in[2] != "" {
		cc := s.resolveConst(in[2])
		if cc == nil {
			return "bias C is computed at run time", nil
		}
		vals, _, why, err := r.constFloats(cc)
		if why != "" || err != nil {
			return why, err
		}
		if len(vals) != 1 && len(vals) != t.N {
			return fmt.Sprintf("bias C has %d values; only a scalar or a [%d] vector folds into MatMulNBits", len(vals), t.N), nil
		}
		beta := attrFloatOr(n, "beta", 1)
		b := make([]float32, t.N)
		for i := range b {
			b[i] = beta * vals[min(i, len(vals)-1)]
		}
		bias = r.names.fresh(in[2] + "_bias")
		bt, err := typedFloatTensor(bias, kt, []int64{int64(t.N)}, b)
		if err != nil {
			return "", err
		}
		s.addInit(bt)
	} else if n.GetOpType() == "MatMul" && kt == t.ft {
		if add, b := findBiasAdd(s, out, int64(t.N), t.ft, uses); add != nil {
			bias = b
			out = add.GetOutput()[0]
			s.replace[add] = []*onnxpb.NodeProto{}
		}
	}
	a := in[0]
	y := out
	if kt != t.ft {
		a = r.castBefore(s, n, a, t.ft, kt, "MatMulNBits has no "+t.ft.String()+" CPU kernel")
		y = r.names.fresh(out + "_" + kt.String())
		r.castAfter(s, n, y, out, kt, t.ft, "MatMulNBits output back to the model's float type")
	}
	inputs := []string{a, qb.b, qb.scales}
	if qb.zp != "" || bias != "" {
		inputs = append(inputs, qb.zp)
	}
	if bias != "" {
		inputs = append(inputs, "", bias)
	}
	attrs := []*onnxpb.AttributeProto{attrInt("K", int64(t.K)), attrInt("N", int64(t.N)), attrInt("bits", 4),
		attrInt("block_size", int64(r.opts.blockSize()))}
	if r.opts.AccuracyLevel > 0 {
		attrs = append(attrs, attrInt("accuracy_level", int64(r.opts.AccuracyLevel)))
	}
	s.replace[n] = []*onnxpb.NodeProto{node("MatMulNBits", "com.microsoft", r.names.fresh(label+"_Q4"), inputs, []string{y}, attrs...)}
	rec := qb.rec
	rec.Node, rec.OpType = label, n.GetOpType()
	r.res.Reconstruction = append(r.res.Reconstruction, rec)
	r.lastOut = out
	r.msOps = true
	return "", nil
}

// castBefore returns x converted to type to, inserting one Cast before n
// the first time x is needed in this scope.
func (r *rewriter) castBefore(s *scope, n *onnxpb.NodeProto, x string, from, to onnx.DataType, reason string) string {
	key := "cast:" + to.String() + ":" + x
	if a, ok := r.acts[s][key]; ok {
		return a.dq
	}
	name := r.names.fresh(x + "_" + to.String())
	cn := r.names.fresh(x + "_cast")
	s.pre[n] = append(s.pre[n], node("Cast", "", cn, []string{x}, []string{name}, attrInt("to", int64(to))))
	r.acts[s][key] = &qact{dq: name}
	r.res.Casts = append(r.res.Casts, CastNote{Node: cn, From: from.String(), To: to.String(), Reason: reason})
	return name
}

// castAfter converts from (written by the rewritten n) into out of type to.
func (r *rewriter) castAfter(s *scope, n *onnxpb.NodeProto, from, out string, fromType, to onnx.DataType, reason string) {
	cn := r.names.fresh(out + "_cast")
	s.post[n] = append(s.post[n], node("Cast", "", cn, []string{from}, []string{out}, attrInt("to", int64(to))))
	r.res.Casts = append(r.res.Casts, CastNote{Node: cn, From: fromType.String(), To: to.String(), Reason: reason})
}
