package registry

import (
	"context"
	"crypto/rand"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// BenchmarkPushPullMinIO1GB pushes and pulls a model with 1 GiB of external data to MinIO on
// loopback and, in the same run, uploads and downloads the same data file with boto3's
// upload_file/download_file. Reported: MB/s of each, the mlops/boto3 ratios (goal ≥ 1) and
// peak RSS of this test process and of the boto3 process.
func BenchmarkPushPullMinIO1GB(b *testing.B) {
	url, _, _ := startMinIO(b)
	ctx := context.Background()
	dir := b.TempDir()
	data := filepath.Join(dir, "big.onnx.data")
	f, err := os.Create(data)
	if err != nil {
		b.Fatal(err)
	}
	const size = 1 << 30
	if _, err := io.CopyN(f, rand.Reader, size); err != nil { // random: no compression shortcuts
		b.Fatal(err)
	}
	f.Close()
	model := writeModelAt(b, dir, "big.onnx", data)
	endpoint := url[strings.Index(url, "endpoint=")+len("endpoint="):]
	for i := 0; i < b.N; i++ {
		r, err := Open(ctx, url, Options{})
		if err != nil {
			b.Fatal(err)
		}
		name := "bench" + strconv.Itoa(i) + strconv.FormatInt(time.Now().UnixNano(), 36)
		start := time.Now()
		m, err := r.Push(ctx, model, name, PushOptions{})
		if err != nil {
			b.Fatal(err)
		}
		push := time.Since(start)
		start = time.Now()
		if _, _, err := r.Pull(ctx, m.Ref(), filepath.Join(b.TempDir(), "out.onnx"), PullOptions{}); err != nil {
			b.Fatal(err)
		}
		pull := time.Since(start)
		for _, fl := range m.Files {
			r.bucket.Delete(ctx, blobKey(fl.SHA256))
		}
		r.Close() // blobs deleted above so the next iteration uploads again
		up, down, rss := boto3Transfer(b, endpoint, data)
		mb := float64(size) / 1e6
		b.ReportMetric(mb/push.Seconds(), "push_MB/s")
		b.ReportMetric(mb/pull.Seconds(), "pull_MB/s")
		b.ReportMetric(mb/up, "boto3_up_MB/s")
		b.ReportMetric(mb/down, "boto3_down_MB/s")
		b.ReportMetric(up/push.Seconds(), "push_vs_boto3")
		b.ReportMetric(down/pull.Seconds(), "pull_vs_boto3")
		b.ReportMetric(peakRSSMiB(), "peak_RSS_MiB")
		b.ReportMetric(rss, "boto3_peak_RSS_MiB")
	}
}

// writeModelAt writes a model whose single initializer lives in the existing file data.
func writeModelAt(b *testing.B, dir, name, _ string) string {
	tmp := b.TempDir()
	p := writeModel(b, tmp, name, []byte{0})
	if err := os.Rename(p, filepath.Join(dir, name)); err != nil {
		b.Fatal(err)
	}
	// writeModel references <name>.data, which is where the 1 GiB file already is.
	return filepath.Join(dir, name)
}

func boto3Transfer(b *testing.B, endpoint, path string) (up, down, rssMiB float64) {
	script := `
import boto3, resource, sys, time
s3 = boto3.client("s3", endpoint_url=sys.argv[1], region_name="us-east-1")
t = time.time(); s3.upload_file(sys.argv[2], "models", "boto3/big.bin"); up = time.time() - t
t = time.time(); s3.download_file("models", "boto3/big.bin", sys.argv[3]); down = time.time() - t
print(up, down, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
`
	out, err := exec.Command("/usr/bin/python3", "-c", script, endpoint, path, filepath.Join(b.TempDir(), "dl.bin")).CombinedOutput()
	if err != nil {
		b.Fatalf("boto3: %v\n%s", err, out)
	}
	f := strings.Fields(string(out))
	if len(f) < 3 {
		b.Fatalf("boto3 printed %q", out)
	}
	up, _ = strconv.ParseFloat(f[0], 64)
	down, _ = strconv.ParseFloat(f[1], 64)
	rssMiB, _ = strconv.ParseFloat(f[2], 64)
	return up, down, rssMiB
}

func peakRSSMiB() float64 {
	data, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(data), "\n") {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == "VmHWM:" {
			kb, _ := strconv.ParseFloat(f[1], 64)
			return kb / 1024
		}
	}
	return 0
}
