package serve

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mlops-dev/mlops/internal/cli/cmdutil"
	"github.com/mlops-dev/mlops/internal/deploy/engine/enginetest"
)

func TestFlagsReachOptions(t *testing.T) {
	ios, _, _, _ := cmdutil.Test()
	f := &cmdutil.Factory{IO: ios, Schema: &cmdutil.ConfigSchema{}}
	var got *ServeOptions
	cmd := NewCmdServe(f, func(o *ServeOptions) error { got = o; return nil })
	cmd.SetArgs([]string{"a.onnx", "b=x@3", "--addr", "0.0.0.0:9000", "--max-batch-size", "8", "--max-queue-delay", "2ms",
		"--canary", "b@4=10%", "--poll", "30s", "--log-sample", "0.1", "--instances", "3"})
	if err := cmd.Execute(); err != nil {
		t.Fatal(err)
	}
	if got.Addr != "0.0.0.0:9000" || got.MaxBatchSize != 8 || got.MaxQueueDelay != 2*time.Millisecond || got.Poll != 30*time.Second ||
		got.LogSample != 0.1 || got.Instances != 3 || len(got.Models) != 2 || got.Canary[0] != "b@4=10%" {
		t.Fatalf("options %+v", got)
	}
	if def := NewCmdServe(f, nil).Flag("addr").DefValue; def != "127.0.0.1:8080" {
		t.Fatalf("default addr %s, want loopback", def)
	}
}

func TestBuildSpecs(t *testing.T) {
	specs, err := buildSpecs([]string{"dir/model.onnx", "other=./x.onnx", "fmnist@production"}, []string{"fmnist@4=12.5%"})
	if err != nil {
		t.Fatal(err)
	}
	if specs[0].Name != "model" || specs[1].Name != "other" || specs[1].Ref != "./x.onnx" || specs[2].Name != "fmnist" ||
		specs[2].CanaryRef != "fmnist@4" || specs[2].CanaryPercent != 12.5 {
		t.Fatalf("specs %+v", specs)
	}
	for _, c := range []struct {
		models, canary []string
		want           string
	}{
		{[]string{"a.onnx", "x/a.onnx"}, nil, `two models are named "a"`},
		{[]string{"a.onnx"}, []string{"b@2=10%"}, `model "b", which is not served`},
		{[]string{"a@1"}, []string{"a@2=150%"}, "between 0 and 100"},
		{[]string{"a@1"}, []string{"a@2"}, "want REF=PERCENT%"},
		{[]string{"n="}, nil, "nothing after '='"},
	} {
		_, err := buildSpecs(c.models, c.canary)
		if err == nil || !strings.Contains(err.Error(), c.want) || cmdutil.ExitCode(err) != cmdutil.ExitUsage {
			t.Errorf("%v %v: got %v, want usage error containing %q", c.models, c.canary, err, c.want)
		}
	}
}

func startServe(t *testing.T, o *ServeOptions) (url string, stop func() error) {
	t.Helper()
	ios, _, _, errOut := cmdutil.Test()
	o.IO = ios
	o.Addr = "127.0.0.1:0"
	o.AddrFile = filepath.Join(t.TempDir(), "addr")
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- serveRun(ctx, o) }()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		if b, err := os.ReadFile(o.AddrFile); err == nil {
			return "http://" + strings.TrimSpace(string(b)), func() error {
				cancel()
				select {
				case err := <-done:
					return err
				case <-time.After(30 * time.Second):
					t.Fatalf("serve did not stop; log:\n%s", errOut)
					return nil
				}
			}
		}
		select {
		case err := <-done:
			t.Fatalf("serve exited: %v\n%s", err, errOut)
		case <-time.After(10 * time.Millisecond):
		}
	}
	cancel()
	t.Fatalf("serve never wrote its address; log:\n%s", errOut)
	return "", nil
}

