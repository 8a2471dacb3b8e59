package onnx_test

import (
	"reflect"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/mlops-dev/mlops/internal/onnx"
	"github.com/mlops-dev/mlops/internal/onnx/onnxpb"
)

func roundTrip[T onnx.Element](t *testing.T, vals []T) {
	t.Helper()
	tp := &onnxpb.TensorProto{Name: proto.String("t")}
	if err := onnx.SetValues(tp, []int64{int64(len(vals))}, vals); err != nil {
		t.Fatal(err)
	}
	if onnx.TypeOf(tp) != onnx.ElementType[T]() || tp.RawData == nil {
		t.Fatalf("SetValues stored %v without raw_data", onnx.TypeOf(tp))
	}
	// Through the wire too, so little-endian layout is what is checked.
	b, _ := proto.Marshal(tp)
	back := &onnxpb.TensorProto{}
	if err := proto.Unmarshal(b, back); err != nil {
		t.Fatal(err)
	}
	got, err := onnx.Values[T](nil, back)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, vals) {
		t.Fatalf("%v: got %v, want %v", onnx.ElementType[T](), got, vals)
	}
}

func TestValuesRoundTripEveryNativeType(t *testing.T) {
	roundTrip(t, []float32{1.5, -2, 3e30})
	roundTrip(t, []float64{1.5, -2, 3e300})
	roundTrip(t, []int8{-128, 0, 127})
	roundTrip(t, []int16{-32768, 1, 32767})
	roundTrip(t, []int32{-1 << 31, 2, 1<<31 - 1})
	roundTrip(t, []int64{-1 << 63, 3, 1<<63 - 1})
	roundTrip(t, []uint8{0, 1, 255})
	roundTrip(t, []uint16{0, 1, 65535})
	roundTrip(t, []uint32{0, 1, 1<<32 - 1})
	roundTrip(t, []uint64{0, 1, 1<<64 - 1})
	roundTrip(t, []bool{true, false, true})
	roundTrip(t, []complex64{1 + 2i, -3 - 4i})
	roundTrip(t, []complex128{1 + 2i, -3e200 - 4i})
}

// Typed repeated fields as other ONNX writers emit them.
func TestTypedFields(t *testing.T) {
	dt := func(d onnx.DataType) *int32 { v := int32(d); return &v }
	for _, tc := range []struct {
		name string
		t    *onnxpb.TensorProto
		want []float64
	}{
		{"float_data", &onnxpb.TensorProto{DataType: dt(onnx.Float), Dims: []int64{2}, FloatData: []float32{1, -2}}, []float64{1, -2}},
		{"double_data", &onnxpb.TensorProto{DataType: dt(onnx.Double), Dims: []int64{2}, DoubleData: []float64{1, -2}}, []float64{1, -2}},
		{"int64_data", &onnxpb.TensorProto{DataType: dt(onnx.Int64), Dims: []int64{2}, Int64Data: []int64{7, -8}}, []float64{7, -8}},
		{"uint64_data uint32", &onnxpb.TensorProto{DataType: dt(onnx.Uint32), Dims: []int64{2}, Uint64Data: []uint64{7, 1<<32 - 1}}, []float64{7, 1<<32 - 1}},
		{"int32_data int8", &onnxpb.TensorProto{DataType: dt(onnx.Int8), Dims: []int64{2}, Int32Data: []int32{-5, 100}}, []float64{-5, 100}},
		{"int32_data uint16", &onnxpb.TensorProto{DataType: dt(onnx.Uint16), Dims: []int64{1}, Int32Data: []int32{65535}}, []float64{65535}},
		{"int32_data bool", &onnxpb.TensorProto{DataType: dt(onnx.Bool), Dims: []int64{2}, Int32Data: []int32{1, 0}}, []float64{1, 0}},
		{"int32_data float16", &onnxpb.TensorProto{DataType: dt(onnx.Float16), Dims: []int64{2}, Int32Data: []int32{0x3c00, 0xc000}}, []float64{1, -2}},
		{"int32_data bfloat16", &onnxpb.TensorProto{DataType: dt(onnx.BFloat16), Dims: []int64{1}, Int32Data: []int32{0x3f80}}, []float64{1}},
		{"int32_data e4m3fn", &onnxpb.TensorProto{DataType: dt(onnx.Float8E4M3FN), Dims: []int64{1}, Int32Data: []int32{0x7e}}, []float64{448}},
		// INT4: the ONNX helper packs two elements per int32_data entry, low nibble first.
		{"int32_data int4 packed", &onnxpb.TensorProto{DataType: dt(onnx.Int4), Dims: []int64{3}, Int32Data: []int32{0xF7, 0x08}}, []float64{7, -1, -8}},
		{"int32_data uint4 unpacked", &onnxpb.TensorProto{DataType: dt(onnx.Uint4), Dims: []int64{3}, Int32Data: []int32{1, 15, 3}}, []float64{1, 15, 3}},
		{"raw int2", &onnxpb.TensorProto{DataType: dt(onnx.Int2), Dims: []int64{5}, RawData: []byte{0b11_10_01_00, 0b01}}, []float64{0, 1, -2, -1, 1}},
		{"raw float4", &onnxpb.TensorProto{DataType: dt(onnx.Float4E2M1), Dims: []int64{2}, RawData: []byte{0xA7}}, []float64{6, -1}},
		{"scalar", &onnxpb.TensorProto{DataType: dt(onnx.Float), FloatData: []float32{3}}, []float64{3}},
		{"empty", &onnxpb.TensorProto{DataType: dt(onnx.Float), Dims: []int64{0, 4}}, []float64{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := onnx.AsFloat64s(nil, tc.t)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("got %v, want %v", got, tc.want)
			}
		})
	}
}

