package server

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/mlops-dev/mlops/internal/deploy/engine"
	"github.com/mlops-dev/mlops/internal/deploy/engine/enginetest"
	"github.com/mlops-dev/mlops/internal/deploy/oip"
)

type payloads struct{ recs chan PayloadRecord }

func (p *payloads) Log(r PayloadRecord) { p.recs <- r }

func newTestServer(t *testing.T, cfg Config) (*httptest.Server, *enginetest.Loader, *payloads) {
	t.Helper()
	l := enginetest.NewLoader()
	l.Set("scale.onnx", enginetest.Scale("1", 2, 4, 0))
	l.Set("echo.onnx", enginetest.Echo("7"))
	var eng *engine.Engine
	m := NewMetrics(func() *engine.Engine { return eng })
	eng = engine.New(l, engine.Options{Instances: 2, MaxBatchSize: 8, QueueSize: 16, Observer: m})
	for _, s := range []engine.Spec{{Name: "scale", Ref: "scale.onnx"}, {Name: "echo", Ref: "echo.onnx"}} {
		if err := eng.Add(context.Background(), s); err != nil {
			t.Fatal(err)
		}
	}
	cfg.Engine, cfg.Metrics, cfg.Version = eng, m, "test"
	p := &payloads{recs: make(chan PayloadRecord, 100)}
	cfg.Payloads = p
	ts := httptest.NewServer(New(cfg).Handler())
	t.Cleanup(func() { ts.Close(); eng.Close() })
	return ts, l, p
}

func do(t *testing.T, method, url string, body []byte, hdr map[string]string) (int, http.Header, []byte) {
	t.Helper()
	req, _ := http.NewRequest(method, url, bytes.NewReader(body))
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, b
}

func wantError(t *testing.T, status int, body []byte, wantStatus int, wantText string) {
	t.Helper()
	var e struct{ Error string }
	if status != wantStatus || json.Unmarshal(body, &e) != nil || !strings.Contains(e.Error, wantText) {
		t.Errorf("got %d %s, want %d with error containing %q", status, body, wantStatus, wantText)
	}
}

func TestHealthMetadataReady(t *testing.T) {
	ts, _, _ := newTestServer(t, Config{})
	for _, p := range []string{"/v2/health/live", "/v2/health/ready", "/v2/models/scale/ready", "/v2/models/scale/versions/1/ready"} {
		if st, _, _ := do(t, "GET", ts.URL+p, nil, nil); st != 200 {
			t.Errorf("%s: %d", p, st)
		}
	}
	st, _, b := do(t, "GET", ts.URL+"/v2/models/scale/versions/9/ready", nil, nil)
	wantError(t, st, b, 404, `no version "9"`)
	st, _, b = do(t, "GET", ts.URL+"/v2", nil, nil)
	if st != 200 || !strings.Contains(string(b), `"binary_data_tensor"`) || !strings.Contains(string(b), `"name":"mlops"`) {
		t.Errorf("server metadata %d %s", st, b)
	}
	for _, p := range []string{"/v2/models/scale", "/v2/models/scale/versions/1"} {
		st, _, b = do(t, "GET", ts.URL+p, nil, nil)
		want := `{"name":"scale","versions":["1"],"platform":"onnx_onnxv1","inputs":[{"name":"x","datatype":"FP32","shape":[-1,4]}],"outputs":[{"name":"y","datatype":"FP32","shape":[-1,4]}]}`
		if st != 200 || string(b) != want {
			t.Errorf("%s: %d %s", p, st, b)
		}
	}
	st, _, b = do(t, "GET", ts.URL+"/v2/models/nope", nil, nil)
	wantError(t, st, b, 404, `model "nope" is not served`)
	st, _, b = do(t, "GET", ts.URL+"/v2/nothing", nil, nil)
	wantError(t, st, b, 404, "no endpoint")
}

func TestInferJSONEchoesIDAndComputes(t *testing.T) {
	ts, _, p := newTestServer(t, Config{})
	body := `{"id":"abc-1","inputs":[{"name":"x","shape":[2,4],"datatype":"FP32","data":[[1,2,3,4],[5,6,7,8]]}]}`
	for _, path := range []string{"/v2/models/scale/infer", "/v2/models/scale/versions/1/infer"} {
		st, h, b := do(t, "POST", ts.URL+path, []byte(body), nil)
		want := `{"model_name":"scale","model_version":"1","id":"abc-1","outputs":[{"name":"y","datatype":"FP32","shape":[2,4],"data":[2,4,6,8,10,12,14,16]}]}`
		if st != 200 || string(b) != want || h.Get("Content-Type") != "application/json" {
			t.Errorf("%s: %d %s", path, st, b)
		}
	}
	rec := <-p.recs
	if rec.RequestID != "abc-1" || rec.Model != "scale" || rec.Version != "1" || rec.Status != 200 || len(rec.Outputs) != 1 {
		t.Errorf("payload record %+v", rec)
	}
}

