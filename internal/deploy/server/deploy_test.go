package server

import (
	"os"
	"os/exec"
	"regexp"
	"strings"
	"testing"
)

// TestDeployFilesUseExposedMetrics keeps deploy/ (dashboard, alert rules)
// in step with the metric names the server actually exposes.
func TestDeployFilesUseExposedMetrics(t *testing.T) {
	ts, _, _ := newTestServer(t, Config{})
	// one request of each kind so every labelled series exists
	do(t, "POST", ts.URL+"/v2/models/scale/infer", []byte(`{"inputs":[{"name":"x","shape":[1,4],"datatype":"FP32","data":[1,2,3,4]}]}`), nil)
	_, _, exposition := do(t, "GET", ts.URL+"/metrics", nil, nil)
	name := regexp.MustCompile(`mlops_serve_[a-z_]+`)
	for _, f := range []string{"../../../deploy/prometheus/alerts.yml", "../../../deploy/grafana/mlops-serve.json"} {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		used := name.FindAllString(string(b), -1)
		if len(used) == 0 {
			t.Fatalf("%s uses no mlops_serve metric", f)
		}
		for _, m := range used {
			if !strings.Contains(string(exposition), "# TYPE "+strings.TrimSuffix(strings.TrimSuffix(strings.TrimSuffix(m, "_bucket"), "_sum"), "_count")+" ") {
				t.Errorf("%s uses %s, which the server does not expose", f, m)
			}
		}
	}
	if promtool, err := exec.LookPath("promtool"); err == nil {
		if out, err := exec.Command(promtool, "check", "rules", "../../../deploy/prometheus/alerts.yml").CombinedOutput(); err != nil {
			t.Fatalf("promtool: %v\n%s", err, out)
		}
	}
}
