package backend

import (
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/gomlx/compute"
	"github.com/gomlx/compute/dtypes"
	"github.com/gomlx/compute/gobackend/extension"
	"github.com/gomlx/compute/shapeinference"
	"github.com/gomlx/compute/shapes"
)

// refConvGeneral is ConvGeneral straight from its definition (XLA's), one output element at a
// time, summed in float64.
func refConvGeneral(in []float32, inS shapes.Shape, k []float32, kS, outS shapes.Shape, d *convNode) []float32 {
	ax := d.axes
	sp := len(ax.InputSpatial)
	out := make([]float32, outS.Size())
	oc := outS.Dimensions[ax.OutputChannels]
	ob := outS.Dimensions[ax.OutputBatch]
	perFeature, perBatch := oc/d.channelGroups, oc/d.batchGroups
	ck := kS.Dimensions[ax.KernelInputChannels]
	inStr, kStr := inS.Strides(), kS.Strides()
	kdims := make([]int, sp)
	for s := range sp {
		kdims[s] = kS.Dimensions[ax.KernelSpatial[s]]
	}
	idx := make([]int, outS.Rank())
	for o := range out {
		b, ch := idx[ax.OutputBatch], idx[ax.OutputChannels]
		n := b + (ch/perBatch)*ob
		cBase := (ch / perFeature) * ck
		var sum float64
		kk := make([]int, sp)
		for c := range ck {
			clear(kk)
			for {
				inOff := n*inStr[ax.InputBatch] + (cBase+c)*inStr[ax.InputChannels]
				kOff := c*kStr[ax.KernelInputChannels] + ch*kStr[ax.KernelOutputChannels]
				valid := true
				for s := range sp {
					pos := idx[ax.OutputSpatial[s]]*d.strides[s] + kk[s]*d.kernelDilations[s] - d.paddings[s][0]
					if pos < 0 || pos%d.inputDilations[s] != 0 || pos/d.inputDilations[s] >= inS.Dimensions[ax.InputSpatial[s]] {
						valid = false
						break
					}
					inOff += pos / d.inputDilations[s] * inStr[ax.InputSpatial[s]]
					kOff += kk[s] * kStr[ax.KernelSpatial[s]]
				}
				if valid {
					sum += float64(in[inOff]) * float64(k[kOff])
				}
				if !increment(kk, kdims) {
					break
				}
			}
		}
		out[o] = float32(sum)
		increment(idx, outS.Dimensions)
	}
	return out
}

// convCase describes a ConvGeneral by logical sizes and a layout (axis order) per operand.
type convCase struct {
	name                 string
	batch, inC, outC     int
	in, kernel           []int // spatial sizes
	strides, inDil, kDil []int
	pads                 [][2]int
	groups, batchGroups  int
	// Layouts: the axis position of batch/channel (or kernel in/out channel) and the spatial axes.
	inLayout, kLayout, outLayout []int // [batch-or-in, channel-or-out, spatial...] → axis
}

// standard returns the NCHW / OIHW layout for sp spatial axes: [0, 1, 2, …].
func standard(sp int) []int {
	l := make([]int, sp+2)
	for i := range l {
		l[i] = i
	}
	return l
}

func (c convCase) build(t *testing.T) (*convNode, shapes.Shape, shapes.Shape, shapes.Shape) {
	t.Helper()
	sp := len(c.in)
	def := func(l []int) []int {
		if l == nil {
			return standard(sp)
		}
		return l
	}
	il, kl, ol := def(c.inLayout), def(c.kLayout), def(c.outLayout)
	axes := compute.ConvolveAxesConfig{
		InputBatch: il[0], InputChannels: il[1], InputSpatial: il[2:],
		KernelInputChannels: kl[1], KernelOutputChannels: kl[0], KernelSpatial: kl[2:],
		OutputBatch: ol[0], OutputChannels: ol[1], OutputSpatial: ol[2:],
	}
	groups, batchGroups := max(1, c.groups), max(1, c.batchGroups)
	inDims := make([]int, sp+2)
	inDims[il[0]], inDims[il[1]] = c.batch, c.inC
	kDims := make([]int, sp+2)
	kDims[kl[0]], kDims[kl[1]] = c.outC, c.inC/groups
	for s := range sp {
		inDims[il[2+s]] = c.in[s]
		kDims[kl[2+s]] = c.kernel[s]
	}
	inS, kS := shapes.Make(dtypes.Float32, inDims...), shapes.Make(dtypes.Float32, kDims...)
	outS, err := shapeinference.ConvGeneral(inS, kS, axes, c.strides, c.pads, c.inDil, c.kDil, groups, batchGroups)
	if err != nil {
		t.Fatalf("%s: %v", c.name, err)
	}
	// shapeinference lays the output out by axes.Output*; check it follows the requested layout.
	d := &convNode{axes: axes, strides: perAxis(c.strides, sp), inputDilations: perAxis(c.inDil, sp),
		kernelDilations: perAxis(c.kDil, sp), paddings: make([][2]int, sp), channelGroups: groups, batchGroups: batchGroups}
	copy(d.paddings, c.pads)
	return d, inS, kS, outS
}

