package bench

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/mlops-dev/mlops/internal/testutil"
	"github.com/mlops-dev/mlops/internal/testutil/testmodels"
)

// BenchmarkRewriteLarge runs every rewriting command on generated models
// with 2 GB and 8 GB of external float32 weights (4096 x 4096 MatMuls,
// 64 MiB per tensor: 32 and 128 of them) and reports wall time, MB/s of
// input weights and the command's peak resident memory (the child's
// ru_maxrss), which must stay near the largest tensor plus a fixed
// overhead, whatever the model size: the 8 GB model's peak under 1.5 GB.
//
// The models are written on disk under MLOPS_LARGE_DIR (default: the
// system temp folder; /tmp is the root file system here, not tmpfs),
// checked for free space first, and removed afterwards unless
// MLOPS_LARGE_KEEP is set. MLOPS_LARGE_SIZES=2 limits the sizes (GB),
// MLOPS_LARGE_COMMANDS=quantize-int4,prune the commands (quantize-int8,
// quantize-int4 (rtn), quantize-int4-hqq (the default algorithm, several
// times the CPU of rtn), prune, convert-fp16).
func BenchmarkRewriteLarge(b *testing.B) {
	bin := buildMLOps(b)
	ortEnv(b)
	base := os.Getenv("MLOPS_LARGE_DIR")
	if base == "" {
		base = os.TempDir()
	}
	sizes := []int{2, 8}
	if s := os.Getenv("MLOPS_LARGE_SIZES"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil {
			b.Fatalf("MLOPS_LARGE_SIZES=%q: want 2 or 8", s)
		}
		sizes = []int{n}
	}
	for _, gb := range sizes {
		b.Run(fmt.Sprintf("%dGB", gb), func(b *testing.B) {
			const dim = 4096
			layers := gb * 16 // 64 MiB each
			need := uint64(gb) << 30 * 3
			if free := freeBytes(base); free < need {
				b.Skipf("skipping: %s has %d GB free, the %d GB run needs %d GB", base, free>>30, gb, need>>30)
			}
			dir := filepath.Join(base, fmt.Sprintf("mlops-large-%dgb", gb))
			if os.Getenv("MLOPS_LARGE_KEEP") == "" {
				defer os.RemoveAll(dir)
			}
			start := time.Now()
			model, err := testmodels.LargeChain(filepath.Join(dir, "model"), layers, dim)
			if err != nil {
				b.Fatal(err)
			}
			b.Logf("generated %s in %v", model, time.Since(start).Round(time.Second))
			inBytes := float64(layers) * dim * dim * 4
			out := filepath.Join(dir, "out.onnx")
			for _, c := range []struct {
				name string
				args []string
			}{
				{"quantize-int8", []string{"quantize", model, out, "--force"}},
				{"quantize-int4", []string{"quantize", model, out, "--force", "--bits", "4", "--algorithm", "rtn"}},
				{"quantize-int4-hqq", []string{"quantize", model, out, "--force", "--bits", "4"}},
				{"prune", []string{"prune", model, "-o", out, "--sparsity", "0.5", "--force"}},
				{"convert-fp16", []string{"convert", model, "-o", out, "--fp16", "--force"}},
			} {
				if only := os.Getenv("MLOPS_LARGE_COMMANDS"); only != "" && !strings.Contains(","+only+",", ","+c.name+",") {
					continue
				}
				for _, f := range []string{out, out + ".data"} {
					os.Remove(f)
				}
				wall, rss, err := runMeasured(bin, c.args...)
				if err != nil {
					b.Fatalf("%s: %v", c.name, err)
				}
				b.Logf("%d GB %-14s wall %6.1fs  %7.0f MB/s  peak RSS %5.0f MB", gb, c.name, wall.Seconds(), inBytes/1e6/wall.Seconds(), float64(rss)/1e6)
				b.ReportMetric(float64(rss)/1e6, c.name+"-peak-MB")
				b.ReportMetric(inBytes/1e6/wall.Seconds(), c.name+"-MB/s")
				if gb == 8 && rss >= 1500e6 {
					b.Errorf("%s on the 8 GB model: peak RSS %.0f MB, want < 1500 MB", c.name, float64(rss)/1e6)
				}
			}
		})
	}
}

// runMeasured runs the binary and returns its wall time and peak RSS.
func runMeasured(bin string, args ...string) (time.Duration, int64, error) {
	cmd := exec.Command(bin, args...)
	cmd.Env = append(os.Environ(), "NO_COLOR=1")
	start := time.Now()
	out, err := cmd.CombinedOutput()
	wall := time.Since(start)
	if err != nil {
		return wall, 0, fmt.Errorf("%v: %s", err, out)
	}
	ru := cmd.ProcessState.SysUsage().(*syscall.Rusage)
	return wall, ru.Maxrss * 1024, nil // Linux reports KiB
}

// ortEnv points the child binaries at the ONNX Runtime the tests use (they
// run from a temporary folder, where the .deps lookup finds nothing).
func ortEnv(b *testing.B) {
	b.Helper()
	b.Setenv("MLOPS_ORT_LIB", filepath.Dir(testutil.Runtime(b).LibraryPath()))
}

func buildMLOps(b *testing.B) string {
	b.Helper()
	bin := filepath.Join(b.TempDir(), "mlops")
	cmd := exec.Command("go", "build", "-o", bin, "github.com/mlops-dev/mlops/cmd/mlops")
	if out, err := cmd.CombinedOutput(); err != nil {
		b.Fatalf("build mlops: %v\n%s", err, out)
	}
	return bin
}

func freeBytes(dir string) uint64 {
	var st syscall.Statfs_t
	if err := syscall.Statfs(dir, &st); err != nil {
		return 0
	}
	return st.Bavail * uint64(st.Bsize)
}
