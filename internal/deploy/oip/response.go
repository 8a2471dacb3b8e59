package oip

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"strconv"
)

// InferResponse is an inference response.
type InferResponse struct {
	ModelName    string
	ModelVersion string
	ID           string
	Outputs      []*Tensor
	// Binary says, per output, whether it goes in the binary part of the body.
	Binary []bool
}

// AppendTensorJSON appends t as a KServe v2 JSON tensor object
// {"name","datatype","shape","data"} with data flattened row-major. The
// payload log uses the same form.
func AppendTensorJSON(b []byte, t *Tensor) []byte {
	b = append(b, `{"name":`...)
	b = appendJSONString(b, []byte(t.Name))
	b = append(b, `,"datatype":"`...)
	b = append(b, t.Datatype...)
	b = append(b, `","shape":`...)
	b = appendShape(b, t.Shape)
	b = append(b, `,"data":`...)
	b = appendData(b, t)
	return append(b, '}')
}

func appendShape(b []byte, shape []int64) []byte {
	b = append(b, '[')
	for i, d := range shape {
		if i > 0 {
			b = append(b, ',')
		}
		b = strconv.AppendInt(b, d, 10)
	}
	return append(b, ']')
}

// binarySize is the byte size of t in the binary extension.
func binarySize(t *Tensor) int {
	if t.Datatype != BYTES {
		return len(t.Data)
	}
	n := 0
	for _, s := range t.Strings {
		n += 4 + len(s)
	}
	return n
}

func appendBinary(b []byte, t *Tensor) []byte {
	if t.Datatype != BYTES {
		return append(b, t.Data...)
	}
	for _, s := range t.Strings {
		b = binary.LittleEndian.AppendUint32(b, uint32(len(s)))
		b = append(b, s...)
	}
	return b
}

// Encode renders the response. headerLen is the length of the JSON part
// when some output is binary (send it as Inference-Header-Content-Length),
// or -1 for a pure JSON body.
func (r *InferResponse) Encode() (body []byte, headerLen int) {
	b := make([]byte, 0, 256)
	b = append(b, `{"model_name":`...)
	b = appendJSONString(b, []byte(r.ModelName))
	if r.ModelVersion != "" {
		b = append(b, `,"model_version":`...)
		b = appendJSONString(b, []byte(r.ModelVersion))
	}
	b = append(b, `,"id":`...)
	b = appendJSONString(b, []byte(r.ID))
	b = append(b, `,"outputs":[`...)
	anyBinary := false
	for i, t := range r.Outputs {
		if i > 0 {
			b = append(b, ',')
		}
		if i < len(r.Binary) && r.Binary[i] {
			anyBinary = true
			b = append(b, `{"name":`...)
			b = appendJSONString(b, []byte(t.Name))
			b = append(b, `,"datatype":"`...)
			b = append(b, t.Datatype...)
			b = append(b, `","shape":`...)
			b = appendShape(b, t.Shape)
			b = append(b, `,"parameters":{"binary_data_size":`...)
			b = strconv.AppendInt(b, int64(binarySize(t)), 10)
			b = append(b, `}}`...)
			continue
		}
		b = AppendTensorJSON(b, t)
	}
	b = append(b, "]}"...)
	if !anyBinary {
		return b, -1
	}
	headerLen = len(b)
	for i, t := range r.Outputs {
		if i < len(r.Binary) && r.Binary[i] {
			b = appendBinary(b, t)
		}
	}
	return b, headerLen
}

// EncodeRequest renders a request as a client would send it; inputs go in
// binary form when binaryInputs is set. It serves the Go client used by
// benchmarks, load tests and `mlops serve`'s own checks.
func EncodeRequest(req *InferRequest, binaryInputs bool) (body []byte, headerLen int, err error) {
	w := wireRequest{ID: req.ID, Parameters: req.Parameters}
	if req.BinaryOutput {
		if w.Parameters == nil {
			w.Parameters = map[string]json.RawMessage{}
		}
		w.Parameters["binary_data_output"] = json.RawMessage("true")
	}
	for _, t := range req.Inputs {
		in := wireInput{Name: t.Name, Shape: t.Shape, Datatype: string(t.Datatype)}
		if binaryInputs {
			in.Parameters = map[string]json.RawMessage{"binary_data_size": json.RawMessage(strconv.Itoa(binarySize(t)))}
		} else {
			in.Data = appendData(nil, t)
		}
		w.Inputs = append(w.Inputs, in)
	}
	for _, o := range req.Outputs {
		out := wireOutputReq{Name: o.Name}
		if o.Binary {
			out.Parameters = map[string]json.RawMessage{"binary_data": json.RawMessage("true")}
		}
		w.Outputs = append(w.Outputs, out)
	}
	body, err = json.Marshal(w)
	if err != nil {
		return nil, 0, err
	}
	if !binaryInputs {
		return body, -1, nil
	}
	headerLen = len(body)
	for _, t := range req.Inputs {
		body = appendBinary(body, t)
	}
	return body, headerLen, nil
}

type wireResponse struct {
	ModelName    string      `json:"model_name"`
	ModelVersion string      `json:"model_version"`
	ID           string      `json:"id"`
	Outputs      []wireInput `json:"outputs"`
	Error        string      `json:"error"`
}

// DecodeResponse decodes a response body (the client side of Encode).
func DecodeResponse(body []byte, headerLen int) (*InferResponse, error) {
	jsonPart, bin := body, []byte(nil)
	if headerLen >= 0 {
		if headerLen > len(body) {
			return nil, BadRequest("%s is %d but the body has only %d bytes", HeaderContentLength, headerLen, len(body))
		}
		jsonPart, bin = body[:headerLen], body[headerLen:]
	}
	var w wireResponse
	if err := json.NewDecoder(bytes.NewReader(jsonPart)).Decode(&w); err != nil {
		return nil, BadRequest("response is not valid JSON: %v", err)
	}
	if w.Error != "" {
		return nil, BadRequest("server error: %s", w.Error)
	}
	r := &InferResponse{ModelName: w.ModelName, ModelVersion: w.ModelVersion, ID: w.ID}
	for i := range w.Outputs {
		t, rest, err := decodeInput(&w.Outputs[i], bin)
		if err != nil {
			return nil, err
		}
		bin = rest
		r.Outputs = append(r.Outputs, t)
		_, isBin := w.Outputs[i].Parameters["binary_data_size"]
		r.Binary = append(r.Binary, isBin)
	}
	return r, nil
}
