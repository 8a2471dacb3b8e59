package backend

import (
	"reflect"
	"slices"

	"github.com/gomlx/compute"
	"github.com/gomlx/compute/shapes"
	"github.com/gomlx/gomlx/core/graph"
)

// gomlx v0.28.0 derives the gradient of a convolution with respect to its input with padding
// that assumes a centred kernel ((k-1)/2 before, k/2 after): it is wrong whenever the
// effective kernel is even or the padding is asymmetric (TensorFlow's SAME with stride 2,
// 2×2 and 4×4 kernels, dilated kernels). convVJP replaces it, through gomlx's own extension
// point (graph.VJPRegistration), with the transposed convolution derived from the definition.
// TestConvGradientsThroughGomlx checks both gradients against the definition.

// convParams are a ConvGeneral node's parameters.
type convParams struct {
	axes                                     compute.ConvolveAxesConfig
	strides, inputDilations, kernelDilations []int
	paddings                                 [][2]int
	channelGroups, batchGroups               int
}

// readConvParams reads the parameters of a gomlx ConvGeneral node. gomlx keeps them in
// unexported fields, so they are read by reflection (read-only); ok is false if the node does
// not have the layout this was written against, and the caller then keeps gomlx's own VJP.
func readConvParams(n *graph.Node) (p convParams, ok bool) {
	defer func() {
		if recover() != nil {
			ok = false
		}
	}()
	in := reflect.ValueOf(n).Elem().FieldByName("inputs")
	if !in.IsValid() || in.IsNil() {
		return p, false
	}
	s := in.Elem()
	if s.Kind() == reflect.Pointer {
		s = s.Elem()
	}
	if s.Kind() != reflect.Struct || s.Type().Name() != "nodeInputsConvGeneral" {
		return p, false
	}
	ints := func(v reflect.Value) []int {
		out := make([]int, v.Len())
		for i := range out {
			out[i] = int(v.Index(i).Int())
		}
		return out
	}
	ax := s.FieldByName("axes")
	p.axes = compute.ConvolveAxesConfig{
		InputBatch:           int(ax.FieldByName("InputBatch").Int()),
		InputChannels:        int(ax.FieldByName("InputChannels").Int()),
		InputSpatial:         ints(ax.FieldByName("InputSpatial")),
		KernelInputChannels:  int(ax.FieldByName("KernelInputChannels").Int()),
		KernelOutputChannels: int(ax.FieldByName("KernelOutputChannels").Int()),
		KernelSpatial:        ints(ax.FieldByName("KernelSpatial")),
		OutputBatch:          int(ax.FieldByName("OutputBatch").Int()),
		OutputChannels:       int(ax.FieldByName("OutputChannels").Int()),
		OutputSpatial:        ints(ax.FieldByName("OutputSpatial")),
	}
	sp := len(p.axes.InputSpatial)
	p.strides = perAxis(ints(s.FieldByName("strides")), sp)
	p.inputDilations = perAxis(ints(s.FieldByName("inputDilations")), sp)
	p.kernelDilations = perAxis(ints(s.FieldByName("kernelDilations")), sp)
	pads := s.FieldByName("paddings")
	p.paddings = make([][2]int, sp)
	for i := range min(sp, pads.Len()) {
		p.paddings[i] = [2]int{int(pads.Index(i).Index(0).Int()), int(pads.Index(i).Index(1).Int())}
	}
	p.channelGroups = max(1, int(s.FieldByName("channelGroupCount").Int()))
	p.batchGroups = max(1, int(s.FieldByName("batchGroupCount").Int()))
	return p, true
}

// convVJP returns the VJP that replaces gomlx's for ConvGeneral; nodes it does not cover
// (input dilation or batch groups, i.e. gradients of gradients) go to original.
func convVJP(original graph.VJP) graph.VJP {
	return func(node *graph.Node, vjpOutputs []*graph.Node, outputShape shapes.Shape) []*graph.Node {
		p, ok := readConvParams(node)
		if !ok || p.batchGroups > 1 || slices.Max(append([]int{1}, p.inputDilations...)) > 1 {
			return original(node, vjpOutputs, outputShape)
		}
		x, kernel := node.Inputs()[0], node.Inputs()[1]
		v := vjpOutputs[0]
		return []*graph.Node{convGradInput(p, x, kernel, v), convGradKernel(p, x, kernel, v)}
	}
}

