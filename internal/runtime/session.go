package runtime

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"sort"
	"strings"
	"sync"

	ort "github.com/yalue/onnxruntime_go"
)

// Session is a loaded model ready to run. Run is safe for concurrent use by
// many goroutines (ORT's session Run is thread-safe); Close waits for runs
// in progress.
type Session struct {
	das      *ort.DynamicAdvancedSession
	inputs   []TensorInfo
	outputs  []TensorInfo
	metadata map[string]string
	// shrink asks ORT to give its CPU arena's free memory back after every run.
	shrink bool
	mu     sync.RWMutex // read-held by Run, write-held by Close
	closed bool
}

// NewSession loads a model. model is either a file path (string) or the
// model's serialised bytes ([]byte). Models whose tensors live in external
// data files must be given by path, so that ORT finds the files next to it.
func (r *Runtime) NewSession(model any, opts SessionOptions) (*Session, error) {
	return r.NewSessionContext(context.Background(), model, opts)
}

// NewSessionContext is NewSession that returns ctx's error as soon as ctx is
// cancelled. ORT cannot stop loading a model half-way, so a load already
// under way finishes in the background and its session is closed.
func (r *Runtime) NewSessionContext(ctx context.Context, model any, opts SessionOptions) (*Session, error) {
	if err := r.check(); err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	var load func() (*Session, error)
	switch m := model.(type) {
	case string:
		load = func() (*Session, error) { return newSession(m, nil, opts) }
	case []byte:
		load = func() (*Session, error) { return newSession("", m, opts) }
	default:
		return nil, fmt.Errorf("runtime: NewSession takes a model path (string) or model bytes ([]byte), not %T", model)
	}
	if ctx.Done() == nil { // never cancelled: no goroutine needed
		return load()
	}
	type result struct {
		s   *Session
		err error
	}
	done := make(chan result, 1)
	go func() {
		s, err := load()
		done <- result{s, err}
	}()
	select {
	case res := <-done:
		return res.s, res.err
	case <-ctx.Done():
		go func() {
			if res := <-done; res.s != nil {
				res.s.Close()
			}
		}()
		return nil, fmt.Errorf("load model: %w", ctx.Err())
	}
}

func newSession(path string, data []byte, opts SessionOptions) (*Session, error) {
	what := "model bytes"
	if path != "" {
		what = path
		b, release, err := readModel(path)
		if err != nil {
			return nil, fmt.Errorf("load model: %w", err)
		}
		defer release()
		data = b
	}
	if len(data) == 0 {
		return nil, fmt.Errorf("load %s: the model is empty", what)
	}
	info, err := modelIO(data)
	if err != nil {
		return nil, fmt.Errorf("load %s: %w", what, err)
	}
	if info.external && path == "" {
		return nil, errors.New("load model bytes: the model keeps tensors in external data files, " +
			"which ONNX Runtime can only find next to a model file; load it by path")
	}
	inputs, outputs := info.inputs, info.outputs
	so, err := opts.build()
	if err != nil {
		return nil, fmt.Errorf("load %s: %w", what, err)
	}
	defer so.Destroy()
	inNames, outNames := names(inputs), names(outputs)
	var das *ort.DynamicAdvancedSession
	if path != "" {
		// ORT reads the file itself, and its external data next to it.
		das, err = ort.NewDynamicAdvancedSession(path, inNames, outNames, so)
	} else {
		das, err = ort.NewDynamicAdvancedSessionWithONNXData(data, inNames, outNames, so)
	}
	if err != nil {
		return nil, fmt.Errorf("ONNX Runtime cannot load %s: %w", what, err)
	}
	return &Session{das: das, inputs: inputs, outputs: outputs, metadata: info.metadata, shrink: opts.CPUArena == ArenaShrink}, nil
}

func names(infos []TensorInfo) []string {
	out := make([]string, len(infos))
	for i, t := range infos {
		out[i] = t.Name
	}
	return out
}

// Inputs describes the model's inputs (initializers excluded), in order.
func (s *Session) Inputs() []TensorInfo { return cloneInfos(s.inputs) }

