package root

import (
	"errors"
	"flag"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"testing"

	"github.com/rogpeppe/go-internal/testscript"
)

var updateScripts = flag.Bool("update", false, "rewrite cmp golden files embedded in testscript files")

// TestMain lets the test binary act as the mlops binary: testscript puts an
// `mlops` executable on PATH that runs Main in a fresh process, so each
// script line exercises exactly what users run (flags, exit codes, streams).
func TestMain(m *testing.M) {
	testscript.Main(m, map[string]func(){
		"mlops": func() { os.Exit(Main()) },
	})
}

// TestScripts runs testdata/script/*.txtar. Variables available to scripts:
//
//	$REPO     the repository root
//	$TESTDATA $REPO/testdata
//	$CORPUS   Debian's ONNX backend corpus (/usr/share/libonnx-testdata/data)
//	$ORT_LIB  the ONNX Runtime library `make setup` installs (may not exist)
//
// Conditions: [ort] (ONNX Runtime installed; with MLOPS_REQUIRE_ORT=1 a
// missing library fails the test instead of skipping), [corpus], [fmnist],
// [root] (running as root: device nodes can be made with mknod).
func TestScripts(t *testing.T) {
	repo, err := filepath.Abs(filepath.Join("..", "..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	ortLib := filepath.Join(repo, ".deps", "onnxruntime", "lib", ortLibName())
	corpus := "/usr/share/libonnx-testdata/data"
	haveORT := exists(ortLib)
	if !haveORT && os.Getenv("MLOPS_REQUIRE_ORT") == "1" {
		t.Fatalf("MLOPS_REQUIRE_ORT=1 but %s is missing: run `make setup`", ortLib)
	}
	testscript.Run(t, testscript.Params{
		Dir:                 filepath.Join("testdata", "script"),
		UpdateScripts:       *updateScripts,
		RequireExplicitExec: false,
		Setup: func(env *testscript.Env) error {
			env.Setenv("REPO", repo)
			env.Setenv("TESTDATA", filepath.Join(repo, "testdata"))
			env.Setenv("CORPUS", corpus)
			env.Setenv("ORT_LIB", ortLib)
			// Keep the developer's own config and colour settings out.
			env.Setenv("HOME", filepath.Join(env.WorkDir, "home"))
			env.Setenv("XDG_CONFIG_HOME", filepath.Join(env.WorkDir, "xdg"))
			return nil
		},
		Cmds: map[string]func(ts *testscript.TestScript, neg bool, args []string){
			"exitcode":   cmdExitCode,
			"http":       cmdHTTP,
			"edit-model": cmdEditModel,
		},
		Condition: func(cond string) (bool, error) {
			switch cond {
			case "ort":
				return haveORT, nil
			case "corpus":
				return exists(corpus), nil
			case "root":
				return os.Geteuid() == 0, nil
			case "fmnist":
				return exists(filepath.Join(repo, "testdata", "fmnist", "mlp.onnx")), nil
			}
			return false, nil
		},
	})
}

// cmdExitCode implements `exitcode N program [args...]`: run the program
// (stdout/stderr kept for the next stdout/stderr checks) and require exit N.
func cmdExitCode(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) < 2 {
		ts.Fatalf("usage: exitcode N program [args...]")
	}
	want, err := strconv.Atoi(args[0])
	if err != nil {
		ts.Fatalf("exitcode: bad code %q", args[0])
	}
	got := 0
	if err := ts.Exec(args[1], args[2:]...); err != nil {
		var exitErr *exec.ExitError
		if !errors.As(err, &exitErr) {
			ts.Fatalf("exitcode: %v", err)
		}
		got = exitErr.ExitCode()
	}
	if got != want {
		ts.Fatalf("exit code %d, want %d", got, want)
	}
}

func ortLibName() string {
	if runtime.GOOS == "darwin" {
		return "libonnxruntime.dylib"
	}
	return "libonnxruntime.so"
}

func exists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}
