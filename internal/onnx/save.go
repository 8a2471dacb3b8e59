package onnx

import (
	"cmp"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"

	"google.golang.org/protobuf/proto"

	"github.com/mlops-dev/mlops/internal/onnx/onnxpb"
	"github.com/mlops-dev/mlops/internal/safefile"
)

// ExternalMode chooses where Save puts tensor data.
type ExternalMode int

const (
	// ExternalAuto keeps a small, self-contained model in one file. When the
	// model already uses external data, or would pass the 2 GiB protobuf
	// limit, initializers of at least Threshold bytes go external.
	ExternalAuto ExternalMode = iota
	// ExternalNever stores everything inline; models over 2 GiB fail.
	ExternalNever
	// ExternalAlways moves every initializer of at least Threshold bytes to
	// external data.
	ExternalAlways
)

// DefaultExternalThreshold is the smallest tensor (in bytes) moved to
// external data when SaveOptions.Threshold is zero; the same as ONNX's
// Python tools use.
const DefaultExternalThreshold = 1024

// externalAlign: tensors of at least alignMin bytes start at a multiple of
// externalAlign in the data file, so runtimes can map them page-aligned.
const (
	externalAlign = 4096
	alignMin      = 1 << 20
	copyChunk     = 64 << 20 // ctx is checked between chunks of this size
)

// SaveOptions configures Model.Save.
type SaveOptions struct {
	External ExternalMode
	// Threshold is the smallest tensor data size, in bytes, stored
	// externally (default DefaultExternalThreshold).
	Threshold int64
	// Location is the external data file name, relative to the model file's
	// folder (default: the model file name + ".data").
	Location string
	// MaxFileBytes, when positive, starts a new data file (Location.1,
	// Location.2, ...) before one would grow past this size.
	MaxFileBytes int64

	limit        int64  // protobuf size limit; tests lower it to exercise the 2 GiB rule
	beforeCommit func() // tests: called once every file is written, before they are renamed
}

// Save writes the model to path; see SaveContext.
func (m *Model) Save(path string, opts SaveOptions) error {
	return m.SaveContext(context.Background(), path, opts)
}

// SaveContext writes the model to path, with tensor data inline or in
// external files next to it as opts choose. Every file is written to a
// temporary name in the destination folder and renamed into place only when
// all of them are complete, so a failure or cancellation leaves no half
// written model. External bytes of the source are copied file-to-file
// (copy_file_range where the OS has it), never loaded whole into memory.
// The in-memory model is unchanged: it still refers to its own data files.
func (m *Model) SaveContext(ctx context.Context, path string, opts SaveOptions) (err error) {
	if opts.Threshold <= 0 {
		opts.Threshold = DefaultExternalThreshold
	}
	if opts.limit <= 0 || opts.limit > MaxProtoBytes {
		opts.limit = MaxProtoBytes
	}
	absPath, err := filepath.Abs(path)
	if err != nil {
		return fmt.Errorf("save model: %w", err)
	}
	dir := filepath.Dir(absPath)
	if opts.Location == "" {
		opts.Location = filepath.Base(absPath) + ".data"
	}
	if err := checkLocation(opts.Location); err != nil {
		return fmt.Errorf("save model: external data file name: %w", err)
	}
	if filepath.Join(dir, filepath.FromSlash(opts.Location)) == absPath {
		return fmt.Errorf("save model: the external data file %q would overwrite the model itself; choose another Location", opts.Location)
	}
	// A device, FIFO or folder at the target is refused before any work, not after it.
	if err := safefile.Check(absPath, true); err != nil {
		return fmt.Errorf("save model: %w", err)
	}
	s := &saver{m: m, ctx: ctx, dir: dir, opts: opts, srcFiles: map[string]*os.File{}}
	defer s.cleanup()
	if err := s.plan(); err != nil {
		return fmt.Errorf("save %s: %w", path, err)
	}
	if err := s.writeExternal(); err != nil {
		return fmt.Errorf("save %s: %w", path, err)
	}
	if err := s.writeModel(absPath); err != nil {
		return fmt.Errorf("save %s: %w", path, err)
	}
	return nil
}

// tensorState is what Save changes on a tensor, so it can be restored.
type tensorState struct {
	t                     *onnxpb.TensorProto
	raw                   []byte
	f32                   []float32
	i32                   []int32
	i64                   []int64
	f64                   []float64
	u64                   []uint64
	ext                   []*onnxpb.StringStringEntryProto
	loc                   *onnxpb.TensorProto_DataLocation
	external, initializer bool
	size                  int64
	srcExternal           bool
	srcData               ExternalData
	srcPath               string
}

type saver struct {
	m           *Model
	ctx         context.Context
	dir         string
	opts        SaveOptions
	tensors     []*tensorState
	srcFiles    map[string]*os.File
	temps       []string          // temp files to remove on failure
	renames     []safefile.Rename // temp → final, data files first
	curLocation string
}