// Outputs describes the model's outputs, in order.
func (s *Session) Outputs() []TensorInfo { return cloneInfos(s.outputs) }

// Metadata is the model's metadata_props (producer-defined key/value pairs).
func (s *Session) Metadata() map[string]string {
	m := make(map[string]string, len(s.metadata))
	for k, v := range s.metadata {
		m[k] = v
	}
	return m
}

func cloneInfos(in []TensorInfo) []TensorInfo {
	out := make([]TensorInfo, len(in))
	for i, t := range in {
		t.Shape = append([]int64(nil), t.Shape...)
		t.DimNames = append([]string(nil), t.DimNames...)
		out[i] = t
	}
	return out
}

// Close releases the session after any runs in progress finish.
func (s *Session) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil
	}
	s.closed = true
	return s.das.Destroy()
}

// Run feeds every model input by name and returns the named outputs (all of
// them when outputNames is empty). Cancelling ctx terminates the run inside
// ORT and returns ctx's error.
func (s *Session) Run(ctx context.Context, inputs map[string]*Tensor, outputNames []string) (map[string]*Tensor, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.closed {
		return nil, errors.New("run: the session is closed")
	}
	if len(s.inputs) == 0 || len(s.outputs) == 0 {
		// onnxruntime_go indexes the first input and output unconditionally.
		return nil, fmt.Errorf("run: the model has %d inputs and %d outputs; onnxruntime_go can only run models "+
			"with at least one of each", len(s.inputs), len(s.outputs))
	}
	want, err := s.selectOutputs(outputNames)
	if err != nil {
		return nil, err
	}
	if err := s.checkInputs(inputs); err != nil {
		return nil, err
	}

	in := make([]ort.Value, len(s.inputs))
	out := make([]ort.Value, len(s.outputs))
	readers := make([]func() (*Tensor, error), len(s.outputs))
	defer func() {
		for _, v := range append(in, out...) {
			if !isNilValue(v) {
				v.Destroy()
			}
		}
	}()
	dims := knownDims(s.inputs, inputs)
	// Values are stored only on success: a failed constructor may return a
	// typed nil inside the interface, which the deferred Destroy must not see.
	for i, info := range s.inputs {
		v, err := toValue(inputs[info.Name])
		if err != nil {
			return nil, fmt.Errorf("run: input %q: %w", info.Name, err)
		}
		in[i] = v
	}
	for i, info := range s.outputs {
		v, read, err := preallocate(info, dims)
		if err != nil {
			return nil, fmt.Errorf("run: output %q: %w", info.Name, err)
		}
		out[i], readers[i] = v, read
	}

	if err := s.runWithCancel(ctx, in, out); err != nil {
		return nil, err
	}

	result := make(map[string]*Tensor, len(want))
	for i, info := range s.outputs {
		if !want[info.Name] {
			continue
		}
		t, err := fromValue(out[i], readers[i])
		if err != nil {
			return nil, fmt.Errorf("run: output %q: %w", info.Name, err)
		}
		result[info.Name] = t
	}
	return result, nil
}

// runWithCancel runs with ORT RunOptions whose Terminate flag is set when
// ctx is cancelled.
func (s *Session) runWithCancel(ctx context.Context, in, out []ort.Value) error {
	ro, err := ort.NewRunOptions()
	if err != nil {
		return fmt.Errorf("run: create run options: %w", err)
	}
	if s.shrink {
		// Frees the arena's unused regions once this run has released its
		// intermediate tensors (onnxruntime_run_options_config_keys.h).
		if err := ro.AddRunConfigEntry("memory.enable_memory_arena_shrinkage", "cpu:0"); err != nil {
			ro.Destroy()
			return fmt.Errorf("run: enable arena shrinkage: %w", err)
		}
	}
	var mu sync.Mutex
	finished := false
	stop := context.AfterFunc(ctx, func() {
		mu.Lock()
		defer mu.Unlock()
		if !finished {
			ro.Terminate()
		}
	})
	runErr := s.das.RunWithOptions(in, out, ro)
	stop()
	mu.Lock()
	finished = true
	mu.Unlock()
	ro.Destroy()
	if runErr != nil {
		if ctxErr := ctx.Err(); ctxErr != nil {
			return fmt.Errorf("run: %w", ctxErr)
		}
		return fmt.Errorf("run: %w", runErr)
	}
	return nil
}

