package ortbackend

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/mlops-dev/mlops/internal/deploy/engine"
	"github.com/mlops-dev/mlops/internal/deploy/oip"
	"github.com/mlops-dev/mlops/internal/deploy/server"
	"github.com/mlops-dev/mlops/internal/onnx"
	"github.com/mlops-dev/mlops/internal/runtime"
	"github.com/mlops-dev/mlops/internal/testutil"
)

const (
	mlpPath = "../../../testdata/fmnist/mlp.onnx"
	cnnPath = "../../../testdata/fmnist/cnn.onnx"
)

// openRuntime skips without ONNX Runtime, or fails with MLOPS_REQUIRE_ORT=1
// (make test), so CI never silently skips the integration tests.
func openRuntime(t testing.TB) *runtime.Runtime { return testutil.Runtime(t) }

// newVersionOf writes a copy of src whose bytes differ (a new doc string),
// so it resolves to a new version with the same behaviour. temp + rename,
// as a registry pull or a deploy would.
func newVersionOf(t testing.TB, src, dst string, n int) {
	b, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	m, err := onnx.Decode(b)
	if err != nil {
		t.Fatal(err)
	}
	m.Proto.DocString = proto.String(fmt.Sprintf("version %d", n))
	out, err := proto.Marshal(m.Proto)
	if err != nil {
		t.Fatal(err)
	}
	tmp := dst + ".tmp"
	if err := os.WriteFile(tmp, out, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, dst); err != nil {
		t.Fatal(err)
	}
}

type fixture struct {
	url    string
	eng    *engine.Engine
	loader *Loader
	model  string
}

func serve(t testing.TB, opts engine.Options) *fixture {
	t.Helper()
	return serveModel(t, mlpPath, opts)
}

// serveModel serves a copy of src as model "fmnist" behind an httptest server.
func serveModel(t testing.TB, src string, opts engine.Options) *fixture {
	t.Helper()
	rt := openRuntime(t)
	dir := t.TempDir()
	model := filepath.Join(dir, filepath.Base(src))
	newVersionOf(t, src, model, 1)
	l := &Loader{Runtime: rt, Session: runtime.SessionOptions{IntraOpThreads: 1}}
	var eng *engine.Engine
	m := server.NewMetrics(func() *engine.Engine { return eng })
	opts.Observer = m
	eng = engine.New(l, opts)
	if err := eng.Add(context.Background(), engine.Spec{Name: "fmnist", Ref: model}); err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(server.New(server.Config{Engine: eng, Metrics: m}).Handler())
	t.Cleanup(func() { ts.Close(); eng.Close() })
	return &fixture{url: ts.URL, eng: eng, loader: l, model: model}
}

func images(rng *rand.Rand, n int) []float32 {
	v := make([]float32, n*784)
	for i := range v {
		v[i] = rng.Float32()
	}
	return v
}

func post(client *http.Client, url string, body []byte, hl int) (int, []byte, error) {
	req, _ := http.NewRequest("POST", url, bytes.NewReader(body))
	if hl >= 0 {
		req.Header.Set(oip.HeaderContentLength, fmt.Sprint(hl))
	}
	resp, err := client.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if hl := resp.Header.Get(oip.HeaderContentLength); hl != "" && resp.StatusCode == 200 {
		var n int
		fmt.Sscan(hl, &n)
		r, derr := oip.DecodeResponse(b, n)
		if derr != nil {
			return resp.StatusCode, nil, derr
		}
		return resp.StatusCode, r.Outputs[0].Data, err
	}
	return resp.StatusCode, b, err
}

