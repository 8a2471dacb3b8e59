package quant

import (
	"context"
	"math/rand/v2"
	"path/filepath"
	"testing"

	"github.com/mlops-dev/mlops/internal/data"
	"github.com/mlops-dev/mlops/internal/onnx"
	"github.com/mlops-dev/mlops/internal/testutil/testmodels"
)

// TestSyntheticEncoderInt4Cosine is the acceptance check on the MiniLM-size
// encoder: 4-bit block 32 with gptq and with the default hqq stays at
// cosine >= 0.98 to float32 (rtn >= 0.97 on these Gaussian random weights),
// hqq and gptq are no worse than rtn, and the report has every weight
// MatMul's reconstruction error.
func TestSyntheticEncoderInt4Cosine(t *testing.T) {
	rt := openRuntime(t)
	dir := t.TempDir()
	fp := filepath.Join(dir, "encoder.onnx")
	saveModel(t, syntheticEncoder(t), fp)
	// Calibration rows: other seeds of the same input distribution.
	r := rand.New(rand.NewPCG(9, 9))
	rows := 2
	calib := make([]float32, 0, rows*testmodels.EncoderSeq*testmodels.EncoderHidden)
	for i := 0; i < rows*testmodels.EncoderSeq*testmodels.EncoderHidden; i++ {
		calib = append(calib, float32(r.NormFloat64()))
	}
	cpath := filepath.Join(dir, "calib.npy")
	writeNPY(t, cpath, []int64{int64(rows), testmodels.EncoderSeq, testmodels.EncoderHidden}, calib)
	in := syntheticEncoderInput()
	want := run(t, rt, fp, in)
	cos := map[Algorithm]float64{}
	for _, alg := range []Algorithm{RTN, HQQ, GPTQ} {
		out := filepath.Join(dir, string(alg)+".onnx")
		req := Request{Input: fp, Output: out, Options: Options{Mode: Dynamic, Format: QDQ, Bits: 4, BlockSize: 32, Algorithm: alg}}
		if alg == GPTQ {
			req.Calibration = data.Spec{Path: cpath, BatchSize: 2}
		}
		rep, err := Run(context.Background(), rt, req)
		if err != nil {
			t.Fatal(err)
		}
		if rep.NodesQuantized["MatMul"] != 36 || len(rep.Layers) != 36 || rep.Bits != 4 || rep.Mode != WeightOnly {
			t.Fatalf("%s: quantized %v, %d layers", alg, rep.NodesQuantized, len(rep.Layers))
		}
		if alg == GPTQ && rep.Layers[0].OutputErr == nil {
			t.Errorf("gptq: no output error in the report")
		}
		if rep.SizeRatio > 0.2 {
			t.Errorf("%s: size ratio %.3f", alg, rep.SizeRatio)
		}
		cos[alg] = cosine(run(t, rt, out, in), want)
		t.Logf("%s: cosine %.5f, size %.1f%% of fp32", alg, cos[alg], 100*rep.SizeRatio)
		if floor := map[Algorithm]float64{RTN: 0.97, HQQ: 0.98, GPTQ: 0.98}[alg]; cos[alg] < floor {
			t.Errorf("%s: cosine %.4f < %.2f", alg, cos[alg], floor)
		}
		m, err := onnx.Load(out)
		if err != nil {
			t.Fatal(err)
		}
		if err := onnx.Check(m); err != nil {
			t.Errorf("%s: %v", alg, err)
		}
		m.Close()
	}
	if cos[HQQ] < cos[RTN] || cos[GPTQ] < cos[RTN] {
		t.Errorf("cosines %v: hqq and gptq must not be worse than rtn", cos)
	}
}
