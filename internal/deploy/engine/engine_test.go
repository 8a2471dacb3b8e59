package engine_test

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mlops-dev/mlops/internal/deploy/engine"
	"github.com/mlops-dev/mlops/internal/deploy/engine/enginetest"
	"github.com/mlops-dev/mlops/internal/deploy/oip"
)

func request(rows int, width int64) *oip.InferRequest {
	v := make([]float32, rows*int(width))
	for i := range v {
		v[i] = float32(i)
	}
	return &oip.InferRequest{ID: "r", Inputs: []*oip.Tensor{oip.NewFP32("x", []int64{int64(rows), width}, v)}}
}

func newEngine(t *testing.T, l *enginetest.Loader, spec engine.Spec) *engine.Engine {
	t.Helper()
	e := engine.New(l, engine.Options{Instances: 2, MaxBatchSize: 8, MaxQueueDelay: time.Millisecond, QueueSize: 128})
	if err := e.Add(context.Background(), spec); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(e.Close)
	return e
}

func TestReloadUnderLoadFailsNothingAndClosesOld(t *testing.T) {
	l := enginetest.NewLoader()
	l.Set("m.onnx", enginetest.Scale("1", 1, 4, 200*time.Microsecond))
	e := newEngine(t, l, engine.Spec{Name: "m", Ref: "m.onnx"})
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	var ok, failed atomic.Int64
	versions := sync.Map{}
	for range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				resp, info, err := e.Infer(context.Background(), "m", "", request(1, 4))
				if err != nil {
					failed.Add(1)
					t.Errorf("request failed during reload: %v", err)
					return
				}
				versions.Store(info.Version, true)
				if resp.ModelVersion != info.Version {
					t.Errorf("response version %q, info %q", resp.ModelVersion, info.Version)
				}
				ok.Add(1)
			}
		}()
	}
	for i := 2; i <= 20; i++ {
		l.Set("m.onnx", enginetest.Scale(strconv.Itoa(i), float32(i), 4, 200*time.Microsecond))
		if changed, err := e.Load(context.Background(), "m"); err != nil || !changed {
			t.Fatalf("reload %d: changed=%v err=%v", i, changed, err)
		}
		time.Sleep(5 * time.Millisecond)
	}
	cancel()
	wg.Wait()
	if failed.Load() != 0 || ok.Load() == 0 {
		t.Fatalf("%d ok, %d failed", ok.Load(), failed.Load())
	}
	if live := l.Live.Load(); live != 1 {
		t.Fatalf("%d backends open after 19 reloads, want 1 (old versions must be closed)", live)
	}
}

func TestFailedLoadKeepsOldVersion(t *testing.T) {
	l := enginetest.NewLoader()
	l.Set("m.onnx", enginetest.Scale("1", 2, 4, 0))
	e := newEngine(t, l, engine.Spec{Name: "m", Ref: "m.onnx"})
	l.Set("m.onnx", enginetest.Scale("2", 3, 4, 0))
	l.FailOpen("m.onnx", errors.New("truncated file"))
	if _, err := e.Load(context.Background(), "m"); err == nil || !strings.Contains(err.Error(), "truncated file") {
		t.Fatalf("load error %v", err)
	}
	bad := enginetest.Scale("3", 3, 4, 0)
	bad.WarmErr = errors.New("kernel missing")
	l.Set("m.onnx", bad)
	if _, err := e.Load(context.Background(), "m"); err == nil || !strings.Contains(err.Error(), "warm-up") {
		t.Fatalf("warm-up failure not reported: %v", err)
	}
	resp, info, err := e.Infer(context.Background(), "m", "", request(1, 4))
	if err != nil || info.Version != "1" || resp.Outputs[0].Float32s()[1] != 2 {
		t.Fatalf("old version not serving: %v %+v", err, info)
	}
	if l.Live.Load() != 1 {
		t.Fatalf("failed loads left %d backends open", l.Live.Load())
	}
}

func TestCanarySplitsTraffic(t *testing.T) {
	l := enginetest.NewLoader()
	l.Set("a.onnx", enginetest.Scale("1", 1, 4, 0))
	l.Set("b.onnx", enginetest.Scale("2", 1, 4, 0))
	e := newEngine(t, l, engine.Spec{Name: "m", Ref: "a.onnx", CanaryRef: "b.onnx", CanaryPercent: 20})
	canary := 0
	const n = 2000
	for range n {
		_, info, err := e.Infer(context.Background(), "m", "", request(1, 4))
		if err != nil {
			t.Fatal(err)
		}
		if info.Version == "2" {
			if info.Role != "canary" {
				t.Fatalf("role %q", info.Role)
			}
			canary++
		}
	}
	// 20% of 2000 = 400, sd ~18: 300..500 is > 5 sd either side.
	if canary < 300 || canary > 500 {
		t.Fatalf("canary got %d of %d requests, want about 20%%", canary, n)
	}
	if _, info, err := e.Infer(context.Background(), "m", "2", request(1, 4)); err != nil || info.Version != "2" {
		t.Fatalf("explicit version: %v %+v", err, info)
	}
	if vs, _ := e.Versions("m"); len(vs) != 2 {
		t.Fatalf("versions %v", vs)
	}
}

