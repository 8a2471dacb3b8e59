package backend

import (
	"bufio"
	"fmt"
	"io"
	"os/exec"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// torchProcess is testdata/torch_step.py, kept running so that its rounds can alternate with
// ours without paying torch's start-up each time.
type torchProcess struct {
	cmd *exec.Cmd
	in  io.WriteCloser
	out *bufio.Scanner
}

func startTorch(b *testing.B) *torchProcess {
	b.Helper()
	cmd := exec.Command("/usr/bin/python3", "testdata/torch_step.py")
	in, err := cmd.StdinPipe()
	if err != nil {
		b.Fatal(err)
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		b.Fatal(err)
	}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		b.Fatalf("start the PyTorch baseline (make setup installs python3-torch): %v", err)
	}
	p := &torchProcess{cmd: cmd, in: in, out: bufio.NewScanner(out)}
	b.Cleanup(func() {
		in.Close()
		if err := cmd.Wait(); err != nil {
			b.Errorf("PyTorch baseline: %v\n%s", err, stderr.String())
		}
	})
	return p
}

// throughput is samples per second of wall time and of the process's CPU time.
type throughput struct{ wall, cpu float64 }

// run times model at batch on threads threads for about seconds.
func (p *torchProcess) run(b *testing.B, model string, batch, threads int, seconds float64) throughput {
	b.Helper()
	cmd := fmt.Sprintf("%s %d %g %d\n", model, batch, seconds, threads)
	if _, err := io.WriteString(p.in, cmd); err != nil {
		b.Fatal(err)
	}
	if !p.out.Scan() {
		b.Fatalf("PyTorch baseline stopped answering: %v", p.out.Err())
	}
	f := strings.Fields(p.out.Text())
	if len(f) != 2 {
		b.Fatalf("PyTorch baseline answered %q", p.out.Text())
	}
	var t throughput
	var err1, err2 error
	t.wall, err1 = strconv.ParseFloat(f[0], 64)
	t.cpu, err2 = strconv.ParseFloat(f[1], 64)
	if err1 != nil || err2 != nil {
		b.Fatalf("PyTorch baseline answered %q", p.out.Text())
	}
	return t
}

// timeSteps runs the step for about seconds on threads threads (GOMAXPROCS).
func (s *trainStep) timeSteps(b *testing.B, batch, threads int, seconds float64) throughput {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(threads))
	n := 0
	start, cpu := time.Now(), cpuTime()
	for {
		s.run(b)
		n++
		if el := time.Since(start).Seconds(); el >= seconds {
			return throughput{wall: float64(n*batch) / el, cpu: float64(n*batch) / (cpuTime() - cpu).Seconds()}
		}
	}
}

const (
	vsTorchRounds  = 5
	vsTorchSeconds = 2.0
)

// BenchmarkTrainStepVsTorch times the fixed synthetic training step (forward, backward, SGD;
// see newTrainStep) of the Fashion-MNIST MLP and CNN on this backend and, in the same run, the
// same step in PyTorch 1.13 (testdata/torch_step.py), batch 128: on 2 threads (GOMAXPROCS=2 and
// torch.set_num_threads(2), the machine's cores) and on 1. The two alternate for
// vsTorchRounds rounds of vsTorchSeconds each, and which goes first alternates too, so a burst
// of load from other processes on this shared machine lands on both. Reported per model and
// thread count: the median samples/s of each, vs_torch (the median of the per-round ratios of
// samples/s, goal ≥ 0.5) with the lowest and highest per-round ratios, and vs_torch_cpu, the
// median ratio of samples per CPU-second. On a busy machine torch's 2-thread runs lose far more
// than ours (its OpenMP workers spin and are preempted), so the 1-thread CPU ratio is the
// figure that load does not move.
func BenchmarkTrainStepVsTorch(b *testing.B) {
	torch := startTorch(b)
	for _, m := range []struct{ name, file string }{{"mlp", mlpFile}, {"cnn", cnnFile}} {
		for _, threads := range []int{2, 1} {
			b.Run(fmt.Sprintf("%s/threads=%d", m.name, threads), func(b *testing.B) {
				s := newTrainStep(b, m.file, benchSize)
				s.run(b) // compile
				var ours, theirs, ratios, cpuRatios []float64
				for range b.N {
					for round := range vsTorchRounds {
						var o, t throughput
						if round%2 == 0 {
							o = s.timeSteps(b, benchSize, threads, vsTorchSeconds)
							t = torch.run(b, m.name, benchSize, threads, vsTorchSeconds)
						} else {
							t = torch.run(b, m.name, benchSize, threads, vsTorchSeconds)
							o = s.timeSteps(b, benchSize, threads, vsTorchSeconds)
						}
						ours, theirs = append(ours, o.wall), append(theirs, t.wall)
						ratios, cpuRatios = append(ratios, o.wall/t.wall), append(cpuRatios, o.cpu/t.cpu)
					}
				}
				b.ReportMetric(median(ours), "samples/s")
				b.ReportMetric(median(theirs), "torch_samples/s")
				b.ReportMetric(median(ratios), "vs_torch")
				b.ReportMetric(slices.Min(ratios), "vs_torch_min")
				b.ReportMetric(slices.Max(ratios), "vs_torch_max")
				b.ReportMetric(median(cpuRatios), "vs_torch_cpu")
			})
		}
	}
}

func median(v []float64) float64 {
	s := slices.Clone(v)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}
