package export

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/sbinet/npyio"

	"github.com/mlops-dev/mlops/internal/onnx"
	"github.com/mlops-dev/mlops/internal/runtime"
	"github.com/mlops-dev/mlops/internal/testutil"
)

// accuracy runs model on the Fashion-MNIST test split in batches.
func accuracy(t *testing.T, rt *runtime.Runtime, model string, x []float32, y []int64) float64 {
	t.Helper()
	s, err := rt.NewSession(model, runtime.SessionOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	const batch, pix = 500, 28 * 28
	correct := 0
	for i := 0; i < len(y); i += batch {
		n := min(batch, len(y)-i)
		in := map[string]*runtime.Tensor{"input": runtime.NewTensorFloat32([]int64{int64(n), 1, 28, 28}, x[i*pix:(i+n)*pix])}
		if s.Inputs()[0].DataType == onnx.Float16 {
			in["input"] = runtime.NewTensorFloat16([]int64{int64(n), 1, 28, 28}, x[i*pix:(i+n)*pix])
		}
		out, err := s.Run(context.Background(), in, nil)
		if err != nil {
			t.Fatal(err)
		}
		logits, err := out["logits"].AsFloat32s()
		if err != nil {
			t.Fatal(err)
		}
		for r := 0; r < n; r++ {
			best := 0
			for c := 1; c < 10; c++ {
				if logits[r*10+c] > logits[r*10+best] {
					best = c
				}
			}
			if int64(best) == y[i+r] {
				correct++
			}
		}
	}
	return 100 * float64(correct) / float64(len(y))
}

func readNpy[T float32 | int64](t *testing.T, path string) []T {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Skipf("%s: %v", path, err)
	}
	defer f.Close()
	var v []T
	if err := npyio.Read(f, &v); err != nil {
		t.Fatal(err)
	}
	return v
}

// TestFP16FashionMNISTCNN is the acceptance figure: the fp16 CNN loses at
// most 0.1 percentage points of test accuracy and is about half the size.
func TestFP16FashionMNISTCNN(t *testing.T) {
	rt := testutil.Runtime(t)
	cnn := fmnist(t, "cnn.onnx")
	x := readNpy[float32](t, fmnist(t, "x_test.npy"))
	y := readNpy[int64](t, fmnist(t, "y_test.npy"))
	if testing.Short() {
		t.Skip("runs both models on 10,000 images")
	}
	a32 := accuracy(t, rt, cnn, x, y)
	for _, keep := range []bool{false} {
		out := filepath.Join(t.TempDir(), "cnn16.onnx")
		rep, err := Run(context.Background(), rt, Request{Input: cnn, Output: out, FP16: true,
			FP16Options: FP16Options{KeepIOTypes: keep}, Verify: true, Seed: 3})
		if err != nil {
			t.Fatal(err)
		}
		a16 := accuracy(t, rt, out, x, y)
		ratio := float64(rep.BytesAfter) / float64(rep.BytesBefore)
		t.Logf("keep-io-types=%v: accuracy fp32 %.2f%% fp16 %.2f%% (change %+.2f pp), size %d -> %d (%.1f%%), max abs dev %.2g",
			keep, a32, a16, a16-a32, rep.BytesBefore, rep.BytesAfter, 100*ratio, *rep.MaxAbsError)
		if d := a16 - a32; d < -0.1 || d > 0.1 {
			t.Errorf("accuracy changed by %.2f pp, want within 0.1", d)
		}
		if ratio < 0.45 || ratio > 0.55 {
			t.Errorf("fp16 size is %.1f%% of fp32, want about 50%%", 100*ratio)
		}
	}
}