func TestConvMatchesReference(t *testing.T) {
	nhwc := []int{0, 3, 1, 2}   // batch, channels, H, W → axes of an NHWC tensor
	hwio := []int{3, 2, 0, 1}   // out, in, H, W → axes of an HWIO kernel
	oddOut := []int{3, 0, 2, 1} // output as [W, C, H, N]: nothing contiguous
	cases := []convCase{
		{name: "3x3 same", batch: 2, inC: 3, outC: 5, in: []int{7, 9}, kernel: []int{3, 3}, pads: [][2]int{{1, 1}, {1, 1}}},
		{name: "1x1", batch: 3, inC: 4, outC: 7, in: []int{5, 5}, kernel: []int{1, 1}},
		{name: "strides and asymmetric pads", batch: 2, inC: 3, outC: 4, in: []int{11, 10}, kernel: []int{2, 4},
			strides: []int{2, 3}, pads: [][2]int{{0, 2}, {1, 0}}},
		{name: "kernel dilation", batch: 1, inC: 2, outC: 3, in: []int{12, 13}, kernel: []int{3, 2}, kDil: []int{2, 3},
			pads: [][2]int{{2, 2}, {1, 3}}},
		{name: "input dilation (transposed)", batch: 2, inC: 3, outC: 2, in: []int{5, 6}, kernel: []int{3, 3},
			inDil: []int{2, 3}, pads: [][2]int{{2, 2}, {1, 2}}},
		{name: "channel groups", batch: 2, inC: 6, outC: 9, in: []int{6, 7}, kernel: []int{3, 3}, groups: 3,
			pads: [][2]int{{1, 1}, {1, 1}}},
		{name: "depthwise", batch: 2, inC: 4, outC: 4, in: []int{5, 5}, kernel: []int{3, 3}, groups: 4},
		{name: "batch groups", batch: 4, inC: 3, outC: 6, in: []int{6, 5}, kernel: []int{2, 2}, batchGroups: 2},
		{name: "negative padding", batch: 1, inC: 2, outC: 3, in: []int{9, 8}, kernel: []int{3, 3},
			pads: [][2]int{{-1, 0}, {0, -2}}},
		{name: "1D", batch: 3, inC: 5, outC: 4, in: []int{17}, kernel: []int{5}, strides: []int{2}, pads: [][2]int{{2, 1}}},
		{name: "3D", batch: 2, inC: 2, outC: 3, in: []int{4, 5, 6}, kernel: []int{2, 3, 2}, pads: [][2]int{{1, 0}, {1, 1}, {0, 1}}},
		{name: "NHWC / HWIO", batch: 2, inC: 3, outC: 5, in: []int{6, 7}, kernel: []int{3, 3}, pads: [][2]int{{1, 1}, {1, 1}},
			inLayout: nhwc, kLayout: hwio, outLayout: nhwc},
		{name: "scattered output", batch: 2, inC: 3, outC: 4, in: []int{5, 6}, kernel: []int{2, 3}, strides: []int{1, 2},
			outLayout: oddOut},
		{name: "long contraction (k split)", batch: 3, inC: 64, outC: 5, in: []int{16, 16}, kernel: []int{3, 3},
			pads: [][2]int{{1, 1}, {1, 1}}},
		{name: "kernel gradient shape", batch: 16, inC: 3, outC: 6, in: []int{12, 12}, kernel: []int{10, 10},
			inLayout: []int{1, 0, 2, 3}, kLayout: []int{1, 0, 2, 3}, outLayout: []int{1, 0, 2, 3}},
		// The direct path (implicit GEMM on a padded copy): output rows of ≥ 8 positions.
		{name: "direct: groups", batch: 2, inC: 6, outC: 9, in: []int{5, 11}, kernel: []int{3, 3}, groups: 3,
			pads: [][2]int{{1, 1}, {1, 1}}},
		{name: "direct: batch groups", batch: 4, inC: 3, outC: 6, in: []int{4, 13}, kernel: []int{2, 2}, batchGroups: 2},
		{name: "direct: stride on the outer axis, 3 K blocks", batch: 2, inC: 40, outC: 7, in: []int{9, 21}, kernel: []int{3, 3},
			strides: []int{2, 1}, pads: [][2]int{{0, 1}, {2, 0}}},
		{name: "direct: 3D", batch: 2, inC: 2, outC: 5, in: []int{3, 4, 19}, kernel: []int{2, 2, 3}, pads: [][2]int{{1, 0}, {0, 1}, {1, 1}}},
		{name: "direct: 1D dilated", batch: 3, inC: 4, outC: 13, in: []int{40}, kernel: []int{4}, kDil: []int{3}, pads: [][2]int{{2, 5}}},
		{name: "wide output (many tiles)", batch: 8, inC: 3, outC: 32, in: []int{20, 20}, kernel: []int{3, 3},
			pads: [][2]int{{1, 1}, {1, 1}}},
	}
	r := rand.New(rand.NewPCG(11, 12))
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			d, inS, kS, outS := c.build(t)
			in, k := randFloats(r, inS.Size()), randFloats(r, kS.Size())
			want := refConvGeneral(in, inS, k, kS, outS, d)
			got := randFloats(r, outS.Size()) // garbage: every element must be written
			newConvPlan(d, inS, kS, outS).run(scratch{}, in, k, got)
			closeEnough(t, c.name, got, want, kS.Size())

			// Same inputs, same bits.
			again := make([]float32, len(got))
			newConvPlan(d, inS, kS, outS).run(scratch{}, in, k, again)
			if !slices.Equal(got, again) {
				t.Fatalf("%s: two runs differ", c.name)
			}
		})
	}
}

