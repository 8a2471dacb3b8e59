package registry

import (
	"errors"
	"fmt"
	"io"
	"path"
	"sort"
	"strings"

	"strconv"

	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"

	"github.com/mlops-dev/mlops/internal/onnx"
	"github.com/mlops-dev/mlops/internal/onnx/onnxpb"
)

// TensorSpec describes one model input or output.
type TensorSpec struct {
	Name     string   `json:"name"`
	DataType string   `json:"datatype"`            // ONNX element type name, e.g. FLOAT, INT64
	Shape    []int64  `json:"shape"`               // -1 marks a dynamic dimension
	DimNames []string `json:"dim_names,omitempty"` // symbolic names of dynamic dimensions, "" when fixed
}

// Signature is a model's graph inputs (initializers excluded) and outputs.
type Signature struct {
	Inputs  []TensorSpec `json:"inputs"`
	Outputs []TensorSpec `json:"outputs"`
}

// modelScan is what push needs from a model file: its signature and the external data files
// it references (relative to the model's folder).
type modelScan struct {
	Signature     Signature
	ExternalFiles []string
	// Extents holds, per external data file, the furthest byte a tensor reads from it, so
	// push can refuse a data file too short for the model (a truncated copy).
	Extents map[string]Extent
}

// Extent is the end of the furthest tensor in an external data file.
type Extent struct {
	End    int64
	Tensor string
}

