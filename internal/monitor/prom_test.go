package monitor

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mlops-dev/mlops/internal/gate"
)

func sampleReport(t *testing.T) *Report {
	t.Helper()
	s := newScenario(t, 300, 300, 0.8, 150)
	r, err := Run(context.Background(), Request{Reference: s.ref, Current: s.logs, Labels: s.labels,
		Gates: []gate.Expr{{Metric: "accuracy", Op: gate.GE, Value: 0.9}}, Drift: DriftOptions{DriftShare: 0.3}, Now: func() time.Time { return t0.Add(3 * time.Hour) }})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func TestWriteTextfile(t *testing.T) {
	r := sampleReport(t)
	path := filepath.Join(t.TempDir(), "mlops.prom")
	if err := r.WriteTextfile(path, MetricsOptions{PerFeature: true}); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	text := string(b)
	for _, want := range []string{
		`mlops_monitor_drifted_features{model="tab"} 1`,
		`mlops_monitor_accuracy_ratio{model="tab"} 0.5`,
		`mlops_monitor_gate_passed{gate="accuracy>=0.9",model="tab"} 0`,
		`mlops_monitor_feature_drift{feature="x[0]",model="tab"} 1`,
		`mlops_monitor_feature_drift_score{feature="x[1]",method="ks",model="tab"}`,
		`mlops_monitor_last_run_timestamp_seconds{model="tab"} 1.7958708e+09`,
		"# TYPE mlops_monitor_dataset_drift gauge",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("textfile lacks %q:\n%s", want, text)
		}
	}
	if err := r.WriteTextfile(filepath.Join(t.TempDir(), "no", "such", "dir.prom"), MetricsOptions{}); err == nil {
		t.Error("writing into a missing folder: no error")
	}
}

func TestPushToGateway(t *testing.T) {
	r := sampleReport(t)
	var gotPath, gotBody, gotMethod string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		b, _ := io.ReadAll(req.Body)
		gotPath, gotBody, gotMethod = req.URL.Path, string(b), req.Method
		w.WriteHeader(http.StatusOK)
	}))
	defer srv.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := r.Push(ctx, srv.URL, srv.Client(), MetricsOptions{}); err != nil {
		t.Fatal(err)
	}
	if gotMethod != http.MethodPut || gotPath != "/metrics/job/mlops_monitor/model/tab" {
		t.Errorf("push went to %s %s", gotMethod, gotPath)
	}
	if !strings.Contains(gotBody, "mlops_monitor_dataset_drift") || strings.Contains(gotBody, "mlops_monitor_feature_drift_score") {
		t.Errorf("pushed body (protobuf-delimited) lacks the summary or has per-feature series: %q", gotBody)
	}
	failing := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		http.Error(w, "nope", http.StatusInternalServerError)
	}))
	defer failing.Close()
	if err := r.Push(ctx, failing.URL, failing.Client(), MetricsOptions{}); err == nil || !strings.Contains(err.Error(), "push metrics") {
		t.Errorf("gateway error not reported: %v", err)
	}
}