// BenchmarkConv times the convolutions of one Fashion-MNIST CNN training step (batch 128):
// forward, input gradient and kernel gradient of both layers.
func BenchmarkConv(b *testing.B) {
	swapped := []int{1, 0, 2, 3}
	cases := []convCase{
		{name: "conv1 forward", batch: 128, inC: 1, outC: 16, in: []int{28, 28}, kernel: []int{3, 3}, pads: [][2]int{{1, 1}, {1, 1}}},
		{name: "conv2 forward", batch: 128, inC: 16, outC: 32, in: []int{14, 14}, kernel: []int{3, 3}, pads: [][2]int{{1, 1}, {1, 1}}},
		{name: "conv2 input gradient", batch: 128, inC: 32, outC: 16, in: []int{14, 14}, kernel: []int{3, 3}, pads: [][2]int{{1, 1}, {1, 1}}},
		{name: "conv1 kernel gradient", batch: 1, inC: 128, outC: 16, in: []int{28, 28}, kernel: []int{28, 28}, pads: [][2]int{{1, 1}, {1, 1}},
			inLayout: swapped, kLayout: swapped, outLayout: swapped},
		{name: "conv2 kernel gradient", batch: 16, inC: 128, outC: 32, in: []int{14, 14}, kernel: []int{14, 14}, pads: [][2]int{{1, 1}, {1, 1}},
			inLayout: swapped, kLayout: swapped, outLayout: swapped},
	}
	r := rand.New(rand.NewPCG(13, 14))
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			t := &testing.T{}
			d, inS, kS, outS := c.build(t)
			in, k := randFloats(r, inS.Size()), randFloats(r, kS.Size())
			out := make([]float32, outS.Size())
			plan := newConvPlan(d, inS, kS, outS)
			be, err := New()
			if err != nil {
				b.Fatal(err)
			}
			sc := scratch{be: be.(*extension.Backend)}
			cpu0 := cpuTime()
			for b.Loop() {
				plan.run(sc, in, k, out)
			}
			b.ReportMetric(float64((cpuTime()-cpu0).Microseconds())/1000/float64(b.N), "cpu_ms/op")
			flops := 2 * float64(outS.Size()) * float64(kS.Size()/outS.Dimensions[d.axes.OutputChannels])
			b.ReportMetric(flops*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
		})
	}
}
