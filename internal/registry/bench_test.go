package registry

import (
	"bufio"
	"context"
	"crypto/rand"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/mlops-dev/mlops/internal/testutil/emulators"
)

// BenchmarkPushPullMinIO1GB pushes and pulls a model with 1 GiB of external data to MinIO on
// loopback and, in the same run, uploads and downloads the same data file with boto3's
// upload_file/download_file. Reported: MB/s of each, the mlops/boto3 ratios (goal ≥ 1), the
// speed of pushing the same file a second time (the stored blob is read back and verified, not
// uploaded) and peak RSS of this test process and of the boto3 process.
//
// One transfer on this shared 2-core machine swings by 2x with what ran just before it (the
// first read of an object MinIO has just written is slow; a previous step's writeback competes
// for the disk), so every timed step starts after sync(2), and downloads are measured
// benchRounds times, alternating which client goes first; the medians are reported.
func BenchmarkPushPullMinIO1GB(b *testing.B) {
	url, _, _ := emulators.StartMinIO(b)
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
	boto := startBoto3(b, endpoint)
	mb := float64(size) / 1e6
	for i := 0; i < b.N; i++ {
		r, err := Open(ctx, url, Options{})
		if err != nil {
			b.Fatal(err)
		}
		name := "bench" + strconv.Itoa(i) + strconv.FormatInt(time.Now().UnixNano(), 36)
		syscall.Sync()
		start := time.Now()
		m, err := r.Push(ctx, model, name, PushOptions{})
		if err != nil {
			b.Fatal(err)
		}
		push := time.Since(start).Seconds()
		// Pushing the same file again reads the stored blob back to verify it instead of
		// uploading it: the price of never reusing a damaged blob.
		syscall.Sync()
		start = time.Now()
		if _, err := r.Push(ctx, model, name+"-again", PushOptions{}); err != nil {
			b.Fatal(err)
		}
		repush := time.Since(start).Seconds()
		up := boto.run(b, "up", data)
		var pulls, downs []float64
		for k := 0; k < benchRounds; k++ {
			pull := func() {
				out := filepath.Join(b.TempDir(), "out.onnx")
				syscall.Sync()
				start := time.Now()
				if _, _, err := r.Pull(ctx, m.Ref(), out, PullOptions{}); err != nil {
					b.Fatal(err)
				}
				pulls = append(pulls, time.Since(start).Seconds())
				os.RemoveAll(filepath.Dir(out))
			}
			down := func() {
				dl := filepath.Join(b.TempDir(), "dl.bin")
				downs = append(downs, boto.run(b, "down", dl))
				os.RemoveAll(filepath.Dir(dl))
			}
			if k%2 == 0 {
				pull()
				down()
			} else {
				down()
				pull()
			}
		}
		for _, fl := range m.Files {
			r.bucket.Delete(ctx, blobKey(fl.SHA256))
		}
		r.Close() // blobs deleted above so the next iteration uploads again
		pull, down := median(pulls), median(downs)
		b.ReportMetric(mb/push, "push_MB/s")
		b.ReportMetric(mb/repush, "repush_verified_MB/s")
		b.ReportMetric(push/repush, "repush_vs_push")
		b.ReportMetric(mb/pull, "pull_MB/s")
		b.ReportMetric(mb/up, "boto3_up_MB/s")
		b.ReportMetric(mb/down, "boto3_down_MB/s")
		b.ReportMetric(up/push, "push_vs_boto3")
		b.ReportMetric(down/pull, "pull_vs_boto3")
		b.ReportMetric(peakRSSMiB(), "peak_RSS_MiB")
		b.ReportMetric(boto.peakRSS(b), "boto3_peak_RSS_MiB")
	}
}

const benchRounds = 3

func median(x []float64) float64 {
	s := append([]float64(nil), x...)
	sort.Float64s(s)
	return s[len(s)/2]
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

// boto3 is a Python process holding one boto3 S3 client; each command line it reads ("up PATH",
// "down PATH", "rss") is answered with one line: seconds taken, or peak RSS in MiB.
type boto3 struct {
	in  io.WriteCloser
	out *bufio.Reader
}

func startBoto3(b *testing.B, endpoint string) *boto3 {
	script := `
import boto3, os, sys, time
s3 = boto3.client("s3", endpoint_url=sys.argv[1], region_name="us-east-1")
for line in sys.stdin:
    op, _, path = line.strip().partition(" ")
    if op == "rss":
        # VmHWM, not ru_maxrss: Linux carries ru_maxrss across fork+exec, so it
        # would report the Go test process's peak at the time it started us.
        hwm = [l for l in open("/proc/self/status") if l.startswith("VmHWM:")][0]
        print(int(hwm.split()[1]) / 1024, flush=True)
        continue
    os.sync()
    t = time.time()
    if op == "up":
        s3.upload_file(path, "models", "boto3/big.bin")
    else:
        s3.download_file("models", "boto3/big.bin", path)
    print(time.time() - t, flush=True)
`
	cmd := exec.Command("/usr/bin/python3", "-c", script, endpoint)
	cmd.Stderr = os.Stderr
	in, err := cmd.StdinPipe()
	if err != nil {
		b.Fatal(err)
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		b.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		b.Fatalf("boto3: %v", err)
	}
	b.Cleanup(func() { in.Close(); cmd.Wait() })
	return &boto3{in: in, out: bufio.NewReader(out)}
}

func (p *boto3) ask(b *testing.B, line string) float64 {
	if _, err := io.WriteString(p.in, line+"\n"); err != nil {
		b.Fatalf("boto3: %v", err)
	}
	reply, err := p.out.ReadString('\n')
	if err != nil {
		b.Fatalf("boto3 %s: %v", line, err)
	}
	v, err := strconv.ParseFloat(strings.TrimSpace(reply), 64)
	if err != nil {
		b.Fatalf("boto3 %s printed %q", line, reply)
	}
	return v
}

func (p *boto3) run(b *testing.B, op, path string) float64 { return p.ask(b, op+" "+path) }

func (p *boto3) peakRSS(b *testing.B) float64 { return p.ask(b, "rss") }

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
