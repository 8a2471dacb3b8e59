package oip

import (
	"bytes"
	"math"
	"strings"
	"testing"
)

// sample builds a 2x2 tensor of dt with values that exercise sign and range.
func sample(dt Datatype) *Tensor {
	t := &Tensor{Name: "x", Datatype: dt, Shape: []int64{2, 2}}
	if dt == BYTES {
		t.Strings = [][]byte{[]byte("a"), []byte(""), []byte("hé \"q\"\n"), {0, 1, 2}}
		return t
	}
	vals := map[Datatype]string{
		BOOL: "[true,false,true,true]", UINT8: "[0,1,200,255]", UINT16: "[0,1,65535,7]",
		UINT32: "[0,1,4294967295,9]", UINT64: "[0,1,18446744073709551615,3]",
		INT8: "[-128,127,0,-1]", INT16: "[-32768,32767,0,-1]", INT32: "[-2147483648,2147483647,0,-1]",
		INT64: "[-9223372036854775808,9223372036854775807,0,-1]", FP16: "[0.5,-2,65504,\"NaN\"]",
		BF16: "[1,-0.5,3.0e38,\"-Infinity\"]", FP32: "[1.5,-0.25,3.4e38,\"Infinity\"]",
		FP64: "[1e-300,-2.5,1.7976931348623157e308,0]",
	}
	data, _, err := decodeData([]byte(vals[dt]), dt, 4)
	if err != nil {
		panic(err)
	}
	t.Data = data
	return t
}

func equalTensor(a, b *Tensor) bool {
	if a.Name != b.Name || a.Datatype != b.Datatype || len(a.Shape) != len(b.Shape) {
		return false
	}
	for i := range a.Shape {
		if a.Shape[i] != b.Shape[i] {
			return false
		}
	}
	if a.Datatype == BYTES {
		if len(a.Strings) != len(b.Strings) {
			return false
		}
		for i := range a.Strings {
			if !bytes.Equal(a.Strings[i], b.Strings[i]) {
				return false
			}
		}
		return true
	}
	return bytes.Equal(a.Data, b.Data)
}

func TestRoundTripEveryDatatype(t *testing.T) {
	for _, dt := range Datatypes {
		for _, bin := range []bool{false, true} {
			in := sample(dt)
			if dt == BYTES && !bin {
				in.Strings[3] = []byte("ok") // JSON strings carry UTF-8 only
			}
			body, hl, err := EncodeRequest(&InferRequest{ID: "r1", Inputs: []*Tensor{in}}, bin)
			if err != nil {
				t.Fatal(err)
			}
			req, err := DecodeRequest(body, hl)
			if err != nil {
				t.Fatalf("%s binary=%v: %v\n%s", dt, bin, err, body)
			}
			if req.ID != "r1" || !equalTensor(req.Inputs[0], in) {
				t.Fatalf("%s binary=%v: request round trip changed the tensor: %+v vs %+v", dt, bin, req.Inputs[0], in)
			}
			resp := &InferResponse{ModelName: "m", ModelVersion: "1", ID: "r1", Outputs: []*Tensor{in}, Binary: []bool{bin}}
			rb, rhl := resp.Encode()
			if bin != (rhl >= 0) {
				t.Fatalf("%s: binary response header length %d", dt, rhl)
			}
			got, err := DecodeResponse(rb, rhl)
			if err != nil {
				t.Fatalf("%s binary=%v: %v\n%s", dt, bin, err, rb)
			}
			if !equalTensor(got.Outputs[0], in) || got.ID != "r1" || got.ModelVersion != "1" {
				t.Fatalf("%s binary=%v: response round trip changed the tensor", dt, bin)
			}
		}
	}
}

func TestNestedAndFlatDataAgree(t *testing.T) {
	flat := `{"inputs":[{"name":"a","shape":[2,3],"datatype":"INT32","data":[1,2,3,4,5,6]}]}`
	nested := `{"inputs":[{"name":"a","shape":[2,3],"datatype":"INT32","data":[[1,2,3],[4,5,6]]}]}`
	a, err := DecodeRequest([]byte(flat), -1)
	if err != nil {
		t.Fatal(err)
	}
	b, err := DecodeRequest([]byte(nested), -1)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(a.Inputs[0].Data, b.Inputs[0].Data) || len(a.Inputs[0].Data) != 24 {
		t.Fatalf("flat %v nested %v", a.Inputs[0].Data, b.Inputs[0].Data)
	}
}