// Every datatype goes through the echo model in JSON and binary form, in and out.
func TestInferEveryDatatypeJSONAndBinary(t *testing.T) {
	ts, _, _ := newTestServer(t, Config{})
	var inputs []*oip.Tensor
	for _, dt := range oip.Datatypes {
		tn := &oip.Tensor{Name: "in_" + string(dt), Datatype: dt, Shape: []int64{1, 3}}
		if dt == oip.BYTES {
			tn.Strings = [][]byte{[]byte("a"), []byte("bc"), []byte("")}
		} else {
			tn.Data = bytes.Repeat([]byte{1}, 3*dt.Size())
		}
		inputs = append(inputs, tn)
	}
	for _, bin := range []bool{false, true} {
		body, hl, err := oip.EncodeRequest(&oip.InferRequest{ID: "e", Inputs: inputs, BinaryOutput: bin}, bin)
		if err != nil {
			t.Fatal(err)
		}
		hdr := map[string]string{}
		if hl >= 0 {
			hdr[oip.HeaderContentLength] = strconv.Itoa(hl)
		}
		st, h, b := do(t, "POST", ts.URL+"/v2/models/echo/infer", body, hdr)
		if st != 200 {
			t.Fatalf("binary=%v: %d %s", bin, st, b)
		}
		rhl := -1
		if v := h.Get(oip.HeaderContentLength); v != "" {
			rhl, _ = strconv.Atoi(v)
		}
		if bin != (rhl >= 0) {
			t.Fatalf("binary=%v but response header length %d", bin, rhl)
		}
		resp, err := oip.DecodeResponse(b, rhl)
		if err != nil {
			t.Fatal(err)
		}
		for i, out := range resp.Outputs {
			in := inputs[i]
			if out.Datatype != in.Datatype || !bytes.Equal(out.Data, in.Data) || len(out.Strings) != len(in.Strings) {
				t.Errorf("binary=%v %s changed on the way: %+v", bin, in.Datatype, out)
			}
		}
	}
}

func TestInferRequestedOutputBinary(t *testing.T) {
	ts, _, _ := newTestServer(t, Config{})
	body := `{"inputs":[{"name":"x","shape":[1,4],"datatype":"FP32","data":[1,1,1,1]}],"outputs":[{"name":"y","parameters":{"binary_data":true}}]}`
	st, h, b := do(t, "POST", ts.URL+"/v2/models/scale/infer", []byte(body), nil)
	hl, _ := strconv.Atoi(h.Get(oip.HeaderContentLength))
	if st != 200 || hl <= 0 || len(b) != hl+16 || !strings.Contains(string(b[:hl]), `"binary_data_size":16`) {
		t.Fatalf("%d hl=%d %q", st, hl, b)
	}
}

func TestInferErrors(t *testing.T) {
	ts, _, _ := newTestServer(t, Config{MaxRequestBytes: 1000})
	cases := []struct {
		path, body string
		hdr        map[string]string
		status     int
		want       string
	}{
		{"/v2/models/scale/infer", `{"inputs":[{"name":"x","shape":[1,3],"datatype":"FP32","data":[1,2,3]}]}`, nil, 400, `input "x": expected shape [-1 4], got [1 3]`},
		{"/v2/models/scale/infer", `{"inputs":[{"name":"x","shape":[1,4],"datatype":"INT64","data":[1,2,3,4]}]}`, nil, 400, "expected datatype FP32, got INT64"},
		{"/v2/models/scale/infer", `not json`, nil, 400, "not a valid inference request"},
		{"/v2/models/scale/infer", `{"inputs":[{"name":"x","shape":[1,4],"datatype":"FP32","data":[1,2,3,4]}]}`, map[string]string{oip.HeaderContentLength: "x"}, 400, "non-negative integer"},
		{"/v2/models/scale/infer", `{"inputs":[{"name":"x","shape":[1,4],"datatype":"FP32","data":[` + strings.Repeat("1,", 600) + `1]}]}`, nil, 413, "over the 1000-byte limit"},
		{"/v2/models/nope/infer", `{"inputs":[{"name":"x","shape":[1,4],"datatype":"FP32","data":[1,2,3,4]}]}`, nil, 404, `"nope"`},
		{"/v2/models/scale/versions/5/infer", `{"inputs":[{"name":"x","shape":[1,4],"datatype":"FP32","data":[1,2,3,4]}]}`, nil, 404, `no version "5"`},
	}
	for _, c := range cases {
		st, _, b := do(t, "POST", ts.URL+c.path, []byte(c.body), c.hdr)
		wantError(t, st, b, c.status, c.want)
	}
	if st, _, _ := do(t, "GET", ts.URL+"/v2/models/scale/infer", nil, nil); st != 404 && st != 405 {
		t.Errorf("GET infer: %d", st)
	}
}