func (s *Session) selectOutputs(outputNames []string) (map[string]bool, error) {
	want := map[string]bool{}
	if len(outputNames) == 0 {
		for _, o := range s.outputs {
			want[o.Name] = true
		}
		return want, nil
	}
	known := map[string]bool{}
	for _, o := range s.outputs {
		known[o.Name] = true
	}
	for _, n := range outputNames {
		if !known[n] {
			return nil, fmt.Errorf("run: the model has no output %q; its outputs are %s", n, strings.Join(names(s.outputs), ", "))
		}
		want[n] = true
	}
	return want, nil
}

// checkInputs names the first input that is missing, unknown, or of the
// wrong type or shape, so that callers see a message about their data rather
// than ORT's.
func (s *Session) checkInputs(inputs map[string]*Tensor) error {
	expected := map[string]bool{}
	for _, info := range s.inputs {
		expected[info.Name] = true
		t, ok := inputs[info.Name]
		if !ok || t == nil {
			return fmt.Errorf("run: missing input %q (%s); the model's inputs are %s",
				info.Name, describe(info), strings.Join(names(s.inputs), ", "))
		}
		if info.DataType != 0 && t.DataType != info.DataType {
			return fmt.Errorf("run: input %q is %s but the model expects %s", info.Name, t.DataType, describe(info))
		}
		if err := t.Validate(); err != nil {
			return fmt.Errorf("run: input %q: %w", info.Name, err)
		}
		if info.RankKnown {
			if len(t.Shape) != len(info.Shape) {
				return fmt.Errorf("run: input %q has shape %v but the model expects %s", info.Name, t.Shape, describe(info))
			}
			for d, n := range info.Shape {
				if n >= 0 && t.Shape[d] != n {
					return fmt.Errorf("run: input %q has shape %v but the model expects %s (dimension %d must be %d)",
						info.Name, t.Shape, describe(info), d, n)
				}
			}
		}
	}
	var extra []string
	for name := range inputs {
		if !expected[name] {
			extra = append(extra, name)
		}
	}
	if len(extra) > 0 {
		sort.Strings(extra)
		return fmt.Errorf("run: the model has no input %q; its inputs are %s", extra[0], strings.Join(names(s.inputs), ", "))
	}
	return nil
}

// describe formats an input's type and shape as "FLOAT [batch,1,28,28]".
func describe(info TensorInfo) string {
	if !info.RankKnown {
		return info.DataType.String() + " (any shape)"
	}
	dims := make([]string, len(info.Shape))
	for i, d := range info.Shape {
		switch {
		case d >= 0:
			dims[i] = fmt.Sprint(d)
		case i < len(info.DimNames) && info.DimNames[i] != "":
			dims[i] = info.DimNames[i]
		default:
			dims[i] = "?"
		}
	}
	return info.DataType.String() + " [" + strings.Join(dims, ",") + "]"
}

// knownDims maps symbolic dimension names to the sizes the inputs give them,
// so outputs declared as [batch,10] get a concrete shape.
func knownDims(infos []TensorInfo, inputs map[string]*Tensor) map[string]int64 {
	dims := map[string]int64{}
	for _, info := range infos {
		t := inputs[info.Name]
		for d, name := range info.DimNames {
			if name != "" && d < len(t.Shape) {
				dims[name] = t.Shape[d]
			}
		}
	}
	return dims
}

// isNilValue reports whether v holds no value: a nil interface, or a nil
// pointer inside it, which onnxruntime_go can leave in an output slot when
// it cannot represent an output (for example a half-precision output of
// unknown shape). Calling Destroy on it would panic.
func isNilValue(v ort.Value) bool {
	if v == nil {
		return true
	}
	rv := reflect.ValueOf(v)
	return rv.Kind() == reflect.Pointer && rv.IsNil()
}