func TestSetFromConversions(t *testing.T) {
	tp := &onnxpb.TensorProto{Name: proto.String("q")}
	if err := onnx.SetFromInt64s(tp, onnx.Int4, []int64{3}, []int64{-8, 7, -1}); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(tp.RawData, []byte{0x78, 0x0f}) {
		t.Fatalf("int4 raw = %x", tp.RawData)
	}
	if got, _ := onnx.AsInt64s(nil, tp); !reflect.DeepEqual(got, []int64{-8, 7, -1}) {
		t.Fatalf("int4 back = %v", got)
	}
	if err := onnx.SetFromInt64s(tp, onnx.Uint4, []int64{1}, []int64{16}); err == nil || !strings.Contains(err.Error(), "index 0") {
		t.Fatalf("out of range: %v", err)
	}
	for _, dt := range []onnx.DataType{onnx.Float16, onnx.BFloat16, onnx.Float8E4M3FN, onnx.Float8E5M2, onnx.Float4E2M1, onnx.Double} {
		if err := onnx.SetFromFloat32s(tp, dt, []int64{2, 2}, []float32{1, -2, 0.5, 4}); err != nil {
			t.Fatal(err)
		}
		got, err := onnx.AsFloat32s(nil, tp)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, []float32{1, -2, 0.5, 4}) {
			t.Errorf("%v: got %v", dt, got)
		}
	}
	if err := onnx.SetStrings(tp, []int64{2}, [][]byte{[]byte("a"), []byte("b")}); err != nil {
		t.Fatal(err)
	}
	if s, err := onnx.Strings(tp); err != nil || string(s[1]) != "b" {
		t.Fatalf("strings %q %v", s, err)
	}
}

func TestTensorDataErrors(t *testing.T) {
	dt := func(d onnx.DataType) *int32 { v := int32(d); return &v }
	for name, tc := range map[string]struct {
		t    *onnxpb.TensorProto
		want string
	}{
		// Dims claim 2^60 elements; the decoder must not try to allocate them.
		"huge dims typed":   {&onnxpb.TensorProto{Name: proto.String("h"), DataType: dt(onnx.Float), Dims: []int64{1 << 30, 1 << 30}, FloatData: []float32{1}}, "needs 1152921504606846976 values"},
		"huge dims raw":     {&onnxpb.TensorProto{Name: proto.String("h"), DataType: dt(onnx.Int64), Dims: []int64{1 << 40}, RawData: []byte{1}}, "needs 8796093022208 bytes"},
		"overflow":          {&onnxpb.TensorProto{Name: proto.String("o"), DataType: dt(onnx.Float), Dims: []int64{1 << 62, 1 << 62}}, "overflows"},
		"negative dim":      {&onnxpb.TensorProto{Name: proto.String("n"), DataType: dt(onnx.Float), Dims: []int64{-1}}, "negative"},
		"short raw":         {&onnxpb.TensorProto{Name: proto.String("s"), DataType: dt(onnx.Float), Dims: []int64{2}, RawData: []byte{0, 0, 0}}, "needs 8 bytes of data, found 3"},
		"wrong type":        {&onnxpb.TensorProto{Name: proto.String("w"), DataType: dt(onnx.Int32), Dims: []int64{1}, Int32Data: []int32{1}}, "is INT32, not FLOAT"},
		"unknown type":      {&onnxpb.TensorProto{Name: proto.String("u"), DataType: dt(99), Dims: []int64{1}}, "not supported"},
		"external no model": {&onnxpb.TensorProto{Name: proto.String("e"), DataType: dt(onnx.Float), Dims: []int64{1}, DataLocation: onnxpb.TensorProto_EXTERNAL.Enum()}, "pass the model"},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := onnx.Float32s(nil, tc.t)
			if name == "huge dims raw" {
				_, err = onnx.Int64s(nil, tc.t)
			}
			if name == "wrong type" || name == "unknown type" {
				_, err = onnx.Values[float32](nil, tc.t)
				if name == "unknown type" {
					_, err = onnx.RawBytes(nil, tc.t)
				}
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want it to mention %q", err, tc.want)
			}
		})
	}
}

func TestDataType(t *testing.T) {
	for _, tc := range []struct {
		dt    onnx.DataType
		name  string
		bits  int
		bytes int64 // StorageBytes(3)
	}{
		{onnx.Float, "FLOAT", 32, 12}, {onnx.Int4, "INT4", 4, 2}, {onnx.Uint2, "UINT2", 2, 1},
		{onnx.Complex128, "COMPLEX128", 128, 48}, {onnx.Float8E8M0, "FLOAT8E8M0", 8, 3},
		{onnx.String, "STRING", 0, -1}, {onnx.DataType(99), "DataType(99)", 0, -1},
	} {
		if tc.dt.String() != tc.name || tc.dt.Bits() != tc.bits || tc.dt.StorageBytes(3) != tc.bytes {
			t.Errorf("%d: %s %d %d, want %s %d %d", tc.dt, tc.dt, tc.dt.Bits(), tc.dt.StorageBytes(3), tc.name, tc.bits, tc.bytes)
		}
	}
	for in, want := range map[string]onnx.DataType{"float": onnx.Float, "float32": onnx.Float, "FLOAT16": onnx.Float16, "bf16": onnx.BFloat16, "int4": onnx.Int4} {
		if got, err := onnx.ParseDataType(in); err != nil || got != want {
			t.Errorf("ParseDataType(%q) = %v, %v", in, got, err)
		}
	}
	if _, err := onnx.ParseDataType("float42"); err == nil {
		t.Error("ParseDataType accepted float42")
	}
}
