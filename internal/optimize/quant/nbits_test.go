package quant

import (
	"context"
	"errors"
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/mlops-dev/mlops/internal/onnx"
	"github.com/mlops-dev/mlops/internal/onnx/onnxpb"
	"github.com/mlops-dev/mlops/internal/runtime"
	"google.golang.org/protobuf/proto"
)

func randMatrix(r *rand.Rand, n int, scale float32) []float32 {
	v := make([]float32, n)
	for i := range v {
		v[i] = float32(r.NormFloat64()) * scale
	}
	return v
}

func TestPackBitsLowNibbleFirst(t *testing.T) {
	got := packBits([]uint8{1, 2, 3, 15, 7}, 4)
	want := []byte{0x21, 0xF3, 0x07}
	if string(got) != string(want) {
		t.Fatalf("packBits = %x, want %x", got, want)
	}
	if u := unpackBits(got, 4, 5); u[3] != 15 || u[4] != 7 {
		t.Fatalf("unpackBits = %v", u)
	}
}

// TestRTNBlockParams pins the parameters to hand-computed values.
func TestRTNBlockParams(t *testing.T) {
	x := []float32{-1, 0, 0.5, 2}
	s, z := blockParams(x, 4, false)
	if s != 0.2 || z != 5 { // (2 - -1) / 15, round(1 / 0.2)
		t.Errorf("asymmetric: scale %v zero %v, want 0.2 and 5", s, z)
	}
	s, z = blockParams(x, 4, true)
	if s != -0.25 || z != 8 { // largest magnitude 2 maps to code 0: 2 / -8
		t.Errorf("symmetric: scale %v zero %v, want -0.25 and 8", s, z)
	}
	if s, z := blockParams([]float32{0, 0}, 4, false); s != 1 || z != 0 {
		t.Errorf("all-zero block: scale %v zero %v, want 1 and 0", s, z)
	}
}

// TestQuantizeBlocksDequantizes checks every algorithm on a weight whose K is
// not a multiple of the block size: the reference dequantization stays close
// to the float weight, hqq is never worse than rtn, and gptq's output error
// on correlated inputs is below rtn's.
func TestQuantizeBlocksDequantizes(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	K, N := 100, 20 // 100 = 3 blocks of 32 + 4
	w := randMatrix(r, K*N, 0.1)
	// Inputs with correlated features, so the Hessian is far from diagonal.
	rows := 400
	X := make([]float64, rows*K)
	for i := 0; i < rows; i++ {
		base := r.NormFloat64()
		for k := 0; k < K; k++ {
			X[i*K+k] = base + 0.3*r.NormFloat64()
		}
	}
	H := make([]float64, K*K)
	for i := 0; i < rows; i++ {
		for a := 0; a < K; a++ {
			for b := 0; b < K; b++ {
				H[a*K+b] += X[i*K+a] * X[i*K+b]
			}
		}
	}
	errs := map[Algorithm][2]float64{}
	for _, alg := range []Algorithm{RTN, HQQ, GPTQ} {
		for _, sym := range []bool{false, true} {
			o := BlockOptions{BlockSize: 32, Bits: 4, Symmetric: sym, Algorithm: alg}
			if alg == GPTQ {
				o.Hessian = H
			}
			bw, err := QuantizeBlocks(w, K, N, o)
			if err != nil {
				t.Fatal(err)
			}
			if bw.KBlocks() != 4 || len(bw.Pack()) != N*4*16 {
				t.Fatalf("%s: %d blocks, %d packed bytes", alg, bw.KBlocks(), len(bw.Pack()))
			}
			deq := bw.Dequantize()
			var num, den float64
			for i := range w {
				d := float64(w[i] - deq[i])
				num += d * d
				den += float64(w[i]) * float64(w[i])
			}
			rel := math.Sqrt(num / den)
			if rel > 0.15 {
				t.Errorf("%s sym=%v: relative weight error %.3f", alg, sym, rel)
			}
			wt := make([]float32, N*4*32)
			for n := 0; n < N; n++ {
				for k := 0; k < K; k++ {
					wt[n*128+k] = w[k*N+n]
				}
			}
			we, oe := bw.reconstructionError(wt, H)
			if math.Abs(we-rel) > 1e-6 {
				t.Errorf("%s: reconstructionError weight %.6f, direct %.6f", alg, we, rel)
			}
			if !sym {
				errs[alg] = [2]float64{we, oe}
			}
			t.Logf("%s sym=%v: weight error %.4f output error %.4f", alg, sym, we, oe)
		}
	}
	if errs[HQQ][0] > errs[RTN][0] {
		t.Errorf("hqq weight error %.4f > rtn %.4f", errs[HQQ][0], errs[RTN][0])
	}
	if errs[GPTQ][1] >= errs[RTN][1] {
		t.Errorf("gptq output error %.4f is not below rtn %.4f", errs[GPTQ][1], errs[RTN][1])
	}
}

