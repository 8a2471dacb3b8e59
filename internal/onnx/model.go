package onnx

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"

	"google.golang.org/protobuf/proto"

	"github.com/mlops-dev/mlops/internal/onnx/onnxpb"
)

// MaxProtoBytes is the largest serialized model protobuf accepted: the
// protobuf format itself cannot describe a message of 2 GiB or more. Bigger
// models keep their tensors in external data files.
const MaxProtoBytes = 1<<31 - 1

// Model is a decoded ONNX model together with the folder its external data
// is resolved against.
//
// A Model is not safe for concurrent mutation. Reading tensor data from
// several goroutines is safe.
type Model struct {
	// Proto is the decoded model. Edit it directly or through Graph.
	Proto *onnxpb.ModelProto
	// Dir is the folder external data locations are relative to: the
	// folder of the file the model was loaded from. Empty for a model
	// decoded from bytes, which then cannot read external data.
	Dir string

	ext *externalFiles
}

type loadConfig struct {
	dir          string
	maxBytes     int64
	loadExternal bool
}

// LoadOption changes how Load and Decode behave.
type LoadOption func(*loadConfig)

// WithBaseDir sets the folder external data is resolved against, instead
// of the model file's folder.
func WithBaseDir(dir string) LoadOption {
	return func(c *loadConfig) { c.dir = dir }
}

// WithMaxBytes refuses model files larger than n bytes (default and upper
// bound: MaxProtoBytes).
func WithMaxBytes(n int64) LoadOption {
	return func(c *loadConfig) { c.maxBytes = n }
}

// WithExternalDataInlined reads every external tensor into raw_data right
// after loading, so the model no longer depends on its data files. Without
// it, external bytes are read only when a tensor's values are requested.
func WithExternalDataInlined() LoadOption {
	return func(c *loadConfig) { c.loadExternal = true }
}

func newLoadConfig(opts []LoadOption) loadConfig {
	c := loadConfig{maxBytes: MaxProtoBytes}
	for _, o := range opts {
		o(&c)
	}
	if c.maxBytes <= 0 || c.maxBytes > MaxProtoBytes {
		c.maxBytes = MaxProtoBytes
	}
	return c
}

// Load reads the model file at path. External tensor data is not read
// (unless WithExternalDataInlined is given); it is resolved relative to the
// model's folder on first use.
func Load(path string, opts ...LoadOption) (*Model, error) {
	c := newLoadConfig(opts)
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("open model: %w", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("open model: %w", err)
	}
	if st.IsDir() {
		return nil, fmt.Errorf("open model %s: is a folder; pass the path of the .onnx file", path)
	}
	if st.Size() > c.maxBytes {
		return nil, fmt.Errorf("open model %s: file is %d bytes, more than the %d-byte limit of an ONNX protobuf; is this really an .onnx file?", path, st.Size(), c.maxBytes)
	}
	// Read exactly the size we saw; a file growing underneath us is cut off
	// rather than read without bound.
	b := make([]byte, st.Size())
	if _, err := io.ReadFull(f, b); err != nil {
		return nil, fmt.Errorf("read model %s: %w", path, err)
	}
	if c.dir == "" {
		abs, err := filepath.Abs(path)
		if err != nil {
			return nil, fmt.Errorf("open model: %w", err)
		}
		c.dir = filepath.Dir(abs)
	}
	m, err := decode(b, c)
	if err != nil {
		return nil, fmt.Errorf("load %s: %w", path, err)
	}
	return m, nil
}

// Decode parses a serialized ModelProto. The model has no folder unless
// WithBaseDir is given, so its external data (if any) cannot be read.
func Decode(b []byte, opts ...LoadOption) (*Model, error) {
	return decode(b, newLoadConfig(opts))
}

// ErrNotONNX marks bytes that do not parse as an ONNX model.
var ErrNotONNX = errors.New("not a valid ONNX model")

func decode(b []byte, c loadConfig) (*Model, error) {
	if int64(len(b)) > c.maxBytes {
		return nil, fmt.Errorf("%w: %d bytes is more than the %d-byte limit", ErrNotONNX, len(b), c.maxBytes)
	}
	if len(b) == 0 {
		return nil, fmt.Errorf("%w: the input is empty", ErrNotONNX)
	}
	mp := &onnxpb.ModelProto{}
	// The protobuf runtime checks every declared length against the bytes
	// that remain, so truncated or absurd lengths fail here instead of
	// allocating; RecursionLimit bounds nesting (graphs inside attributes).
	uo := proto.UnmarshalOptions{RecursionLimit: 1000}
	if err := uo.Unmarshal(b, mp); err != nil {
		return nil, fmt.Errorf("%w: %v (the file is truncated, corrupt, or another format)", ErrNotONNX, err)
	}
	if mp.Graph == nil && mp.IrVersion == nil && len(mp.OpsetImport) == 0 {
		return nil, fmt.Errorf("%w: it has no graph, IR version or opset imports", ErrNotONNX)
	}
	m := &Model{Proto: mp, Dir: c.dir, ext: newExternalFiles()}
	if c.loadExternal {
		if err := m.InlineExternalData(); err != nil {
			m.Close()
			return nil, err
		}
	}
	return m, nil
}

// Encode serializes the model protobuf as is. It fails when the result would
// exceed the 2 GiB protobuf limit; Save moves large tensors to external data
// instead.
func (m *Model) Encode() ([]byte, error) {
	if n := proto.Size(m.Proto); n > MaxProtoBytes {
		return nil, fmt.Errorf("encode model: %d bytes exceeds the 2 GiB protobuf limit; save with external data", n)
	}
	return proto.MarshalOptions{Deterministic: true}.Marshal(m.Proto)
}

// Close releases memory mappings of external data files. Slices returned
// by tensor accessors that alias mapped memory (RawBytes of an external
// tensor) must not be used afterwards.
func (m *Model) Close() error {
	if m == nil || m.ext == nil {
		return nil
	}
	return m.ext.close()
}

// externalFiles caches mapped external data files of one model.
type externalFiles struct {
	mu    sync.Mutex
	files map[string]*mappedFile
}

func newExternalFiles() *externalFiles {
	return &externalFiles{files: map[string]*mappedFile{}}
}

func (e *externalFiles) get(path string) (*mappedFile, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if f, ok := e.files[path]; ok {
		return f, nil
	}
	f, err := mapFile(path)
	if err != nil {
		return nil, err
	}
	e.files[path] = f
	return f, nil
}

func (e *externalFiles) close() error {
	e.mu.Lock()
	defer e.mu.Unlock()
	var errs []error
	for p, f := range e.files {
		errs = append(errs, f.close())
		delete(e.files, p)
	}
	return errors.Join(errs...)
}

// Graph indexes the model's main graph (see NewGraph).
func (m *Model) Graph() *Graph { return NewGraph(m.Proto.GetGraph()) }

// Clone returns a deep copy of the model that shares its folder, so
// external data references stay valid. The copy has its own mappings.
func (m *Model) Clone() *Model {
	return &Model{Proto: proto.Clone(m.Proto).(*onnxpb.ModelProto), Dir: m.Dir, ext: newExternalFiles()}
}
