package quant

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/mlops-dev/mlops/internal/testutil/testmodels"
)

// largeModel writes (once) a chain of MatMuls whose float32 weights, layers
// x dim x dim, live in one external data file, and returns its path.
func largeModel(t testing.TB, dir string, layers, dim int) string {
	t.Helper()
	path, err := testmodels.LargeChain(dir, layers, dim)
	if err != nil {
		t.Fatal(err)
	}
	return path
}

// peakRSS reads VmHWM (peak resident set) in bytes; resetPeakRSS restarts it.
func peakRSS() int64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return -1
	}
	for _, line := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(line, "VmHWM:") {
			f := strings.Fields(line)
			kb, _ := strconv.ParseInt(f[1], 10, 64)
			return kb << 10
		}
	}
	return -1
}

// cpuSeconds is the user+system CPU time of this process.
func cpuSeconds() float64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()).Seconds()
}

func resetPeakRSS() { _ = os.WriteFile("/proc/self/clear_refs", []byte("5"), 0) }

func TestLargeExternalModelStreams(t *testing.T) {
	rt := openRuntime(t)
	dir := t.TempDir()
	fp := largeModel(t, dir, 4, 256) // 1 MiB of weights, external
	out := filepath.Join(t.TempDir(), "q.onnx")
	rep, err := Run(context.Background(), nil, Request{Input: fp, Output: out,
		Options: Options{Mode: Dynamic, Format: QDQ, WeightType: Int8, SymmetricWeights: true}})
	if err != nil {
		t.Fatal(err)
	}
	if rep.NodesQuantized["MatMul"] != 4 {
		t.Fatalf("quantized %v", rep.NodesQuantized)
	}
	left, _ := filepath.Glob(filepath.Join(dir, ".mlops-quant-*"))
	if len(left) != 0 {
		t.Errorf("spill files left behind: %v", left)
	}
	x := make([]float32, 256)
	for i := range x {
		x[i] = float32(i%7) / 7
	}
	in := map[string]*runtimeTensor{"x0": newF32([]int64{1, 256}, x)}
	a := run(t, rt, fp, in)
	b := run(t, rt, out, in)
	if c := cosine(a, b); c < 0.99 {
		t.Errorf("cosine %v", c)
	}
}

// BenchmarkQuantizeLarge quantizes a generated model with 2 GiB of external
// float32 weights (32 x 4096x4096). The model and the output live in
// MLOPS_QUANT_LARGE_DIR, default /dev/shm (RAM) when present so that the
// figure is the quantizer's and not the disk's; .cache/quant-large otherwise.
// Reports MB/s of fp32 weights (wall), MB per CPU-second (independent of
// other load on the machine), and peak RSS during the runs.
func BenchmarkQuantizeLarge(b *testing.B) {
	dir := os.Getenv("MLOPS_QUANT_LARGE_DIR")
	if dir == "" {
		dir = "/dev/shm/mlops-quant-large"
		if st, err := os.Stat("/dev/shm"); err != nil || !st.IsDir() {
			dir, _ = filepath.Abs(repoFile(b, ".cache/quant-large"))
		} else {
			// 2 GiB of RAM: do not leave it behind.
			b.Cleanup(func() { os.RemoveAll(dir) })
		}
	}
	const layers, dim = 32, 4096
	fp := largeModel(b, dir, layers, dim)
	weights := int64(layers) * dim * dim * 4
	b.SetBytes(weights)
	var peak int64
	cpu0 := cpuSeconds()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		out := filepath.Join(dir, "out", "q.onnx")
		os.MkdirAll(filepath.Dir(out), 0o755)
		resetPeakRSS()
		if _, err := Run(context.Background(), nil, Request{Input: fp, Output: out,
			Options: Options{Mode: Dynamic, Format: QDQ, WeightType: Int8, SymmetricWeights: true}}); err != nil {
			b.Fatal(err)
		}
		peak = max(peak, peakRSS())
		b.StopTimer()
		os.RemoveAll(filepath.Dir(out))
		b.StartTimer()
	}
	b.StopTimer()
	cpu := cpuSeconds() - cpu0
	b.ReportMetric(float64(weights)*float64(b.N)/cpu/1e6, "MB/cpu-s")
	b.ReportMetric(float64(peak)/(1<<20), "peak_rss_MB")
	b.ReportMetric(float64(dim*dim*4)/(1<<20), "largest_tensor_MB")
}
