package retrain

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/mlops-dev/mlops/internal/data"
	"github.com/mlops-dev/mlops/internal/testutil"
)

// fmnistReq fine-tunes the bundled MLP on the first rows of the test split.
func fmnistReq(t *testing.T, rows int) Request {
	t.Helper()
	h := DefaultHyperparameters()
	h.BatchSize = 64
	return Request{
		Model:    testutil.RepoFile(t, "testdata/fmnist/mlp.onnx"),
		Output:   filepath.Join(t.TempDir(), "out.onnx"),
		Train:    data.Spec{Path: testutil.RepoFile(t, "testdata/fmnist/x_test.npy"), LabelsPath: testutil.RepoFile(t, "testdata/fmnist/y_test.npy"), Limit: rows, BatchSize: 256},
		ValSplit: 0.25,
		Hyper:    h,
	}
}

func TestMLPFineTuneDeterministic(t *testing.T) {
	ctx := context.Background()
	req := fmnistReq(t, 1024)
	rep, err := Run(ctx, nil, req)
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Epochs) != 1 || rep.Epochs[0].ValAccuracy == nil || *rep.Epochs[0].ValAccuracy < 0.8 {
		t.Fatalf("report %+v", rep)
	}
	t.Logf("epoch %+v, val acc %.4f loss %.4f", rep.Epochs[0], *rep.Epochs[0].ValAccuracy, *rep.Epochs[0].ValLoss)
	req2 := req
	req2.Output = filepath.Join(t.TempDir(), "again.onnx")
	if _, err := Run(ctx, nil, req2); err != nil {
		t.Fatal(err)
	}
	a, _ := os.ReadFile(req.Output)
	b, _ := os.ReadFile(req2.Output)
	if !bytes.Equal(a, b) {
		t.Fatal("same seed and data gave different weights")
	}
}
