package ortbackend

import (
	"context"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mlops-dev/mlops/internal/deploy/engine"
	"github.com/mlops-dev/mlops/internal/deploy/engine/enginetest"
	"github.com/mlops-dev/mlops/internal/deploy/oip"
	"github.com/mlops-dev/mlops/internal/deploy/server"
	"github.com/mlops-dev/mlops/internal/onnx"
	"github.com/mlops-dev/mlops/internal/runtime"
	"github.com/mlops-dev/mlops/internal/testutil/testmodels"
)

// benchDuration is how long each load phase runs: 30 s under `make bench`.
var benchDuration = flag.Duration("serve.duration", 30*time.Second, "duration of each serve benchmark phase (go test -bench . ./internal/deploy/ortbackend -args -serve.duration=3s for a quick run)")

type loadResult struct {
	n        int
	failed   int
	p50, p99 time.Duration
	elapsed  time.Duration
}

func (r loadResult) rate() float64 { return float64(r.n) / r.elapsed.Seconds() }

// drive calls fn from c goroutines for d and collects latencies.
func drive(c int, d time.Duration, fn func() error) loadResult {
	var mu sync.Mutex
	var lat []time.Duration
	failed := 0
	var wg sync.WaitGroup
	start := time.Now()
	deadline := start.Add(d)
	for range c {
		wg.Add(1)
		go func() {
			defer wg.Done()
			local := make([]time.Duration, 0, 4096)
			bad := 0
			for time.Now().Before(deadline) {
				t0 := time.Now()
				if err := fn(); err != nil {
					bad++
					continue
				}
				local = append(local, time.Since(t0))
			}
			mu.Lock()
			lat = append(lat, local...)
			failed += bad
			mu.Unlock()
		}()
	}
	wg.Wait()
	r := loadResult{n: len(lat), failed: failed, elapsed: time.Since(start)}
	if len(lat) > 0 {
		slices.Sort(lat)
		r.p50, r.p99 = lat[len(lat)/2], lat[len(lat)*99/100]
	}
	return r
}

// BenchmarkServeVsInProcess compares HTTP serving (binary protocol, dynamic
// batching) with in-process ONNX Runtime on the same batch-1 inputs, at
// concurrency 1, 8 and 64, in the same run, for three models:
//
//   - mlp, cnn: the Fashion-MNIST models of testdata. They cost only ~15–25
//     µs per row in ONNX Runtime, less than one loopback HTTP round trip
//     (~36 µs here, client included, on the same 2 cores), so on these the
//     ratio measures the server's per-request cost, not batching's gain.
//   - encoder: a MiniLM-sized transformer encoder (testmodels.Encoder, 1.4 G
//     multiply-adds per sequence of 128), the size of model one serves in
//     production, where compute dominates and the ratio shows what the
//     server costs a real deployment.
//
// Both sides use single-threaded sessions: the server runs two instances
// (one per core), the in-process side one session called from c goroutines.
func BenchmarkServeVsInProcess(b *testing.B) {
	img := images(rand.New(rand.NewPCG(5, 6)), 1)
	small := engine.Options{Instances: 2, MaxBatchSize: 64, QueueSize: 4096}
	models := []benchModel{
		{"mlp", mlpPath, "input", []int64{1, 1, 28, 28}, img, small},
		{"cnn", cnnPath, "input", []int64{1, 1, 28, 28}, img, small},
	}
	enc, err := testmodels.Encoder(true)
	if err != nil {
		b.Fatal(err)
	}
	encPath := filepath.Join(b.TempDir(), "encoder.onnx")
	if err := enc.Save(encPath, onnx.SaveOptions{}); err != nil {
		b.Fatal(err)
	}
	models = append(models, benchModel{"encoder", encPath, "hidden",
		[]int64{1, testmodels.EncoderSeq, testmodels.EncoderHidden}, testmodels.EncoderInput(1),
		engine.Options{Instances: 2, MaxBatchSize: 8, QueueSize: 4096}})
	for _, m := range models {
		b.Run(m.name, func(b *testing.B) { benchServeVsInProcess(b, m) })
	}
}

// benchModel is one model of BenchmarkServeVsInProcess: its file, its one
// input with the batch-1 value every request sends, and how it is served.
type benchModel struct {
	name, path string
	input      string
	shape      []int64
	x          []float32
	opts       engine.Options
}

func benchServeVsInProcess(b *testing.B, m benchModel) {
	rt := openRuntime(b)
	s, err := rt.NewSession(m.path, runtime.SessionOptions{IntraOpThreads: 1})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	feed := map[string]*runtime.Tensor{m.input: runtime.NewTensorFloat32(m.shape, m.x)}
	f := serveModel(b, m.path, m.opts)
	body, hl, _ := oip.EncodeRequest(&oip.InferRequest{Inputs: []*oip.Tensor{oip.NewFP32(m.input, m.shape, m.x)}, BinaryOutput: true}, true)
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 128}}
	url := f.url + "/v2/models/fmnist/infer"
	for range b.N {
		for _, c := range []int{1, 8, 64} {
			inproc := drive(c, *benchDuration, func() error { _, err := s.Run(context.Background(), feed, nil); return err })
			served := drive(c, *benchDuration, func() error {
				st, _, err := post(client, url, body, hl)
				if err == nil && st != 200 {
					err = fmt.Errorf("status %d", st)
				}
				return err
			})
			b.Logf("c=%-2d in-process %8.0f/s p50 %8v p99 %8v | served %8.0f/s p50 %8v p99 %8v failed %d | served/in-process %.0f%%",
				c, inproc.rate(), inproc.p50, inproc.p99, served.rate(), served.p50, served.p99, served.failed, 100*served.rate()/inproc.rate())
			b.ReportMetric(served.rate(), fmt.Sprintf("served/s@c%d", c))
			b.ReportMetric(inproc.rate(), fmt.Sprintf("inproc/s@c%d", c))
			b.ReportMetric(100*served.rate()/inproc.rate(), fmt.Sprintf("pct_of_inproc@c%d", c))
			if served.failed != 0 {
				b.Errorf("c=%d: %d failed requests", c, served.failed)
			}
		}
	}
}