// convGradInput is dx: the transposed convolution of v with the spatially reversed kernel,
// v dilated by the strides and padded so that input position i gathers every output it fed.
func convGradInput(p convParams, x, kernel, v *graph.Node) *graph.Node {
	ax := p.axes
	if p.channelGroups > 1 {
		// One transposed convolution per group, on that group's slice of v and kernel.
		g := p.channelGroups
		vs := graph.Split(v, ax.OutputChannels, g)
		ks := graph.Split(kernel, ax.KernelOutputChannels, g)
		xs := graph.Split(x, ax.InputChannels, g)
		q := p
		q.channelGroups = 1
		parts := make([]*graph.Node, g)
		for i := range g {
			parts[i] = convGradInput(q, xs[i], ks[i], vs[i])
		}
		return graph.Concatenate(parts, ax.InputChannels)
	}
	sp := len(ax.InputSpatial)
	pads := make([][2]int, sp)
	for s := range sp {
		k := kernel.Shape().Dimensions[ax.KernelSpatial[s]]
		keff := (k-1)*p.kernelDilations[s] + 1
		d := x.Shape().Dimensions[ax.InputSpatial[s]]
		lo, hi := p.paddings[s][0], p.paddings[s][1]
		rem := (d + lo + hi - keff) % p.strides[s]
		pads[s] = [2]int{keff - 1 - lo, keff - 1 - hi + rem}
	}
	rev := compute.ConvolveAxesConfig{
		InputBatch: ax.OutputBatch, InputChannels: ax.OutputChannels, InputSpatial: ax.OutputSpatial,
		// The kernel's channel roles swap: v's channels are the forward output channels.
		KernelInputChannels: ax.KernelOutputChannels, KernelOutputChannels: ax.KernelInputChannels,
		KernelSpatial: ax.KernelSpatial,
		OutputBatch:   ax.InputBatch, OutputChannels: ax.InputChannels, OutputSpatial: ax.InputSpatial,
	}
	reversed := graph.Reverse(kernel, ax.KernelSpatial...)
	return graph.ConvGeneral(v, reversed, rev, nil, pads, p.strides, p.kernelDilations, 1, 1)
}

// convGradKernel is dw: a convolution of x with v as the kernel, batch and channels trading
// roles, forward strides becoming kernel dilations; channel groups become batch groups.
func convGradKernel(p convParams, x, kernel, v *graph.Node) *graph.Node {
	ax := p.axes
	sp := len(ax.InputSpatial)
	pads := make([][2]int, sp)
	for s := range sp {
		k := kernel.Shape().Dimensions[ax.KernelSpatial[s]]
		o := v.Shape().Dimensions[ax.OutputSpatial[s]]
		d := x.Shape().Dimensions[ax.InputSpatial[s]]
		lo := p.paddings[s][0]
		// The last kernel position k-1 reads input (k-1)·dilation + (o-1)·stride - lo.
		pads[s] = [2]int{lo, (k-1)*p.kernelDilations[s] + (o-1)*p.strides[s] + 1 - d - lo}
	}
	rev := compute.ConvolveAxesConfig{
		InputBatch: ax.InputChannels, InputChannels: ax.InputBatch, InputSpatial: ax.InputSpatial,
		KernelInputChannels: ax.OutputBatch, KernelOutputChannels: ax.OutputChannels, KernelSpatial: ax.OutputSpatial,
		OutputBatch: ax.KernelInputChannels, OutputChannels: ax.KernelOutputChannels, OutputSpatial: ax.KernelSpatial,
	}
	return graph.ConvGeneral(x, v, rev, p.kernelDilations, pads, nil, p.strides, 1, p.channelGroups)
}
