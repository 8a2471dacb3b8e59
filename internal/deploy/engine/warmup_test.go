package engine_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/mlops-dev/mlops/internal/deploy/engine"
	"github.com/mlops-dev/mlops/internal/deploy/engine/enginetest"
	"github.com/mlops-dev/mlops/internal/deploy/oip"
)

func addWith(t *testing.T, l *enginetest.Loader, opts engine.Options, specs ...engine.Spec) (*engine.Engine, []error) {
	t.Helper()
	if opts.Instances == 0 {
		opts.Instances, opts.MaxBatchSize, opts.QueueSize = 1, 4, 16
	}
	e := engine.New(l, opts)
	t.Cleanup(e.Close)
	errs := make([]error, len(specs))
	for i, s := range specs {
		errs[i] = e.Add(context.Background(), s)
	}
	return e, errs
}

// A model that cannot run with 1 along its dynamic dimensions (Silero VAD's
// reflect Pad) loads: warm-up searches upward for the smallest shape that runs.
func TestWarmupFindsSmallestShapeThatRuns(t *testing.T) {
	l := enginetest.NewLoader()
	m := enginetest.Reflect("1", 4)
	l.Set("vad.onnx", m)
	e, errs := addWith(t, l, engine.Options{}, engine.Spec{Name: "vad", Ref: "vad.onnx"})
	if errs[0] != nil {
		t.Fatalf("load: %v", errs[0])
	}
	runs := m.RunShapes()
	if got := fmt.Sprint(runs); got != "[[[1 1]] [[1 2]] [[2 2]] [[1 4]]]" {
		t.Fatalf("warm-up tried %s; want [1 1], [1 2], [2 2], then [1 4] (batch kept at 1 first)", got)
	}
	if _, _, err := e.Infer(context.Background(), "vad", "", &oip.InferRequest{Inputs: []*oip.Tensor{
		oip.NewFP32("x", []int64{1, 8}, make([]float32, 8))}}); err != nil {
		t.Fatal(err)
	}
}

func TestWarmupShapeFromFlagAndModelHint(t *testing.T) {
	l := enginetest.NewLoader()
	flagged := enginetest.Reflect("1", 4)
	hinted := enginetest.Reflect("2", 4)
	hinted.Hints = map[string][]int64{"x": {1, 16}}
	l.Set("a.onnx", flagged)
	l.Set("b.onnx", hinted)
	_, errs := addWith(t, l, engine.Options{Warmup: engine.Warmup{Shapes: map[string][]int64{"a/x": {1, 32}, "x": {1, 2}}}},
		engine.Spec{Name: "a", Ref: "a.onnx"}, engine.Spec{Name: "b", Ref: "b.onnx"})
	if errs[0] != nil {
		t.Fatalf("a: %v", errs[0])
	}
	if got := fmt.Sprint(flagged.RunShapes()); got != "[[[1 32]]]" {
		t.Errorf("a warmed with %s, want only [1 32] (MODEL/INPUT wins over INPUT)", got)
	}
	// b's shape comes from the flag's INPUT entry, which wins over the
	// model's hint, and is the only one tried: it is what the user asked for.
	if errs[1] == nil || !strings.Contains(errs[1].Error(), "with x [1,2]") || !strings.Contains(errs[1].Error(), "Pad reflect") {
		t.Errorf("b: %v", errs[1])
	}
	if got := fmt.Sprint(hinted.RunShapes()); got != "[[[1 2]]]" {
		t.Errorf("b warmed with %s, want only [1 2]", got)
	}

	l2 := enginetest.NewLoader()
	hinted2 := enginetest.Reflect("3", 4)
	hinted2.Hints = map[string][]int64{"x": {1, 16}}
	l2.Set("c.onnx", hinted2)
	if _, errs := addWith(t, l2, engine.Options{}, engine.Spec{Name: "c", Ref: "c.onnx"}); errs[0] != nil {
		t.Fatal(errs[0])
	}
	if got := fmt.Sprint(hinted2.RunShapes()); got != "[[[1 16]]]" {
		t.Errorf("c warmed with %s, want the model's hint [1 16]", got)
	}
}

