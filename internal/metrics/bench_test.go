package metrics

import (
	"encoding/binary"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"
)

// benchData is the workload testdata/metrics/bench.py times with sklearn:
// 10 M multiclass labels/predictions (10 classes) and 10 M binary
// labels/scores. With MLOPS_BENCH_DATA set to the directory bench.py wrote,
// the benchmark reads the very same arrays (raw little-endian .bin files); otherwise it generates its own.
type benchData struct {
	y, p   []int
	yb     []bool
	scores []float64
}

func loadBenchData(b *testing.B) benchData {
	b.Helper()
	dir := os.Getenv("MLOPS_BENCH_DATA")
	if dir == "" {
		const n = 10_000_000
		rng := rand.New(rand.NewPCG(1, 2))
		d := benchData{y: make([]int, n), p: make([]int, n), yb: make([]bool, n), scores: make([]float64, n)}
		for i := 0; i < n; i++ {
			d.y[i] = rng.IntN(10)
			d.p[i] = d.y[i]
			if rng.Float64() < 0.3 {
				d.p[i] = rng.IntN(10)
			}
			d.yb[i] = rng.IntN(2) == 1
			d.scores[i] = rng.Float64()
			if d.yb[i] {
				d.scores[i] = d.scores[i]*0.7 + 0.3
			}
		}
		return d
	}
	read := func(name string) []uint64 {
		raw, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			b.Fatal(err)
		}
		out := make([]uint64, len(raw)/8)
		for i := range out {
			out[i] = binary.LittleEndian.Uint64(raw[8*i:])
		}
		return out
	}
	y, p, yb, s := read("y_true.bin"), read("y_pred.bin"), read("yb_true.bin"), read("yb_score.bin")
	d := benchData{y: make([]int, len(y)), p: make([]int, len(p)), yb: make([]bool, len(yb)), scores: make([]float64, len(s))}
	for i := range y {
		d.y[i], d.p[i] = int(y[i]), int(p[i])
	}
	for i, v := range yb {
		d.yb[i] = v == 1
		d.scores[i] = math.Float64frombits(s[i])
	}
	return d
}

// BenchmarkSklearnWorkload computes what bench.py asks sklearn for:
// accuracy, balanced accuracy, confusion matrix, precision/recall/F1
// micro/macro/weighted on the multiclass set, ROC-AUC and average
// precision on the binary set.
func BenchmarkSklearnWorkload(b *testing.B) {
	d := loadBenchData(b)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		cm, err := NewConfusion(d.y, d.p, 10)
		if err != nil {
			b.Fatal(err)
		}
		_ = cm.Accuracy()
		_ = cm.BalancedAccuracy()
		_ = cm.Micro(0)
		_ = cm.Macro(0)
		_ = cm.Weighted(0)
		if _, _, err := BinaryRanking(d.yb, d.scores); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(len(d.y)), "predictions")
}