func TestDecodeRequestErrors(t *testing.T) {
	cases := []struct{ name, body, want string }{
		{"not json", `{`, "not a valid inference request"},
		{"no inputs", `{"inputs":[]}`, "no inputs"},
		{"bad dtype", `{"inputs":[{"name":"a","shape":[1],"datatype":"FP8","data":[1]}]}`, `unknown datatype "FP8"`},
		{"count", `{"inputs":[{"name":"a","shape":[3],"datatype":"FP32","data":[1,2]}]}`, "needs 3 elements, data has 2"},
		{"too many", `{"inputs":[{"name":"a","shape":[1],"datatype":"FP32","data":[1,2]}]}`, "more than the 1 elements"},
		{"range", `{"inputs":[{"name":"a","shape":[1],"datatype":"UINT8","data":[256]}]}`, "UINT8 wants an integer in range"},
		{"float for int", `{"inputs":[{"name":"a","shape":[1],"datatype":"INT32","data":[1.5]}]}`, "INT32 wants an integer"},
		{"string for float", `{"inputs":[{"name":"a","shape":[1],"datatype":"FP32","data":["x"]}]}`, "wants a number"},
		{"number for bytes", `{"inputs":[{"name":"a","shape":[1],"datatype":"BYTES","data":[1]}]}`, "must be JSON strings"},
		{"no data", `{"inputs":[{"name":"a","shape":[1],"datatype":"FP32"}]}`, "neither data nor"},
		{"dup", `{"inputs":[{"name":"a","shape":[1],"datatype":"FP32","data":[1]},{"name":"a","shape":[1],"datatype":"FP32","data":[1]}]}`, "appears twice"},
		{"huge shape", `{"inputs":[{"name":"a","shape":[1000000000,1000000000],"datatype":"FP32","data":[1]}]}`, "at most"},
		{"negative", `{"inputs":[{"name":"a","shape":[-1],"datatype":"FP32","data":[1]}]}`, "negative"},
		{"unknown field", `{"inputz":[]}`, "unknown field"},
		{"object in data", `{"inputs":[{"name":"a","shape":[2],"datatype":"FP32","data":[1,{"b":2}]}]}`, "unexpected '{'"},
		{"scalar data", `{"inputs":[{"name":"a","shape":[1],"datatype":"FP32","data":1}]}`, "must be a JSON array"},
		{"binary without header", `{"inputs":[{"name":"a","shape":[1],"datatype":"FP32","parameters":{"binary_data_size":4}}]}`, "binary bytes left"},
		{"bad binary_data_output", `{"parameters":{"binary_data_output":1},"inputs":[{"name":"a","shape":[1],"datatype":"FP32","data":[1]}]}`, "true or false"},
	}
	for _, c := range cases {
		_, err := DecodeRequest([]byte(c.body), -1)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: got %v, want error containing %q", c.name, err, c.want)
		}
		if e, ok := err.(*Error); ok && e.Status != 400 {
			t.Errorf("%s: status %d, want 400", c.name, e.Status)
		}
	}
}

func TestBinaryErrors(t *testing.T) {
	hdr := `{"inputs":[{"name":"a","shape":[2],"datatype":"FP32","parameters":{"binary_data_size":8}}]}`
	if _, err := DecodeRequest([]byte(hdr+"1234567"), len(hdr)); err == nil {
		t.Error("short binary part accepted")
	}
	if _, err := DecodeRequest([]byte(hdr+"123456789"), len(hdr)); err == nil || !strings.Contains(err.Error(), "no input's binary_data_size") {
		t.Errorf("trailing bytes: %v", err)
	}
	if _, err := DecodeRequest([]byte(hdr), len(hdr)+5); err == nil {
		t.Error("header length past body accepted")
	}
	bhdr := `{"inputs":[{"name":"s","shape":[2],"datatype":"BYTES","parameters":{"binary_data_size":9}}]}`
	if _, err := DecodeRequest([]byte(bhdr+"\x05\x00\x00\x00abcde"), len(bhdr)); err == nil || !strings.Contains(err.Error(), "needs 2 BYTES elements") {
		t.Errorf("BYTES count: %v", err)
	}
}

func TestRequestedOutputs(t *testing.T) {
	body := `{"id":"q","parameters":{"binary_data_output":true},"inputs":[{"name":"a","shape":[1],"datatype":"FP32","data":[1]}],
	"outputs":[{"name":"o1"},{"name":"o2","parameters":{"binary_data":false}}]}`
	req, err := DecodeRequest([]byte(body), -1)
	if err != nil {
		t.Fatal(err)
	}
	if !req.BinaryOutput || !req.Outputs[0].Binary || req.Outputs[1].Binary {
		t.Fatalf("outputs %+v", req.Outputs)
	}
}

func TestHalfConversions(t *testing.T) {
	cases := []struct {
		f float32
		h uint16
	}{{0, 0}, {1, 0x3c00}, {-2, 0xc000}, {65504, 0x7bff}, {1e6, 0x7c00}, {5.960464477539063e-08, 1}, {1e-9, 0}, {0.333251953125, 0x3555}}
	for _, c := range cases {
		if got := float32ToHalf(c.f); got != c.h {
			t.Errorf("half(%g) = %#x, want %#x", c.f, got, c.h)
		}
		if c.h != 0x7c00 && c.f > 1e-8 || c.f == 0 {
			if back := halfToFloat32(c.h); back != c.f && c.f > 1e-8 {
				t.Errorf("float(%#x) = %g, want %g", c.h, back, c.f)
			}
		}
	}
	if !math.IsNaN(float64(halfToFloat32(float32ToHalf(float32(math.NaN()))))) {
		t.Error("NaN lost in FP16")
	}
	// every half value survives half -> float32 -> half
	for h := 0; h < 1<<16; h++ {
		f := halfToFloat32(uint16(h))
		if f != f {
			continue
		}
		if back := float32ToHalf(f); back != uint16(h) {
			t.Fatalf("half %#x -> %g -> %#x", h, f, back)
		}
	}
	if float32ToBF16(1) != 0x3f80 || bf16ToFloat32(0x3f80) != 1 || float32ToBF16(-0.5) != 0xbf00 {
		t.Error("bf16 conversion")
	}
}
