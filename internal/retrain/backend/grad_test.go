package backend

import (
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/gomlx/compute/dtypes"
	"github.com/gomlx/compute/shapes"

	"github.com/gomlx/compute"
	"github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/core/tensors"
	"github.com/gomlx/gomlx/core/tensors/images"
)

// onnxConv is an ONNX Conv (NCHW input, OIHW kernel) with its attributes.
type onnxConv struct {
	name           string
	n, c, h, w     int
	o, kh, kw      int
	sy, sx, dy, dx int
	pt, pl, pb, pr int
	groups         int
}

func (c onnxConv) outHW() (int, int) {
	oh := (c.h+c.pt+c.pb-((c.kh-1)*c.dy+1))/c.sy + 1
	ow := (c.w+c.pl+c.pr-((c.kw-1)*c.dx+1))/c.sx + 1
	return oh, ow
}

// forEachTap calls fn for every (output, input, kernel) index triple of the convolution that
// touches real (non-padding) input, which is the whole definition of Conv and of its gradients.
func (c onnxConv) forEachTap(fn func(yi, xi, wi int)) {
	oh, ow := c.outHW()
	cg, og := c.c/c.groups, c.o/c.groups
	for n := range c.n {
		for o := range c.o {
			g := o / og
			for y := range oh {
				for x := range ow {
					yi := ((n*c.o+o)*oh+y)*ow + x
					for ci := range cg {
						for ky := range c.kh {
							iy := y*c.sy + ky*c.dy - c.pt
							if iy < 0 || iy >= c.h {
								continue
							}
							for kx := range c.kw {
								ix := x*c.sx + kx*c.dx - c.pl
								if ix < 0 || ix >= c.w {
									continue
								}
								xi := ((n*c.c+g*cg+ci)*c.h+iy)*c.w + ix
								wi := ((o*cg+ci)*c.kh+ky)*c.kw + kx
								fn(yi, xi, wi)
							}
						}
					}
				}
			}
		}
	}
}

// reference returns y = conv(x, w) and, for the loss Σ y·r, its gradients dx and dw.
func (c onnxConv) reference(x, w, r []float32) (y, dx, dw []float32) {
	oh, ow := c.outHW()
	y64 := make([]float64, c.n*c.o*oh*ow)
	dx64, dw64 := make([]float64, len(x)), make([]float64, len(w))
	c.forEachTap(func(yi, xi, wi int) {
		y64[yi] += float64(x[xi]) * float64(w[wi])
		dx64[xi] += float64(r[yi]) * float64(w[wi])
		dw64[wi] += float64(r[yi]) * float64(x[xi])
	})
	return to32(y64), to32(dx64), to32(dw64)
}

func to32(v []float64) []float32 {
	out := make([]float32, len(v))
	for i, f := range v {
		out[i] = float32(f)
	}
	return out
}

func (c onnxConv) graph(x, w, r *graph.Node) (y, dx, dw *graph.Node) {
	axes := compute.ConvolveAxesConfig{
		InputBatch: 0, InputChannels: 1, InputSpatial: []int{2, 3},
		KernelOutputChannels: 0, KernelInputChannels: 1, KernelSpatial: []int{2, 3},
		OutputBatch: 0, OutputChannels: 1, OutputSpatial: []int{2, 3},
	}
	conv := graph.Convolve(x, w).AxesConfig(axes).StridePerAxis(c.sy, c.sx).DilationPerAxis(c.dy, c.dx).
		PaddingPerDim([][2]int{{c.pt, c.pb}, {c.pl, c.pr}})
	if c.groups > 1 {
		conv = conv.ChannelGroupCount(c.groups)
	}
	y = conv.Done()
	loss := graph.ReduceAllSum(graph.Mul(y, r))
	grads := graph.Gradient(loss, x, w)
	return y, grads[0], grads[1]
}

