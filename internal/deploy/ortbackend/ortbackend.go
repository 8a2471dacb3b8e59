// Package ortbackend is the production engine.Loader: it resolves model
// arguments (files, or registry references through registry.ResolveModel)
// and runs them with ONNX Runtime sessions from package runtime.
package ortbackend

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"unsafe"

	"github.com/mlops-dev/mlops/internal/deploy/engine"
	"github.com/mlops-dev/mlops/internal/deploy/oip"
	"github.com/mlops-dev/mlops/internal/onnx"
	"github.com/mlops-dev/mlops/internal/registry"
	"github.com/mlops-dev/mlops/internal/runtime"
)

// Loader opens models with ONNX Runtime.
type Loader struct {
	Runtime *runtime.Runtime
	// Session configures every session (threads, optimisation, providers).
	Session runtime.SessionOptions
	// Registry and CacheDir resolve registry references; without a
	// registry only files can be served.
	Registry *registry.Registry
	CacheDir string
}

// Resolve turns a file path or registry reference into a local file and a
// version: the registry version number, or the first 12 hex digits of the
// file's SHA-256 so that reloading an unchanged file is a no-op.
func (l *Loader) Resolve(ctx context.Context, ref string) (engine.Resolved, error) {
	if st, err := os.Stat(ref); err == nil && !st.IsDir() {
		v, err := fileDigest(ref)
		if err != nil {
			return engine.Resolved{}, err
		}
		return engine.Resolved{Path: ref, Version: v}, nil
	}
	path, m, err := registry.ResolveModel(ctx, l.Registry, ref, l.CacheDir)
	if err != nil {
		return engine.Resolved{}, err
	}
	if m == nil {
		v, err := fileDigest(path)
		return engine.Resolved{Path: path, Version: v}, err
	}
	return engine.Resolved{Path: path, Version: strconv.Itoa(m.Version)}, nil
}

func fileDigest(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", fmt.Errorf("read %s: %w", path, err)
	}
	return hex.EncodeToString(h.Sum(nil))[:12], nil
}

// Open creates a session for r.Path.
func (l *Loader) Open(ctx context.Context, r engine.Resolved) (engine.Backend, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s, err := l.Runtime.NewSession(r.Path, l.Session)
	if err != nil {
		return nil, err
	}
	b := &Backend{s: s}
	if b.inputs, err = metas(s.Inputs(), "input"); err == nil {
		b.outputs, err = metas(s.Outputs(), "output")
	}
	if err != nil {
		_ = s.Close()
		return nil, fmt.Errorf("%s: %w", r.Path, err)
	}
	return b, nil
}

func metas(infos []runtime.TensorInfo, what string) ([]engine.TensorMeta, error) {
	out := make([]engine.TensorMeta, len(infos))
	for i, ti := range infos {
		dt, ok := toOIP(ti.DataType)
		if !ok {
			return nil, fmt.Errorf("%s %q has element type %s, which the inference protocol cannot carry", what, ti.Name, ti.DataType)
		}
		if !ti.RankKnown {
			return nil, fmt.Errorf("%s %q declares no shape; re-export the model with shapes so requests can be validated", what, ti.Name)
		}
		shape := ti.Shape
		if shape == nil {
			shape = []int64{} // a scalar: "shape": [] in metadata, not null
		}
		out[i] = engine.TensorMeta{Name: ti.Name, Datatype: dt, Shape: shape, DimNames: ti.DimNames}
	}
	return out, nil
}

var onnxToOIP = map[onnx.DataType]oip.Datatype{
	onnx.Bool: oip.BOOL, onnx.Uint8: oip.UINT8, onnx.Uint16: oip.UINT16, onnx.Uint32: oip.UINT32, onnx.Uint64: oip.UINT64,
	onnx.Int8: oip.INT8, onnx.Int16: oip.INT16, onnx.Int32: oip.INT32, onnx.Int64: oip.INT64,
	onnx.Float16: oip.FP16, onnx.Float: oip.FP32, onnx.Double: oip.FP64, onnx.BFloat16: oip.BF16, onnx.String: oip.BYTES,
}

func toOIP(d onnx.DataType) (oip.Datatype, bool) {
	v, ok := onnxToOIP[d]
	return v, ok
}