// BenchmarkServerOverhead measures the p50 of a JSON request through the
// whole HTTP stack to a model that does nothing (y = x on 4 floats): what
// the server adds to every request.
func BenchmarkServerOverhead(b *testing.B) {
	l := enginetest.NewLoader()
	l.Set("tiny", enginetest.Scale("1", 1, 4, 0))
	var eng *engine.Engine
	m := server.NewMetrics(func() *engine.Engine { return eng })
	eng = engine.New(l, engine.Options{Instances: 1, MaxBatchSize: 1, Observer: m})
	if err := eng.Add(context.Background(), engine.Spec{Name: "tiny", Ref: "tiny"}); err != nil {
		b.Fatal(err)
	}
	defer eng.Close()
	ts := httptest.NewServer(server.New(server.Config{Engine: eng, Metrics: m}).Handler())
	defer ts.Close()
	body := []byte(`{"inputs":[{"name":"x","shape":[1,4],"datatype":"FP32","data":[1,2,3,4]}]}`)
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 4}}
	// baseline: the same HTTP round trip to a handler that only reads the body and answers
	bare := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		w.Write([]byte(`{"model_name":"tiny","id":"","outputs":[{"name":"y","datatype":"FP32","shape":[1,4],"data":[1,2,3,4]}]}`))
	}))
	defer bare.Close()
	for range b.N {
		base := drive(1, *benchDuration, func() error { _, _, err := post(client, bare.URL, body, -1); return err })
		full := drive(1, *benchDuration, func() error { _, _, err := post(client, ts.URL+"/v2/models/tiny/infer", body, -1); return err })
		b.Logf("bare HTTP p50 %v, mlops serve p50 %v: server overhead %v (%.0f req/s at concurrency 1)", base.p50, full.p50, full.p50-base.p50, full.rate())
		b.ReportMetric(float64((full.p50 - base.p50).Microseconds()), "overhead_us_p50")
		b.ReportMetric(full.rate(), "req/s")
	}
}

func rssBytes() int64 {
	b, err := os.ReadFile("/proc/self/statm")
	if err != nil {
		return 0
	}
	f := strings.Fields(string(b))
	pages, _ := strconv.ParseInt(f[1], 10, 64)
	return pages * int64(os.Getpagesize())
}

// BenchmarkReloadRSS reloads a new version of the MLP in three blocks of 50
// under light load and reports resident memory growth per block; a leak of
// one session per reload would show as ~ model size x 50 in every block,
// allocator warm-up only in the first.
func BenchmarkReloadRSS(b *testing.B) {
	f := serve(b, engine.Options{Instances: 2, MaxBatchSize: 16, QueueSize: 256})
	x := images(rand.New(rand.NewPCG(7, 8)), 1)
	body, hl, _ := oip.EncodeRequest(&oip.InferRequest{Inputs: []*oip.Tensor{oip.NewFP32("input", []int64{1, 1, 28, 28}, x)}}, true)
	st, _ := os.Stat(mlpPath)
	n := 1
	reload := func() {
		n++
		newVersionOf(b, mlpPath, f.model, n)
		if _, err := f.eng.Load(context.Background(), "fmnist"); err != nil {
			b.Fatal(err)
		}
	}
	for range b.N {
		for range 5 { // settle allocator pools first
			reload()
		}
		ctx, cancel := context.WithCancel(context.Background())
		var wg sync.WaitGroup
		for range 4 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for ctx.Err() == nil {
					if st, _, err := post(http.DefaultClient, f.url+"/v2/models/fmnist/infer", body, hl); err != nil || st != 200 {
						b.Errorf("request during reloads: %d %v", st, err)
						return
					}
				}
			}()
		}
		start := rssBytes()
		for block := 1; block <= 3; block++ {
			before := rssBytes()
			for range 50 {
				reload()
			}
			after := rssBytes()
			b.Logf("reloads %3d-%3d: RSS %.1f -> %.1f MiB, growth %.1f MiB (model file %.1f MiB)", 50*block-49, 50*block,
				float64(before)/(1<<20), float64(after)/(1<<20), float64(after-before)/(1<<20), float64(st.Size())/(1<<20))
			b.ReportMetric(float64(after-before)/(1<<20), fmt.Sprintf("rss_growth_MiB/block%d", block))
		}
		b.ReportMetric(float64(rssBytes()-start)/(1<<20), "rss_growth_MiB/150reloads")
		cancel()
		wg.Wait()
	}
}