// TestConvGradientsThroughGomlx runs ONNX-style convolutions and their gomlx-derived gradients
// (which become further ConvGeneral nodes: transposed, input-dilated and batch-as-channel
// convolutions) on this package's kernels, against the plain definition.
func TestConvGradientsThroughGomlx(t *testing.T) {
	be, err := New()
	if err != nil {
		t.Fatal(err)
	}
	cases := []onnxConv{
		{name: "fmnist conv1", n: 4, c: 1, h: 28, w: 28, o: 16, kh: 3, kw: 3, sy: 1, sx: 1, dy: 1, dx: 1, pt: 1, pl: 1, pb: 1, pr: 1, groups: 1},
		{name: "fmnist conv2", n: 3, c: 16, h: 14, w: 14, o: 32, kh: 3, kw: 3, sy: 1, sx: 1, dy: 1, dx: 1, pt: 1, pl: 1, pb: 1, pr: 1, groups: 1},
		{name: "stride 2", n: 2, c: 3, h: 9, w: 11, o: 4, kh: 3, kw: 3, sy: 2, sx: 2, dy: 1, dx: 1, pt: 1, pl: 1, pb: 1, pr: 1, groups: 1},
		{name: "odd kernel, asymmetric pads", n: 2, c: 2, h: 8, w: 7, o: 3, kh: 2, kw: 4, sy: 1, sx: 1, dy: 1, dx: 1, pt: 0, pl: 2, pb: 1, pr: 1, groups: 1},
		{name: "dilation", n: 2, c: 2, h: 10, w: 9, o: 3, kh: 3, kw: 2, sy: 1, sx: 1, dy: 2, dx: 3, pt: 2, pl: 1, pb: 2, pr: 2, groups: 1},
		{name: "groups", n: 2, c: 4, h: 6, w: 6, o: 6, kh: 3, kw: 3, sy: 1, sx: 1, dy: 1, dx: 1, pt: 1, pl: 1, pb: 1, pr: 1, groups: 2},
		{name: "stride 2 with remainder, SAME-style pads", n: 2, c: 3, h: 10, w: 9, o: 2, kh: 3, kw: 3, sy: 2, sx: 2, dy: 1, dx: 1, pt: 0, pl: 0, pb: 1, pr: 1, groups: 1},
		{name: "2x2 stride 2 (patchify)", n: 2, c: 3, h: 8, w: 6, o: 4, kh: 2, kw: 2, sy: 2, sx: 2, dy: 1, dx: 1, groups: 1},
		{name: "padding wider than the kernel", n: 1, c: 2, h: 5, w: 4, o: 2, kh: 2, kw: 2, sy: 1, sx: 2, dy: 1, dx: 1, pt: 3, pl: 2, pb: 2, pr: 3, groups: 1},
		{name: "depthwise", n: 2, c: 3, h: 7, w: 5, o: 3, kh: 3, kw: 3, sy: 1, sx: 1, dy: 1, dx: 1, pt: 1, pl: 1, pb: 1, pr: 1, groups: 3},
	}
	r := rand.New(rand.NewPCG(21, 22))
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			oh, ow := c.outHW()
			x := randFloats(r, c.n*c.c*c.h*c.w)
			w := randFloats(r, c.o*(c.c/c.groups)*c.kh*c.kw)
			rr := randFloats(r, c.n*c.o*oh*ow)
			wantY, wantDX, wantDW := c.reference(x, w, rr)
			exec, err := graph.NewExec(be, func(in []*graph.Node) []*graph.Node {
				y, dx, dw := c.graph(in[0], in[1], in[2])
				return []*graph.Node{y, dx, dw}
			})
			if err != nil {
				t.Fatal(err)
			}
			out, err := exec.Call(
				tensors.FromFlatDataAndDimensions(x, c.n, c.c, c.h, c.w),
				tensors.FromFlatDataAndDimensions(w, c.o, c.c/c.groups, c.kh, c.kw),
				tensors.FromFlatDataAndDimensions(rr, c.n, c.o, oh, ow))
			if err != nil {
				t.Fatal(err)
			}
			k := c.c / c.groups * c.kh * c.kw
			closeEnough(t, "y", tensors.MustCopyFlatData[float32](out[0]), wantY, k)
			closeEnough(t, "dw", tensors.MustCopyFlatData[float32](out[2]), wantDW, c.n*oh*ow)
			closeEnough(t, "dx", tensors.MustCopyFlatData[float32](out[1]), wantDX, c.o*c.kh*c.kw)
		})
	}
}

// TestReadConvParams guards the reflection that convVJP relies on: if gomlx changes how it
// stores a ConvGeneral's parameters, this fails instead of silently falling back.
func TestReadConvParams(t *testing.T) {
	be, err := New()
	if err != nil {
		t.Fatal(err)
	}
	g := graph.NewGraph(be, "params")
	x := graph.Parameter(g, "x", shapes.Make(dtypes.Float32, 2, 3, 9, 8))
	w := graph.Parameter(g, "w", shapes.Make(dtypes.Float32, 6, 1, 3, 2))
	axes := compute.ConvolveAxesConfig{
		InputBatch: 0, InputChannels: 1, InputSpatial: []int{2, 3},
		KernelOutputChannels: 0, KernelInputChannels: 1, KernelSpatial: []int{2, 3},
		OutputBatch: 0, OutputChannels: 1, OutputSpatial: []int{2, 3},
	}
	y := graph.ConvGeneral(x, w, axes, []int{2, 1}, [][2]int{{0, 1}, {2, 3}}, nil, []int{1, 2}, 3, 1)
	p, ok := readConvParams(y)
	if !ok {
		t.Fatal("readConvParams could not read a ConvGeneral node")
	}
	if !slices.Equal(p.strides, []int{2, 1}) || !slices.Equal(p.kernelDilations, []int{1, 2}) ||
		!slices.Equal(p.paddings, [][2]int{{0, 1}, {2, 3}}) || p.channelGroups != 3 || p.batchGroups != 1 ||
		!slices.Equal(p.axes.InputSpatial, []int{2, 3}) {
		t.Fatalf("read %+v", p)
	}
	if _, ok := readConvParams(x); ok {
		t.Fatal("readConvParams accepted a parameter node")
	}
}