// scanModel reads an ONNX ModelProto from r without loading tensor payloads: it walks the
// protobuf wire format and seeks over raw_data, so a multi-gigabyte model costs kilobytes of
// memory. Only graph inputs/outputs, initializer names and external-data locations are decoded.
func scanModel(r io.ReaderAt, size int64) (*modelScan, error) {
	s := &scanner{r: r, external: map[string]Extent{}, initNames: map[string]bool{}}
	sawGraph := false
	err := s.fields(0, size, func(f field) error {
		if f.num == 7 && f.typ == protowire.BytesType {
			sawGraph = true
			return s.graph(f.off, f.off+f.n, true)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("%w: not a readable ONNX model: %v", ErrInvalid, err)
	}
	if !sawGraph {
		return nil, fmt.Errorf("%w: not an ONNX model: no graph found", ErrInvalid)
	}
	out := &modelScan{Extents: s.external}
	for _, vi := range s.inputs {
		if !s.initNames[vi.GetName()] {
			out.Signature.Inputs = append(out.Signature.Inputs, specOf(vi))
		}
	}
	for _, vi := range s.outputs {
		out.Signature.Outputs = append(out.Signature.Outputs, specOf(vi))
	}
	for loc := range s.external {
		out.ExternalFiles = append(out.ExternalFiles, loc)
	}
	sort.Strings(out.ExternalFiles)
	return out, nil
}

func specOf(vi *onnxpb.ValueInfoProto) TensorSpec {
	ts := TensorSpec{Name: vi.GetName(), Shape: []int64{}}
	tt := vi.GetType().GetTensorType()
	if tt == nil {
		ts.DataType = "NON_TENSOR"
		return ts
	}
	ts.DataType = onnxpb.TensorProto_DataType(tt.GetElemType()).String()
	named := false
	for _, d := range tt.GetShape().GetDim() {
		if _, ok := d.GetValue().(*onnxpb.TensorShapeProto_Dimension_DimValue); ok {
			ts.Shape = append(ts.Shape, d.GetDimValue())
			ts.DimNames = append(ts.DimNames, "")
			continue
		}
		ts.Shape = append(ts.Shape, -1)
		ts.DimNames = append(ts.DimNames, d.GetDimParam())
		named = named || d.GetDimParam() != ""
	}
	if !named {
		ts.DimNames = nil
	}
	return ts
}

// ValidateRelPath reports whether p is a safe relative file path inside a model folder: it is
// used for external-data locations read from models and for paths read from manifests.
func ValidateRelPath(p string) error {
	if p == "" || strings.Contains(p, "\\") || path.IsAbs(p) || path.Clean(p) != p || p == "." ||
		p == ".." || strings.HasPrefix(p, "../") {
		return fmt.Errorf("%w: file path %q must be relative to the model's folder, without '..'", ErrInvalid, p)
	}
	return nil
}

const (
	maxDepth    = 64      // nesting of subgraphs; deeper input is refused rather than recursed
	maxSmallMsg = 1 << 20 // value infos, names, external-data entries
)

type scanner struct {
	r         io.ReaderAt
	depth     int
	inputs    []*onnxpb.ValueInfoProto
	outputs   []*onnxpb.ValueInfoProto
	initNames map[string]bool
	external  map[string]Extent
}

type field struct {
	num    protowire.Number
	typ    protowire.Type
	off, n int64  // payload of a bytes field
	v      uint64 // value of a varint field
}

// fields calls fn for every field in [start, end).
func (s *scanner) fields(start, end int64, fn func(field) error) error {
	s.depth++
	defer func() { s.depth-- }()
	if s.depth > maxDepth {
		return errors.New("nesting too deep")
	}
	for off := start; off < end; {
		tag, n, err := s.varint(off, end)
		if err != nil {
			return err
		}
		off += n
		num, typ := protowire.DecodeTag(tag)
		if num <= 0 {
			return fmt.Errorf("invalid field number at offset %d", off)
		}
		f := field{num: num, typ: typ}
		switch typ {
		case protowire.VarintType:
			f.v, n, err = s.varint(off, end)
			off += n
		case protowire.Fixed32Type:
			off += 4
		case protowire.Fixed64Type:
			off += 8
		case protowire.BytesType:
			var l uint64
			l, n, err = s.varint(off, end)
			off += n
			if err == nil && l > uint64(end-off) {
				err = fmt.Errorf("field %d at offset %d runs past the end of its message", num, off)
			}
			f.off, f.n = off, int64(l)
			off += int64(l)
		default:
			err = fmt.Errorf("unsupported wire type %d at offset %d", typ, off)
		}
		if err != nil {
			return err
		}
		if off > end {
			return fmt.Errorf("truncated field %d", num)
		}
		if err := fn(f); err != nil {
			return err
		}
	}
	return nil
}

func (s *scanner) varint(off, end int64) (uint64, int64, error) {
	var buf [binary10]byte
	n := min(int64(len(buf)), end-off)
	if n <= 0 {
		return 0, 0, io.ErrUnexpectedEOF
	}
	m, err := s.r.ReadAt(buf[:n], off)
	if m < int(n) && err != nil {
		return 0, 0, err
	}
	v, l := protowire.ConsumeVarint(buf[:n])
	if l < 0 {
		return 0, 0, fmt.Errorf("bad varint at offset %d", off)
	}
	return v, int64(l), nil
}

const binary10 = 10

func (s *scanner) small(f field, m proto.Message) error {
	if f.n > maxSmallMsg {
		return fmt.Errorf("field %d of %d bytes is larger than expected", f.num, f.n)
	}
	buf := make([]byte, f.n)
	if _, err := s.r.ReadAt(buf, f.off); err != nil && !(errors.Is(err, io.EOF) && f.n == 0) {
		return err
	}
	return proto.Unmarshal(buf, m)
}

func (s *scanner) graph(start, end int64, top bool) error {
	return s.fields(start, end, func(f field) error {
		if f.typ != protowire.BytesType {
			return nil
		}
		switch f.num {
		case 1: // node
			return s.node(f.off, f.off+f.n)
		case 5: // initializer
			name, err := s.tensor(f.off, f.off+f.n)
			if top {
				s.initNames[name] = true
			}
			return err
		case 15: // sparse_initializer: values (1) and indices (2) are tensors
			return s.fields(f.off, f.off+f.n, func(g field) error {
				if g.typ == protowire.BytesType && (g.num == 1 || g.num == 2) {
					name, err := s.tensor(g.off, g.off+g.n)
					if top && g.num == 1 {
						s.initNames[name] = true
					}
					return err
				}
				return nil
			})
		case 11, 12: // input, output
			if !top {
				return nil
			}
			vi := &onnxpb.ValueInfoProto{}
			if err := s.small(f, vi); err != nil {
				return err
			}
			if f.num == 11 {
				s.inputs = append(s.inputs, vi)
			} else {
				s.outputs = append(s.outputs, vi)
			}
		}
		return nil
	})
}

func (s *scanner) node(start, end int64) error {
	return s.fields(start, end, func(f field) error {
		if f.num != 5 || f.typ != protowire.BytesType { // attribute
			return nil
		}
		return s.fields(f.off, f.off+f.n, func(a field) error {
			if a.typ != protowire.BytesType {
				return nil
			}
			switch a.num {
			case 5, 10: // t, tensors
				_, err := s.tensor(a.off, a.off+a.n)
				return err
			case 6, 11: // g, graphs
				return s.graph(a.off, a.off+a.n, false)
			}
			return nil
		})
	})
}

// tensor records the external-data location of a TensorProto and returns its name.
func (s *scanner) tensor(start, end int64) (string, error) {
	var (
		name           string
		location       string
		external       bool
		offset, length int64
		hasLength      bool
		dataType       int32
		dims           []int64
		dimsOK         = true
	)
	err := s.fields(start, end, func(f field) error {
		switch {
		case f.num == 1 && f.typ == protowire.VarintType: // dims, unpacked
			dims = append(dims, int64(f.v))
		case f.num == 1 && f.typ == protowire.BytesType: // dims, packed
			if f.n > maxSmallMsg {
				dimsOK = false
				return nil
			}
			buf := make([]byte, f.n)
			if _, err := s.r.ReadAt(buf, f.off); err != nil && f.n > 0 {
				return err
			}
			for len(buf) > 0 {
				v, n := protowire.ConsumeVarint(buf)
				if n < 0 {
					return errors.New("bad tensor dims")
				}
				dims, buf = append(dims, int64(v)), buf[n:]
			}
		case f.num == 2 && f.typ == protowire.VarintType: // data_type
			dataType = int32(f.v)
		case f.num == 8 && f.typ == protowire.BytesType: // name
			if f.n > maxSmallMsg {
				return errors.New("tensor name too long")
			}
			buf := make([]byte, f.n)
			if _, err := s.r.ReadAt(buf, f.off); err != nil && f.n > 0 {
				return err
			}
			name = string(buf)
		case f.num == 13 && f.typ == protowire.BytesType: // external_data
			e := &onnxpb.StringStringEntryProto{}
			if err := s.small(f, e); err != nil {
				return err
			}
			switch e.GetKey() {
			case "location":
				location = e.GetValue()
			case "offset":
				offset, _ = strconv.ParseInt(e.GetValue(), 10, 64)
			case "length":
				length, _ = strconv.ParseInt(e.GetValue(), 10, 64)
				hasLength = true
			}
		case f.num == 14 && f.typ == protowire.VarintType: // data_location
			external = f.v == uint64(onnxpb.TensorProto_EXTERNAL)
		}
		return nil
	})
	if err != nil {
		return name, err
	}
	if external {
		if location == "" {
			return name, fmt.Errorf("tensor %q is stored externally but names no location", name)
		}
		loc := path.Clean(strings.TrimPrefix(location, "./"))
		if err := ValidateRelPath(loc); err != nil {
			return name, fmt.Errorf("tensor %q: external data %w", name, err)
		}
		if !hasLength && dimsOK && onnx.DataType(dataType).Known() && onnx.DataType(dataType).Bits() > 0 {
			n := int64(1)
			for _, d := range dims {
				n *= d
			}
			length = onnx.DataType(dataType).StorageBytes(n)
		}
		e := s.external[loc]
		if end := offset + length; offset >= 0 && length >= 0 && end > e.End {
			e = Extent{End: end, Tensor: name}
		}
		s.external[loc] = e
	}
	return name, nil
}
