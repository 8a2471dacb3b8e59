package bench

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mlops-dev/mlops/internal/runtime"
	"github.com/mlops-dev/mlops/internal/testutil"
)

// BenchmarkGPT4Bit is the 4-bit acceptance measurement on a GPT-2-small-
// shaped decoder (12 layers, hidden 768, vocabulary 8192) trained briefly
// on Debian's documentation by testdata/gpt/generate.py (generated into
// .cache/gpt on first use; it needs /usr/bin/python3 with python3-torch).
// In one run it quantizes the model with the built binary to int8 (dynamic)
// and to 4 bits with rtn, hqq and gptq at block 32 and 128, and measures for
// each: file size against fp32, held-out perplexity (16 windows of 128
// tokens, ORT), and ORT latency per token at batch 1, both for a 128-token
// forward pass (per token) and for a single-token forward.
func BenchmarkGPT4Bit(b *testing.B) {
	dir := gptModel(b)
	rt := testutil.Runtime(b)
	bin := buildMLOps(b)
	ortEnv(b)
	fp := filepath.Join(dir, "gpt.onnx")
	work := b.TempDir()
	type variant struct {
		name string
		args []string
	}
	variants := []variant{{"fp32", nil}, {"int8", []string{}}}
	for _, bs := range []string{"32", "128"} {
		for _, alg := range []string{"rtn", "hqq", "gptq"} {
			args := []string{"--bits", "4", "--algorithm", alg, "--block-size", bs}
			if alg == "gptq" {
				args = append(args, "--calibration-data", filepath.Join(dir, "calib.npy"), "--calibration-samples", "8", "--batch-size", "4")
			}
			variants = append(variants, variant{"int4-" + alg + "-b" + bs, args})
		}
	}
	held := readInt64NPY(b, filepath.Join(dir, "heldout.npy"))
	fmt.Printf("%-16s %9s %8s %10s %12s %12s %9s\n", "model", "size MB", "of fp32", "perplexity", "ms/token@128", "ms/token@1", "quant s")
	var fpBytes float64
	var fpPPL float64
	for _, v := range variants {
		path := fp
		qs := 0.0
		if v.args != nil {
			path = filepath.Join(work, v.name+".onnx")
			args := append([]string{"quantize", fp, path, "--output", "json", "--force"}, v.args...)
			start := time.Now()
			out, err := exec.Command(bin, args...).Output()
			if err != nil {
				b.Fatalf("%s: %v %s", v.name, err, exitStderr(err))
			}
			qs = time.Since(start).Seconds()
			var rep struct {
				BytesAfter int64 `json:"bytes_after"`
			}
			if err := json.Unmarshal(out, &rep); err != nil {
				b.Fatal(err)
			}
		}
		size := fileBytes(path) + fileBytes(path+".data")
		if v.name == "fp32" {
			fpBytes = size
		}
		ppl, per128, per1 := gptMeasure(b, rt, path, held)
		if v.name == "fp32" {
			fpPPL = ppl
		}
		fmt.Printf("%-16s %9.1f %7.1f%% %10.2f %12.2f %12.2f %9.1f\n", v.name, size/1e6, 100*size/fpBytes, ppl, per128, per1, qs)
		b.ReportMetric(100*size/fpBytes, v.name+"-size-%")
		b.ReportMetric(ppl/fpPPL, v.name+"-ppl/fp32")
		b.ReportMetric(per1, v.name+"-ms/token")
	}
}

// gptMeasure returns held-out perplexity and ORT latency per token (ms) for
// a 128-token forward pass and for a 1-token one; latencies are the best of
// several runs.
func gptMeasure(b *testing.B, rt *runtime.Runtime, path string, held [][]int64) (ppl, per128, per1 float64) {
	s, err := rt.NewSession(path, runtime.SessionOptions{})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	ctx := context.Background()
	run := func(ids []int64) []float32 {
		out, err := s.Run(ctx, map[string]*runtime.Tensor{"input_ids": runtime.NewTensorInt64([]int64{1, int64(len(ids))}, ids)}, []string{"logits"})
		if err != nil {
			b.Fatal(err)
		}
		v, err := out["logits"].Float32s()
		if err != nil {
			b.Fatal(err)
		}
		return v
	}
	const vocab = 8192
	var nll float64
	var count int
	for _, w := range held[:16] {
		logits := run(w[:128])
		for t := 0; t < 128; t++ {
			row := logits[t*vocab : (t+1)*vocab]
			mx := row[0]
			for _, x := range row {
				mx = max(mx, x)
			}
			var z float64
			for _, x := range row {
				z += math.Exp(float64(x - mx))
			}
			nll += math.Log(z) - float64(row[w[t+1]]-mx)
			count++
		}
	}
	best := func(n int, ids []int64) float64 {
		bestD := time.Duration(math.MaxInt64)
		for i := 0; i < n; i++ {
			start := time.Now()
			run(ids)
			bestD = min(bestD, time.Since(start))
		}
		return bestD.Seconds() * 1e3
	}
	per128 = best(3, held[0][:128]) / 128
	per1 = best(10, held[0][:1])
	return math.Exp(nll / float64(count)), per128, per1
}

// gptModel returns .cache/gpt, generating the model there first if needed.
func gptModel(b *testing.B) string {
	b.Helper()
	root, err := filepath.Abs("../..")
	if err != nil {
		b.Fatal(err)
	}
	dir := filepath.Join(root, ".cache", "gpt")
	if _, err := os.Stat(filepath.Join(dir, "gpt.onnx")); err == nil {
		return dir
	}
	b.Logf("training and exporting the GPT model into %s (slow: about 100 optimizer steps' worth of CPU)", dir)
	cmd := exec.Command("/usr/bin/python3", filepath.Join(root, "testdata", "gpt", "generate.py"), dir)
	if out, err := cmd.CombinedOutput(); err != nil {
		b.Skipf("skipping: the GPT model could not be generated (needs /usr/bin/python3 with python3-torch): %v\n%s", err, out)
	}
	return dir
}

func readInt64NPY(b *testing.B, path string) [][]int64 {
	raw, err := os.ReadFile(path)
	if err != nil {
		b.Fatal(err)
	}
	hl := int(binary.LittleEndian.Uint16(raw[8:10]))
	header := string(raw[10 : 10+hl])
	var rows, cols int
	i := strings.Index(header, "'shape': (")
	if _, err := fmt.Sscanf(header[i+len("'shape': ("):], "%d, %d)", &rows, &cols); err != nil || !strings.Contains(header, "<i8") {
		b.Fatalf("%s: want an int64 [rows, cols] array, header %q", path, header)
	}
	data := raw[10+hl:]
	out := make([][]int64, rows)
	for r := range out {
		out[r] = make([]int64, cols)
		for c := range out[r] {
			out[r][c] = int64(binary.LittleEndian.Uint64(data[8*(r*cols+c):]))
		}
	}
	return out
}

func fileBytes(p string) float64 {
	st, err := os.Stat(p)
	if err != nil {
		return 0
	}
	return float64(st.Size())
}

func exitStderr(err error) string {
	if e, ok := err.(*exec.ExitError); ok {
		return string(e.Stderr)
	}
	return ""
}