func TestWarmupShapeMustFitTheInput(t *testing.T) {
	l := enginetest.NewLoader()
	l.Set("m.onnx", enginetest.Scale("1", 1, 4, 0)) // x [-1, 4]
	for shape, want := range map[string]string{
		"1,4,1": "rank", "1,5": "dimension 1 must be 4", "9,4": "over the --max-dims limit of 8",
	} {
		dims, err := engine.ParseShape(shape, false)
		if err != nil {
			t.Fatal(err)
		}
		_, errs := addWith(t, l, engine.Options{Limits: engine.Limits{MaxDim: 8}, Warmup: engine.Warmup{Shapes: map[string][]int64{"m/x": dims}}},
			engine.Spec{Name: "m", Ref: "m.onnx"})
		if errs[0] == nil || !strings.Contains(errs[0].Error(), "--warmup-shape m/x="+shape) || !strings.Contains(errs[0].Error(), want) {
			t.Errorf("--warmup-shape m/x=%s: %v, want an error naming the flag and %q", shape, errs[0], want)
		}
	}
	// An entry for an input name without the model applies only where it
	// fits: another model's input of the same name is not broken by it.
	if _, errs := addWith(t, l, engine.Options{Warmup: engine.Warmup{Shapes: map[string][]int64{"x": {1, 512}}}},
		engine.Spec{Name: "m", Ref: "m.onnx"}); errs[0] != nil {
		t.Errorf("--warmup-shape x=1,512 on x [-1,4]: %v, want it ignored for this model", errs[0])
	}
}

// A model that fails on every shape gives up after a bounded search and says
// what to do.
func TestWarmupGivesUpWithAdvice(t *testing.T) {
	l := enginetest.NewLoader()
	m := enginetest.Reflect("1", 1)
	m.WarmErr = errors.New("kernel missing")
	l.Set("m.onnx", m)
	_, errs := addWith(t, l, engine.Options{}, engine.Spec{Name: "m", Ref: "m.onnx"})
	err := errs[0]
	for _, want := range []string{"kernel missing", "larger shapes", "--warmup-shape", "--no-warmup"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("error %v does not say %q", err, want)
		}
	}
	if n := len(m.RunShapes()); n > 30 {
		t.Errorf("warm-up ran %d times; the search must stay small", n)
	}
	for _, r := range m.RunShapes() {
		if n := r[0][0] * r[0][1]; n > 1<<22 {
			t.Errorf("warm-up tried %v (%d elements)", r[0], n)
		}
	}
}

func TestNoWarmupLoadsWithoutRunning(t *testing.T) {
	l := enginetest.NewLoader()
	m := enginetest.Reflect("1", 4)
	l.Set("m.onnx", m)
	e, errs := addWith(t, l, engine.Options{Warmup: engine.Warmup{Disabled: true}}, engine.Spec{Name: "m", Ref: "m.onnx"})
	if errs[0] != nil || len(m.RunShapes()) != 0 {
		t.Fatalf("load %v after %d runs; want no warm-up run", errs[0], len(m.RunShapes()))
	}
	_, _, err := e.Infer(context.Background(), "m", "", &oip.InferRequest{Inputs: []*oip.Tensor{oip.NewFP32("x", []int64{1, 2}, make([]float32, 2))}})
	if err == nil || !strings.Contains(err.Error(), "Pad reflect") {
		t.Fatalf("a too-short request: %v", err)
	}
}

// Silero VAD v5 names none of its dimensions: input [?, ?], state
// [2, ?, 128]. Growing only the sequence finds a shape with batch 1.
func TestWarmupUnnamedDimsGrowTheSequenceFirst(t *testing.T) {
	l := enginetest.NewLoader()
	m := enginetest.Reflect("1", 4)
	m.Inputs = []engine.TensorMeta{{Name: "input", Datatype: oip.FP32, Shape: []int64{-1, -1}},
		{Name: "state", Datatype: oip.FP32, Shape: []int64{2, -1, 128}}}
	l.Set("m.onnx", m)
	if _, errs := addWith(t, l, engine.Options{}, engine.Spec{Name: "m", Ref: "m.onnx"}); errs[0] != nil {
		t.Fatal(errs[0])
	}
	runs := m.RunShapes()
	if got := fmt.Sprint(runs[len(runs)-1]); got != "[[1 4] [2 1 128]]" {
		t.Fatalf("warm-up ran on %s after %v; want input [1 4], state [2 1 128]", got, runs)
	}
}

