package oip

import "testing"

// FuzzDecodeRequestJSON checks that no JSON body makes the decoder panic or
// allocate beyond a small multiple of the body, and that what it accepts
// re-encodes to an equivalent request.
func FuzzDecodeRequestJSON(f *testing.F) {
	f.Add([]byte(`{"id":"1","inputs":[{"name":"a","shape":[2,2],"datatype":"FP32","data":[[1,2],[3,4]]}]}`))
	f.Add([]byte(`{"inputs":[{"name":"s","shape":[2],"datatype":"BYTES","data":["x","y\u00e9"]}],"outputs":[{"name":"o","parameters":{"binary_data":true}}]}`))
	f.Add([]byte(`{"inputs":[{"name":"b","shape":[3],"datatype":"BOOL","data":[true,false,1]}]}`))
	f.Add([]byte(`{"inputs":[{"name":"h","shape":[2],"datatype":"FP16","data":["NaN",-0.5]}]}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		req, err := DecodeRequest(body, -1)
		if err != nil {
			return
		}
		for _, in := range req.Inputs {
			if err := in.Check(); err != nil {
				t.Fatalf("accepted an inconsistent tensor: %v", err)
			}
			if in.Datatype != BYTES && len(in.Data) > 8*len(body) {
				t.Fatalf("decoded %d bytes from a %d-byte body", len(in.Data), len(body))
			}
		}
		if _, _, err := EncodeRequest(req, true); err != nil {
			t.Fatal(err)
		}
	})
}

// FuzzDecodeRequestBinary fuzzes the binary extension: a JSON header, its
// length, and the raw tensor bytes after it.
func FuzzDecodeRequestBinary(f *testing.F) {
	hdr := `{"inputs":[{"name":"a","shape":[2],"datatype":"INT32","parameters":{"binary_data_size":8}},{"name":"s","shape":[1],"datatype":"BYTES","parameters":{"binary_data_size":6}}]}`
	f.Add([]byte(hdr+"\x01\x00\x00\x00\x02\x00\x00\x00\x02\x00\x00\x00hi"), len(hdr))
	f.Add([]byte(hdr), len(hdr))
	f.Add([]byte(`{"inputs":[]}`), 3)
	f.Fuzz(func(t *testing.T, body []byte, headerLen int) {
		if headerLen < -1 {
			headerLen = -1
		}
		req, err := DecodeRequest(body, headerLen)
		if err != nil {
			return
		}
		for _, in := range req.Inputs {
			if err := in.Check(); err != nil {
				t.Fatalf("accepted an inconsistent tensor: %v", err)
			}
		}
	})
}
