package export

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"

	"github.com/mlops-dev/mlops/internal/onnx"
	"github.com/mlops-dev/mlops/internal/safefile"
)

// The safetensors format (huggingface/safetensors): an 8-byte little-endian
// header length, a JSON header mapping tensor names to dtype, shape and
// [begin,end) byte offsets into the data that follows, and the raw
// little-endian row-major tensor bytes. We write our own codec: it is small
// and no maintained Go module for it resolves on our proxy.

// maxSafetensorsHeader bounds the JSON header we accept (the reference
// implementation uses the same 100 MB limit).
const maxSafetensorsHeader = 100 << 20

// STTensor is one entry of a safetensors header.
type STTensor struct {
	Name  string
	DType string
	Shape []int64
	Begin int64 // offset in the data section
	End   int64
}

// STHeader is a parsed safetensors header.
type STHeader struct {
	Tensors  []STTensor // sorted by Begin
	Metadata map[string]string
	DataOff  int64 // where the data section starts in the file
}

// stTypes maps the safetensors dtype names and the ONNX types they hold.
func stTypes() map[string]onnx.DataType {
	return map[string]onnx.DataType{
		"BOOL": onnx.Bool, "U8": onnx.Uint8, "I8": onnx.Int8, "I16": onnx.Int16, "U16": onnx.Uint16,
		"F16": onnx.Float16, "BF16": onnx.BFloat16, "I32": onnx.Int32, "U32": onnx.Uint32,
		"F32": onnx.Float, "F64": onnx.Double, "I64": onnx.Int64, "U64": onnx.Uint64,
		"F8_E4M3": onnx.Float8E4M3FN, "F8_E5M2": onnx.Float8E5M2,
	}
}

func stName(dt onnx.DataType) (string, bool) {
	for k, v := range stTypes() {
		if v == dt {
			return k, true
		}
	}
	return "", false
}

// DecodeSTHeader parses and validates the header of a safetensors file of
// fileSize bytes whose first bytes are b (at least 8 + header length).
// Offsets must tile the data section exactly and agree with the shapes.
func DecodeSTHeader(b []byte, fileSize int64) (*STHeader, error) {
	if len(b) < 8 {
		return nil, errors.New("not a safetensors file: shorter than its 8-byte header length")
	}
	n := binary.LittleEndian.Uint64(b)
	if n > maxSafetensorsHeader || int64(n) > fileSize-8 {
		return nil, fmt.Errorf("not a safetensors file: header length %d is larger than the file or the 100 MB limit", n)
	}
	if uint64(len(b)-8) < n {
		return nil, errors.New("safetensors header is truncated")
	}
	raw := map[string]json.RawMessage{}
	dec := json.NewDecoder(bytes.NewReader(b[8 : 8+n]))
	if err := dec.Decode(&raw); err != nil {
		return nil, fmt.Errorf("safetensors header is not a JSON object: %w", err)
	}
	h := &STHeader{DataOff: 8 + int64(n)}
	types := stTypes()
	for name, msg := range raw {
		if name == "__metadata__" {
			if err := json.Unmarshal(msg, &h.Metadata); err != nil {
				return nil, fmt.Errorf("safetensors __metadata__ must map strings to strings: %w", err)
			}
			continue
		}
		var e struct {
			DType   string  `json:"dtype"`
			Shape   []int64 `json:"shape"`
			Offsets []int64 `json:"data_offsets"`
		}
		if err := json.Unmarshal(msg, &e); err != nil {
			return nil, fmt.Errorf("safetensors tensor %q: %w", name, err)
		}
		dt, ok := types[e.DType]
		if !ok {
			return nil, fmt.Errorf("safetensors tensor %q: unsupported dtype %q", name, e.DType)
		}
		if len(e.Offsets) != 2 || e.Offsets[0] < 0 || e.Offsets[1] < e.Offsets[0] {
			return nil, fmt.Errorf("safetensors tensor %q: data_offsets must be [begin, end] with begin <= end", name)
		}
		elems := int64(1)
		for _, d := range e.Shape {
			if d < 0 || (d > 0 && elems > (1<<62)/d) {
				return nil, fmt.Errorf("safetensors tensor %q: bad shape %v", name, e.Shape)
			}
			elems *= d
		}
		if elems > (1<<62)/int64(dt.ByteSize()) || elems*int64(dt.ByteSize()) != e.Offsets[1]-e.Offsets[0] {
			return nil, fmt.Errorf("safetensors tensor %q: shape %v of %s needs %d bytes, offsets give %d", name, e.Shape, e.DType, elems*int64(dt.ByteSize()), e.Offsets[1]-e.Offsets[0])
		}
		h.Tensors = append(h.Tensors, STTensor{Name: name, DType: e.DType, Shape: e.Shape, Begin: e.Offsets[0], End: e.Offsets[1]})
	}
	slices.SortFunc(h.Tensors, func(a, b STTensor) int { return int(a.Begin - b.Begin) })
	pos := int64(0)
	for _, t := range h.Tensors {
		if t.Begin != pos {
			return nil, fmt.Errorf("safetensors tensor %q starts at %d, expected %d (gaps and overlaps are not allowed)", t.Name, t.Begin, pos)
		}
		pos = t.End
	}
	if pos != fileSize-h.DataOff {
		return nil, fmt.Errorf("safetensors data section is %d bytes, the header describes %d", fileSize-h.DataOff, pos)
	}
	return h, nil
}

