package quant

import (
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"sort"
	"testing"

	"github.com/mlops-dev/mlops/internal/data"
	"github.com/mlops-dev/mlops/internal/infer"
	"github.com/mlops-dev/mlops/internal/onnx"
	"github.com/mlops-dev/mlops/internal/onnx/onnxpb"
	"github.com/mlops-dev/mlops/internal/runtime"
	"github.com/mlops-dev/mlops/internal/testutil/corpus"
	"google.golang.org/protobuf/proto"
)

// oneBatch is a data.Source with a single batch, for calibrating corpus
// models on their own test inputs.
type oneBatch struct {
	b    *data.Batch
	done bool
}

func (o *oneBatch) Next(context.Context) (*data.Batch, error) {
	if o.done {
		return nil, io.EOF
	}
	o.done = true
	return o.b, nil
}
func (o *oneBatch) Rows() int64              { return 1 }
func (o *oneBatch) Inputs() []data.InputInfo { return nil }
func (o *oneBatch) HasLabels() bool          { return false }
func (o *oneBatch) Close() error             { return nil }
func hasOp(g *onnxpb.GraphProto, ops ...string) bool {
	found := false
	walkNodes(g, func(n *onnxpb.NodeProto) {
		if contains(ops, n.GetOpType()) && n.GetDomain() == "" {
			found = true
		}
	})
	return found
}

// corpusInputs reads test_data_set_0/input_*.pb of a backend test case.
func corpusInputs(t *testing.T, dir string, m *onnx.Model) (map[string]*runtime.Tensor, *data.Batch) {
	files, _ := filepath.Glob(filepath.Join(dir, "test_data_set_0", "input_*.pb"))
	sort.Strings(files)
	var names []string
	inits := map[string]bool{}
	for _, i := range m.Proto.GetGraph().GetInitializer() {
		inits[i.GetName()] = true
	}
	for _, vi := range m.Proto.GetGraph().GetInput() {
		if !inits[vi.GetName()] {
			names = append(names, vi.GetName())
		}
	}
	if len(files) != len(names) {
		return nil, nil
	}
	feeds := map[string]*runtime.Tensor{}
	batch := &data.Batch{Rows: 1, Inputs: map[string]*data.Tensor{}}
	for i, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		tp := &onnxpb.TensorProto{}
		if err := proto.Unmarshal(b, tp); err != nil {
			return nil, nil
		}
		raw, err := onnx.RawBytes(nil, tp)
		if err != nil {
			return nil, nil
		}
		dt := onnx.TypeOf(tp)
		feeds[names[i]] = &runtime.Tensor{DataType: dt, Shape: tp.GetDims(), Data: raw}
		if d, ok := infer.DataType(dt); ok {
			batch.Inputs[names[i]] = &data.Tensor{DType: d, Shape: tp.GetDims(), Data: raw}
		}
		if batch.Inputs[names[i]] == nil {
			return nil, nil
		}
	}
	return feeds, batch
}

// TestBackendCorpus quantizes every model of the ONNX backend test corpus
// that has a Conv, MatMul or Gemm: dynamically when it has constant
// weights, statically (QDQ, calibrated on the case's own inputs) when its
// weights are graph inputs. Every result must load and run in ORT.
func TestBackendCorpus(t *testing.T) {
	rt := openRuntime(t)
	corpusRoot := corpus.Require(t)
	dirs, _ := filepath.Glob(filepath.Join(corpusRoot, "*", "test_*"))
	var candidates, dynamicOK, staticOK, rejected, opsetTooOld, notRunnable int
	var failed []string
	ctx := context.Background()
	for _, dir := range dirs {
		path := filepath.Join(dir, "model.onnx")
		m, err := onnx.Load(path)
		if err != nil {
			continue
		}
		if !hasOp(m.Proto.GetGraph(), "Conv", "MatMul", "Gemm") {
			m.Close()
			continue
		}
		name := filepath.Base(filepath.Dir(dir)) + "/" + filepath.Base(dir)
		fs, err := rt.NewSession(path, runtime.SessionOptions{IntraOpThreads: 1})
		if err != nil {
			t.Logf("%s: not counted, ORT cannot run the float model: %v", name, err)
			notRunnable++
			m.Close()
			continue
		}
		fs.Close()
		candidates++
		feeds, batch := corpusInputs(t, dir, m)
		_, err = Quantize(ctx, m, Options{Mode: Dynamic, Format: QDQ, WeightType: Int8, SymmetricWeights: true}, nil)
		mode := "dynamic"
		if errors.Is(err, ErrNothingToQuantize) && batch != nil {
			m.Close()
			m, _ = onnx.Load(path)
			opts := Options{Mode: Static, Format: QDQ, WeightType: Int8, ActivationType: Uint8, SymmetricWeights: true}
			ranges, _, cerr := Calibrate(ctx, rt, m, CalibrationTensors(m, opts), &oneBatch{b: batch}, CalibrationOptions{})
			if cerr != nil {
				failed = append(failed, name+": calibrate: "+cerr.Error())
				m.Close()
				continue
			}
			_, err = Quantize(ctx, m, opts, ranges)
			mode = "static"
		}
		if err != nil {
			if errors.Is(err, ErrOpsetTooOld) {
				// Conv (no ConvInteger) and static mode need opset 10: a clear
				// refusal is the specified behaviour.
				opsetTooOld++
				m.Close()
				continue
			}
			if errors.Is(err, ErrNothingToQuantize) {
				rejected++
				t.Logf("%s: %v", name, err)
			} else {
				failed = append(failed, name+": "+err.Error())
			}
			m.Close()
			continue
		}
		b, err := m.Encode()
		m.Close()
		if err != nil {
			failed = append(failed, name+": encode: "+err.Error())
			continue
		}
		s, err := rt.NewSession(b, runtime.SessionOptions{IntraOpThreads: 1})
		if err != nil {
			failed = append(failed, name+" ("+mode+"): ORT: "+err.Error())
			continue
		}
		if feeds != nil {
			var outs []string
			for _, o := range s.Outputs() {
				outs = append(outs, o.Name)
			}
			if _, err := s.Run(ctx, feeds, outs); err != nil {
				failed = append(failed, name+" ("+mode+"): run: "+err.Error())
				s.Close()
				continue
			}
		}
		s.Close()
		if mode == "dynamic" {
			dynamicOK++
		} else {
			staticOK++
		}
	}
	t.Logf("corpus: %d models with Conv/MatMul/Gemm that ORT runs (%d more it cannot): %d quantized dynamically, %d statically, all loaded and ran in ORT; %d refused for opset < 10; %d with nothing quantizable; %d failed",
		candidates, notRunnable, dynamicOK, staticOK, opsetTooOld, rejected, len(failed))
	if rejected > 0 {
		t.Errorf("%d models had nothing quantizable", rejected)
	}
	for _, f := range failed {
		t.Error(f)
	}
	if candidates == 0 {
		t.Fatal("no corpus model has Conv/MatMul/Gemm: corpus layout changed?")
	}
}