func TestQueueFullIs503WithRetryAfter(t *testing.T) {
	l := enginetest.NewLoader()
	l.Set("slow.onnx", enginetest.Scale("1", 1, 1, 300*time.Millisecond))
	var eng *engine.Engine
	m := NewMetrics(func() *engine.Engine { return eng })
	eng = engine.New(l, engine.Options{Instances: 1, QueueSize: 1, Observer: m})
	if err := eng.Add(context.Background(), engine.Spec{Name: "slow", Ref: "slow.onnx"}); err != nil {
		t.Fatal(err)
	}
	defer eng.Close()
	ts := httptest.NewServer(New(Config{Engine: eng, Metrics: m}).Handler())
	defer ts.Close()
	body := []byte(`{"inputs":[{"name":"x","shape":[1,1],"datatype":"FP32","data":[1]}]}`)
	results := make(chan int, 6)
	for range 6 {
		go func() {
			resp, err := http.Post(ts.URL+"/v2/models/slow/infer", "application/json", bytes.NewReader(body))
			if err != nil {
				results <- 0
				return
			}
			if resp.StatusCode == 503 && resp.Header.Get("Retry-After") == "" {
				results <- -1
			} else {
				results <- resp.StatusCode
			}
			resp.Body.Close()
		}()
	}
	counts := map[int]int{}
	for range 6 {
		counts[<-results]++
	}
	if counts[503] < 3 || counts[200] < 1 || counts[-1] != 0 || counts[0] != 0 {
		t.Fatalf("status counts %v: want 1 running + 1 queued ok, the rest 503 with Retry-After", counts)
	}
}

func TestRepositoryAndStats(t *testing.T) {
	ts, l, _ := newTestServer(t, Config{})
	st, _, b := do(t, "POST", ts.URL+"/v2/repository/index", nil, nil)
	if st != 200 || string(b) != `[{"name":"echo","version":"7","state":"READY"},{"name":"scale","version":"1","state":"READY"}]` {
		t.Fatalf("index %d %s", st, b)
	}
	if st, _, _ := do(t, "POST", ts.URL+"/v2/repository/models/scale/unload", nil, nil); st != 200 {
		t.Fatalf("unload %d", st)
	}
	if st, _, b := do(t, "GET", ts.URL+"/v2/health/ready", nil, nil); st != 200 {
		t.Fatalf("server not ready with one of two models unloaded: %d %s", st, b)
	}
	st, _, b = do(t, "POST", ts.URL+"/v2/models/scale/infer", []byte(`{"inputs":[{"name":"x","shape":[1,4],"datatype":"FP32","data":[1,2,3,4]}]}`), nil)
	wantError(t, st, b, 503, "not loaded")
	l.Set("scale.onnx", enginetest.Scale("2", 3, 4, 0))
	if st, _, b := do(t, "POST", ts.URL+"/v2/repository/models/scale/load", nil, nil); st != 200 {
		t.Fatalf("load %d %s", st, b)
	}
	l.FailOpen("scale.onnx", io.ErrUnexpectedEOF)
	l.Set("scale.onnx", enginetest.Scale("3", 3, 4, 0))
	l.FailOpen("scale.onnx", io.ErrUnexpectedEOF)
	st, _, b = do(t, "POST", ts.URL+"/v2/repository/models/scale/load", nil, nil)
	wantError(t, st, b, 400, "keeps serving")
	st, _, b = do(t, "POST", ts.URL+"/v2/models/scale/infer", []byte(`{"id":"z","inputs":[{"name":"x","shape":[1,4],"datatype":"FP32","data":[1,2,3,4]}]}`), nil)
	if st != 200 || !strings.Contains(string(b), `"model_version":"2"`) || !strings.Contains(string(b), `[3,6,9,12]`) {
		t.Fatalf("after failed reload: %d %s", st, b)
	}
	for _, p := range []string{"/v2/models/stats", "/v2/models/scale/stats", "/v2/models/scale/versions/2/stats"} {
		st, _, b = do(t, "GET", ts.URL+p, nil, nil)
		var s struct {
			ModelStats []engine.ModelStats `json:"model_stats"`
		}
		if st != 200 || json.Unmarshal(b, &s) != nil || len(s.ModelStats) == 0 {
			t.Fatalf("%s: %d %s", p, st, b)
		}
		for _, ms := range s.ModelStats {
			if ms.Name == "scale" && (ms.Version != "2" || ms.InferenceStats.Success.Count != 1) {
				t.Fatalf("%s: %+v", p, ms)
			}
		}
	}
	st, _, b = do(t, "POST", ts.URL+"/v2/repository/models/nope/load", nil, nil)
	wantError(t, st, b, 404, `"nope"`)
}

