// Package corpus locates Debian's libonnx-testdata, the ONNX backend test
// corpus, for tests. It imports nothing from mlops, so tests of every
// package (internal/onnx included) can use it. Only _test.go files import it.
package corpus

import (
	"os"
	"testing"
)

// Root is where libonnx-testdata installs the models
// (scripts/setup-debian.sh installs it; `make setup` runs that).
const Root = "/usr/share/libonnx-testdata/data"

// Require returns Root when the corpus is installed. Otherwise the test is
// skipped, or fails under MLOPS_REQUIRE_CORPUS=1 (set by `make test`), so CI
// never silently skips a corpus test.
func Require(t testing.TB) string {
	t.Helper()
	if _, err := os.Stat(Root); err != nil {
		if os.Getenv("MLOPS_REQUIRE_CORPUS") == "1" {
			t.Fatalf("MLOPS_REQUIRE_CORPUS=1 but the ONNX backend corpus is missing under %s: run make setup as root", Root)
		}
		t.Skipf("ONNX backend corpus not installed under %s (apt-get install libonnx-testdata, or make setup)", Root)
	}
	return Root
}