// nbitsNet: MatMul [80x24] + bias Add, Gemm(transB=1, alpha, beta, C), and
// an embedding Gather, all of which 4-bit mode rewrites.
func nbitsNet(t testing.TB) *onnx.Model {
	r := rand.New(rand.NewPCG(11, 12))
	g := &onnxpb.GraphProto{Name: proto.String("nbits"),
		Input:  []*onnxpb.ValueInfoProto{tvi("x", 3, 80), {Name: proto.String("ids"), Type: &onnxpb.TypeProto{Value: &onnxpb.TypeProto_TensorType{TensorType: &onnxpb.TypeProto_Tensor{ElemType: proto.Int32(7), Shape: &onnxpb.TensorShapeProto{Dim: []*onnxpb.TensorShapeProto_Dimension{{Value: &onnxpb.TensorShapeProto_Dimension_DimValue{DimValue: 3}}}}}}}}},
		Output: []*onnxpb.ValueInfoProto{tvi("y"), tvi("z"), tvi("e")},
		Initializer: []*onnxpb.TensorProto{randInit(t, r, "W", 80, 24), randInit(t, r, "b", 24),
			randInit(t, r, "G", 16, 24), randInit(t, r, "C", 16), randInit(t, r, "E", 10, 64)},
		Node: []*onnxpb.NodeProto{
			node("MatMul", "", "mm", []string{"x", "W"}, []string{"xw"}),
			node("Add", "", "add", []string{"xw", "b"}, []string{"y"}),
			node("Gemm", "", "gemm", []string{"y", "G", "C"}, []string{"z"}, attrInt("transB", 1),
				&onnxpb.AttributeProto{Name: proto.String("alpha"), Type: onnxpb.AttributeProto_FLOAT.Enum(), F: proto.Float32(0.5)},
				&onnxpb.AttributeProto{Name: proto.String("beta"), Type: onnxpb.AttributeProto_FLOAT.Enum(), F: proto.Float32(2)}),
			node("Gather", "", "emb", []string{"E", "ids"}, []string{"e"}),
		}}
	return model(g, 17)
}

// TestNBitsMatchesORT quantizes nbitsNet with each algorithm and checks ONNX
// Runtime's MatMulNBits and GatherBlockQuantized against a plain-Go
// computation with the reference dequantization of the same codes.
func TestNBitsMatchesORT(t *testing.T) {
	rt := openRuntime(t)
	r := rand.New(rand.NewPCG(5, 6))
	x := randMatrix(r, 3*80, 1)
	ids := []int64{0, 9, 4}
	in := map[string]*runtime.Tensor{"x": newF32([]int64{3, 80}, x), "ids": runtime.NewTensorInt64([]int64{3}, ids)}
	for _, alg := range []Algorithm{RTN, HQQ} {
		for _, sym := range []bool{false, true} {
			m := nbitsNet(t)
			fp := encode(t, m)
			res, err := Quantize(context.Background(), m, Options{Bits: 4, BlockSize: 32, Algorithm: alg, Symmetric4: sym, Mode: Dynamic, Format: QDQ}, nil)
			if err != nil {
				t.Fatal(err)
			}
			if res.NodesQuantized["MatMul"] != 1 || res.NodesQuantized["Gemm"] != 1 || res.NodesQuantized["Gather"] != 1 {
				t.Fatalf("%s: quantized %v, skipped %v", alg, res.NodesQuantized, res.NodesSkipped)
			}
			ops := map[string]int{}
			for _, n := range m.Proto.GetGraph().GetNode() {
				ops[n.GetDomain()+"."+n.GetOpType()]++
			}
			if ops["com.microsoft.MatMulNBits"] != 2 || ops["com.microsoft.GatherBlockQuantized"] != 1 || len(ops) != 2 {
				t.Fatalf("ops %v: want 2 MatMulNBits (bias folded in) and a GatherBlockQuantized", ops)
			}
			if len(res.Reconstruction) != 3 || !res.Reconstruction[0].Padded {
				t.Errorf("reconstruction %+v: want 3 layers, the first padded (K=80)", res.Reconstruction)
			}
			got := runAll(t, rt, encode(t, m), in, []string{"y", "z", "e"})
			want := referenceNBits(t, m, x, ids)
			float := runAll(t, rt, fp, in, []string{"y", "z", "e"})
			for _, o := range []string{"y", "z", "e"} {
				if d := maxRelDiff(got[o], want[o]); d > 1e-4 {
					t.Errorf("%s sym=%v %s: ORT and the reference differ by %.2g", alg, sym, o, d)
				}
				if c := cosine(got[o], float[o]); c < 0.98 {
					t.Errorf("%s sym=%v %s: cosine %.4f to float", alg, sym, o, c)
				}
			}
		}
	}
}

