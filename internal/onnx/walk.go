package onnx

import "github.com/mlops-dev/mlops/internal/onnx/onnxpb"

// tensorVisit is called for every tensor of a model; initializer is true
// for dense graph initializers, false for the parts of sparse initializers
// and for tensors held in node attributes. Returning false stops the walk.
type tensorVisit func(t *onnxpb.TensorProto, initializer bool) bool

// forEachTensor visits every tensor of the model: main graph, training
// graphs, functions and all nested subgraphs.
func forEachTensor(mp *onnxpb.ModelProto, fn func(t *onnxpb.TensorProto) bool) {
	walkModelTensors(mp, func(t *onnxpb.TensorProto, _ bool) bool { return fn(t) })
}

func walkModelTensors(mp *onnxpb.ModelProto, fn tensorVisit) bool {
	if mp == nil {
		return true
	}
	if !walkGraphTensors(mp.GetGraph(), fn) {
		return false
	}
	for _, ti := range mp.GetTrainingInfo() {
		if !walkGraphTensors(ti.GetInitialization(), fn) || !walkGraphTensors(ti.GetAlgorithm(), fn) {
			return false
		}
	}
	for _, f := range mp.GetFunctions() {
		if !walkNodesTensors(f.GetNode(), fn) {
			return false
		}
		for _, a := range f.GetAttributeProto() {
			if !walkAttrTensors(a, fn) {
				return false
			}
		}
	}
	return true
}

func walkGraphTensors(g *onnxpb.GraphProto, fn tensorVisit) bool {
	if g == nil {
		return true
	}
	for _, t := range g.GetInitializer() {
		if !fn(t, true) {
			return false
		}
	}
	for _, s := range g.GetSparseInitializer() {
		// Sparse parts are reported as non-initializers so Save leaves them
		// where they are: external sparse data is poorly supported by runtimes.
		if !walkSparse(s, false, fn) {
			return false
		}
	}
	return walkNodesTensors(g.GetNode(), fn)
}

func walkSparse(s *onnxpb.SparseTensorProto, init bool, fn tensorVisit) bool {
	if v := s.GetValues(); v != nil && !fn(v, init) {
		return false
	}
	if i := s.GetIndices(); i != nil && !fn(i, init) {
		return false
	}
	return true
}

func walkNodesTensors(nodes []*onnxpb.NodeProto, fn tensorVisit) bool {
	for _, n := range nodes {
		for _, a := range n.GetAttribute() {
			if !walkAttrTensors(a, fn) {
				return false
			}
		}
	}
	return true
}

func walkAttrTensors(a *onnxpb.AttributeProto, fn tensorVisit) bool {
	if t := a.GetT(); t != nil && !fn(t, false) {
		return false
	}
	for _, t := range a.GetTensors() {
		if !fn(t, false) {
			return false
		}
	}
	if s := a.GetSparseTensor(); s != nil && !walkSparse(s, false, fn) {
		return false
	}
	for _, s := range a.GetSparseTensors() {
		if !walkSparse(s, false, fn) {
			return false
		}
	}
	if !walkGraphTensors(a.GetG(), fn) {
		return false
	}
	for _, g := range a.GetGraphs() {
		if !walkGraphTensors(g, fn) {
			return false
		}
	}
	return true
}

// subgraphsOf returns the graphs held in a node's attributes (If branches,
// Loop and Scan bodies, and any custom graph attribute).
func subgraphsOf(n *onnxpb.NodeProto) []*onnxpb.GraphProto {
	var gs []*onnxpb.GraphProto
	for _, a := range n.GetAttribute() {
		if g := a.GetG(); g != nil {
			gs = append(gs, g)
		}
		gs = append(gs, a.GetGraphs()...)
	}
	return gs
}
