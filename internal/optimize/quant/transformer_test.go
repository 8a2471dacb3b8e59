package quant

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/mlops-dev/mlops/internal/onnx"
	"github.com/mlops-dev/mlops/internal/runtime"
)

var transformerOnce sync.Once

// transformerModel returns the MiniLM-shaped encoder, generating it into
// .cache/transformer with Debian's torch the first time (it is ~90 MB, too
// big to commit). Skips when torch is unavailable.
func transformerModel(t testing.TB) string {
	t.Helper()
	dir, err := filepath.Abs(repoFile(t, ".cache/transformer"))
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "encoder.onnx")
	transformerOnce.Do(func() {
		if _, err := os.Stat(path); err == nil {
			return
		}
		script, _ := filepath.Abs(repoFile(t, "testdata/transformer/generate.py"))
		out, err := exec.Command("/usr/bin/python3", script, dir).CombinedOutput()
		if err != nil {
			t.Logf("transformer generation failed: %v\n%s", err, out)
		}
	})
	if _, err := os.Stat(path); err != nil {
		t.Skipf("skipping: %s not generated (needs /usr/bin/python3 with python3-torch)", path)
	}
	return path
}

func transformerInput(t testing.TB) map[string]*runtime.Tensor {
	ids := make([]int64, 128)
	for i := range ids {
		ids[i] = int64((i*7919 + 13) % 30522)
	}
	return map[string]*runtime.Tensor{"input_ids": runtime.NewTensorInt64([]int64{1, 128}, ids)}
}

// quantizeTransformer writes the dynamic int8 encoder next to the float one.
func quantizeTransformer(t testing.TB, fp string) string {
	t.Helper()
	out := filepath.Join(filepath.Dir(fp), "encoder.int8.onnx")
	if st, err := os.Stat(out); err == nil {
		if fst, _ := os.Stat(fp); fst != nil && st.ModTime().After(fst.ModTime()) && os.Getenv("MLOPS_REQUANTIZE") == "" {
			return out
		}
	}
	_, err := Run(context.Background(), nil, Request{Input: fp, Output: out,
		Options: Options{Mode: Dynamic, Format: QDQ, WeightType: Int8, SymmetricWeights: true}})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestSyntheticEncoderDynamicCosine checks the cosine target on an encoder
// built in Go, so it runs without torch.
func TestSyntheticEncoderDynamicCosine(t *testing.T) {
	rt := openRuntime(t)
	m := syntheticEncoder(t)
	fp := encode(t, m)
	res, err := Quantize(context.Background(), m, Options{Mode: Dynamic, Format: QDQ, WeightType: Int8, SymmetricWeights: true}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if res.NodesQuantized["MatMul"] != 36 || len(res.NodesSkipped) != 12 {
		t.Errorf("quantized %v, %d skipped; want 36 weight MatMuls and the 12 attention MatMuls skipped", res.NodesQuantized, len(res.NodesSkipped))
	}
	q := encode(t, m)
	in := syntheticEncoderInput()
	c := cosine(run(t, rt, fp, in), run(t, rt, q, in))
	t.Logf("synthetic encoder: %d -> %d bytes, output cosine %.5f", len(fp), len(q), c)
	if c < 0.99 {
		t.Errorf("cosine %.5f < 0.99", c)
	}
}

func TestTransformerDynamicCosine(t *testing.T) {
	rt := openRuntime(t)
	fp := transformerModel(t)
	out := filepath.Join(t.TempDir(), "encoder.int8.onnx")
	rep, err := Run(context.Background(), nil, Request{Input: fp, Output: out,
		Options: Options{Mode: Dynamic, Format: QDQ, WeightType: Int8, SymmetricWeights: true}})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("quantized %v, skipped %d, %d -> %d bytes (%.1f%%) in %.2fs", rep.NodesQuantized, len(rep.NodesSkipped),
		rep.BytesBefore, rep.BytesAfter, 100*rep.SizeRatio, rep.DurationSeconds)
	if rep.NodesQuantized["MatMul"] != 36 {
		t.Errorf("quantized %d MatMuls, want the 36 with constant weights (the 12 attention MatMuls stay float)", rep.NodesQuantized["MatMul"])
	}
	in := transformerInput(t)
	a := run(t, rt, fp, in)
	b := run(t, rt, out, in)
	c := cosine(a, b)
	t.Logf("output cosine %.5f", c)
	if c < 0.99 {
		t.Errorf("cosine %.5f < 0.99", c)
	}
	m, err := onnx.Load(out)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	if err := CheckQuantizable(m); err == nil {
		t.Error("quantized model not recognised as quantized")
	}
}

// BenchmarkTransformer measures ORT latency of the float and the dynamic
// int8 encoder exported by torch (batch 1, sequence 128) in the same run.
// Runs of the two models alternate, 10 of each per iteration, so that other
// load on the machine hits both alike; the ratio is reported as "speedup"
// (target >= 2). Skipped without torch; BenchmarkSyntheticEncoder is the
// same measurement on the Go-built encoder.
func BenchmarkTransformer(b *testing.B) {
	rt := openRuntime(b)
	fp := transformerModel(b)
	qp := quantizeTransformer(b, fp)
	benchPair(b, rt, fp, qp, transformerInput(b), "last_hidden_state")
}

func BenchmarkSyntheticEncoder(b *testing.B) {
	rt := openRuntime(b)
	m := syntheticEncoder(b)
	fp := encode(b, m)
	if _, err := Quantize(context.Background(), m, Options{Mode: Dynamic, Format: QDQ, WeightType: Int8, SymmetricWeights: true}, nil); err != nil {
		b.Fatal(err)
	}
	benchPair(b, rt, fp, encode(b, m), syntheticEncoderInput(), "out")
}

func benchPair(b *testing.B, rt *runtime.Runtime, fp, qp any, in map[string]*runtime.Tensor, output string) {
	var sessions [2]*runtime.Session
	for i, p := range []any{fp, qp} {
		s, err := rt.NewSession(p, runtime.SessionOptions{})
		if err != nil {
			b.Fatal(err)
		}
		defer s.Close()
		sessions[i] = s
	}
	out := []string{output}
	var spent [2]time.Duration
	runs := 0
	call := func(i int) {
		t0 := time.Now()
		if _, err := sessions[i].Run(context.Background(), in, out); err != nil {
			b.Fatal(err)
		}
		spent[i] += time.Since(t0)
	}
	call(0) // warm up both
	call(1)
	spent = [2]time.Duration{}
	b.ResetTimer()
	for n := 0; n < b.N; n++ {
		for k := 0; k < 10; k++ {
			call(0)
			call(1)
			runs++
		}
	}
	b.StopTimer()
	fpMS := float64(spent[0].Microseconds()) / 1e3 / float64(runs)
	qMS := float64(spent[1].Microseconds()) / 1e3 / float64(runs)
	b.ReportMetric(fpMS, "fp32_ms")
	b.ReportMetric(qMS, "int8_ms")
	b.ReportMetric(fpMS/qMS, "speedup")
}
