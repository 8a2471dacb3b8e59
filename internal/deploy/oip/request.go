package oip

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"strconv"
)

// HeaderContentLength is the HTTP header of the binary tensor extension that
// gives the length of the JSON part of a body.
const HeaderContentLength = "Inference-Header-Content-Length"

// InferRequest is a decoded inference request.
type InferRequest struct {
	ID         string
	Parameters map[string]json.RawMessage
	Inputs     []*Tensor
	// Outputs lists the outputs the client asked for; empty means all.
	Outputs []RequestedOutput
	// BinaryOutput is the request-level binary_data_output parameter: every
	// output not overridden per output is returned in binary form.
	BinaryOutput bool
}

// RequestedOutput is one entry of the request's "outputs".
type RequestedOutput struct {
	Name   string
	Binary bool
}

type wireInput struct {
	Name       string                     `json:"name"`
	Shape      []int64                    `json:"shape"`
	Datatype   string                     `json:"datatype"`
	Parameters map[string]json.RawMessage `json:"parameters,omitempty"`
	Data       json.RawMessage            `json:"data,omitempty"`
}

type wireOutputReq struct {
	Name       string                     `json:"name"`
	Parameters map[string]json.RawMessage `json:"parameters,omitempty"`
}

type wireRequest struct {
	ID         string                     `json:"id,omitempty"`
	Parameters map[string]json.RawMessage `json:"parameters,omitempty"`
	Inputs     []wireInput                `json:"inputs"`
	Outputs    []wireOutputReq            `json:"outputs,omitempty"`
}

// DecodeRequest decodes an inference request body. headerLen is the value of
// the Inference-Header-Content-Length header, or -1 when the header is absent
// (a pure JSON body).
func DecodeRequest(body []byte, headerLen int) (*InferRequest, error) {
	jsonPart, binPart := body, []byte(nil)
	if headerLen >= 0 {
		if headerLen > len(body) {
			return nil, BadRequest("%s is %d but the body has only %d bytes", HeaderContentLength, headerLen, len(body))
		}
		jsonPart, binPart = body[:headerLen], body[headerLen:]
	}
	var w wireRequest
	dec := json.NewDecoder(bytes.NewReader(jsonPart))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&w); err != nil {
		return nil, BadRequest("request body is not a valid inference request: %v", err)
	}
	if dec.More() {
		return nil, BadRequest("request body has data after the JSON object; binary bodies need the %s header", HeaderContentLength)
	}
	if len(w.Inputs) == 0 {
		return nil, BadRequest("request has no inputs")
	}
	req := &InferRequest{ID: w.ID, Parameters: w.Parameters, Inputs: make([]*Tensor, 0, len(w.Inputs))}
	var err error
	if req.BinaryOutput, err = boolParam(w.Parameters, "binary_data_output"); err != nil {
		return nil, err
	}
	seen := make(map[string]bool, len(w.Inputs))
	for i := range w.Inputs {
		in := &w.Inputs[i]
		if in.Name == "" {
			return nil, BadRequest("input %d has no name", i)
		}
		if seen[in.Name] {
			return nil, BadRequest("input %q appears twice", in.Name)
		}
		seen[in.Name] = true
		t, rest, err := decodeInput(in, binPart)
		if err != nil {
			return nil, err
		}
		binPart = rest
		req.Inputs = append(req.Inputs, t)
	}
	if len(binPart) != 0 {
		return nil, BadRequest("body has %d binary bytes that no input's binary_data_size claims", len(binPart))
	}
	for _, o := range w.Outputs {
		if o.Name == "" {
			return nil, BadRequest("requested output has no name")
		}
		bin, err := boolParam(o.Parameters, "binary_data")
		if err != nil {
			return nil, err
		}
		if _, set := o.Parameters["binary_data"]; !set {
			bin = req.BinaryOutput
		}
		req.Outputs = append(req.Outputs, RequestedOutput{Name: o.Name, Binary: bin})
	}
	return req, nil
}

