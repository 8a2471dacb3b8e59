package onnx

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/mlops-dev/mlops/internal/onnx/onnxpb"
)

// ExternalData is the parsed external_data of a tensor stored outside the
// model file.
type ExternalData struct {
	Location string // relative to the model's folder
	Offset   int64
	Length   int64 // -1: to the end of the file
	Checksum string
}

// ErrUnsafeLocation marks an external data location that would read
// outside the model's folder.
var ErrUnsafeLocation = errors.New("external data location escapes the model folder")

// IsExternal reports whether t keeps its data in an external file.
func IsExternal(t *onnxpb.TensorProto) bool {
	return t.GetDataLocation() == onnxpb.TensorProto_EXTERNAL
}

// ExternalDataOf parses t.external_data. It fails when t is not external or
// when offset/length are not non-negative integers.
func ExternalDataOf(t *onnxpb.TensorProto) (ExternalData, error) {
	e := ExternalData{Length: -1}
	if !IsExternal(t) {
		return e, fmt.Errorf("tensor %q is not stored externally", t.GetName())
	}
	for _, kv := range t.GetExternalData() {
		switch kv.GetKey() {
		case "location":
			e.Location = kv.GetValue()
		case "offset", "length":
			v, err := strconv.ParseInt(kv.GetValue(), 10, 64)
			if err != nil || v < 0 {
				return e, fmt.Errorf("tensor %q: external data %s %q is not a non-negative integer", t.GetName(), kv.GetKey(), kv.GetValue())
			}
			if kv.GetKey() == "offset" {
				e.Offset = v
			} else {
				e.Length = v
			}
		case "checksum":
			e.Checksum = kv.GetValue()
		}
	}
	if e.Location == "" {
		return e, fmt.Errorf("tensor %q is marked external but has no location", t.GetName())
	}
	return e, nil
}

// setExternalData replaces t's storage with a reference to an external file.
func setExternalData(t *onnxpb.TensorProto, e ExternalData) {
	clearData(t)
	kv := func(k, v string) *onnxpb.StringStringEntryProto {
		return &onnxpb.StringStringEntryProto{Key: &k, Value: &v}
	}
	t.ExternalData = []*onnxpb.StringStringEntryProto{
		kv("location", e.Location),
		kv("offset", strconv.FormatInt(e.Offset, 10)),
		kv("length", strconv.FormatInt(e.Length, 10)),
	}
	loc := onnxpb.TensorProto_EXTERNAL
	t.DataLocation = &loc
}

// clearData removes every form of stored data from t (typed fields, raw
// bytes and external reference), keeping name, dims and type.
func clearData(t *onnxpb.TensorProto) {
	t.FloatData, t.Int32Data, t.StringData, t.Int64Data = nil, nil, nil, nil
	t.DoubleData, t.Uint64Data, t.RawData = nil, nil, nil
	t.ExternalData, t.DataLocation = nil, nil
}

// ResolveLocation returns the file a location refers to, after checking that
// it stays inside dir: absolute paths, ".." components and symbolic links
// that lead outside dir are refused with ErrUnsafeLocation.
func ResolveLocation(dir, location string) (string, error) {
	if dir == "" {
		return "", fmt.Errorf("external data %q: the model was not loaded from a file, so its folder is unknown; load it with onnx.Load or pass onnx.WithBaseDir", location)
	}
	if err := checkLocation(location); err != nil {
		return "", err
	}
	p := filepath.Join(dir, filepath.FromSlash(location))
	realDir, err := filepath.EvalSymlinks(dir)
	if err != nil {
		return "", fmt.Errorf("external data %q: model folder: %w", location, err)
	}
	realP, err := filepath.EvalSymlinks(p)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return "", fmt.Errorf("external data file %s is missing: copy it next to the model (external data lives beside the .onnx file)", p)
		}
		return "", fmt.Errorf("external data %q: %w", location, err)
	}
	rel, err := filepath.Rel(realDir, realP)
	if err != nil || rel == ".." || strings.HasPrefix(rel, ".."+string(filepath.Separator)) || filepath.IsAbs(rel) {
		return "", fmt.Errorf("%w: %q is a symbolic link to %s, outside %s", ErrUnsafeLocation, location, realP, realDir)
	}
	return realP, nil
}

// checkLocation applies the lexical rules: relative, no "..", no empty name.
func checkLocation(location string) error {
	if location == "" {
		return fmt.Errorf("%w: the location is empty", ErrUnsafeLocation)
	}
	if strings.ContainsRune(location, 0) {
		return fmt.Errorf("%w: %q contains a NUL byte", ErrUnsafeLocation, location)
	}
	slashed := strings.ReplaceAll(location, `\`, "/")
	if filepath.IsAbs(location) || strings.HasPrefix(slashed, "/") || filepath.VolumeName(location) != "" ||
		(len(slashed) >= 2 && slashed[1] == ':') {
		return fmt.Errorf("%w: %q is an absolute path; external data must be given relative to the model's folder", ErrUnsafeLocation, location)
	}
	for _, part := range strings.Split(slashed, "/") {
		if part == ".." {
			return fmt.Errorf("%w: %q contains \"..\"; external data must live in the model's folder or below it", ErrUnsafeLocation, location)
		}
	}
	return nil
}

// externalBytes returns the bytes of an external tensor, aliasing the
// memory-mapped file. The slice is valid until m.Close.
func (m *Model) externalBytes(t *onnxpb.TensorProto) ([]byte, error) {
	e, err := ExternalDataOf(t)
	if err != nil {
		return nil, err
	}
	path, err := ResolveLocation(m.Dir, e.Location)
	if err != nil {
		return nil, fmt.Errorf("tensor %q: %w", t.GetName(), err)
	}
	if m.ext == nil {
		m.ext = newExternalFiles()
	}
	f, err := m.ext.get(path)
	if err != nil {
		return nil, fmt.Errorf("tensor %q: %w", t.GetName(), err)
	}
	size := int64(len(f.data))
	if e.Offset > size {
		return nil, fmt.Errorf("tensor %q: external offset %d is past the end of %s (%d bytes): the data file does not match the model", t.GetName(), e.Offset, e.Location, size)
	}
	n := e.Length
	if n < 0 {
		n = size - e.Offset
	}
	if n > size-e.Offset {
		return nil, fmt.Errorf("tensor %q: external data %s holds %d bytes after offset %d, the tensor needs %d: the data file is truncated or does not match the model", t.GetName(), e.Location, size-e.Offset, e.Offset, n)
	}
	return f.data[e.Offset : e.Offset+n : e.Offset+n], nil
}

// InlineExternalData reads every external tensor of the model into
// raw_data, so that the model no longer refers to data files.
func (m *Model) InlineExternalData() error {
	var err error
	forEachTensor(m.Proto, func(t *onnxpb.TensorProto) bool {
		if !IsExternal(t) {
			return true
		}
		var b []byte
		if b, err = m.externalBytes(t); err != nil {
			return false
		}
		raw := make([]byte, len(b))
		copy(raw, b)
		clearData(t)
		t.RawData = raw
		return true
	})
	return err
}

// TensorError adds what was being done with tensor t to err, naming t only when err does not
// already (the readers' errors start with `tensor "NAME": `), so a message says each name once.
func TensorError(what string, t *onnxpb.TensorProto, err error) error {
	if strings.Contains(err.Error(), fmt.Sprintf("tensor %q", t.GetName())) {
		return fmt.Errorf("%s: %w", what, err)
	}
	return fmt.Errorf("%s %q: %w", what, t.GetName(), err)
}
