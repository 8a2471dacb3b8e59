package serve

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/mlops-dev/mlops/internal/cli/cmdutil"
	"github.com/mlops-dev/mlops/internal/deploy/engine/enginetest"
)

func TestWarmupAndLimitFlags(t *testing.T) {
	ios, _, _, _ := cmdutil.Test()
	f := &cmdutil.Factory{IO: ios, Schema: &cmdutil.ConfigSchema{}}
	var got *ServeOptions
	cmd := NewCmdServe(f, func(o *ServeOptions) error { got = o; return nil })
	cmd.SetArgs([]string{"a.onnx", "--warmup-shape", "vad/input=1,576", "--warmup-shape", "state=2,1,128",
		"--max-dims", "4096", "--max-dims", "input=-1,16000", "--max-elements", "1000000", "--strict-readiness", "--cpu-arena", "off"})
	if err := cmd.Execute(); err != nil {
		t.Fatal(err)
	}
	w, err := got.warmup()
	if err != nil || fmt.Sprint(w.Shapes) != "map[state:[2 1 128] vad/input:[1 576]]" || w.Disabled {
		t.Fatalf("warmup %+v %v", w, err)
	}
	l, err := got.limits()
	if err != nil || l.MaxDim != 4096 || fmt.Sprint(l.Dims) != "map[input:[-1 16000]]" || l.MaxElements != 1000000 {
		t.Fatalf("limits %+v %v", l, err)
	}
	if !got.StrictReadiness || got.CPUArena != "off" {
		t.Fatalf("options %+v", got)
	}
	for _, c := range []struct {
		opts ServeOptions
		want string
	}{
		{ServeOptions{WarmupShapes: []string{"input=1,0"}}, `--warmup-shape "input=1,0": dimension 0 must be positive`},
		{ServeOptions{WarmupShapes: []string{"1,512"}}, "want [MODEL/]INPUT=DIMS"},
		{ServeOptions{WarmupShapes: []string{"x=1"}, NoWarmup: true}, "contradict"},
		{ServeOptions{MaxDims: []string{"0"}}, `--max-dims "0": want a positive number`},
		{ServeOptions{MaxDims: []string{"input=1,x"}}, `--max-dims "input=1,x": dimension "x" is not a whole number`},
		{ServeOptions{MaxElements: -1}, "--max-elements -1"},
		{ServeOptions{CPUArena: "big"}, "--cpu-arena"},
	} {
		o := c.opts
		o.MaxBatchSize, o.QueueSize, o.MaxRequestBytes, o.LogLevel, o.Addr = 1, 1, 1, "info", "127.0.0.1:0"
		err := o.validate()
		if err == nil || !strings.Contains(err.Error(), c.want) || cmdutil.ExitCode(err) != cmdutil.ExitUsage {
			t.Errorf("%+v: %v, want a usage error with %q", c.opts, err, c.want)
		}
	}
}

func get(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// One model that cannot be loaded used to stop the whole server; now the
// others serve and serve fails only when no model loads.
func TestOneBadModelDoesNotStopTheOthers(t *testing.T) {
	l := enginetest.NewLoader()
	l.Set("good.onnx", enginetest.Scale("1", 2, 4, 0))
	bad := enginetest.Reflect("1", 1)
	bad.WarmErr = errors.New("Pad reflect requires axis length >= 2")
	l.Set("bad.onnx", bad)
	url, stop := startServe(t, &ServeOptions{Loader: l, Models: []string{"vad=bad.onnx", "good=good.onnx"}, MaxBatchSize: 1, QueueSize: 4,
		MaxRequestBytes: 1 << 20, ShutdownTimeout: time.Second, LogLevel: "info"})
	if st, b := get(t, url+"/v2/health/ready"); st != 200 {
		t.Errorf("ready: %d %s", st, b)
	}
	if st, b := get(t, url+"/v2/models/vad"); st != 503 || !strings.Contains(b, "Pad reflect") {
		t.Errorf("vad metadata: %d %s", st, b)
	}
	if st, b := get(t, url+"/v2/models/good"); st != 200 {
		t.Errorf("good metadata: %d %s", st, b)
	}
	if err := stop(); err != nil {
		t.Fatal(err)
	}

	ios, _, _, _ := cmdutil.Test()
	err := serveRun(context.Background(), &ServeOptions{IO: ios, Loader: l, Models: []string{"vad=bad.onnx", "other=bad.onnx"}, MaxBatchSize: 1,
		QueueSize: 1, MaxRequestBytes: 1, LogLevel: "info", Addr: "127.0.0.1:0"})
	if err == nil || !strings.Contains(err.Error(), "model vad") || !strings.Contains(err.Error(), "model other") || cmdutil.ExitCode(err) != cmdutil.ExitError {
		t.Fatalf("no model loads: %v, want exit 1 naming both", err)
	}
}