func TestServedOutputsMatchInProcessORT(t *testing.T) {
	f := serve(t, engine.Options{Instances: 2, MaxBatchSize: 16, MaxQueueDelay: 2 * time.Millisecond})
	rt := openRuntime(t)
	s, err := rt.NewSession(f.model, runtime.SessionOptions{IntraOpThreads: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	md, err := f.eng.Metadata("fmnist", "")
	if err != nil || !md.Batchable || md.Inputs[0].Name != "input" || md.Outputs[0].Shape[1] != 10 {
		t.Fatalf("metadata %+v %v", md, err)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	var wg sync.WaitGroup
	for g := range 16 {
		x := images(rng, 1+g%3)
		rows := int64(1 + g%3)
		want, err := s.Run(context.Background(), map[string]*runtime.Tensor{"input": runtime.NewTensorFloat32([]int64{rows, 1, 28, 28}, x)}, nil)
		if err != nil {
			t.Fatal(err)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			in := oip.NewFP32("input", []int64{rows, 1, 28, 28}, x)
			body, hl, _ := oip.EncodeRequest(&oip.InferRequest{Inputs: []*oip.Tensor{in}, BinaryOutput: true}, g%2 == 0)
			st, data, err := post(http.DefaultClient, f.url+"/v2/models/fmnist/infer", body, hl)
			if err != nil || st != 200 {
				t.Errorf("request %d: %d %v", g, st, err)
				return
			}
			got := (&oip.Tensor{Datatype: oip.FP32, Data: data}).Float32s()
			exp, _ := runtime.ValuesOf[float32](want["logits"])
			if len(got) != len(exp) {
				t.Errorf("request %d: %d logits, want %d", g, len(got), len(exp))
				return
			}
			for i := range exp {
				// merged batches may take other kernel paths: allow float rounding only
				if math.Abs(float64(got[i]-exp[i])) > 1e-4*(1+math.Abs(float64(exp[i]))) {
					t.Errorf("request %d logit %d: served %g, in-process %g", g, i, got[i], exp[i])
					return
				}
			}
		}()
	}
	wg.Wait()
}

// TestLoadWithReloads: concurrency 64 for at least 3 s on the real MLP while
// at least 5 new versions are loaded; no request may fail.
func TestLoadWithReloads(t *testing.T) {
	if testing.Short() {
		t.Skip("load test")
	}
	f := serve(t, engine.Options{Instances: 2, MaxBatchSize: 32, MaxQueueDelay: time.Millisecond, QueueSize: 1024})
	x := images(rand.New(rand.NewPCG(3, 4)), 1)
	body, hl, _ := oip.EncodeRequest(&oip.InferRequest{Inputs: []*oip.Tensor{oip.NewFP32("input", []int64{1, 1, 28, 28}, x)}}, true)
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	start := time.Now()
	var ok, failed atomic.Int64
	var wg sync.WaitGroup
	for range 64 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				st, b, err := post(client, f.url+"/v2/models/fmnist/infer", body, hl)
				if err != nil || st != 200 {
					if failed.Add(1) < 5 {
						t.Errorf("status %d err %v body %.200s", st, err, b)
					}
					continue
				}
				ok.Add(1)
			}
		}()
	}
	// a fixed number of reloads, however slow the machine, and at least 3 s of load
	reloads := 0
	for n := 2; n <= 6 || time.Since(start) < 3*time.Second; n++ {
		time.Sleep(300 * time.Millisecond)
		newVersionOf(t, mlpPath, f.model, n)
		if changed, err := f.eng.Load(context.Background(), "fmnist"); err != nil || !changed {
			t.Fatalf("reload %d: %v %v", n, changed, err)
		}
		reloads++
	}
	cancel()
	wg.Wait()
	secs := time.Since(start).Seconds()
	t.Logf("%d requests in %.1f s at concurrency 64 (%.0f/s), %d reloads, %d failed", ok.Load(), secs, float64(ok.Load())/secs, reloads, failed.Load())
	if failed.Load() != 0 || ok.Load() == 0 || reloads < 5 {
		t.Fatalf("%d ok, %d failed, %d reloads", ok.Load(), failed.Load(), reloads)
	}
}
