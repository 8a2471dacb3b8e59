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
	"strconv"
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
// each the file size against fp32 and the held-out perplexity (16 windows of
// 128 tokens, ORT). Latency is then measured on all variants at once, one
// ORT thread each, round-robin (each round starts at the next variant) for
// MLOPS_GPT_ROUNDS rounds (default 30), so that whatever else loads the
// machine falls on every variant alike: per token of a 128-token forward
// pass, and of a 1-token forward (batch 1). It reports the median and
// interquartile range per variant, and the median over rounds of each
// variant's time over fp32's in the same round.
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
		path string
	}
	variants := []*variant{{name: "fp32"}, {name: "int8", args: []string{}}}
	for _, bs := range []string{"32", "128"} {
		for _, alg := range []string{"rtn", "hqq", "gptq"} {
			args := []string{"--bits", "4", "--algorithm", alg, "--block-size", bs}
			if alg == "gptq" {
				args = append(args, "--calibration-data", filepath.Join(dir, "calib.npy"), "--calibration-samples", "8", "--batch-size", "4")
			}
			variants = append(variants, &variant{name: "int4-" + alg + "-b" + bs, args: args})
		}
	}
	held := readInt64NPY(b, filepath.Join(dir, "heldout.npy"))
	fmt.Printf("%-16s %9s %8s %10s %9s\n", "model", "size MB", "of fp32", "perplexity", "quant s")
	var fpBytes, fpPPL float64
	for _, v := range variants {
		v.path = fp
		qs := 0.0
		if v.args != nil {
			v.path = filepath.Join(work, v.name+".onnx")
			args := append([]string{"quantize", fp, v.path, "--output", "json", "--force"}, v.args...)
			start := time.Now()
			if out, err := exec.Command(bin, args...).Output(); err != nil {
				b.Fatalf("%s: %v %s", v.name, err, exitStderr(err))
			} else if !json.Valid(out) {
				b.Fatalf("%s: report is not JSON: %s", v.name, out)
			}
			qs = time.Since(start).Seconds()
		}
		size := fileBytes(v.path) + fileBytes(v.path+".data")
		if v.name == "fp32" {
			fpBytes = size
		}
		ppl := gptPerplexity(b, rt, v.path, held)
		if v.name == "fp32" {
			fpPPL = ppl
		}
		fmt.Printf("%-16s %9.1f %7.1f%% %10.2f %9.1f\n", v.name, size/1e6, 100*size/fpBytes, ppl, qs)
		b.ReportMetric(100*size/fpBytes, v.name+"-size-%")
		b.ReportMetric(ppl/fpPPL, v.name+"-ppl/fp32")
	}

	rounds := 30
	if s := os.Getenv("MLOPS_GPT_ROUNDS"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 {
			b.Fatalf("MLOPS_GPT_ROUNDS=%q: want a positive number", s)
		}
		rounds = n
	}
	runs := make([]func([]int64), len(variants))
	for i, v := range variants {
		s, err := rt.NewSession(v.path, runtime.SessionOptions{IntraOpThreads: 1, InterOpThreads: 1})
		if err != nil {
			b.Fatal(err)
		}
		defer s.Close()
		runs[i] = func(ids []int64) { gptRun(b, s, ids) }
	}
	long, short := held[0][:128], held[0][:1]
	for _, run := range runs { // warm-up: first runs allocate
		run(long)
		run(short)
	}
	// per128[i][r], per1[i][r]: variant i in round r, ms per token.
	per128 := make([][]float64, len(variants))
	per1 := make([][]float64, len(variants))
	const shortRuns = 5 // 1-token passes per round, the median kept
	for r := 0; r < rounds; r++ {
		for j := range variants {
			i := (r + j) % len(variants)
			start := time.Now()
			runs[i](long)
			per128[i] = append(per128[i], time.Since(start).Seconds()*1e3/128)
			var one []float64
			for k := 0; k < shortRuns; k++ {
				start := time.Now()
				runs[i](short)
				one = append(one, time.Since(start).Seconds()*1e3)
			}
			per1[i] = append(per1[i], testutil.Quantile(one, 0.5))
		}
	}
	fmt.Printf("\nlatency, 1 ORT thread, %d interleaved rounds: median [IQR] ms, and median of the per-round ratio to fp32\n", rounds)
	fmt.Printf("%-16s %22s %8s %22s %8s\n", "model", "ms/token (128-token)", "x fp32", "ms (1-token pass)", "x fp32")
	for i, v := range variants {
		r128, r1 := testutil.Ratios(per128[i], per128[0]), testutil.Ratios(per1[i], per1[0])
		fmt.Printf("%-16s %8.2f [%5.2f-%5.2f] %7.2fx %8.2f [%5.2f-%5.2f] %7.2fx\n", v.name,
			testutil.Quantile(per128[i], 0.5), testutil.Quantile(per128[i], 0.25), testutil.Quantile(per128[i], 0.75), testutil.Quantile(r128, 0.5),
			testutil.Quantile(per1[i], 0.5), testutil.Quantile(per1[i], 0.25), testutil.Quantile(per1[i], 0.75), testutil.Quantile(r1, 0.5))
		b.ReportMetric(testutil.Quantile(per1[i], 0.5), v.name+"-ms/token")
		b.ReportMetric(testutil.Quantile(r1, 0.5), v.name+"-1tok/fp32")
		b.ReportMetric(testutil.Quantile(r128, 0.5), v.name+"-128tok/fp32")
	}
}

// gptRun runs one forward pass of the ids (batch 1) and returns the logits.
func gptRun(b *testing.B, s *runtime.Session, ids []int64) []float32 {
	out, err := s.Run(context.Background(), map[string]*runtime.Tensor{"input_ids": runtime.NewTensorInt64([]int64{1, int64(len(ids))}, ids)}, []string{"logits"})
	if err != nil {
		b.Fatal(err)
	}
	v, err := out["logits"].Float32s()
	if err != nil {
		b.Fatal(err)
	}
	return v
}

// gptPerplexity is the held-out perplexity over 16 windows of 128 tokens.
func gptPerplexity(b *testing.B, rt *runtime.Runtime, path string, held [][]int64) float64 {
	s, err := rt.NewSession(path, runtime.SessionOptions{})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	const vocab = 8192
	var nll float64
	var count int
	for _, w := range held[:16] {
		logits := gptRun(b, s, w[:128])
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
	return math.Exp(nll / float64(count))
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
