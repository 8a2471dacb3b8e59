package runtime

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	goruntime "runtime"
	"strings"
)

// ORTVersion is the ONNX Runtime release mlops is built and tested against.
const ORTVersion = "1.30.0"

// APIVersion is the ORT C API version onnxruntime_go v1.36.0 asks the library
// for; a library older than that cannot be used.
const APIVersion = 29

// Source is one place a library path came from, for messages: Name says where
// ("--ort-lib flag", "MLOPS_ORT_LIB", "config ort_lib") and Path what it said.
type Source struct {
	Name string
	Path string
}

// LocateOptions says where Locate may look. The zero value searches only the
// project-local install under the working directory and the standard
// locations.
type LocateOptions struct {
	// Explicit is the path the user asked for (file or folder), already
	// resolved by the caller from flag > environment > config. When its Path
	// is set, nothing else is searched: a wrong explicit path is an error,
	// not a reason to silently load another library.
	Explicit Source
	// Executable is the path of the running binary (os.Executable); its
	// folder and ../lib are searched, and .deps/onnxruntime/lib above it.
	Executable string
	// WorkDir is searched upwards for .deps/onnxruntime/lib (the install
	// `make setup` makes).
	WorkDir string
	// SystemDirs replaces the standard locations when non-nil (tests).
	SystemDirs []string
	// GOOS replaces runtime.GOOS when set (tests).
	GOOS string
}

// Location is where the library was found.
type Location struct {
	Path string
	// Source names the rule that found it: the explicit source's Name,
	// "next to the binary", "project-local install" or "system location".
	Source string
	// Searched lists every candidate file checked, in order.
	Searched []string
}

// NotFoundError reports that no ONNX Runtime library was found. Its message
// lists every place searched and how to install the library.
type NotFoundError struct {
	Explicit Source
	Searched []string
	GOOS     string
}

func (e *NotFoundError) Error() string {
	var b strings.Builder
	if e.Explicit.Path != "" {
		fmt.Fprintf(&b, "ONNX Runtime library not found at %s (from %s)", e.Explicit.Path, e.Explicit.Name)
	} else {
		b.WriteString("ONNX Runtime library not found")
	}
	b.WriteString("; searched:\n")
	for _, s := range e.Searched {
		fmt.Fprintf(&b, "  %s\n", s)
	}
	b.WriteString(InstallHint(e.GOOS))
	return b.String()
}

// InstallHint says how to install ONNX Runtime on goos and point mlops at it.
func InstallHint(goos string) string {
	if goos == "" {
		goos = goruntime.GOOS
	}
	hint := "To install ONNX Runtime " + ORTVersion + ":\n" +
		"  - from a checkout of mlops: make setup (installs it into .deps/onnxruntime/lib)\n"
	if goos == "darwin" {
		hint += "  - on macOS: brew install onnxruntime\n"
	} else {
		hint += "  - with Homebrew: brew install onnxruntime\n"
	}
	hint += "  - or download a release archive from https://github.com/microsoft/onnxruntime/releases,\n" +
		"    unpack it and set MLOPS_ORT_LIB (or --ort-lib, or ort_lib in the config file) to its lib folder"
	return hint
}

// libraryNames are the file names tried in each folder, most specific last
// so that a folder holding only the versioned file is still found.
func libraryNames(goos string) []string {
	if goos == "darwin" {
		return []string{"libonnxruntime.dylib", "libonnxruntime." + ORTVersion + ".dylib"}
	}
	return []string{"libonnxruntime.so", "libonnxruntime.so.1", "libonnxruntime.so." + ORTVersion}
}

func standardDirs(goos string) []string {
	if goos == "darwin" {
		return []string{"/opt/homebrew/lib", "/usr/local/lib", "/usr/lib"}
	}
	dirs := []string{"/home/linuxbrew/.linuxbrew/lib", "/usr/local/lib", "/usr/lib"}
	switch goruntime.GOARCH {
	case "amd64":
		dirs = append(dirs, "/usr/lib/x86_64-linux-gnu")
	case "arm64":
		dirs = append(dirs, "/usr/lib/aarch64-linux-gnu")
	}
	return dirs
}

// Locate finds the ONNX Runtime shared library. The order is: the explicit
// path, next to the binary (its folder and ../lib), the project-local
// install (.deps/onnxruntime/lib in the binary's folder or the working
// directory or any parent of them), then the standard locations. It returns
// the path, every candidate checked and, when nothing is found, a
// *NotFoundError.
func Locate(opts LocateOptions) (path string, searched []string, err error) {
	loc, err := LocateLibrary(opts)
	return loc.Path, loc.Searched, err
}

// LocateLibrary is Locate that also says which rule found the library.
func LocateLibrary(opts LocateOptions) (Location, error) {
	goos := opts.GOOS
	if goos == "" {
		goos = goruntime.GOOS
	}
	var loc Location
	try := func(dir, source string) bool {
		for _, name := range libraryNames(goos) {
			p := filepath.Join(dir, name)
			loc.Searched = append(loc.Searched, p)
			if isFile(p) {
				loc.Path, loc.Source = p, source
				return true
			}
		}
		return false
	}

	if opts.Explicit.Path != "" {
		p := opts.Explicit.Path
		fi, err := os.Stat(p)
		switch {
		case err == nil && fi.IsDir():
			if try(p, opts.Explicit.Name) {
				return loc, nil
			}
		case err == nil:
			loc.Searched = append(loc.Searched, p)
			loc.Path, loc.Source = p, opts.Explicit.Name
			return loc, nil
		default:
			loc.Searched = append(loc.Searched, p)
		}
		return loc, &NotFoundError{Explicit: opts.Explicit, Searched: loc.Searched, GOOS: goos}
	}

	if opts.Executable != "" {
		exeDir := filepath.Dir(opts.Executable)
		if try(exeDir, "next to the binary") || try(filepath.Join(exeDir, "..", "lib"), "next to the binary") {
			return loc, nil
		}
	}
	seen := map[string]bool{}
	for _, start := range []string{dirOf(opts.Executable), opts.WorkDir} {
		if start == "" {
			continue
		}
		for _, dir := range parents(start) {
			d := filepath.Join(dir, ".deps", "onnxruntime", "lib")
			if seen[d] {
				continue
			}
			seen[d] = true
			if try(d, "project-local install") {
				return loc, nil
			}
		}
	}
	dirs := opts.SystemDirs
	if dirs == nil {
		dirs = standardDirs(goos)
	}
	for _, d := range dirs {
		if try(d, "system location") {
			return loc, nil
		}
	}
	return loc, &NotFoundError{Searched: loc.Searched, GOOS: goos}
}

func dirOf(p string) string {
	if p == "" {
		return ""
	}
	return filepath.Dir(p)
}

// parents returns dir and each of its parents up to the filesystem root.
func parents(dir string) []string {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return []string{dir}
	}
	var out []string
	for {
		out = append(out, abs)
		up := filepath.Dir(abs)
		if up == abs {
			return out
		}
		abs = up
	}
}

func isFile(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && !fi.IsDir()
}

// IsNotFound reports whether err says the library is missing.
func IsNotFound(err error) bool {
	var nf *NotFoundError
	return errors.As(err, &nf)
}
