package runtime

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func touch(t *testing.T, path string) string {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte("lib"), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestLocateOrder(t *testing.T) {
	root := t.TempDir()
	exe := filepath.Join(root, "app", "bin", "mlops")
	work := filepath.Join(root, "proj", "sub", "dir")
	os.MkdirAll(work, 0o755)
	sys := filepath.Join(root, "usr", "lib")
	none := []string{}

	cases := []struct {
		name       string
		files      []string
		opts       LocateOptions
		wantPath   string
		wantSource string
	}{
		{"explicit file wins over everything",
			[]string{"x/custom.so", "app/bin/libonnxruntime.so", "usr/lib/libonnxruntime.so"},
			LocateOptions{Explicit: Source{"--ort-lib flag", filepath.Join(root, "x/custom.so")}, Executable: exe, SystemDirs: []string{sys}},
			"x/custom.so", "--ort-lib flag"},
		{"explicit folder is searched for the library names",
			[]string{"x/libonnxruntime.so.1.30.0"},
			LocateOptions{Explicit: Source{"MLOPS_ORT_LIB", filepath.Join(root, "x")}, SystemDirs: none},
			"x/libonnxruntime.so.1.30.0", "MLOPS_ORT_LIB"},
		{"next to the binary",
			[]string{"app/bin/libonnxruntime.so.1", "usr/lib/libonnxruntime.so"},
			LocateOptions{Executable: exe, SystemDirs: []string{sys}},
			"app/bin/libonnxruntime.so.1", "next to the binary"},
		{"binary's ../lib",
			[]string{"app/lib/libonnxruntime.so", "usr/lib/libonnxruntime.so"},
			LocateOptions{Executable: exe, SystemDirs: []string{sys}},
			"app/lib/libonnxruntime.so", "next to the binary"},
		{"project-local install found walking up from the working directory",
			[]string{"proj/.deps/onnxruntime/lib/libonnxruntime.so", "usr/lib/libonnxruntime.so"},
			LocateOptions{Executable: exe, WorkDir: work, SystemDirs: []string{sys}},
			"proj/.deps/onnxruntime/lib/libonnxruntime.so", "project-local install"},
		{"project-local install found walking up from the binary",
			[]string{"app/.deps/onnxruntime/lib/libonnxruntime.so.1"},
			LocateOptions{Executable: exe, SystemDirs: none},
			"app/.deps/onnxruntime/lib/libonnxruntime.so.1", "project-local install"},
		{"system location",
			[]string{"usr/lib/libonnxruntime.so.1"},
			LocateOptions{Executable: exe, WorkDir: work, SystemDirs: []string{filepath.Join(root, "opt"), sys}},
			"usr/lib/libonnxruntime.so.1", "system location"},
		{"macOS library name",
			[]string{"usr/lib/libonnxruntime.dylib", "usr/lib/libonnxruntime.so"},
			LocateOptions{GOOS: "darwin", SystemDirs: []string{sys}},
			"usr/lib/libonnxruntime.dylib", "system location"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			rebase := func(o LocateOptions) LocateOptions {
				move := func(p string) string {
					if p == "" {
						return ""
					}
					rel, _ := filepath.Rel(root, p)
					return filepath.Join(dir, rel)
				}
				o.Explicit.Path = move(o.Explicit.Path)
				o.Executable = move(o.Executable)
				o.WorkDir = move(o.WorkDir)
				os.MkdirAll(o.WorkDir, 0o755)
				var sd []string
				for _, d := range o.SystemDirs {
					sd = append(sd, move(d))
				}
				if o.SystemDirs != nil && sd == nil {
					sd = []string{}
				}
				o.SystemDirs = sd
				return o
			}
			for _, f := range c.files {
				touch(t, filepath.Join(dir, f))
			}
			loc, err := LocateLibrary(rebase(c.opts))
			if err != nil {
				t.Fatal(err)
			}
			if want := filepath.Join(dir, c.wantPath); loc.Path != want || loc.Source != c.wantSource {
				t.Errorf("found %s (%s), want %s (%s)", loc.Path, loc.Source, want, c.wantSource)
			}
			if loc.Searched[len(loc.Searched)-1] != loc.Path {
				t.Errorf("Searched should end with the path found: %v", loc.Searched)
			}
		})
	}
}

func TestLocateNotFound(t *testing.T) {
	dir := t.TempDir()
	exe := filepath.Join(dir, "bin", "mlops")
	sys := filepath.Join(dir, "usr", "lib")
	_, searched, err := Locate(LocateOptions{Executable: exe, WorkDir: dir, SystemDirs: []string{sys}, GOOS: "linux"})
	if !IsNotFound(err) {
		t.Fatalf("got %v, want a NotFoundError", err)
	}
	msg := err.Error()
	for _, want := range []string{
		filepath.Join(dir, "bin", "libonnxruntime.so"),
		filepath.Join(dir, "lib", "libonnxruntime.so.1"),
		filepath.Join(dir, ".deps", "onnxruntime", "lib", "libonnxruntime.so.1.30.0"),
		filepath.Join(sys, "libonnxruntime.so"),
		"make setup", "brew install onnxruntime", "MLOPS_ORT_LIB",
	} {
		if !strings.Contains(msg, want) {
			t.Errorf("message lacks %q:\n%s", want, msg)
		}
	}
	if len(searched) < 10 {
		t.Errorf("searched only %v", searched)
	}

	// An explicit path that does not exist is an error even when a library
	// exists elsewhere, and the message says where the path came from.
	touch(t, filepath.Join(sys, "libonnxruntime.so"))
	missing := filepath.Join(dir, "nowhere", "libonnxruntime.so")
	_, _, err = Locate(LocateOptions{Explicit: Source{"config ort_lib", missing}, SystemDirs: []string{sys}})
	if !IsNotFound(err) || !strings.Contains(err.Error(), fmt.Sprintf("not found at %s (from config ort_lib)", missing)) {
		t.Errorf("explicit missing path: got %v", err)
	}
	if !strings.Contains(InstallHint("darwin"), "on macOS: brew install onnxruntime") {
		t.Error("the macOS hint should put Homebrew first")
	}
}
