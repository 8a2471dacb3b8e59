package eval

import (
	"context"
	"errors"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mlops-dev/mlops/internal/data"
	"github.com/mlops-dev/mlops/internal/gate"
	"github.com/mlops-dev/mlops/internal/infer"
	"github.com/mlops-dev/mlops/internal/runtime"
	"github.com/mlops-dev/mlops/internal/testutil"
)

func fmnistSpec(t *testing.T, limit int) data.Spec {
	return data.Spec{
		Path:       testutil.RepoFile(t, "testdata/fmnist/x_test.npy"),
		LabelsPath: testutil.RepoFile(t, "testdata/fmnist/y_test.npy"),
		BatchSize:  128, Limit: limit,
	}
}

// TestRunFromPathSessionAndDataset evaluates the MLP three ways — by path,
// through a session the caller keeps open (with a nil runtime), and on the
// same rows held in memory — and gets the same metrics each time.
func TestRunFromPathSessionAndDataset(t *testing.T) {
	rt := testutil.Runtime(t)
	ctx := context.Background()
	mlp := testutil.RepoFile(t, "testdata/fmnist/mlp.onnx")
	byPath, err := Run(ctx, rt, Request{Model: Model{Path: mlp}, Data: fmnistSpec(t, 500)})
	if err != nil {
		t.Fatal(err)
	}
	if byPath.Rows != 500 || byPath.Task != Classification || byPath.Model != mlp || byPath.ModelSizeBytes == 0 {
		t.Fatalf("report %+v", byPath)
	}
	if acc := byPath.Metric("accuracy"); acc < 0.8 || acc > 1 {
		t.Fatalf("accuracy %v", acc)
	}
	if !math.IsNaN(byPath.Metric("no_such_metric")) {
		t.Error("an absent metric must be NaN")
	}

	sess, err := rt.NewSession(mlp, runtime.SessionOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer sess.Close()
	bySession, err := Run(ctx, nil, Request{Model: Model{Session: sess}, Data: fmnistSpec(t, 500)})
	if err != nil {
		t.Fatal(err)
	}
	ds, err := infer.ReadAll(ctx, sess.Inputs(), fmnistSpec(t, 500))
	if err != nil {
		t.Fatal(err)
	}
	byDataset, err := Run(ctx, nil, Request{Model: Model{Session: sess}, Dataset: ds, Data: data.Spec{BatchSize: 64}, LatencyBatchSizes: []int{8}, LatencyRuns: 2})
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"accuracy", "f1_macro", "log_loss", "roc_auc_macro"} {
		a, b, c := byPath.Metric(name), bySession.Metric(name), byDataset.Metric(name)
		if a != b || math.Abs(a-c) > 1e-12 {
			t.Errorf("%s: path %v, session %v, dataset %v", name, a, b, c)
		}
	}
	if len(byDataset.Latency) != 2 || byDataset.Latency[0].BatchSize != 8 || byDataset.Latency[1].BatchSize != 64 {
		t.Errorf("latency %+v", byDataset.Latency)
	}
	// The session is the caller's: still usable after Run.
	if _, err := Run(ctx, nil, Request{Model: Model{Session: sess}, Data: fmnistSpec(t, 10)}); err != nil {
		t.Fatalf("session closed by Run: %v", err)
	}
	if _, err := Run(ctx, nil, Request{Model: Model{Path: mlp}, Data: fmnistSpec(t, 10)}); err == nil || !strings.Contains(err.Error(), "needs ONNX Runtime") {
		t.Errorf("nil runtime with a path: %v", err)
	}
}

// TestChampionChallenger is retrain's use: the challenger against the
// champion on the same rows, a gate relative to the champion, McNemar.
func TestChampionChallenger(t *testing.T) {
	rt := testutil.Runtime(t)
	ctx := context.Background()
	gates, err := gate.ParseAll([]string{"accuracy>=champion+0.002", "accuracy>=champion-0.5", "f1_macro>0"}, "champion")
	if err != nil {
		t.Fatal(err)
	}
	rep, err := Run(ctx, rt, Request{
		Model:    Model{Path: testutil.RepoFile(t, "testdata/fmnist/mlp.onnx")},
		Baseline: &Model{Path: testutil.RepoFile(t, "testdata/fmnist/cnn.onnx")},
		Data:     fmnistSpec(t, 1000), Gates: gates, Bootstrap: 50, Seed: 3,
	})
	if err != nil {
		t.Fatal(err)
	}
	c := rep.Compare
	if c == nil || c.McNemar == nil || c.Resamples != 50 || c.Seed != 3 {
		t.Fatalf("comparison %+v", c)
	}
	champ := float64(c.Metrics["accuracy"])
	if math.Abs(float64(c.Deltas["accuracy"].Delta)-(rep.Metric("accuracy")-champ)) > 1e-12 {
		t.Errorf("delta %v for %v vs %v", c.Deltas["accuracy"].Delta, rep.Metric("accuracy"), champ)
	}
	// The CNN is the better model: the MLP does not beat it by 0.002.
	if len(rep.Gates) != 3 || rep.Gates[0].Passed || !rep.Gates[1].Passed || !rep.Gates[2].Passed ||
		math.Abs(float64(rep.Gates[0].Threshold)-(champ+0.002)) > 1e-12 {
		t.Fatalf("gates %+v", rep.Gates)
	}
	if f := rep.FailedGates(); len(f) != 1 || !strings.HasPrefix(f[0], "accuracy>=champion+0.002") {
		t.Errorf("failed %v", f)
	}

	_, err = Run(ctx, rt, Request{Model: Model{Path: testutil.RepoFile(t, "testdata/fmnist/mlp.onnx")}, Data: fmnistSpec(t, 10), Gates: gates[:1]})
	if err == nil || !strings.Contains(err.Error(), "no baseline model") {
		t.Errorf("reference without a baseline: %v", err)
	}
	typo, _ := gate.Parse("acuracy>=0.5")
	_, err = Run(ctx, rt, Request{Model: Model{Path: testutil.RepoFile(t, "testdata/fmnist/mlp.onnx")}, Data: fmnistSpec(t, 10), Gates: []gate.Expr{typo}})
	var um *gate.UnknownMetricError
	if !errors.As(err, &um) || um.Metric != "acuracy" {
		t.Errorf("unknown metric: %v", err)
	}
}

