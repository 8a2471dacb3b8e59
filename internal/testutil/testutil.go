// Package testutil holds helpers that tests across mlops share: finding
// ONNX Runtime the way a checkout does and locating repository files. Only
// _test.go files import it.
package testutil

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/mlops-dev/mlops/internal/runtime"
)

// Runtime opens ONNX Runtime from the project-local install (.deps) or the
// system. With MLOPS_REQUIRE_ORT=1 (set by `make test`) a missing library
// fails the test instead of skipping it.
func Runtime(t testing.TB) *runtime.Runtime {
	t.Helper()
	wd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	path, _, err := runtime.Locate(runtime.LocateOptions{WorkDir: wd})
	if err != nil {
		if os.Getenv("MLOPS_REQUIRE_ORT") == "1" {
			t.Fatalf("MLOPS_REQUIRE_ORT=1 but: %v", err)
		}
		t.Skipf("skipping: %v", err)
	}
	rt, err := runtime.Open(runtime.Config{LibraryPath: path})
	if err != nil {
		t.Fatal(err)
	}
	return rt
}

// RepoFile returns the path of rel (slash-separated, from the repository
// root), found by walking up from the test's working directory to go.mod.
func RepoFile(t testing.TB, rel string) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return filepath.Join(dir, filepath.FromSlash(rel))
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatalf("no go.mod above the test directory; cannot find %s", rel)
		}
		dir = parent
	}
}
