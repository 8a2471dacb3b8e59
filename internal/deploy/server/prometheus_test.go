package server

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestPrometheusScrapesMetrics runs Debian's prometheus against a live
// server on 127.0.0.1 and reads the scraped series back through its HTTP API.
func TestPrometheusScrapesMetrics(t *testing.T) {
	bin, err := exec.LookPath("prometheus")
	if err != nil {
		t.Skip("prometheus binary not installed (apt-get install prometheus)")
	}
	ts, _, _ := newTestServer(t, Config{})
	for range 3 {
		do(t, "POST", ts.URL+"/v2/models/scale/infer", []byte(`{"inputs":[{"name":"x","shape":[1,4],"datatype":"FP32","data":[1,2,3,4]}]}`), nil)
	}
	target := strings.TrimPrefix(ts.URL, "http://")
	port := freePort(t)
	dir := t.TempDir()
	cfg := fmt.Sprintf("global:\n  scrape_interval: 1s\nscrape_configs:\n  - job_name: mlops\n    static_configs:\n      - targets: ['%s']\n", target)
	if err := os.WriteFile(filepath.Join(dir, "prometheus.yml"), []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, "--config.file="+filepath.Join(dir, "prometheus.yml"),
		"--storage.tsdb.path="+filepath.Join(dir, "data"), fmt.Sprintf("--web.listen-address=127.0.0.1:%d", port))
	var logs strings.Builder
	cmd.Stdout, cmd.Stderr = &logs, &logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()

	q := url.Values{"query": {`mlops_serve_requests_total{model="scale",outcome="success"}`}}
	api := fmt.Sprintf("http://127.0.0.1:%d/api/v1/query?%s", port, q.Encode())
	for ctx.Err() == nil {
		time.Sleep(500 * time.Millisecond)
		resp, err := http.Get(api)
		if err != nil {
			continue
		}
		var r struct {
			Status string
			Data   struct {
				Result []struct {
					Metric map[string]string
					Value  []any
				}
			}
		}
		err = json.NewDecoder(resp.Body).Decode(&r)
		resp.Body.Close()
		if err != nil || len(r.Data.Result) == 0 {
			continue
		}
		res := r.Data.Result[0]
		if res.Metric["version"] != "1" || res.Metric["job"] != "mlops" || res.Value[1] != "3" {
			t.Fatalf("scraped series %+v", res)
		}
		return
	}
	t.Fatalf("prometheus never returned the series; its log:\n%s", logs.String())
}

func freePort(t *testing.T) int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}
