package export

import (
	"context"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/mlops-dev/mlops/internal/onnx"
	"github.com/mlops-dev/mlops/internal/onnx/onnxpb"
	"github.com/mlops-dev/mlops/internal/runtime"
	"github.com/mlops-dev/mlops/internal/testutil"
	"github.com/mlops-dev/mlops/internal/testutil/corpus"
)

// corpusModels lists model.onnx files of the ONNX backend test corpus.
func corpusModels(t *testing.T, sets ...string) []string {
	t.Helper()
	root := corpus.Require(t)
	var out []string
	for _, s := range sets {
		m, _ := filepath.Glob(filepath.Join(root, s, "*", "model.onnx"))
		out = append(out, m...)
	}
	if len(out) == 0 {
		t.Fatalf("no model.onnx under %s for %v", root, sets)
	}
	sort.Strings(out)
	return out
}

// corpusFeeds reads test_data_set_0/input_N.pb as the Nth real input.
func corpusFeeds(m *onnx.Model, dir string) (map[string]*runtime.Tensor, error) {
	var names []string
	inits := map[string]bool{}
	for _, t := range m.Proto.Graph.Initializer {
		inits[t.GetName()] = true
	}
	for _, in := range m.Proto.Graph.Input {
		if !inits[in.GetName()] {
			names = append(names, in.GetName())
		}
	}
	feeds := map[string]*runtime.Tensor{}
	for i, name := range names {
		b, err := os.ReadFile(filepath.Join(dir, "test_data_set_0", fmt.Sprintf("input_%d.pb", i)))
		if err != nil {
			return nil, err
		}
		tp := &onnxpb.TensorProto{}
		if err := proto.Unmarshal(b, tp); err != nil {
			return nil, err
		}
		t := &runtime.Tensor{DataType: onnx.TypeOf(tp), Shape: append([]int64{}, tp.GetDims()...)}
		if t.DataType == onnx.String {
			s, err := onnx.Strings(tp)
			if err != nil {
				return nil, err
			}
			for _, v := range s {
				t.Strings = append(t.Strings, string(v))
			}
		} else if t.Data, err = onnx.RawBytes(nil, tp); err != nil {
			return nil, err
		}
		feeds[name] = t
	}
	return feeds, nil
}

func encodeRun(ctx context.Context, rt *runtime.Runtime, m *onnx.Model, feeds map[string]*runtime.Tensor) (map[string]*runtime.Tensor, error) {
	b, err := m.Encode()
	if err != nil {
		return nil, err
	}
	return runModel(ctx, rt, b, feeds)
}

// withinTolerance: |a-b| <= atol + rtol*|a| for every element.
func withinTolerance(devs []Deviation, ref map[string]*runtime.Tensor, atol, rtol float64) bool {
	for _, d := range devs {
		scale := 0.0
		if v, err := ref[d.Output].AsFloat32s(); err == nil {
			for _, x := range v {
				scale = math.Max(scale, math.Abs(float64(x)))
			}
		}
		if d.MaxAbs > atol+rtol*scale {
			return false
		}
	}
	return true
}

// TestCorpusTransforms runs --optimize and --fp16 over the ONNX backend
// corpus and compares ORT's outputs before and after. Optimisation must
// keep every model ORT runs within float tolerance; fp16 counts are logged
// (half precision legitimately changes results of some operator tests).
func TestCorpusTransforms(t *testing.T) {
	rt := testutil.Runtime(t)
	ctx := context.Background()
	sets := []string{"pytorch-converted", "pytorch-operator", "simple", "node"}
	if testing.Short() {
		sets = sets[:3]
	}
	models := corpusModels(t, sets...)
	type counts struct{ ran, transformed, loaded, matched int }
	var opt, half counts
	reasons := map[string]int{}
	for _, path := range models {
		name := filepath.Base(filepath.Dir(path))
		m, err := onnx.Load(path)
		if err != nil {
			continue
		}
		feeds, err := corpusFeeds(m, filepath.Dir(path))
		if err != nil {
			m.Close()
			continue
		}
		ref, err := encodeRun(ctx, rt, m, feeds)
		if err != nil {
			m.Close()
			continue // ORT cannot run the original either
		}
		var order []string
		for _, o := range m.Proto.Graph.Output {
			order = append(order, o.GetName())
		}
		// --optimize
		opt.ran++
		c := m.Clone()
		if _, err := optimize(ctx, rt, c, onnx.NewTensorStream(c, false)); err != nil {
			t.Errorf("%s: optimize: %v", name, err)
		} else if err := onnx.Check(c); err != nil {
			t.Errorf("%s: optimized model fails the checker: %v", name, err)
		} else {
			opt.transformed++
			got, err := encodeRun(ctx, rt, c, feeds)
			if err != nil {
				t.Errorf("%s: ORT cannot run the optimized model: %v", name, err)
			} else {
				opt.loaded++
				devs, err := compareOutputs(ref, got, order)
				if err == nil && withinTolerance(devs, ref, 1e-5, 1e-4) {
					opt.matched++
				} else {
					t.Errorf("%s: optimized outputs differ: %v %v", name, err, devs)
				}
			}
		}
		c.Close()
		// --fp16 --keep-io-types
		half.ran++
		c = m.Clone()
		if _, err := toFloat16(ctx, rt, c, onnx.NewTensorStream(c, false), FP16Options{KeepIOTypes: true}); err != nil {
			reasons[firstWords(err)]++
			t.Logf("%s: fp16: %v", name, err)
		} else if err := onnx.Check(c); err != nil {
			t.Errorf("%s: fp16 model fails the checker: %v", name, err)
		} else {
			half.transformed++
			got, err := encodeRun(ctx, rt, c, feeds)
			if err != nil {
				reasons["ORT: "+firstWords(err)]++
				t.Logf("%s: ORT cannot run the fp16 model: %v", name, err)
			} else {
				half.loaded++
				devs, err := compareOutputs(ref, got, order)
				if err == nil && withinTolerance(devs, ref, 1e-2, 1e-2) {
					half.matched++
				}
			}
		}
		c.Close()
		m.Close()
	}
	t.Logf("optimize: %d models ORT runs, %d transformed, %d load, %d match (atol 1e-5, rtol 1e-4)", opt.ran, opt.transformed, opt.loaded, opt.matched)
	t.Logf("fp16 (keep io types): %d models, %d converted, %d load in ORT, %d match within 1e-2", half.ran, half.transformed, half.loaded, half.matched)
	for r, n := range reasons {
		t.Logf("fp16 refused/failed %d× : %s", n, r)
	}
	if half.loaded < half.ran*8/10 {
		t.Errorf("only %d of %d fp16 models load in ORT", half.loaded, half.ran)
	}
}

func firstWords(err error) string {
	s := err.Error()
	if i := strings.Index(s, "\n"); i > 0 {
		s = s[:i]
	}
	if len(s) > 90 {
		s = s[:90]
	}
	return s
}