func TestBearerToken(t *testing.T) {
	ts, _, _ := newTestServer(t, Config{AuthToken: "s3cret"})
	st, h, b := do(t, "GET", ts.URL+"/v2", nil, nil)
	wantError(t, st, b, 401, "bearer token")
	if h.Get("WWW-Authenticate") == "" {
		t.Error("no WWW-Authenticate")
	}
	st, _, b = do(t, "GET", ts.URL+"/v2", nil, map[string]string{"Authorization": "Bearer wrong"})
	wantError(t, st, b, 401, "bearer token")
	if st, _, _ := do(t, "GET", ts.URL+"/v2", nil, map[string]string{"Authorization": "Bearer s3cret"}); st != 200 {
		t.Errorf("with token: %d", st)
	}
	for _, p := range []string{"/v2/health/live", "/v2/health/ready", "/metrics"} {
		if st, _, _ := do(t, "GET", ts.URL+p, nil, nil); st != 200 {
			t.Errorf("%s needs no token for probes and scrapers, got %d", p, st)
		}
	}
}

func TestMetricsExposition(t *testing.T) {
	ts, _, _ := newTestServer(t, Config{})
	do(t, "POST", ts.URL+"/v2/models/scale/infer", []byte(`{"inputs":[{"name":"x","shape":[1,4],"datatype":"FP32","data":[1,9,3,4]}]}`), nil)
	do(t, "POST", ts.URL+"/v2/models/scale/infer", []byte(`{"inputs":[{"name":"x","shape":[1,3],"datatype":"FP32","data":[1,2,3]}]}`), nil)
	_, _, b := do(t, "GET", ts.URL+"/metrics", nil, nil)
	for _, want := range []string{
		`mlops_serve_requests_total{model="scale",outcome="success",version="1"} 1`,
		`mlops_serve_requests_total{model="scale",outcome="invalid",version="1"} 1`,
		`mlops_serve_request_duration_seconds_count{model="scale",version="1"} 1`,
		`mlops_serve_queue_duration_seconds_bucket`, `mlops_serve_compute_duration_seconds_sum`,
		`mlops_serve_batch_size_count{model="scale",version="1"} 1`,
		`mlops_serve_model_loads_total{model="scale",outcome="success"} 1`,
		`mlops_serve_model_serving{model="scale",role="primary",version="1"} 1`,
		`mlops_serve_predictions_total{class="1",model="scale",version="1"} 1`,
		`mlops_serve_queue_length{model="scale",version="1"} 0`,
		`mlops_serve_inflight_requests{model="scale"} 0`,
		`process_resident_memory_bytes`,
	} {
		if !strings.Contains(string(b), want) {
			t.Errorf("metrics lack %s", want)
		}
	}
}

// A version that stops serving takes its per-version series with it, so a
// server that reloads for months keeps a bounded set of series.
func TestMetricsDropRetiredVersions(t *testing.T) {
	ts, l, _ := newTestServer(t, Config{})
	req := []byte(`{"inputs":[{"name":"x","shape":[1,4],"datatype":"FP32","data":[1,9,3,4]}]}`)
	do(t, "POST", ts.URL+"/v2/models/scale/infer", req, nil)
	l.Set("scale.onnx", enginetest.Scale("2", 3, 4, 0))
	if st, _, b := do(t, "POST", ts.URL+"/v2/repository/models/scale/load", nil, nil); st != 200 {
		t.Fatalf("load %d %s", st, b)
	}
	do(t, "POST", ts.URL+"/v2/models/scale/infer", req, nil)
	_, _, b := do(t, "GET", ts.URL+"/metrics", nil, nil)
	m := string(b)
	if !strings.Contains(m, `mlops_serve_requests_total{model="scale",outcome="success",version="2"} 1`) {
		t.Errorf("version 2 not counted:\n%s", m)
	}
	for _, gone := range []string{`model="scale",outcome="success",version="1"`, `mlops_serve_batch_size_count{model="scale",version="1"}`,
		`mlops_serve_predictions_total{class="1",model="scale",version="1"}`} {
		if strings.Contains(m, gone) {
			t.Errorf("retired version 1 still has %s", gone)
		}
	}
	if !strings.Contains(m, `mlops_serve_model_serving{model="echo",role="primary",version="7"} 1`) {
		t.Error("other models' series must stay")
	}
}