func (s *saver) cleanup() {
	for _, st := range s.tensors {
		t := st.t
		t.RawData, t.FloatData, t.Int32Data, t.Int64Data = st.raw, st.f32, st.i32, st.i64
		t.DoubleData, t.Uint64Data, t.ExternalData, t.DataLocation = st.f64, st.u64, st.ext, st.loc
	}
	for _, f := range s.srcFiles {
		f.Close()
	}
	for _, p := range s.temps {
		os.Remove(p)
	}
}

// plan decides, for every tensor with data, whether it is stored inline or
// externally, and sets inline tensors' raw_data (aliasing external bytes).
func (s *saver) plan() error {
	hasExternal := false
	var walkErr error
	walkModelTensors(s.m.Proto, func(t *onnxpb.TensorProto, init bool) bool {
		st := &tensorState{t: t, raw: t.RawData, f32: t.FloatData, i32: t.Int32Data, i64: t.Int64Data,
			f64: t.DoubleData, u64: t.Uint64Data, ext: t.ExternalData, loc: t.DataLocation, initializer: init}
		st.size = DataBytes(t)
		if IsExternal(t) {
			hasExternal = true
			st.srcExternal = true
			if st.srcData, walkErr = ExternalDataOf(t); walkErr != nil {
				return false
			}
			if st.srcPath, walkErr = ResolveLocation(s.m.Dir, st.srcData.Location); walkErr != nil {
				walkErr = fmt.Errorf("tensor %q: %w", t.GetName(), walkErr)
				return false
			}
			if st.size < 0 {
				walkErr = fmt.Errorf("tensor %q: external %v data cannot be sized from its dims", t.GetName(), TypeOf(t))
				return false
			}
			if st.srcData.Length >= 0 && st.srcData.Length != st.size {
				walkErr = fmt.Errorf("tensor %q: external data length %d does not match %v%v (%d bytes)", t.GetName(), st.srcData.Length, TypeOf(t), t.GetDims(), st.size)
				return false
			}
		}
		s.tensors = append(s.tensors, st)
		return true
	})
	if walkErr != nil {
		return walkErr
	}
	mode := s.opts.External
	split := mode == ExternalAlways || (mode == ExternalAuto && hasExternal)
	for _, st := range s.tensors {
		// Only initializers move out; attribute tensors stay where they are
		// unless they already were external (then they stay external).
		canMove := st.initializer && st.size >= 0 && TypeOf(st.t) != String
		st.external = st.srcExternal && mode != ExternalNever
		if split && canMove {
			st.external = st.size >= s.opts.Threshold
		}
	}
	if err := s.setInline(); err != nil {
		return err
	}
	limit := s.opts.limit
	size := int64(proto.Size(s.m.Proto))
	if size <= limit {
		return nil
	}
	if mode == ExternalNever {
		return fmt.Errorf("the model is %d bytes inline, over the %d-byte protobuf limit; save with external data", size, limit)
	}
	// Too big: move the largest inline initializers out until it fits.
	cands := slices.DeleteFunc(slices.Clone(s.tensors), func(st *tensorState) bool {
		return st.external || !st.initializer || st.size < 0 || TypeOf(st.t) == String
	})
	slices.SortFunc(cands, func(a, b *tensorState) int { return cmp.Compare(b.size, a.size) })
	margin := min(64<<20, limit/16)
	for _, st := range cands {
		if size <= limit-margin {
			break
		}
		st.external = true
		size -= st.size
	}
	if err := s.setInline(); err != nil {
		return err
	}
	if n := int64(proto.Size(s.m.Proto)); n > limit {
		return fmt.Errorf("the model protobuf is %d bytes even with all initializers external, over the %d-byte limit", n, limit)
	}
	return nil
}

// setInline puts inline tensors' bytes in raw_data (external sources are
// aliased from the mapping, not copied) and strips the data of tensors
// going external so the protobuf size can be measured.
func (s *saver) setInline() error {
	for _, st := range s.tensors {
		t := st.t
		switch {
		case st.external:
			t.RawData, t.FloatData, t.Int32Data, t.Int64Data, t.DoubleData, t.Uint64Data = nil, nil, nil, nil, nil, nil
			t.ExternalData = nil
			loc := onnxpb.TensorProto_EXTERNAL
			t.DataLocation = &loc
		case st.srcExternal:
			// Read through the original reference (an earlier pass may have
			// cleared it).
			t.ExternalData, t.DataLocation = st.ext, st.loc
			b, err := s.m.externalBytes(t)
			if err != nil {
				return err
			}
			t.ExternalData, t.DataLocation = nil, nil
			t.RawData = b
			if t.RawData == nil {
				t.RawData = []byte{}
			}
		default:
			t.RawData, t.FloatData, t.Int32Data, t.Int64Data = st.raw, st.f32, st.i32, st.i64
			t.DoubleData, t.Uint64Data, t.ExternalData, t.DataLocation = st.f64, st.u64, st.ext, st.loc
		}
	}
	return nil
}