// TestMaxPoolGradientThroughGomlx checks MaxPool's forward pass (ReduceWindow) and its gradient
// (SelectAndScatterMax) against the definition: each window's gradient goes to its first maximum.
func TestMaxPoolGradientThroughGomlx(t *testing.T) {
	be, err := New()
	if err != nil {
		t.Fatal(err)
	}
	type poolCase struct {
		name           string
		n, c, h, w     int
		kh, kw, sy, sx int
		pads           [][2]int
		ties           bool
	}
	cases := []poolCase{
		{name: "2x2 stride 2", n: 3, c: 4, h: 28, w: 28, kh: 2, kw: 2, sy: 2, sx: 2},
		{name: "odd size", n: 2, c: 3, h: 7, w: 9, kh: 2, kw: 2, sy: 2, sx: 2},
		{name: "overlapping 3x3 stride 2 padded", n: 2, c: 2, h: 9, w: 8, kh: 3, kw: 3, sy: 2, sx: 2, pads: [][2]int{{1, 1}, {1, 0}}},
		{name: "stride 1", n: 1, c: 2, h: 6, w: 5, kh: 3, kw: 2, sy: 1, sx: 1},
		{name: "ties", n: 2, c: 2, h: 6, w: 6, kh: 2, kw: 3, sy: 2, sx: 1, ties: true},
		{name: "ties 2x2 stride 2", n: 2, c: 3, h: 8, w: 6, kh: 2, kw: 2, sy: 2, sx: 2, ties: true},
	}
	r := rand.New(rand.NewPCG(31, 32))
	for _, pc := range cases {
		t.Run(pc.name, func(t *testing.T) {
			pads := pc.pads
			if pads == nil {
				pads = [][2]int{{0, 0}, {0, 0}}
			}
			oh := (pc.h+pads[0][0]+pads[0][1]-pc.kh)/pc.sy + 1
			ow := (pc.w+pads[1][0]+pads[1][1]-pc.kw)/pc.sx + 1
			x := randFloats(r, pc.n*pc.c*pc.h*pc.w)
			if pc.ties {
				for i := range x {
					x[i] = float32(int(x[i] * 2)) // few distinct values: many ties
				}
			}
			rr := randFloats(r, pc.n*pc.c*oh*ow)
			// Reference: scan each window in row-major order, keep the first maximum.
			wantY := make([]float32, len(rr))
			wantDX := make([]float32, len(x))
			for nc := range pc.n * pc.c {
				for y := range oh {
					for xx := range ow {
						best := -1
						for ky := range pc.kh {
							for kx := range pc.kw {
								iy, ix := y*pc.sy+ky-pads[0][0], xx*pc.sx+kx-pads[1][0]
								if iy < 0 || iy >= pc.h || ix < 0 || ix >= pc.w {
									continue
								}
								if i := (nc*pc.h+iy)*pc.w + ix; best < 0 || x[i] > x[best] {
									best = i
								}
							}
						}
						o := (nc*oh+y)*ow + xx
						wantY[o] = x[best]
						wantDX[best] += rr[o]
					}
				}
			}
			exec, err := graph.NewExec(be, func(in []*graph.Node) []*graph.Node {
				y := graph.MaxPool(in[0]).ChannelsAxis(images.ChannelsFirst).WindowPerAxis(pc.kh, pc.kw).
					StridePerAxis(pc.sy, pc.sx).PaddingPerDim(pads).Done()
				loss := graph.ReduceAllSum(graph.Mul(y, in[1]))
				return []*graph.Node{y, graph.Gradient(loss, in[0])[0]}
			})
			if err != nil {
				t.Fatal(err)
			}
			out, err := exec.Call(tensors.FromFlatDataAndDimensions(x, pc.n, pc.c, pc.h, pc.w),
				tensors.FromFlatDataAndDimensions(rr, pc.n, pc.c, oh, ow))
			if err != nil {
				t.Fatal(err)
			}
			closeEnough(t, "y", tensors.MustCopyFlatData[float32](out[0]), wantY, 1)
			closeEnough(t, "dx", tensors.MustCopyFlatData[float32](out[1]), wantDX, pc.kh*pc.kw)
		})
	}
}
