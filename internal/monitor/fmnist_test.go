package monitor

import (
	"bufio"
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mlops-dev/mlops/internal/data"
)

// The Fashion-MNIST test set (testdata/fmnist, made by generate.py) gives a realistic image workload:
// 784 pixel features, many constant near the border.
const fmnistX = "../../testdata/fmnist/x_test.npy"

func loadFMNIST(tb testing.TB) []float32 {
	tb.Helper()
	if _, err := os.Stat(fmnistX); err != nil {
		tb.Skipf("Fashion-MNIST test data not available: %v", err)
	}
	src, err := data.Open(context.Background(), data.Spec{Path: fmnistX, BatchSize: 10000,
		Inputs: []data.InputInfo{{Name: "x", Shape: []int64{-1, 784}}}, Preprocess: data.Preprocess{Reshape: true}})
	if err != nil {
		tb.Fatal(err)
	}
	defer src.Close()
	var x []float32
	for {
		b, err := src.Next(context.Background())
		if err == io.EOF {
			break
		}
		if err != nil {
			tb.Fatal(err)
		}
		x = append(x, b.Inputs["x"].Float32s()...)
	}
	if len(x) != 10000*784 {
		tb.Fatalf("x_test.npy has %d values, want 10000*784", len(x))
	}
	return x
}

// writeImageLogs writes images [from, to) as single-image payload-log records, pixels mapped by f.
func writeImageLogs(tb testing.TB, dir string, x []float32, from, to int, f func(float32) float32) {
	tb.Helper()
	sub := filepath.Join(dir, "fmnist", "2026", "11", "28", "10")
	if err := os.MkdirAll(sub, 0o755); err != nil {
		tb.Fatal(err)
	}
	out, err := os.Create(filepath.Join(sub, "1-a.jsonl"))
	if err != nil {
		tb.Fatal(err)
	}
	defer out.Close()
	w := bufio.NewWriter(out)
	img := make([]float32, 784)
	for i := from; i < to; i++ {
		for j := range img {
			img[j] = f(x[i*784+j])
		}
		rec := map[string]any{
			"ts": t0.Add(time.Duration(i) * time.Second).Format(time.RFC3339Nano), "request_id": fmt.Sprint("q", i), "model": "fmnist",
			"inputs":  []any{map[string]any{"name": "input", "datatype": "FP32", "shape": []int{1, 1, 28, 28}, "data": img}},
			"outputs": []any{map[string]any{"name": "logits", "datatype": "FP32", "shape": []int{1, 10}, "data": img[300:310]}},
		}
		b, _ := json.Marshal(rec)
		w.Write(b)
		w.WriteByte('\n')
	}
	if err := w.Flush(); err != nil {
		tb.Fatal(err)
	}
}

func writeImageRef(tb testing.TB, path string, x []float32, n int) {
	tb.Helper()
	f, err := os.Create(path)
	if err != nil {
		tb.Fatal(err)
	}
	defer f.Close()
	// A float32 [n, 784] .npy, written by hand: npyio's reflection-based writer is slow for 15 MB.
	header := fmt.Sprintf("{'descr': '<f4', 'fortran_order': False, 'shape': (%d, 784), }", n)
	pad := 64 - (10+len(header)+1)%64
	header += strings.Repeat(" ", pad) + "\n"
	buf := append([]byte("\x93NUMPY\x01\x00"), byte(len(header)), byte(len(header)>>8))
	buf = append(buf, header...)
	for _, v := range x[:n*784] {
		buf = binary.LittleEndian.AppendUint32(buf, math.Float32bits(v))
	}
	if _, err := f.Write(buf); err != nil {
		tb.Fatal(err)
	}
}

// TestFMNISTDrift: a held-out split of the same test set is not drift; a contrast change is.
func TestFMNISTDrift(t *testing.T) {
	if testing.Short() {
		t.Skip("reads and writes a few tens of MB")
	}
	x := loadFMNIST(t)
	dir := t.TempDir()
	ref := filepath.Join(dir, "ref.npy")
	writeImageRef(t, ref, x, 5000)
	same, shifted := filepath.Join(dir, "same"), filepath.Join(dir, "shifted")
	writeImageLogs(t, same, x, 5000, 7000, func(v float32) float32 { return v })
	writeImageLogs(t, shifted, x, 5000, 7000, func(v float32) float32 { return 0.2 + 0.7*v })
	ctx := context.Background()
	r, err := Run(ctx, Request{Reference: ref, Current: same})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("held-out split: %d of %d pixels drifted (share %.3f)", r.Drift.DriftedColumns, r.Drift.Columns, r.Drift.Share)
	if r.Drift.Columns != 784 || r.Drift.Drifted {
		t.Errorf("held-out split flagged as drift: %d features drifted", r.Drift.DriftedColumns)
	}
	// A border pixel is almost always 0 (categorical, Jensen–Shannon); a centre pixel is numerical.
	if m := r.Drift.Features[0].Method; m != MethodJensenShannon {
		t.Errorf("input[0] compared with %s, want jensenshannon", m)
	}
	if m := r.Drift.Features[14*28+14].Method; m != MethodWasserstein {
		t.Errorf("centre pixel compared with %s, want wasserstein", m)
	}
	r, err = Run(ctx, Request{Reference: ref, Current: shifted})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("contrast change: %d of %d pixels drifted (share %.3f)", r.Drift.DriftedColumns, r.Drift.Columns, r.Drift.Share)
	if !r.Drift.Drifted {
		t.Error("contrast change not detected")
	}
}

// BenchmarkRunFMNIST measures a whole run (read 2000 logged images and 5000 reference rows, 784
// Wasserstein comparisons) against its baseline, reading the same logs without comparing.
func BenchmarkRunFMNIST(b *testing.B) {
	x := loadFMNIST(b)
	dir := b.TempDir()
	ref := filepath.Join(dir, "ref.npy")
	writeImageRef(b, ref, x, 5000)
	cur := filepath.Join(dir, "cur")
	writeImageLogs(b, cur, x, 5000, 7000, func(v float32) float32 { return v })
	ctx := context.Background()
	b.Run("read-logs", func(b *testing.B) {
		for b.Loop() {
			if _, _, err := readLogsFrame(ctx, cur, nil, NewDictionary(), Request{}); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("run", func(b *testing.B) {
		for b.Loop() {
			if _, err := Run(ctx, Request{Reference: ref, Current: cur}); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkCompareFMNIST: comparing 784 pixel columns (5000 reference vs 2000 current rows) on one
// worker (the default, the baseline) and on two, in the same run.
func BenchmarkCompareFMNIST(b *testing.B) {
	x := loadFMNIST(b)
	ref, cur := make([]Column, 784), make([]Column, 784)
	for j := 0; j < 784; j++ {
		ref[j].Name, cur[j].Name = fmt.Sprint("p", j), fmt.Sprint("p", j)
		for i := 0; i < 5000; i++ {
			ref[j].Values = append(ref[j].Values, float64(x[i*784+j]))
		}
		for i := 5000; i < 7000; i++ {
			cur[j].Values = append(cur[j].Values, float64(x[i*784+j]))
		}
	}
	ctx := context.Background()
	for _, w := range []int{1, 2} {
		b.Run(fmt.Sprintf("workers=%d", w), func(b *testing.B) {
			for b.Loop() {
				if _, err := CompareColumns(ctx, ref, cur, DriftOptions{Workers: w}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
