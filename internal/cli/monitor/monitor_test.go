package monitor

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mlops-dev/mlops/internal/cli/cmdutil"
)

func parse(t *testing.T, args ...string) (*MonitorOptions, error) {
	t.Helper()
	ios, _, _, _ := cmdutil.Test()
	var got *MonitorOptions
	cmd := NewCmdMonitor(&cmdutil.Factory{IO: ios}, func(o *MonitorOptions) error { got = o; return nil })
	cmd.SetArgs(args)
	cmd.SetOut(ios.Out)
	cmd.SetErr(ios.ErrOut)
	err := cmd.Execute()
	return got, err
}

func TestFlags(t *testing.T) {
	o, err := parse(t, "--reference", "r.npy", "--current", "logs", "--labels", "l.csv", "--window", "30m",
		"--gate", "accuracy>=0.9", "--gate", "drift_share<0.5", "--fail-on-drift=false", "--method", "psi", "--push", "http://127.0.0.1:9091")
	if err != nil {
		t.Fatal(err)
	}
	if o.Reference != "r.npy" || o.Current != "logs" || o.Labels != "l.csv" || o.Window != 30*time.Minute ||
		len(o.Gates) != 2 || o.FailOnDrift || o.Method != "psi" || o.DriftShare != 0.5 || o.MaxFeatures != 20 {
		t.Errorf("options %+v", o)
	}
	if _, err := parse(t, "--current", "logs"); err == nil || !strings.Contains(err.Error(), "--reference is required") {
		t.Errorf("missing --reference: %v", err)
	}
	if _, err := parse(t, "--reference", "r", "--current", "c", "extra"); err == nil {
		t.Error("positional argument accepted")
	}
}

func TestCoreOptionsValidation(t *testing.T) {
	now := time.Date(2026, 11, 29, 0, 0, 0, 0, time.UTC)
	base := func() *MonitorOptions {
		return &MonitorOptions{Reference: "r", Current: "c", Window: time.Hour, Method: "auto", DriftShare: 0.5, Now: func() time.Time { return now }}
	}
	o := base()
	o.Since, o.Until = "24h", "2026-11-28T12:00:00Z"
	c, err := coreRequest(o)
	if err != nil {
		t.Fatal(err)
	}
	if !c.Since.Equal(now.Add(-24*time.Hour)) || c.Until.Hour() != 12 {
		t.Errorf("since %v until %v", c.Since, c.Until)
	}
	for name, mutate := range map[string]func(*MonitorOptions){
		"method":      func(o *MonitorOptions) { o.Method = "nope" },
		"window":      func(o *MonitorOptions) { o.Window = 0 },
		"threshold":   func(o *MonitorOptions) { o.Threshold = -1 },
		"drift share": func(o *MonitorOptions) { o.DriftShare = 1.5 },
		"gate":        func(o *MonitorOptions) { o.Gates = []string{"latency<3"} },
		"push":        func(o *MonitorOptions) { o.Push = "pushgateway:9091" },
		"since":       func(o *MonitorOptions) { o.Since = "last tuesday" },
		"order":       func(o *MonitorOptions) { o.Since, o.Until = "1h", "2h" },
	} {
		o := base()
		mutate(o)
		_, err := coreRequest(o)
		var fe *cmdutil.FlagError
		if !errors.As(err, &fe) {
			t.Errorf("%s: want a FlagError (exit 2), got %v", name, err)
		}
	}
}

// writeFixture writes a tiny reference CSV and payload logs whose x[0] is shifted by shift.
func writeFixture(t *testing.T, shift float64) (ref, logs string) {
	t.Helper()
	dir := t.TempDir()
	ref = filepath.Join(dir, "ref.csv")
	var sb strings.Builder
	sb.WriteString("a,b\n")
	for i := 0; i < 100; i++ {
		fmt.Fprintf(&sb, "%d,%d\n", i%50, (i*7)%50)
	}
	os.WriteFile(ref, []byte(sb.String()), 0o644)
	logs = filepath.Join(dir, "logs")
	os.MkdirAll(logs, 0o755)
	sb.Reset()
	for i := 0; i < 100; i++ {
		fmt.Fprintf(&sb, `{"ts":"2026-11-28T10:%02d:00Z","request_id":"r%d","model":"tab","inputs":[{"name":"x","datatype":"FP32","shape":[1,2],"data":[%v,%d]}],"outputs":[{"name":"y","datatype":"FP32","shape":[1,2],"data":[0.2,0.8]}]}`+"\n",
			i%60, i, float64(i%50)+shift, (i*7)%50)
	}
	os.WriteFile(filepath.Join(logs, "a.jsonl"), []byte(sb.String()), 0o644)
	return ref, logs
}

func runWith(t *testing.T, format cmdutil.Format, o *MonitorOptions) (string, string, error) {
	t.Helper()
	ios, _, out, errOut := cmdutil.Test()
	o.IO = ios
	o.Format = func() (cmdutil.Format, error) { return format, nil }
	o.Now = func() time.Time { return time.Date(2026, 11, 29, 0, 0, 0, 0, time.UTC) }
	if o.Window == 0 {
		o.Window = time.Hour
	}
	if o.Method == "" {
		o.Method = "auto"
	}
	if o.DriftShare == 0 {
		o.DriftShare = 0.5
	}
	o.FailOnDrift = true
	err := monitorRun(context.Background(), o)
	return out.String(), errOut.String(), err
}

func TestMonitorRun(t *testing.T) {
	ref, logs := writeFixture(t, 0)
	out, _, err := runWith(t, cmdutil.FormatTable, &MonitorOptions{Reference: ref, Current: logs})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out, "no dataset drift: 0 of 2 features drifted") {
		t.Errorf("table output:\n%s", out)
	}

	ref, logs = writeFixture(t, 20)
	dir := filepath.Dir(logs)
	prom, html := filepath.Join(dir, "m.prom"), filepath.Join(dir, "r.html")
	out, _, err = runWith(t, cmdutil.FormatJSON, &MonitorOptions{Reference: ref, Current: logs, Textfile: prom, Report: html})
	var ge *cmdutil.GateError
	if !errors.As(err, &ge) || cmdutil.ExitCode(err) != 3 || !strings.Contains(err.Error(), "dataset drift") {
		t.Fatalf("want a GateError (exit 3) for drift, got %v", err)
	}
	if !strings.Contains(out, `"dataset_drift": true`) {
		t.Errorf("json output:\n%s", out)
	}
	for _, p := range []string{prom, html} {
		if _, err := os.Stat(p); err != nil {
			t.Errorf("%s not written before exiting 3: %v", p, err)
		}
	}
	out, _, err = runWith(t, cmdutil.FormatMarkdown, &MonitorOptions{Reference: ref, Current: logs, Gates: []string{"drifted_features<=2"}})
	if err == nil || !strings.HasPrefix(out, "## Model monitoring: tab") || !strings.Contains(out, "`drifted_features<=2` | 1 | pass") {
		t.Errorf("markdown (err %v):\n%s", err, out)
	}
}