// readSafetensors opens path and parses its header.
func readSafetensors(path string) (*os.File, *STHeader, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, err
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, nil, err
	}
	var lenBuf [8]byte
	if _, err := io.ReadFull(f, lenBuf[:]); err != nil {
		f.Close()
		return nil, nil, fmt.Errorf("%s: not a safetensors file (too short)", path)
	}
	n := binary.LittleEndian.Uint64(lenBuf[:])
	if n > maxSafetensorsHeader || int64(n) > st.Size()-8 {
		f.Close()
		return nil, nil, fmt.Errorf("%s: not a safetensors file: header length %d is larger than the file", path, n)
	}
	buf := make([]byte, 8+n)
	if _, err := f.ReadAt(buf, 0); err != nil {
		f.Close()
		return nil, nil, err
	}
	h, err := DecodeSTHeader(buf, st.Size())
	if err != nil {
		f.Close()
		return nil, nil, fmt.Errorf("%s: %w", path, err)
	}
	return f, h, nil
}

// importWeights replaces initializers by the tensors of a safetensors file.
// Every tensor must name an initializer of the top-level graph with the
// same element type and shape; otherwise nothing is changed.
func importWeights(m *onnx.Model, path string) (int, error) {
	f, h, err := readSafetensors(path)
	if err != nil {
		return 0, fmt.Errorf("--import-weights: %w", err)
	}
	defer f.Close()
	g := m.Graph()
	types := stTypes()
	var problems []string
	for _, t := range h.Tensors {
		init := g.Initializer(t.Name)
		switch {
		case init == nil:
			problems = append(problems, fmt.Sprintf("%s: no initializer of that name", t.Name))
		case onnx.TypeOf(init) != types[t.DType]:
			problems = append(problems, fmt.Sprintf("%s: file has %s, model has %s", t.Name, t.DType, onnx.TypeOf(init)))
		case !slices.Equal(init.Dims, t.Shape) && !(len(init.Dims) == 0 && len(t.Shape) == 0):
			problems = append(problems, fmt.Sprintf("%s: file has shape %v, model has %v", t.Name, t.Shape, init.Dims))
		}
	}
	if len(problems) > 0 {
		return 0, fmt.Errorf("--import-weights %s does not match the model:\n  %s\n`mlops convert MODEL --export-weights FILE` writes a file with the expected names and shapes", path, strings.Join(problems, "\n  "))
	}
	for _, t := range h.Tensors {
		buf := make([]byte, t.End-t.Begin)
		if _, err := f.ReadAt(buf, h.DataOff+t.Begin); err != nil {
			return 0, fmt.Errorf("--import-weights %s: read %s: %w", path, t.Name, err)
		}
		init := g.Initializer(t.Name)
		init.ExternalData, init.DataLocation = nil, nil
		if err := onnx.SetRaw(init, types[t.DType], init.Dims, buf); err != nil {
			return 0, fmt.Errorf("--import-weights: %s: %w", t.Name, err)
		}
	}
	return len(h.Tensors), nil
}

// exportWeights writes the top-level initializers of types safetensors
// knows to path (temp file + rename). Others (strings, int4...) are skipped.
func exportWeights(ctx context.Context, m *onnx.Model, path string) (int, error) {
	type entry struct {
		DType   string  `json:"dtype"`
		Shape   []int64 `json:"shape"`
		Offsets []int64 `json:"data_offsets"`
	}
	header := map[string]any{"__metadata__": map[string]string{"format": "onnx", "producer": "mlops convert"}}
	var blobs [][]byte
	off := int64(0)
	for _, t := range m.Proto.GetGraph().GetInitializer() {
		name, ok := stName(onnx.TypeOf(t))
		if !ok {
			continue
		}
		raw, err := onnx.RawBytes(m, t)
		if err != nil {
			return 0, onnx.TensorError("--export-weights: initializer", t, err)
		}
		shape := t.Dims
		if shape == nil {
			shape = []int64{}
		}
		header[t.GetName()] = entry{DType: name, Shape: shape, Offsets: []int64{off, off + int64(len(raw))}}
		blobs = append(blobs, raw)
		off += int64(len(raw))
	}
	hb, err := json.Marshal(header)
	if err != nil {
		return 0, err
	}
	for len(hb)%8 != 0 {
		hb = append(hb, ' ')
	}
	tmp, err := safefile.Temp(path)
	if err != nil {
		return 0, fmt.Errorf("--export-weights: %w", err)
	}
	defer os.Remove(tmp.Name())
	var lenBuf [8]byte
	binary.LittleEndian.PutUint64(lenBuf[:], uint64(len(hb)))
	_, err = tmp.Write(lenBuf[:])
	if err == nil {
		_, err = tmp.Write(hb)
	}
	for _, b := range blobs {
		if err == nil {
			err = ctx.Err()
		}
		if err == nil {
			_, err = tmp.Write(b)
		}
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = safefile.Commit(ctx, safefile.Rename{Temp: tmp.Name(), Target: path})
	}
	if err != nil {
		return 0, fmt.Errorf("--export-weights %s: %w", path, err)
	}
	return len(blobs), nil
}
