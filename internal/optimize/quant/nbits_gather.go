package quant

import (
	"fmt"

	"github.com/mlops-dev/mlops/internal/onnx"
	"github.com/mlops-dev/mlops/internal/onnx/onnxpb"
)

// nbitsGather stores a constant [V, D] embedding table 4-bit for
// com.microsoft GatherBlockQuantized (uint8 data, bits=4, blocks along D,
// gather_axis 0): the table row layout is the same as MatMulNBits' B, and
// only gathered rows are dequantized. ORT requires whole blocks, so a
// table whose D is not a multiple of the block size, or of rank other
// than 2, is stored int8 as in 8-bit dynamic mode instead, and the report
// says so.
func (r *rewriter) nbitsGather(s *scope, n *onnxpb.NodeProto) (string, error) {
	in := n.GetInput()
	if len(in) != 2 || len(n.GetOutput()) != 1 || attrIntOr(n, "axis", 0) != 0 {
		return "only axis-0 Gather from a table is quantized", nil
	}
	c := s.resolveConst(in[0])
	if c == nil {
		return "table is computed at run time", nil
	}
	dims := c.dims()
	ft := onnx.TypeOf(c.tensor)
	bs := r.opts.blockSize()
	if len(dims) != 2 || dims[1]%int64(bs) != 0 {
		why, err := r.dynamicGather(s, n)
		if why == "" && err == nil {
			r.res.Notes = append(r.res.Notes, fmt.Sprintf("%s: table %v is not [V, D] with D a multiple of %d, so it is stored int8 (Gather + DequantizeLinear), not 4-bit", nodeLabel(n), dims, bs))
		}
		return why, err
	}
	t := &nbitsTarget{c: c, K: int(dims[1]), N: int(dims[0]), nk: true, ft: ft, input: in[1]}
	// The table is read as [V, D] rows; c.transposed (a Transpose in
	// front) would make it [D, V], which isEmbedding already rules out.
	key := t.key() + "|gather"
	qb, ok := r.blocks[key]
	if !ok {
		saved := r.opts.Algorithm
		if r.opts.algorithm() == GPTQ {
			r.opts.Algorithm = RTN // no Hessian for a table
		}
		var why string
		var err error
		qb, why, err = r.blockWeight(nodeLabel(n), "Gather", t, nil)
		r.opts.Algorithm = saved
		if why != "" || err != nil {
			return why, err
		}
		delete(r.blocks, t.key())
		r.blocks[key] = qb
	}
	kt := kernelType(ft)
	out := n.GetOutput()[0]
	y := out
	if kt != ft {
		y = r.names.fresh(out + "_" + kt.String())
		r.castAfter(s, n, y, out, kt, ft, "GatherBlockQuantized output back to the model's float type")
	}
	// GatherBlockQuantized's uint8 data is [V, D*bits/8], the same bytes as
	// the [V, k_blocks, blob] MatMulNBits layout.
	r.reshapeInit(c.owner, qb.b, []int64{int64(t.N), int64(t.K / 2)})
	inputs := []string{qb.b, in[1], qb.scales}
	if qb.zp != "" {
		inputs = append(inputs, qb.zp)
	}
	s.replace[n] = []*onnxpb.NodeProto{node("GatherBlockQuantized", "com.microsoft", r.names.fresh(nodeLabel(n)+"_Q4"), inputs, []string{y},
		attrInt("bits", 4), attrInt("block_size", int64(bs)), attrInt("gather_axis", 0), attrInt("quantize_axis", 1))}
	rec := qb.rec
	rec.Node, rec.OpType = nodeLabel(n), "Gather"
	r.res.Reconstruction = append(r.res.Reconstruction, rec)
	r.lastOut = out
	r.msOps = true
	return "", nil
}

// reshapeInit changes the dims of an initializer this package created.
func (r *rewriter) reshapeInit(s *scope, name string, dims []int64) {
	for ; s != nil; s = s.parent {
		if t, ok := s.inits[name]; ok {
			t.Dims = dims
			return
		}
	}
}