func TestRunCancelled(t *testing.T) {
	rt := testutil.Runtime(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := Run(ctx, rt, Request{Model: Model{Path: testutil.RepoFile(t, "testdata/fmnist/mlp.onnx")}, Data: fmnistSpec(t, 0)})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v", err)
	}
}

func labelBatch(rows int, labels ...float64) *data.Batch {
	lt := data.NewTensor(data.Float64, []int64{int64(len(labels))})
	for i, v := range labels {
		lt.Data = append(lt.Data[:i*8], float64Bytes(v)...)
	}
	return &data.Batch{Rows: rows, Labels: lt, Offset: 10}
}

func float64Bytes(v float64) []byte {
	b := make([]byte, 8)
	u := math.Float64bits(v)
	for k := range b {
		b[k] = byte(u >> (8 * k))
	}
	return b
}

// TestCollectorChecksLabels: the checks quantize and prune now get too.
func TestCollectorChecksLabels(t *testing.T) {
	scores := []float32{0.9, 0.1, 0.2, 0.8}
	c := NewCollector(Classification, "probs")
	if err := c.AddScores(labelBatch(2, 0, 1.5), []int64{2, 2}, scores); err == nil || !strings.Contains(err.Error(), "label 1.5 at row 11 is not an integer class id") {
		t.Errorf("non-integer: %v", err)
	}
	c = NewCollector(Classification, "probs")
	if err := c.AddScores(labelBatch(2, 0, 1, 1, 0), []int64{2, 2}, scores); err == nil || !strings.Contains(err.Error(), "labels have 2 values per row") {
		t.Errorf("two labels per row: %v", err)
	}
	c = NewCollector(Classification, "probs")
	if err := c.AddScores(labelBatch(2, 0, 7), []int64{2, 2}, scores); err != nil {
		t.Fatal(err)
	}
	p, notes, err := c.Predictions()
	if err != nil || len(notes) != 0 || p.K != 2 || p.Rows() != 2 {
		t.Fatalf("%+v %v %v", p, notes, err)
	}
	if _, err := Compute(context.Background(), p, Options{}); err == nil || !strings.Contains(err.Error(), "label 7 at row 1 is outside the model's 2 classes (0..1)") {
		t.Errorf("out of range: %v", err)
	}
	c = NewCollector(Classification, "probs")
	if err := c.AddScores(&data.Batch{Rows: 2}, []int64{2, 2}, scores); err == nil || !strings.Contains(err.Error(), "no labels") {
		t.Errorf("unlabelled: %v", err)
	}
	if err := NewCollector(Classification, "probs").AddScores(labelBatch(2, 0, 1), []int64{4}, scores); err == nil || !strings.Contains(err.Error(), "batch as the first dimension") {
		t.Errorf("shape: %v", err)
	}
	if _, _, err := NewCollector(Classification, "probs").Predictions(); err == nil {
		t.Error("empty collector gave predictions")
	}
}

// TestBadLabelsNameTheLabelsFile: a label the task cannot use is blamed on
// the labels file, not on the model.
func TestBadLabelsNameTheLabelsFile(t *testing.T) {
	rt := testutil.Runtime(t)
	dir := t.TempDir()
	for name, body := range map[string]string{
		"range.csv": "label\n1\n12\n0\n",
		"frac.csv":  "label\n1\n2\n0.5\n",
	} {
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		spec := fmnistSpec(t, 3)
		spec.LabelsPath = path
		_, err := Run(context.Background(), rt, Request{Model: Model{Path: testutil.RepoFile(t, "testdata/fmnist/mlp.onnx")}, Data: spec})
		var le *LabelError
		if !errors.As(err, &le) || !strings.HasPrefix(err.Error(), "labels "+path+": label ") {
			t.Errorf("%s: %v", name, err)
		}
	}
}