func TestValidationNamesInputAndExpectation(t *testing.T) {
	l := enginetest.NewLoader()
	l.Set("m.onnx", enginetest.Scale("1", 1, 4, 0))
	e := newEngine(t, l, engine.Spec{Name: "m", Ref: "m.onnx"})
	cases := []struct {
		req  *oip.InferRequest
		want string
	}{
		{request(1, 3), `input "x": expected shape [-1 4], got [1 3]`},
		{&oip.InferRequest{Inputs: []*oip.Tensor{{Name: "x", Datatype: oip.INT32, Shape: []int64{1, 4}, Data: make([]byte, 16)}}}, `input "x": expected datatype FP32, got INT32`},
		{&oip.InferRequest{Inputs: []*oip.Tensor{oip.NewFP32("z", []int64{1, 4}, make([]float32, 4))}}, `missing input "x"`},
		{&oip.InferRequest{Inputs: []*oip.Tensor{oip.NewFP32("x", []int64{4}, make([]float32, 4))}}, `expected shape [-1 4] (rank 2)`},
		{&oip.InferRequest{Inputs: request(1, 4).Inputs, Outputs: []oip.RequestedOutput{{Name: "nope"}}}, `unknown output "nope"`},
	}
	for _, c := range cases {
		_, _, err := e.Infer(context.Background(), "m", "", c.req)
		var pe *oip.Error
		if !errors.As(err, &pe) || pe.Status != 400 || !strings.Contains(err.Error(), c.want) {
			t.Errorf("got %v, want 400 containing %q", err, c.want)
		}
	}
	_, _, err := e.Infer(context.Background(), "nope", "", request(1, 4))
	var pe *oip.Error
	if !errors.As(err, &pe) || pe.Status != 404 {
		t.Errorf("unknown model: %v", err)
	}
}

func TestUnloadLoadAndIndex(t *testing.T) {
	l := enginetest.NewLoader()
	l.Set("m.onnx", enginetest.Scale("1", 1, 4, 0))
	e := newEngine(t, l, engine.Spec{Name: "m", Ref: "m.onnx"})
	if err := e.Unload("m"); err != nil {
		t.Fatal(err)
	}
	_, _, err := e.Infer(context.Background(), "m", "", request(1, 4))
	var pe *oip.Error
	if !errors.As(err, &pe) || pe.Status != 503 {
		t.Fatalf("after unload: %v", err)
	}
	if idx := e.Index(); len(idx) != 1 || idx[0].State != engine.StateUnavailable || e.AllReady() {
		t.Fatalf("index %+v", idx)
	}
	if l.Live.Load() != 0 {
		t.Fatal("unload did not close the backend")
	}
	if _, err := e.Load(context.Background(), "m"); err != nil {
		t.Fatal(err)
	}
	if idx := e.Index(); idx[0].State != engine.StateReady || idx[0].Version != "1" || !e.AllReady() {
		t.Fatalf("index %+v", idx)
	}
}

func TestPollPicksUpNewVersion(t *testing.T) {
	l := enginetest.NewLoader()
	l.Set("m@production", enginetest.Scale("1", 1, 4, 0))
	e := newEngine(t, l, engine.Spec{Name: "m", Ref: "m@production"})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan struct{})
	go func() { e.Poll(ctx, 5*time.Millisecond); close(done) }()
	l.FailOpen("m@production", errors.New("half-written")) // a failing poll must not stop polling
	l.Set("m@production", enginetest.Scale("2", 1, 4, 0))
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		if vs, _ := e.Versions("m"); vs[0] == "2" {
			cancel()
			<-done
			return
		}
		time.Sleep(2 * time.Millisecond)
	}
	t.Fatal("poll did not load version 2")
}

func TestStats(t *testing.T) {
	l := enginetest.NewLoader()
	l.Set("m.onnx", enginetest.Scale("1", 1, 4, 0))
	e := newEngine(t, l, engine.Spec{Name: "m", Ref: "m.onnx"})
	for range 3 {
		if _, _, err := e.Infer(context.Background(), "m", "", request(2, 4)); err != nil {
			t.Fatal(err)
		}
	}
	_, _, _ = e.Infer(context.Background(), "m", "", request(1, 3))
	st, err := e.Stats("m", "1")
	if err != nil {
		t.Fatal(err)
	}
	s := st[0]
	// warm-up runs outside the batcher, so only the 3 requests count
	if s.InferenceStats.Success.Count != 3 || s.InferenceStats.Fail.Count != 1 || s.InferenceCount != 6 || s.ExecutionCount != 3 {
		t.Fatalf("stats %+v", s)
	}
	if _, err := e.Stats("m", "9"); err == nil {
		t.Fatal("stats of a missing version")
	}
}
