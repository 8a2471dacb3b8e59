package runtime

import (
	"errors"
	"fmt"
	"unsafe"

	ort "github.com/yalue/onnxruntime_go"

	"github.com/mlops-dev/mlops/internal/onnx"
)

// typedInOrtGo reports whether onnxruntime_go returns outputs of dt as a
// typed Tensor[T]. Other element types come back through a path that sizes
// the copy as one byte per element (wrong for FLOAT16 and friends), so this
// package preallocates their outputs instead.
func typedInOrtGo(dt onnx.DataType) bool {
	switch dt {
	case onnx.Float, onnx.Double, onnx.Int8, onnx.Uint8, onnx.Int16, onnx.Uint16,
		onnx.Int32, onnx.Uint32, onnx.Int64, onnx.Uint64, onnx.Bool:
		return true
	}
	return false
}

// toValue wraps a tensor as an ORT value. Numeric data is shared, not copied,
// unless it is misaligned for its element type.
func toValue(t *Tensor) (ort.Value, error) {
	shape := ort.NewShape(t.Shape...)
	if t.DataType == onnx.String {
		if len(t.Shape) == 0 {
			return nil, errors.New("scalar (rank-0) STRING tensors are not supported by onnxruntime_go; use shape [1]")
		}
		st, err := ort.NewStringTensor(shape)
		if err != nil {
			return nil, err
		}
		if err := st.SetContents(t.Strings); err != nil {
			st.Destroy()
			return nil, err
		}
		return st, nil
	}
	if len(t.Shape) == 0 {
		return newScalar(t.DataType, t.Data)
	}
	data := aligned(t.Data, t.DataType.ByteSize())
	if len(data) == 0 {
		data = make([]byte, 1) // ORT needs a non-nil buffer even for zero elements
	}
	v, err := ort.NewCustomDataTensor(shape, data, ort.TensorElementDataType(t.DataType))
	if err != nil {
		return nil, err // not v: a nil *CustomDataTensor in an ort.Value is not a nil interface
	}
	return v, nil
}

// aligned returns b, or a copy of it when its start is not a multiple of
// size (a slice cut out of a larger buffer may be).
func aligned(b []byte, size int) []byte {
	if len(b) == 0 || size <= 1 || uintptr(unsafe.Pointer(&b[0]))%uintptr(size) == 0 {
		return b
	}
	c := make([]byte, len(b))
	copy(c, b)
	return c
}

func newScalar(dt onnx.DataType, data []byte) (ort.Value, error) {
	switch dt {
	case onnx.Float:
		return scalar[float32](data)
	case onnx.Double:
		return scalar[float64](data)
	case onnx.Int8:
		return scalar[int8](data)
	case onnx.Uint8:
		return scalar[uint8](data)
	case onnx.Int16:
		return scalar[int16](data)
	case onnx.Uint16:
		return scalar[uint16](data)
	case onnx.Int32:
		return scalar[int32](data)
	case onnx.Uint32:
		return scalar[uint32](data)
	case onnx.Int64:
		return scalar[int64](data)
	case onnx.Uint64:
		return scalar[uint64](data)
	case onnx.Bool:
		return scalar[bool](data)
	}
	return nil, fmt.Errorf("scalar (rank-0) %s tensors are not supported by onnxruntime_go; use shape [1]", dt)
}

func scalar[T ort.TensorData](data []byte) (ort.Value, error) {
	var v T
	size := int(unsafe.Sizeof(v))
	if len(data) != size {
		return nil, fmt.Errorf("a scalar needs %d bytes, got %d", size, len(data))
	}
	copy(unsafe.Slice((*byte)(unsafe.Pointer(&v)), size), data)
	sv, err := ort.NewScalar(v)
	if err != nil {
		return nil, err // never a nil *Scalar inside the interface
	}
	return sv, nil
}