func decodeInput(in *wireInput, bin []byte) (*Tensor, []byte, error) {
	dt := Datatype(in.Datatype)
	if !dt.Valid() {
		return nil, nil, BadRequest("input %q: unknown datatype %q (want one of BOOL, UINT8..UINT64, INT8..INT64, FP16, FP32, FP64, BF16, BYTES)", in.Name, in.Datatype)
	}
	if in.Shape == nil {
		return nil, nil, BadRequest("input %q has no shape", in.Name)
	}
	n, err := NumElements(in.Shape)
	if err != nil {
		return nil, nil, BadRequest("input %q: %v", in.Name, err)
	}
	t := &Tensor{Name: in.Name, Datatype: dt, Shape: in.Shape}
	sizeRaw, isBinary := in.Parameters["binary_data_size"]
	if isBinary {
		if len(in.Data) != 0 {
			return nil, nil, BadRequest("input %q has both data and binary_data_size", in.Name)
		}
		size, err := strconv.ParseInt(string(sizeRaw), 10, 64)
		if err != nil || size < 0 {
			return nil, nil, BadRequest("input %q: binary_data_size must be a non-negative integer, got %s", in.Name, sizeRaw)
		}
		if size > int64(len(bin)) {
			return nil, nil, BadRequest("input %q: binary_data_size %d is more than the %d binary bytes left in the body", in.Name, size, len(bin))
		}
		raw := bin[:size]
		if dt == BYTES {
			t.Strings, err = splitBytesElements(raw, n)
			if err != nil {
				return nil, nil, BadRequest("input %q: %v", in.Name, err)
			}
		} else {
			if want := n * int64(dt.Size()); size != want {
				return nil, nil, BadRequest("input %q: shape %v of %s needs %d bytes, binary_data_size is %d", in.Name, in.Shape, dt, want, size)
			}
			t.Data = raw
		}
		return t, bin[size:], nil
	}
	if len(in.Data) == 0 || string(in.Data) == "null" {
		return nil, nil, BadRequest("input %q has neither data nor parameters.binary_data_size", in.Name)
	}
	t.Data, t.Strings, err = decodeData(in.Data, dt, n)
	if err != nil {
		return nil, nil, BadRequest("input %q (%s, shape %v): %v", in.Name, dt, in.Shape, err)
	}
	return t, bin, nil
}

// splitBytesElements splits the binary form of a BYTES tensor: each element
// is a 4-byte little-endian length followed by that many bytes.
func splitBytesElements(raw []byte, n int64) ([][]byte, error) {
	if n > int64(len(raw))/4 {
		return nil, fmt.Errorf("shape needs %d BYTES elements but binary data has room for at most %d", n, len(raw)/4)
	}
	out := make([][]byte, 0, n)
	for len(raw) > 0 {
		if len(raw) < 4 {
			return nil, fmt.Errorf("BYTES element %d: truncated length prefix", len(out))
		}
		l := binary.LittleEndian.Uint32(raw)
		raw = raw[4:]
		if uint64(l) > uint64(len(raw)) {
			return nil, fmt.Errorf("BYTES element %d: length %d runs past the data", len(out), l)
		}
		if int64(len(out)) == n {
			return nil, fmt.Errorf("binary data holds more than the %d elements the shape needs", n)
		}
		out = append(out, raw[:l])
		raw = raw[l:]
	}
	if int64(len(out)) != n {
		return nil, fmt.Errorf("shape needs %d BYTES elements, binary data holds %d", n, len(out))
	}
	return out, nil
}

func boolParam(p map[string]json.RawMessage, key string) (bool, error) {
	raw, ok := p[key]
	if !ok {
		return false, nil
	}
	switch string(raw) {
	case "true":
		return true, nil
	case "false":
		return false, nil
	}
	return false, BadRequest("parameter %s must be true or false, got %s", key, raw)
}
