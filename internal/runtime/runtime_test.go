package runtime

import (
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func TestOpenVersionProviders(t *testing.T) {
	r := openRuntime(t)
	if got := r.Version(); got != ORTVersion {
		t.Errorf("Version() = %q, want %q", got, ORTVersion)
	}
	p, err := r.Providers()
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(p, "CPUExecutionProvider") {
		t.Errorf("Providers() = %v, want CPUExecutionProvider among them", p)
	}
	t.Logf("ONNX Runtime %s at %s, providers %v", r.Version(), r.LibraryPath(), p)

	again, err := Open(Config{LibraryPath: r.LibraryPath()})
	if err != nil {
		t.Fatalf("second Open with the same library: %v", err)
	}
	if again.Version() != r.Version() {
		t.Errorf("second handle reports version %q", again.Version())
	}
	// The same library through a symlink is the same library.
	link := filepath.Join(t.TempDir(), "libonnxruntime.so")
	if err := os.Symlink(r.LibraryPath(), link); err == nil {
		if _, err := Open(Config{LibraryPath: link}); err != nil {
			t.Errorf("Open through a symlink to the loaded library: %v", err)
		}
	}
	other := filepath.Join(t.TempDir(), "libother.so")
	os.WriteFile(other, []byte("x"), 0o644)
	_, err = Open(Config{LibraryPath: other})
	if err == nil || !strings.Contains(err.Error(), "already loaded from") {
		t.Errorf("Open with a second library: got %v, want an 'already loaded from' error", err)
	}
	if err := again.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := again.Providers(); err == nil {
		t.Error("Providers on a closed handle: want an error")
	}
	if _, err := Open(Config{}); err == nil {
		t.Error("Open without a path: want an error")
	}
}

// Loading a bad library must happen in a fresh process: once ORT is loaded
// in this one, Open refuses any other library before trying it.
func TestOpenUnusableLibrary(t *testing.T) {
	if lib := os.Getenv("MLOPS_RUNTIME_TEST_OPEN"); lib != "" {
		_, err := Open(Config{LibraryPath: lib})
		if err == nil {
			t.Fatal("Open succeeded")
		}
		t.Logf("ERROR: %v", err)
		return
	}
	garbage := filepath.Join(t.TempDir(), "libonnxruntime.so")
	if err := os.WriteFile(garbage, []byte("this is not a shared library"), 0o644); err != nil {
		t.Fatal(err)
	}
	cases := []struct{ lib, want string }{
		{garbage, "cannot be loaded"},
	}
	// Any real shared library that is not ONNX Runtime.
	for _, p := range []string{"/lib/x86_64-linux-gnu/libz.so.1", "/usr/lib/x86_64-linux-gnu/libz.so.1", "/usr/lib/libz.dylib"} {
		if _, err := os.Stat(p); err == nil {
			cases = append(cases, struct{ lib, want string }{p, "not an ONNX Runtime library"})
			break
		}
	}
	for _, c := range cases {
		cmd := exec.Command(os.Args[0], "-test.run=^TestOpenUnusableLibrary$", "-test.v")
		cmd.Env = append(os.Environ(), "MLOPS_RUNTIME_TEST_OPEN="+c.lib)
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("child for %s failed: %v\n%s", c.lib, err, out)
		}
		if !strings.Contains(string(out), c.want) || !strings.Contains(string(out), c.lib) {
			t.Errorf("Open(%s): want an error naming the file and saying %q, got:\n%s", c.lib, c.want, out)
		}
	}
}
