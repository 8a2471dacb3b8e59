package root

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mlops-dev/mlops/internal/testutil"
)

// TestTuneCtrlCRetrainTrial: Ctrl-C during an in-process retrain: trial stops training at the
// next batch, records the trial as interrupted (re-run on resume), writes no model, pushes
// nothing despite --push, and exits 130; the journal loads cleanly afterwards.
func TestTuneCtrlCRetrainTrial(t *testing.T) {
	fmnist := testutil.RepoFile(t, "testdata/fmnist")
	dir := t.TempDir()
	study := `version: 1
study: sig
objectives: [{metric: val_accuracy, direction: maximize}]
parameters: {lr: {type: float, low: 1.0e-4, high: 0.01, log: true}}
budget: {trials: 3}
trial:
  retrain:
    model: ` + fmnist + `/mlp.onnx
    data: ` + fmnist + `/x_test.npy
    labels: ` + fmnist + `/y_test.npy
    val-split: 0.2
    epochs: 50
    lr: "${lr}"
`
	if err := os.WriteFile(filepath.Join(dir, "study.yaml"), []byte(study), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("mlops", "tune", "run", "study.yaml", "--push", "fmnist")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "MLOPS_REGISTRY=file://"+filepath.Join(dir, "registry"))
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill() })
	journal := filepath.Join(dir, "sig.jsonl")
	for deadline := time.Now().Add(60 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		if b, _ := os.ReadFile(journal); bytes.Contains(b, []byte(`"op":"start"`)) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("trial 0 did not start")
		}
	}
	time.Sleep(500 * time.Millisecond) // into the training loop
	cmd.Process.Signal(os.Interrupt)
	if code := exitCode(t, cmd); code != 130 {
		t.Fatalf("exit %d, want 130\n%s", code, stderr.String())
	}
	out, err := exec.Command("mlops", "tune", "status", filepath.Join(dir, "study.yaml"), "--output", "json").Output()
	if err != nil {
		t.Fatalf("the journal does not load after Ctrl-C: %v", err)
	}
	var st struct {
		Trials map[string]int
	}
	json.Unmarshal(out, &st)
	if st.Trials["failed"] != 1 || st.Trials["running"] != 0 || st.Trials["complete"] != 0 {
		t.Fatalf("after Ctrl-C: %s", out)
	}
	if _, err := os.Stat(filepath.Join(dir, "sig.trials", "trial-00000", "model.onnx")); err == nil {
		t.Fatal("an interrupted trial wrote its model")
	}
	ls := exec.Command("mlops", "ls", "--output", "json")
	ls.Env = cmd.Env
	if b, _ := ls.CombinedOutput(); strings.Contains(string(b), `"fmnist"`) {
		t.Fatalf("an interrupted run pushed: %s", b)
	}
}