// The search keeps dimensions that share a name equal and stays within
// --max-dims.
func TestWarmupSearchNamedDimsAndLimits(t *testing.T) {
	l := enginetest.NewLoader()
	m := enginetest.Reflect("1", 6)
	m.Inputs = append(m.Inputs, engine.TensorMeta{Name: "state", Datatype: oip.FP32, Shape: []int64{2, -1, 8}, DimNames: []string{"", "batch", ""}})
	l.Set("m.onnx", m)
	_, errs := addWith(t, l, engine.Options{Limits: engine.Limits{Dims: map[string][]int64{"x": {-1, 5}}}}, engine.Spec{Name: "m", Ref: "m.onnx"})
	if errs[0] == nil {
		t.Fatal("a model that needs 6 samples loaded under a limit of 5")
	}
	for _, r := range m.RunShapes() {
		if r[0][1] > 5 {
			t.Errorf("warm-up tried x %v over the limit of 5", r[0])
		}
		if r[0][0] != r[1][1] {
			t.Errorf("warm-up gave batch %d to x and %d to state (both are \"batch\")", r[0][0], r[1][1])
		}
	}
}

func request2(name string, shape ...int64) *oip.InferRequest {
	n := int64(1)
	for _, d := range shape {
		n *= d
	}
	return &oip.InferRequest{Inputs: []*oip.Tensor{oip.NewFP32(name, shape, make([]float32, n))}}
}

func TestLimitsRefuseLargeDynamicDims(t *testing.T) {
	l := enginetest.NewLoader()
	l.Set("a.onnx", enginetest.Reflect("1", 1))
	l.Set("b.onnx", enginetest.Reflect("2", 1))
	e, errs := addWith(t, l, engine.Options{Limits: engine.Limits{MaxDim: 1000, MaxElements: 3000,
		Dims: map[string][]int64{"a/x": {4, 500}}}},
		engine.Spec{Name: "a", Ref: "a.onnx"}, engine.Spec{Name: "b", Ref: "b.onnx"})
	if errs[0] != nil || errs[1] != nil {
		t.Fatal(errs)
	}
	for _, c := range []struct {
		model string
		shape []int64
		want  string // "" = served
	}{
		{"a", []int64{4, 500}, ""},
		{"a", []int64{1, 501}, `input "x": dimension 1 is 501, over this server's limit of 500 (--max-dims a/x=4,500)`},
		{"a", []int64{5, 10}, `dimension 0 is 5, over this server's limit of 4 (--max-dims a/x=4,500)`},
		{"b", []int64{1, 1000}, ""},
		{"b", []int64{1, 6000}, `input "x": dimension 1 is 6000, over this server's limit of 1000 (--max-dims 1000)`},
		{"b", []int64{4, 1000}, `input "x": shape [4 1000] has 4000 elements, over this server's limit of 3000 per input (--max-elements)`},
	} {
		_, _, err := e.Infer(context.Background(), c.model, "", request2("x", c.shape...))
		var pe *oip.Error
		switch {
		case c.want == "" && err != nil:
			t.Errorf("%s %v: %v", c.model, c.shape, err)
		case c.want != "" && (!errors.As(err, &pe) || pe.Status != 400 || !strings.Contains(err.Error(), c.want)):
			t.Errorf("%s %v: %v, want 400 %q", c.model, c.shape, err, c.want)
		}
	}
}

func TestLimitsMustFitTheModel(t *testing.T) {
	l := enginetest.NewLoader()
	l.Set("m.onnx", enginetest.Scale("1", 1, 4, 0)) // x [-1, 4]
	for _, c := range []struct {
		dims []int64
		want string
	}{
		{[]int64{8}, "--max-dims m/x=8: gives 1 dimensions, but input \"x\" has shape [-1 4] (model \"m\")"},
		{[]int64{8, 2}, "caps dimension 1 at 2, below its fixed size 4"},
	} {
		_, errs := addWith(t, l, engine.Options{Limits: engine.Limits{Dims: map[string][]int64{"m/x": c.dims}}}, engine.Spec{Name: "m", Ref: "m.onnx"})
		if errs[0] == nil || !strings.Contains(errs[0].Error(), c.want) {
			t.Errorf("--max-dims m/x=%v: %v, want %q", c.dims, errs[0], c.want)
		}
		// Without the model name, it applies only to inputs it fits.
		if _, errs := addWith(t, l, engine.Options{Limits: engine.Limits{Dims: map[string][]int64{"x": c.dims}}}, engine.Spec{Name: "m", Ref: "m.onnx"}); errs[0] != nil {
			t.Errorf("--max-dims x=%v: %v, want it ignored for this model", c.dims, errs[0])
		}
	}
}

