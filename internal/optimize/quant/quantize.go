package quant

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/mlops-dev/mlops/internal/onnx"
	"github.com/mlops-dev/mlops/internal/onnx/onnxpb"
	"google.golang.org/protobuf/proto"
)

// ErrNothingToQuantize means the model has no node the options select.
var ErrNothingToQuantize = errors.New("nothing to quantize")

// ErrAlreadyQuantized means the model already contains quantization nodes.
var ErrAlreadyQuantized = errors.New("model is already quantized")

// Range is a calibrated [Min, Max] of one activation tensor.
type Range struct {
	Min, Max float32
}

// Skipped says why a candidate node was left in float.
type Skipped struct {
	Node   string `json:"node"`
	OpType string `json:"op_type"`
	Graph  string `json:"graph,omitempty"` // subgraph path; empty for the main graph
	Reason string `json:"reason"`
}

// Result summarizes a rewrite.
type Result struct {
	NodesQuantized   map[string]int `json:"nodes_quantized"`
	NodesSkipped     []Skipped      `json:"nodes_skipped"`
	WeightsQuantized int            `json:"weights_quantized"`
	// Layers are the main-graph tensors written by quantized nodes, under
	// the same name in the float and the quantized model (for per-layer SNR).
	Layers []Layer `json:"-"`
	// Reconstruction is the per-weight error of 4-bit quantization.
	Reconstruction []LayerReconstruction `json:"layers,omitempty"`
	// Casts are the Cast nodes inserted because a kernel computes in
	// another float type than the model.
	Casts []CastNote `json:"casts_inserted,omitempty"`
	// Notes say what was done differently from what was asked, and why.
	Notes []string `json:"notes,omitempty"`
}

// Layer is the output of one quantized node.
type Layer struct {
	Node   string
	OpType string
	Tensor string
}

// quantizedOps are op types whose presence means a model is already quantized.
var quantizedOps = map[string]bool{
	"QuantizeLinear": true, "DequantizeLinear": true, "DynamicQuantizeLinear": true,
	"QLinearConv": true, "QLinearMatMul": true, "MatMulInteger": true, "ConvInteger": true,
	"DynamicQuantizeMatMul": true, "MatMulIntegerToFloat": true, "QGemm": true, "DynamicQuantizeLSTM": true,
	"MatMulNBits": true, "QAttention": true, "GatherBlockQuantized": true, "MatMulBnb4": true,
}

// ErrOpsetTooOld means the model's opset has no quantization operators.
var ErrOpsetTooOld = errors.New("opset too old for quantization")

// CheckQuantizable rejects models this package cannot or should not rewrite:
// models without a graph and models that already carry quantization nodes.
// (Opset limits depend on the mode; Quantize checks them.)
func CheckQuantizable(m *onnx.Model) error {
	if m == nil || m.Proto == nil || m.Proto.GetGraph() == nil {
		return errors.New("model has no graph")
	}
	var found *onnxpb.NodeProto
	walkNodes(m.Proto.GetGraph(), func(n *onnxpb.NodeProto) {
		if found == nil && quantizedOps[n.GetOpType()] {
			found = n
		}
	})
	if found != nil {
		return fmt.Errorf("%w: it contains %s node %q; quantize the float model instead",
			ErrAlreadyQuantized, found.GetOpType(), found.GetName())
	}
	return nil
}

// checkOpset rejects option/model combinations the model's opset cannot hold.
func checkOpset(m *onnx.Model, opts Options) error {
	if opset := defaultOpset(m.Proto); opset < 10 && opts.Mode == Static && opts.Format == QOperator {
		return fmt.Errorf("%w: the model uses opset %d and QLinearConv/QLinearMatMul need opset 10 or later: "+
			"use --format qdq, or re-export the model with a newer opset", ErrOpsetTooOld, opset)
	}
	return nil
}

func defaultOpset(mp *onnxpb.ModelProto) int64 {
	for _, o := range mp.GetOpsetImport() {
		if o.GetDomain() == "" || o.GetDomain() == "ai.onnx" {
			return o.GetVersion()
		}
	}
	return 0
}

func walkNodes(g *onnxpb.GraphProto, fn func(*onnxpb.NodeProto)) {
	for _, n := range g.GetNode() {
		fn(n)
		for _, a := range n.GetAttribute() {
			if a.GetG() != nil {
				walkNodes(a.GetG(), fn)
			}
			for _, sg := range a.GetGraphs() {
				walkNodes(sg, fn)
			}
		}
	}
}

