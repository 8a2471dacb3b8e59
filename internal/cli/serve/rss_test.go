package serve

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	goruntime "runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/mlops-dev/mlops/internal/cli/cmdutil"
	"github.com/mlops-dev/mlops/internal/onnx"
	"github.com/mlops-dev/mlops/internal/runtime"
	"github.com/mlops-dev/mlops/internal/testutil"
	"github.com/mlops-dev/mlops/internal/testutil/testmodels"
)

// The child process of TestServeGivesArenaMemoryBack: env names its model,
// address file and --cpu-arena; it serves until SIGTERM.
const (
	childModel = "MLOPS_TEST_RSS_MODEL"
	childAddr  = "MLOPS_TEST_RSS_ADDR"
	childArena = "MLOPS_TEST_RSS_ARENA"
)

// TestRSSChild is not a test of its own: TestServeGivesArenaMemoryBack runs
// the test binary again with only this test selected, so the server has a
// process (and an RSS) to itself.
func TestRSSChild(t *testing.T) {
	model := os.Getenv(childModel)
	if model == "" {
		t.Skip("only runs as the child of TestServeGivesArenaMemoryBack")
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM)
	defer stop()
	rt := testutil.Runtime(t)
	ios, _, _, errOut := cmdutil.Test()
	err := serveRun(ctx, &ServeOptions{IO: ios, Runtime: func() (*runtime.Runtime, error) { return rt, nil },
		Models: []string{"q=" + model}, Addr: "127.0.0.1:0", AddrFile: os.Getenv(childAddr), CPUArena: os.Getenv(childArena),
		Instances: 1, IntraOpThreads: 1, MaxBatchSize: 1, QueueSize: 4, MaxRequestBytes: 1 << 20,
		RequestTimeout: time.Minute, ShutdownTimeout: 10 * time.Second, LogLevel: "warn"})
	if err != nil {
		t.Fatalf("%v\n%s", err, errOut)
	}
}

// rssBigN is the dynamic dimension of the large requests: testmodels.Quadratic
// then needs QuadraticCopies+1 buffers of n*n floats (about 320 MB) for a
// 16 KB input.
const rssBigN = 4000

// TestServeGivesArenaMemoryBack sends requests whose dynamic dimension makes
// ONNX Runtime allocate hundreds of MB and checks that the server's RSS
// comes back near its baseline afterwards (with ORT's default arena it kept
// the peak for the life of the process). It is a memory bound, not a time
// bound: RSS is read once the responses are in. The default --cpu-arena is
// asserted; the other modes are measured and logged for comparison.
func TestServeGivesArenaMemoryBack(t *testing.T) {
	if goruntime.GOOS != "linux" {
		t.Skip("reads the child's RSS from /proc")
	}
	testutil.Runtime(t) // skip (or fail under MLOPS_REQUIRE_ORT) before building anything
	if testing.Short() {
		t.Skip("starts servers that allocate ~350 MB")
	}
	dir := t.TempDir()
	model := filepath.Join(dir, "quadratic.onnx")
	if err := testmodels.Quadratic().Save(model, onnx.SaveOptions{}); err != nil {
		t.Fatal(err)
	}
	for _, mode := range []string{defaultArena, "off", "keep"} {
		t.Run(mode, func(t *testing.T) {
			base, peak, after := measureServeRSS(t, model, mode)
			t.Logf("--cpu-arena %s: RSS %d MiB at baseline, peak %d MiB, %d MiB after the large requests (%+d MiB)",
				mode, base>>20, peak>>20, after>>20, (after-base)>>20)
			if peak-base < 200<<20 {
				t.Fatalf("the large requests raised the peak RSS by only %d MiB; the test no longer measures anything", (peak-base)>>20)
			}
			if mode == defaultArena && after-base > max(64<<20, (peak-base)/5) {
				t.Errorf("RSS stayed %d MiB above its baseline after the large requests (peak +%d MiB)", (after-base)>>20, (peak-base)>>20)
			}
		})
	}
}

// measureServeRSS starts a server in a child process, warms it with small
// requests and then sends large ones; it returns the child's RSS before the
// large requests, its peak (VmHWM) and its RSS after them.
func measureServeRSS(t *testing.T, model, mode string) (base, peak, after int64) {
	t.Helper()
	addrFile := filepath.Join(t.TempDir(), "addr")
	cmd := exec.Command(os.Args[0], "-test.run=^TestRSSChild$", "-test.count=1")
	cmd.Env = append(os.Environ(), childModel+"="+model, childAddr+"="+addrFile, childArena+"="+mode)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		if err := cmd.Wait(); err != nil {
			t.Errorf("server child: %v\n%s", err, out.String())
		}
	}()
	var addr string
	for deadline := time.Now().Add(60 * time.Second); addr == ""; {
		if b, err := os.ReadFile(addrFile); err == nil && len(b) > 0 {
			addr = strings.TrimSpace(string(b))
		} else if time.Now().After(deadline) {
			t.Fatalf("the server child did not start:\n%s", out.String())
		} else {
			time.Sleep(20 * time.Millisecond)
		}
	}
	infer := func(n int) {
		t.Helper()
		var b strings.Builder
		fmt.Fprintf(&b, `{"inputs":[{"name":"x","datatype":"FP32","shape":[1,%d],"data":[`, n)
		for i := range n {
			if i > 0 {
				b.WriteByte(',')
			}
			b.WriteString("0.001")
		}
		b.WriteString("]}]}")
		resp, err := http.Post("http://"+addr+"/v2/models/q/infer", "application/json", strings.NewReader(b.String()))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Fatalf("n=%d: status %d", n, resp.StatusCode)
		}
	}
	for range 20 {
		infer(64)
	}
	base = procStatus(t, cmd.Process.Pid, "VmRSS")
	for range 3 {
		infer(rssBigN)
	}
	for range 5 {
		infer(64) // ordinary traffic after the burst
	}
	return base, procStatus(t, cmd.Process.Pid, "VmHWM"), procStatus(t, cmd.Process.Pid, "VmRSS")
}

// procStatus reads a "kB" field of /proc/PID/status, in bytes.
func procStatus(t *testing.T, pid int, field string) int64 {
	t.Helper()
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), field+":"); ok {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 10, 64)
			if err != nil {
				t.Fatalf("%s: %q: %v", field, rest, err)
			}
			return kb << 10
		}
	}
	t.Fatalf("no %s in /proc/%d/status", field, pid)
	return 0
}