func TestParseShape(t *testing.T) {
	if d, err := engine.ParseShape(" 1, 512 ", false); err != nil || fmt.Sprint(d) != "[1 512]" {
		t.Errorf("ParseShape = %v, %v", d, err)
	}
	if d, err := engine.ParseShape("-1,4096", true); err != nil || fmt.Sprint(d) != "[-1 4096]" {
		t.Errorf("ParseShape wildcard = %v, %v", d, err)
	}
	for _, bad := range []string{"1,x", "0,3", "-1,3", "1,,2"} {
		if _, err := engine.ParseShape(bad, false); err == nil {
			t.Errorf("ParseShape(%q) accepted", bad)
		}
	}
}

// One model that fails to load does not stop the others: it is reported
// UNAVAILABLE with the reason, and its endpoints answer 503 with it.
func TestFailedModelIsUnavailableWhileOthersServe(t *testing.T) {
	l := enginetest.NewLoader()
	bad := enginetest.Reflect("1", 1)
	bad.WarmErr = errors.New("kernel missing")
	l.Set("bad.onnx", bad)
	l.Set("good.onnx", enginetest.Scale("1", 2, 4, 0))
	e, errs := addWith(t, l, engine.Options{}, engine.Spec{Name: "bad", Ref: "bad.onnx"}, engine.Spec{Name: "good", Ref: "good.onnx"})
	if errs[0] == nil || errs[1] != nil {
		t.Fatalf("load errors %v", errs)
	}
	if _, _, err := e.Infer(context.Background(), "good", "", request(1, 4)); err != nil {
		t.Fatal(err)
	}
	check := func(what string, err error) {
		t.Helper()
		var pe *oip.Error
		if !errors.As(err, &pe) || pe.Status != 503 || !strings.Contains(err.Error(), "failed to load") || !strings.Contains(err.Error(), "kernel missing") {
			t.Errorf("%s: %v, want 503 with the load failure", what, err)
		}
	}
	_, _, err := e.Infer(context.Background(), "bad", "", request2("x", 1, 4))
	check("infer", err)
	_, err = e.Metadata("bad", "")
	check("metadata", err)
	_, err = e.Ready("bad", "")
	check("ready", err)
	if idx := e.Unavailable(); len(idx) != 1 || idx[0].Name != "bad" || !strings.Contains(idx[0].Reason, "kernel missing") {
		t.Errorf("Unavailable() = %+v", idx)
	}
	if !e.AnyReady() || e.AllReady() {
		t.Errorf("AnyReady %v AllReady %v, want true, false", e.AnyReady(), e.AllReady())
	}
}

// Polling retries a model that failed to load once its content changes,
// and not before (a broken file is not re-opened every interval).
func TestPollRetriesFailedModelWhenItChanges(t *testing.T) {
	l := enginetest.NewLoader()
	l.Set("m.onnx", enginetest.Scale("1", 2, 4, 0))
	l.FailOpen("m.onnx", errors.New("truncated"))
	e, errs := addWith(t, l, engine.Options{}, engine.Spec{Name: "m", Ref: "m.onnx"})
	if errs[0] == nil {
		t.Fatal("load did not fail")
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go e.Poll(ctx, 2*time.Millisecond)
	time.Sleep(30 * time.Millisecond)
	if n := l.Opens.Load(); n != 0 {
		t.Fatalf("the unchanged broken version was opened %d more times", n)
	}
	l.Set("m.onnx", enginetest.Scale("2", 2, 4, 0))
	for deadline := time.Now().Add(10 * time.Second); !e.AllReady(); time.Sleep(2 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("the fixed version was not loaded by polling: %+v", e.Index())
		}
	}
	// Unloaded models stay unloaded under polling.
	if err := e.Unload("m"); err != nil {
		t.Fatal(err)
	}
	l.Set("m.onnx", enginetest.Scale("3", 2, 4, 0))
	time.Sleep(30 * time.Millisecond)
	if e.AnyReady() {
		t.Fatal("a poll loaded a model that was unloaded")
	}
}