// preallocate makes the output value for outputs onnxruntime_go cannot
// allocate correctly itself (non-typed element types and scalars), using
// the declared shape with symbolic dimensions filled in from the inputs. It
// returns nil values for outputs ORT should allocate.
func preallocate(info TensorInfo, dims map[string]int64) (ort.Value, func() (*Tensor, error), error) {
	dt := info.DataType
	if dt == onnx.String || dt == onnx.Undefined {
		return nil, nil, nil
	}
	typed := typedInOrtGo(dt)
	if typed && (!info.RankKnown || len(info.Shape) > 0) {
		return nil, nil, nil
	}
	if !info.RankKnown {
		return nil, nil, fmt.Errorf("the model does not declare the shape of this %s output, and onnxruntime_go "+
			"can only return %s outputs whose shape is known before running; declare the output shape in the model", dt, dt)
	}
	if len(info.Shape) == 0 {
		switch dt {
		case onnx.Float:
			return scalarOut[float32](dt)
		case onnx.Double:
			return scalarOut[float64](dt)
		case onnx.Int8:
			return scalarOut[int8](dt)
		case onnx.Uint8:
			return scalarOut[uint8](dt)
		case onnx.Int16:
			return scalarOut[int16](dt)
		case onnx.Uint16:
			return scalarOut[uint16](dt)
		case onnx.Int32:
			return scalarOut[int32](dt)
		case onnx.Uint32:
			return scalarOut[uint32](dt)
		case onnx.Int64:
			return scalarOut[int64](dt)
		case onnx.Uint64:
			return scalarOut[uint64](dt)
		case onnx.Bool:
			return scalarOut[bool](dt)
		}
		return nil, nil, fmt.Errorf("scalar (rank-0) %s outputs are not supported by onnxruntime_go", dt)
	}
	shape := make([]int64, len(info.Shape))
	for d, n := range info.Shape {
		if n < 0 {
			v, ok := dims[info.DimNames[d]]
			if info.DimNames[d] == "" || !ok {
				return nil, nil, fmt.Errorf("%s has a dimension whose size is only known after running, and "+
					"onnxruntime_go can only return %s outputs whose shape is known before running", describe(info), dt)
			}
			n = v
		}
		shape[d] = n
	}
	size := dt.StorageBytes(elements(shape))
	if size < 0 || !dt.Known() {
		return nil, nil, fmt.Errorf("unsupported element type %s with shape %v", dt, shape)
	}
	buf := make([]byte, max(size, 1))
	v, err := ort.NewCustomDataTensor(ort.NewShape(shape...), buf, ort.TensorElementDataType(dt))
	if err != nil {
		return nil, nil, err
	}
	read := func() (*Tensor, error) {
		return &Tensor{DataType: dt, Shape: shape, Data: buf[:size]}, nil
	}
	return v, read, nil
}

func scalarOut[T ort.TensorData](dt onnx.DataType) (ort.Value, func() (*Tensor, error), error) {
	s, err := ort.NewEmptyScalar[T]()
	if err != nil {
		return nil, nil, err
	}
	read := func() (*Tensor, error) {
		v := s.GetData()
		return &Tensor{DataType: dt, Shape: []int64{}, Data: bytesOf([]T{v})}, nil
	}
	return s, read, nil
}

// fromValue copies an ORT output into a Tensor.
func fromValue(v ort.Value, read func() (*Tensor, error)) (*Tensor, error) {
	if read != nil {
		return read()
	}
	if isNilValue(v) {
		return nil, errors.New("ONNX Runtime returned no value that onnxruntime_go can read (declare the output's type and shape in the model)")
	}
	switch t := v.(type) {
	case *ort.Tensor[float32]:
		return typedOut(onnx.Float, t), nil
	case *ort.Tensor[float64]:
		return typedOut(onnx.Double, t), nil
	case *ort.Tensor[int8]:
		return typedOut(onnx.Int8, t), nil
	case *ort.Tensor[uint8]:
		return typedOut(onnx.Uint8, t), nil
	case *ort.Tensor[int16]:
		return typedOut(onnx.Int16, t), nil
	case *ort.Tensor[uint16]:
		return typedOut(onnx.Uint16, t), nil
	case *ort.Tensor[int32]:
		return typedOut(onnx.Int32, t), nil
	case *ort.Tensor[uint32]:
		return typedOut(onnx.Uint32, t), nil
	case *ort.Tensor[int64]:
		return typedOut(onnx.Int64, t), nil
	case *ort.Tensor[uint64]:
		return typedOut(onnx.Uint64, t), nil
	case *ort.Tensor[bool]:
		return typedOut(onnx.Bool, t), nil
	case *ort.StringTensor:
		s, err := t.GetContents()
		if err != nil {
			return nil, err
		}
		return &Tensor{DataType: onnx.String, Shape: cloneShape(t.GetShape()), Strings: s}, nil
	case nil:
		return nil, errors.New("ONNX Runtime returned no value")
	}
	return nil, fmt.Errorf("ONNX Runtime returned a %s value; mlops handles tensor outputs only", v.GetONNXType())
}

// typedOut takes over the Go slice onnxruntime_go copied the output into:
// it stays valid after the ORT value is destroyed, so no second copy.
func typedOut[T ort.TensorData](dt onnx.DataType, t *ort.Tensor[T]) *Tensor {
	shape := cloneShape(t.GetShape())
	data := t.GetData()
	n := elements(shape)
	if n >= 0 && int64(len(data)) > n {
		data = data[:n]
	}
	return &Tensor{DataType: dt, Shape: shape, Data: viewBytes(data)}
}
