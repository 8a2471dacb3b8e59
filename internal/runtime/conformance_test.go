package runtime

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/mlops-dev/mlops/internal/onnx"
	"github.com/mlops-dev/mlops/internal/onnx/onnxpb"
	"github.com/mlops-dev/mlops/internal/testutil/corpus"
)

// conformanceCounts is what TestConformanceRoundTrip reports.
type conformanceCounts struct {
	mu                                        sync.Mutex
	models, loaded, ran, nondeterministic, id int
	external                                  int            // saved copies with external data files
	notRunnable                               map[string]int // first error word → count, for the log
}

// TestConformanceRoundTrip runs every model of the ONNX backend corpus that
// ONNX Runtime can run, once as shipped and once after onnx.Load + Save into
// a temporary folder, on every test_data_set, and requires bit-identical
// outputs.
func TestConformanceRoundTrip(t *testing.T) {
	if testing.Short() {
		t.Skip("skipping the corpus run in -short mode")
	}
	corpusRoot := corpus.Require(t)
	var models []string
	for _, sub := range []string{"node", "pytorch-converted", "pytorch-operator", "simple"} {
		found, _ := filepath.Glob(filepath.Join(corpusRoot, sub, "*", "model.onnx"))
		models = append(models, found...)
	}
	if len(models) == 0 {
		t.Fatalf("no model.onnx under %s", corpusRoot)
	}
	sort.Strings(models)
	r := openRuntime(t)
	c := &conformanceCounts{notRunnable: map[string]int{}}
	work := make(chan string)
	var wg sync.WaitGroup
	for range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for path := range work {
				conformOne(t, r, path, c)
			}
		}()
	}
	for _, m := range models {
		work <- m
	}
	close(work)
	wg.Wait()
	t.Logf("ONNX backend corpus: %d models, %d loaded, %d ran in ONNX Runtime %s, %d identical after Load+Save "+
		"(%d nondeterministic excluded; %d copies saved with external data)",
		c.models, c.loaded, c.ran, r.Version(), c.id, c.nondeterministic, c.external)
	t.Logf("not runnable by ORT (first words of its error): %v", c.notRunnable)
	if c.ran == 0 {
		t.Error("no model ran")
	}
}

func conformOne(t *testing.T, r *Runtime, path string, c *conformanceCounts) {
	name := filepath.Base(filepath.Dir(filepath.Dir(path))) + "/" + filepath.Base(filepath.Dir(path))
	count := func(f func()) { c.mu.Lock(); f(); c.mu.Unlock() }
	count(func() { c.models++ })
	m, err := onnx.Load(path)
	if err != nil {
		t.Errorf("%s: onnx.Load: %v", name, err)
		return
	}
	// Save with every initializer of 64 bytes or more in an external file, so
	// the copy also exercises external data as ORT reads it.
	dir := t.TempDir()
	saved := filepath.Join(dir, "model.onnx")
	err = m.Save(saved, onnx.SaveOptions{External: onnx.ExternalAlways, Threshold: 64})
	m.Close()
	if err != nil {
		t.Errorf("%s: Save: %v", name, err)
		return
	}
	files, _ := os.ReadDir(dir)
	count(func() {
		c.loaded++
		if len(files) > 1 {
			c.external++
		}
	})

	opts := SessionOptions{IntraOpThreads: 1, InterOpThreads: 1}
	orig, err := r.NewSession(path, opts)
	if err != nil {
		count(func() { c.notRunnable[firstWords(err, path)]++ })
		return
	}
	defer orig.Close()
	copySess, err := r.NewSession(saved, opts)
	if err != nil {
		t.Errorf("%s: ORT loads the original but not the saved copy: %v", name, err)
		return
	}
	defer copySess.Close()

	for _, in := range orig.Inputs() {
		if in.DataType == onnx.Undefined {
			count(func() { c.notRunnable["non-tensor input (sequence/map/optional)"]++ })
			return
		}
	}
	sets, _ := filepath.Glob(filepath.Join(filepath.Dir(path), "test_data_set_*"))
	identical := true
	for _, set := range sets {
		inputs, err := readInputs(set, orig.Inputs())
		if err != nil {
			t.Errorf("%s: %v", name, err)
			return
		}
		want, err := orig.Run(context.Background(), inputs, nil)
		if err != nil {
			count(func() { c.notRunnable[firstWords(err, path)]++ })
			return
		}
		again, err := orig.Run(context.Background(), inputs, nil)
		if err != nil || !sameOutputs(want, again) {
			count(func() { c.ran++; c.nondeterministic++ })
			return
		}
		got, err := copySess.Run(context.Background(), inputs, nil)
		if err != nil {
			t.Errorf("%s %s: the original runs but the saved copy fails: %v", name, filepath.Base(set), err)
			identical = false
			continue
		}
		if !sameOutputs(want, got) {
			t.Errorf("%s %s: outputs of the saved copy differ from the original's", name, filepath.Base(set))
			identical = false
		}
	}
	count(func() {
		c.ran++
		if identical {
			c.id++
		}
	})
}

// readInputs reads input_N.pb files as the model's Nth input (or the input
// the TensorProto names).
func readInputs(set string, infos []TensorInfo) (map[string]*Tensor, error) {
	files, _ := filepath.Glob(filepath.Join(set, "input_*.pb"))
	sort.Slice(files, func(i, j int) bool { return inputIndex(files[i]) < inputIndex(files[j]) })
	out := map[string]*Tensor{}
	for i, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			return nil, err
		}
		tp := &onnxpb.TensorProto{}
		if err := proto.Unmarshal(b, tp); err != nil {
			return nil, fmt.Errorf("%s: %w", f, err)
		}
		if i >= len(infos) {
			return nil, fmt.Errorf("%s: the model has only %d inputs", f, len(infos))
		}
		name := infos[i].Name
		t := &Tensor{DataType: onnx.TypeOf(tp), Shape: append([]int64{}, tp.GetDims()...)}
		if t.DataType == onnx.String {
			s, err := onnx.Strings(tp)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", f, err)
			}
			for _, v := range s {
				t.Strings = append(t.Strings, string(v))
			}
		} else if t.Data, err = onnx.RawBytes(nil, tp); err != nil {
			return nil, fmt.Errorf("%s: %w", f, err)
		}
		if t.DataType == onnx.Uint16 && infos[i].DataType == onnx.BFloat16 {
			t.DataType = onnx.BFloat16 // onnx 1.12 stored bfloat16 test data as its uint16 bits
		}
		out[name] = t
	}
	return out, nil
}

func inputIndex(path string) int {
	var n int
	fmt.Sscanf(filepath.Base(path), "input_%d.pb", &n)
	return n
}

func sameOutputs(a, b map[string]*Tensor) bool {
	if len(a) != len(b) {
		return false
	}
	for k, x := range a {
		y, ok := b[k]
		if !ok || x.DataType != y.DataType || fmt.Sprint(x.Shape) != fmt.Sprint(y.Shape) ||
			!bytes.Equal(x.Data, y.Data) || fmt.Sprint(x.Strings) != fmt.Sprint(y.Strings) {
			return false
		}
	}
	return true
}

// firstWords keeps the start of an error message, to group the reasons ORT
// could not run a model.
func firstWords(err error, path string) string {
	s := strings.ReplaceAll(err.Error(), path, "MODEL")
	if len(s) > 70 {
		s = s[:70]
	}
	return s
}