// referenceNBits evaluates nbitsNet's quantized form in plain Go from its
// initializers: unpack the codes, dequantize, multiply.
func referenceNBits(t *testing.T, m *onnx.Model, x []float32, ids []int64) map[string][]float32 {
	t.Helper()
	inits := map[string]*onnxpb.TensorProto{}
	for _, it := range m.Proto.GetGraph().GetInitializer() {
		inits[it.GetName()] = it
	}
	deq := func(n *onnxpb.NodeProto, K, N int, bIdx, sIdx, zIdx int) []float32 {
		raw, _ := onnx.RawBytes(m, inits[n.GetInput()[bIdx]])
		sc, _ := onnx.Float32s(m, inits[n.GetInput()[sIdx]])
		bw := &BlockWeight{K: K, N: N, BlockSize: 32, Bits: 4, Scales: sc}
		bw.Codes = unpackBits(raw, 4, N*bw.KBlocks()*32)
		if len(n.GetInput()) > zIdx && n.GetInput()[zIdx] != "" {
			zt := inits[n.GetInput()[zIdx]]
			if onnx.TypeOf(zt) == onnx.Float16 {
				bw.FloatZeroPoints, _ = onnx.AsFloat32s(m, zt)
			} else {
				zr, _ := onnx.RawBytes(m, zt)
				kb := bw.KBlocks()
				per := (kb + 1) / 2
				bw.ZeroPoints = make([]uint8, N*kb)
				for r := 0; r < N; r++ {
					copy(bw.ZeroPoints[r*kb:(r+1)*kb], unpackBits(zr[r*per:(r+1)*per], 4, kb))
				}
			}
		}
		return bw.Dequantize()
	}
	matmul := func(a []float32, M, K, N int, w, bias []float32) []float32 {
		out := make([]float32, M*N)
		for i := 0; i < M; i++ {
			for j := 0; j < N; j++ {
				var s float32
				for k := 0; k < K; k++ {
					s += a[i*K+k] * w[k*N+j]
				}
				if bias != nil {
					s += bias[j]
				}
				out[i*N+j] = s
			}
		}
		return out
	}
	out := map[string][]float32{}
	for _, n := range m.Proto.GetGraph().GetNode() {
		switch n.GetOpType() {
		case "MatMulNBits":
			K, N := int(attrIntOr(n, "K", 0)), int(attrIntOr(n, "N", 0))
			var bias []float32
			if len(n.GetInput()) > 5 {
				bias, _ = onnx.Float32s(m, inits[n.GetInput()[5]])
			}
			a := x
			if n.GetInput()[0] == "y" {
				a = out["y"]
			}
			out[n.GetOutput()[0]] = matmul(a, 3, K, N, deq(n, K, N, 1, 2, 3), bias)
		case "GatherBlockQuantized":
			table := deq(n, 64, 10, 0, 2, 3) // [D, V] as K x N
			var e []float32
			for _, id := range ids {
				for d := 0; d < 64; d++ {
					e = append(e, table[d*10+int(id)])
				}
			}
			out[n.GetOutput()[0]] = e
		}
	}
	return out
}

func maxRelDiff(a, b []float32) float64 {
	if len(a) != len(b) || len(a) == 0 {
		return math.Inf(1)
	}
	var d, m float64
	for i := range a {
		d = math.Max(d, math.Abs(float64(a[i]-b[i])))
		m = math.Max(m, math.Abs(float64(b[i])))
	}
	return d / math.Max(m, 1e-12)
}

// TestNBitsBadInput: a com.microsoft import other than opset 1, an ONNX
// Runtime older than the kernels, gptq without data and an already 4-bit
// model are refused with errors that say what to do.
func TestNBitsBadInput(t *testing.T) {
	m := nbitsNet(t)
	m.Proto.OpsetImport = append(m.Proto.OpsetImport, &onnxpb.OperatorSetIdProto{Domain: proto.String("com.microsoft"), Version: proto.Int64(2)})
	if _, err := Quantize(context.Background(), m, Options{Mode: Dynamic, Format: QDQ, Bits: 4}, nil); !errors.Is(err, ErrOpsetTooOld) {
		t.Errorf("com.microsoft opset 2: %v", err)
	}
	if err := checkNBits(nbitsNet(t), "1.16.3"); !errors.Is(err, ErrOpsetTooOld) || !strings.Contains(err.Error(), "1.20 or later") {
		t.Errorf("ORT 1.16: %v", err)
	}
	if err := checkNBits(nbitsNet(t), "1.30.0"); err != nil {
		t.Errorf("ORT 1.30: %v", err)
	}
	if _, err := Quantize(context.Background(), nbitsNet(t), Options{Mode: Dynamic, Format: QDQ, Bits: 4, Algorithm: GPTQ}, nil); !errors.Is(err, ErrNeedsCalibration) {
		t.Errorf("gptq without data: %v", err)
	}
	q := nbitsNet(t)
	if _, err := Quantize(context.Background(), q, Options{Mode: Dynamic, Format: QDQ, Bits: 4}, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := Quantize(context.Background(), q, Options{Mode: Dynamic, Format: QDQ, Bits: 4}, nil); !errors.Is(err, ErrAlreadyQuantized) {
		t.Errorf("re-quantizing a 4-bit model: %v", err)
	}
}