func toONNX(d oip.Datatype) onnx.DataType {
	for k, v := range onnxToOIP {
		if v == d {
			return k
		}
	}
	return onnx.Undefined
}

// Backend is one ONNX Runtime session; its Run is safe for concurrent use.
type Backend struct {
	s       *runtime.Session
	inputs  []engine.TensorMeta
	outputs []engine.TensorMeta
}

// Inputs implements engine.Backend.
func (b *Backend) Inputs() []engine.TensorMeta { return b.inputs }

// Outputs implements engine.Backend.
func (b *Backend) Outputs() []engine.TensorMeta { return b.outputs }

// WarmupShapes implements engine.WarmupHinter: the model's metadata_props
// "mlops.warmup_shape.INPUT" = "1,512" (set with `mlops convert --meta`)
// name the shapes to warm it with.
func (b *Backend) WarmupShapes() (map[string][]int64, error) {
	hints := map[string][]int64{}
	for k, v := range b.s.Metadata() {
		input, ok := strings.CutPrefix(k, engine.HintKeyPrefix)
		if !ok {
			continue
		}
		shape, err := engine.ParseShape(v, false)
		if err != nil {
			return nil, fmt.Errorf("model metadata %s=%q: %w; fix it (mlops convert --meta %s=DIMS) or give --warmup-shape %s=DIMS", k, v, err, k, input)
		}
		hints[input] = shape
	}
	return hints, nil
}

// Run implements engine.Backend. Tensor bytes are shared, not copied.
func (b *Backend) Run(ctx context.Context, inputs []*oip.Tensor, outputs []string) ([]*oip.Tensor, error) {
	feed := make(map[string]*runtime.Tensor, len(inputs))
	for _, t := range inputs {
		rt := &runtime.Tensor{DataType: toONNX(t.Datatype), Shape: t.Shape, Data: aligned(t.Data)}
		if t.Datatype == oip.BYTES {
			rt.Strings = make([]string, len(t.Strings))
			for i, s := range t.Strings {
				rt.Strings[i] = string(s)
			}
		}
		feed[t.Name] = rt
	}
	if len(outputs) == 0 {
		outputs = make([]string, len(b.outputs))
		for i, o := range b.outputs {
			outputs[i] = o.Name
		}
	}
	res, err := b.s.Run(ctx, feed, outputs)
	if err != nil {
		return nil, err
	}
	out := make([]*oip.Tensor, len(outputs))
	for i, name := range outputs {
		rt := res[name]
		if rt == nil {
			return nil, fmt.Errorf("ONNX Runtime returned no output %q", name)
		}
		dt, ok := toOIP(rt.DataType)
		if !ok {
			return nil, fmt.Errorf("output %q has element type %s, which the inference protocol cannot carry", name, rt.DataType)
		}
		t := &oip.Tensor{Name: name, Datatype: dt, Shape: rt.Shape, Data: rt.Data}
		if dt == oip.BYTES {
			t.Data = nil
			t.Strings = make([][]byte, len(rt.Strings))
			for j, s := range rt.Strings {
				t.Strings[j] = []byte(s)
			}
		}
		out[i] = t
	}
	return out, nil
}

// tensorAlign is the alignment ONNX Runtime's CPU allocator gives tensors,
// which its vector kernels are tuned for.
const tensorAlign = 64

// aligned returns b, or a copy of it at a tensorAlign boundary when b is
// not at one. Tensor bytes of a binary request sit wherever the JSON header
// before them ends; run in place, the first layers' vector loads straddle
// cache lines (in-process on the MiniLM-size encoder, a 3-byte offset cost
// 0.3-0.8 ms of ~20 ms per run). The copy costs microseconds.
func aligned(b []byte) []byte {
	if len(b) == 0 || uintptr(unsafe.Pointer(unsafe.SliceData(b)))%tensorAlign == 0 {
		return b
	}
	buf := make([]byte, len(b)+tensorAlign)
	off := int(tensorAlign-uintptr(unsafe.Pointer(unsafe.SliceData(buf)))%tensorAlign) % tensorAlign
	out := buf[off : off+len(b) : off+len(b)]
	copy(out, b)
	return out
}

// Close implements engine.Backend; it waits for runs in progress.
func (b *Backend) Close() error { return b.s.Close() }