// rewriter holds the state of one quantization pass over a model.
type rewriter struct {
	ctx    context.Context
	m      *onnx.Model
	opts   Options
	ranges map[string]Range
	opset  int64
	names  names
	res    *Result
	msOps  bool // com.microsoft ops were emitted
	reader *tensorReader
	spill  *spillFile
	// qbuf is reused for quantized tensors that go to the spill file.
	qbuf []byte
	// lastOut is the float output name of the node quantized last.
	lastOut string
	// weights caches quantized constants by source tensor and variant, so a
	// weight shared by several nodes is quantized (and stored) once.
	weights map[string]*qweight
	// activation caches per scope: float name -> quantized form.
	acts map[*scope]map[string]*qact
	// blocks caches 4-bit weights like weights does 8-bit ones.
	blocks map[string]*qblock
	// hessians hold X^T X of 4-bit layer inputs (by activation name) when
	// calibration data was given.
	hessians map[string][]float64
	// rowBuf and codeBuf are 4-bit scratch reused from weight to weight.
	rowBuf  []float32
	codeBuf []uint8
}

// Quantize rewrites m in place. ranges (tensor name -> calibrated range) are
// required for static mode and ignored in dynamic mode. On error the model
// may be partly rewritten and must be discarded.
func Quantize(ctx context.Context, m *onnx.Model, opts Options, ranges map[string]Range) (*Result, error) {
	return quantize(ctx, m, opts, ranges, nil, nil)
}

// QuantizeWithHessians is Quantize for 4-bit mode with calibration: hess
// supplies the input Hessians gptq needs (and that any algorithm uses to
// report each layer's output error).
func QuantizeWithHessians(ctx context.Context, m *onnx.Model, opts Options, hess HessianFunc) (*Result, error) {
	return quantize(ctx, m, opts, nil, nil, hess)
}

// ErrNeedsCalibration means the options need calibration data.
var ErrNeedsCalibration = errors.New("calibration data needed")

// quantize is Quantize with an optional spill file for large models.
func quantize(ctx context.Context, m *onnx.Model, opts Options, ranges map[string]Range, spill *spillFile, hess HessianFunc) (*Result, error) {
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	if opts.fourBit() && opts.algorithm() == GPTQ && hess == nil {
		return nil, fmt.Errorf("%w: --algorithm gptq minimises each layer's output error on data: pass --calibration-data FILE (rows of the model's inputs), or use --algorithm hqq or rtn, which need none", ErrNeedsCalibration)
	}
	if err := CheckQuantizable(m); err != nil {
		return nil, err
	}
	if err := checkOpset(m, opts); err != nil {
		return nil, err
	}
	if opts.fourBit() {
		if err := checkNBits(m, ""); err != nil {
			return nil, err
		}
	}
	r := &rewriter{
		ctx: ctx, m: m, opts: opts, ranges: ranges, opset: defaultOpset(m.Proto),
		names:   names{used: map[string]bool{}},
		res:     &Result{NodesQuantized: map[string]int{}, NodesSkipped: []Skipped{}},
		weights: map[string]*qweight{},
		blocks:  map[string]*qblock{},
		acts:    map[*scope]map[string]*qact{},
		reader:  newTensorReader(m),
		spill:   spill,
	}
	defer r.reader.close()
	collectNames(m.Proto.GetGraph(), r.names.used)
	if opts.fourBit() && hess != nil {
		if err := r.prequantize(hess); err != nil {
			return nil, err
		}
	}
	if err := r.graph(m.Proto.GetGraph(), nil, ""); err != nil {
		return nil, err
	}
	total := 0
	for _, c := range r.res.NodesQuantized {
		total += c
	}
	if total == 0 {
		why := ""
		if len(r.res.NodesSkipped) > 0 {
			why = "; first reason: " + r.res.NodesSkipped[0].Reason
		}
		return r.res, fmt.Errorf("%w: no %v node could be quantized (%d candidates skipped%s)",
			ErrNothingToQuantize, opts.opTypes(), len(r.res.NodesSkipped), why)
	}
	removeDead(m.Proto.GetGraph())
	if r.msOps {
		addOpset(m.Proto, "com.microsoft", 1)
	}
	sort.Slice(r.res.NodesSkipped, func(i, j int) bool {
		a, b := r.res.NodesSkipped[i], r.res.NodesSkipped[j]
		if a.Graph != b.Graph {
			return a.Graph < b.Graph
		}
		return a.Node < b.Node
	})
	return r.res, nil
}

func addOpset(mp *onnxpb.ModelProto, domain string, version int64) {
	for _, o := range mp.GetOpsetImport() {
		if o.GetDomain() == domain {
			return
		}
	}
	mp.OpsetImport = append(mp.OpsetImport, &onnxpb.OperatorSetIdProto{Domain: proto.String(domain), Version: proto.Int64(version)})
}