// TestShutdownAnswersEveryAcceptedRequest: cancel (SIGTERM) while 32
// clients are mid-request; every request the server accepted gets a 200,
// and serve returns nil (exit 0).
func TestShutdownAnswersEveryAcceptedRequest(t *testing.T) {
	l := enginetest.NewLoader()
	l.Set("m.onnx", enginetest.Scale("1", 2, 1, 50*time.Millisecond))
	payloads := t.TempDir()
	url, stop := startServe(t, &ServeOptions{Loader: l, Models: []string{"m=m.onnx"}, Instances: 2, MaxBatchSize: 64,
		QueueSize: 256, MaxRequestBytes: 1 << 20, ShutdownTimeout: 10 * time.Second, LogLevel: "info",
		LogPayloads: payloads, LogSample: 1, ReadTimeout: 5 * time.Second, WriteTimeout: 5 * time.Second})
	body := []byte(`{"id":"q","inputs":[{"name":"x","shape":[1,1],"datatype":"FP32","data":[1]}]}`)
	var sent, answered, refused atomic.Int64
	var bad atomic.Int64
	var wg sync.WaitGroup
	for range 32 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
			for range 20 {
				sent.Add(1)
				resp, err := client.Post(url+"/v2/models/m/infer", "application/json", bytes.NewReader(body))
				if err != nil {
					if refused.Add(1) == 1 {
						t.Logf("first refusal: %v", err)
					}
					return
				}
				b, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if resp.StatusCode != 200 || !strings.Contains(string(b), `"data":[2]`) {
					bad.Add(1)
					t.Errorf("accepted request answered %d %s", resp.StatusCode, b)
					return
				}
				answered.Add(1)
			}
		}()
	}
	for deadline := time.Now().Add(10 * time.Second); answered.Load() < 32 && time.Now().Before(deadline); {
		time.Sleep(5 * time.Millisecond)
	}
	if err := stop(); err != nil {
		t.Fatalf("serve returned %v after SIGTERM, want nil (exit 0)", err)
	}
	wg.Wait()
	t.Logf("sent %d, answered %d, refused after shutdown %d", sent.Load(), answered.Load(), refused.Load())
	if bad.Load() != 0 || answered.Load() == 0 || refused.Load() == 0 {
		t.Fatalf("answered %d, refused %d, bad %d", answered.Load(), refused.Load(), bad.Load())
	}
	files, _ := filepath.Glob(filepath.Join(payloads, "m", "*", "*", "*", "*", "*.jsonl"))
	if len(files) == 0 {
		t.Fatal("no payload log written on shutdown")
	}
}

func TestAuthTokenFileAndBadFlags(t *testing.T) {
	l := enginetest.NewLoader()
	l.Set("m.onnx", enginetest.Scale("1", 2, 1, 0))
	tok := filepath.Join(t.TempDir(), "token")
	os.WriteFile(tok, []byte("s3cret\n"), 0o600)
	url, stop := startServe(t, &ServeOptions{Loader: l, Models: []string{"m=m.onnx"}, MaxBatchSize: 1, QueueSize: 4,
		MaxRequestBytes: 1 << 20, ShutdownTimeout: time.Second, LogLevel: "debug", AuthTokenFile: tok})
	resp, err := http.Get(url + "/v2/models/m")
	if err != nil || resp.StatusCode != 401 {
		t.Fatalf("no token: %v %v", resp, err)
	}
	req, _ := http.NewRequest("GET", url+"/v2/models/m", nil)
	req.Header.Set("Authorization", "Bearer s3cret")
	if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != 200 {
		t.Fatalf("with token: %v %v", resp, err)
	}
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	ios, _, _, _ := cmdutil.Test()
	err = serveRun(context.Background(), &ServeOptions{IO: ios, Loader: l, Models: []string{"m=m.onnx"}, TLSCert: "c.pem", MaxBatchSize: 1, QueueSize: 1, MaxRequestBytes: 1, LogLevel: "info"})
	if cmdutil.ExitCode(err) != cmdutil.ExitUsage {
		t.Fatalf("--tls-cert without --tls-key: %v", err)
	}
	err = serveRun(context.Background(), &ServeOptions{IO: ios, Loader: l, Models: []string{"m=missing.onnx"}, MaxBatchSize: 1, QueueSize: 1, MaxRequestBytes: 1, LogLevel: "info", Addr: "127.0.0.1:0"})
	if err == nil || !strings.Contains(err.Error(), "model m") || cmdutil.ExitCode(err) != cmdutil.ExitError {
		t.Fatalf("missing model: %v", err)
	}
}