// graph quantizes one graph and, depth first, the bodies of its control-flow
// nodes.
func (r *rewriter) graph(g *onnxpb.GraphProto, parent *scope, path string) error {
	s := newScope(g, parent, path, r.m.Proto.GetIrVersion() < 4)
	r.acts[s] = map[string]*qact{}
	uses := useCounts(g)
	for _, n := range g.GetNode() {
		if err := r.ctx.Err(); err != nil {
			return err
		}
		for _, a := range n.GetAttribute() {
			sub := path + nodeLabel(n) + "/" + a.GetName()
			if a.GetG() != nil {
				if err := r.graph(a.GetG(), s, sub+"/"); err != nil {
					return err
				}
			}
			for i, sg := range a.GetGraphs() {
				if err := r.graph(sg, s, fmt.Sprintf("%s[%d]/", sub, i)); err != nil {
					return err
				}
			}
		}
		if n.GetDomain() != "" && n.GetDomain() != "ai.onnx" {
			continue
		}
		op := n.GetOpType()
		if !contains(r.opts.opTypes(), op) || (op == "Gather" && !isEmbedding(s, n)) {
			continue
		}
		if ok, why := r.opts.wants(n.GetName(), op); !ok {
			r.skip(s, n, why)
			continue
		}
		if r.opts.keepFP(append(append([]string{n.GetName()}, n.GetInput()...), n.GetOutput()...)...) {
			r.skip(s, n, "kept in float by --keep-fp")
			continue
		}
		var why string
		var err error
		switch {
		case r.opts.fourBit():
			why, err = r.nbitsNode(s, n, uses)
		case r.opts.Mode == Dynamic:
			why, err = r.dynamicNode(s, n, uses)
		case r.opts.Format == QOperator:
			why, err = r.qoperatorNode(s, n)
		default:
			why, err = r.qdqNode(s, n)
		}
		if err != nil {
			return fmt.Errorf("quantize %s node %q: %w", op, n.GetName(), err)
		}
		if why != "" {
			r.skip(s, n, why)
			continue
		}
		r.res.NodesQuantized[op]++
		if s.parent == nil {
			r.res.Layers = append(r.res.Layers, Layer{Node: nodeLabel(n), OpType: op, Tensor: r.lastOut})
		}
	}
	s.rebuild()
	return nil
}

func nodeLabel(n *onnxpb.NodeProto) string {
	if n.GetName() != "" {
		return n.GetName()
	}
	return n.GetOpType() + ":" + firstOr(n.GetOutput(), "?")
}

func firstOr(s []string, def string) string {
	if len(s) > 0 {
		return s[0]
	}
	return def
}

func contains(s []string, v string) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}

func (r *rewriter) skip(s *scope, n *onnxpb.NodeProto, why string) {
	r.res.NodesSkipped = append(r.res.NodesSkipped, Skipped{Node: nodeLabel(n), OpType: n.GetOpType(), Graph: s.path, Reason: why})
}

// useCounts counts how many node inputs (including inside nested bodies,
// which see outer names) and graph outputs refer to each name.
func useCounts(g *onnxpb.GraphProto) map[string]int {
	u := map[string]int{}
	var walk func(g *onnxpb.GraphProto)
	walk = func(g *onnxpb.GraphProto) {
		for _, n := range g.GetNode() {
			for _, i := range n.GetInput() {
				u[i]++
			}
			for _, a := range n.GetAttribute() {
				if a.GetG() != nil {
					walk(a.GetG())
				}
				for _, sg := range a.GetGraphs() {
					walk(sg)
				}
			}
		}
		for _, o := range g.GetOutput() {
			u[o.GetName()]++
		}
	}
	walk(g)
	return u
}

// removeDead drops nodes this package may have orphaned (Identity and
// Constant feeding weights, Q/DQ whose output nobody reads) and initializers
// no node reads any more, in every graph.
func removeDead(g *onnxpb.GraphProto) {
	for _, n := range g.GetNode() {
		for _, a := range n.GetAttribute() {
			if a.GetG() != nil {
				removeDead(a.GetG())
			}
			for _, sg := range a.GetGraphs() {
				removeDead(sg)
			}
		}
	}
	removable := map[string]bool{"Identity": true, "Constant": true, "Transpose": true, "DequantizeLinear": true, "QuantizeLinear": true}
	for changed := true; changed; {
		changed = false
		u := useCounts(g)
		kept := g.Node[:0]
		for _, n := range g.GetNode() {
			dom := n.GetDomain()
			dead := removable[n.GetOpType()] && (dom == "" || dom == "ai.onnx" || (dom == "com.microsoft" && strings.HasSuffix(n.GetOpType(), "QuantizeLinear")))
			for _, o := range n.GetOutput() {
				if u[o] > 0 {
					dead = false
				}
			}
			if dead {
				changed = true
				continue
			}
			kept = append(kept, n)
		}
		g.Node = kept
	}
	u := useCounts(g)
	inputs := map[string]bool{}
	for _, vi := range g.GetInput() {
		inputs[vi.GetName()] = true
	}
	kept := g.Initializer[:0]
	for _, t := range g.GetInitializer() {
		if u[t.GetName()] > 0 || inputs[t.GetName()] {
			kept = append(kept, t)
		}
	}
	g.Initializer = kept
}
