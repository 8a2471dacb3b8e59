package runtime

import (
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"sync"

	ort "github.com/yalue/onnxruntime_go"
)

// Config says which library to load.
type Config struct {
	// LibraryPath is the ONNX Runtime shared library, usually from Locate.
	LibraryPath string
}

// Runtime is a handle to the loaded ONNX Runtime. Close releases the handle;
// the library itself stays loaded for the life of the process because
// onnxruntime_go cannot load a second one.
type Runtime struct {
	path    string
	version string
	closed  bool
	mu      sync.Mutex
}

// process is the process-wide ORT state that onnxruntime_go forces on us.
// It is the only package-level mutable state, guarded by mu.
var process struct {
	mu      sync.Mutex
	path    string // library loaded, "" before the first successful Open
	version string
	cuda    *bool // whether the CUDA provider can be used, probed once
}

// LoadError reports a library that exists but cannot be used.
type LoadError struct {
	Path   string
	Reason string
	Err    error
}

func (e *LoadError) Error() string {
	return fmt.Sprintf("cannot use ONNX Runtime library %s: %s", e.Path, e.Reason)
}

func (e *LoadError) Unwrap() error { return e.Err }

// Open loads the ONNX Runtime library and initialises its environment. It is
// safe to call more than once with the same library; a different library in
// the same process is an error.
func Open(cfg Config) (*Runtime, error) {
	if cfg.LibraryPath == "" {
		return nil, errors.New("runtime: no ONNX Runtime library path given; use Locate to find one")
	}
	path, err := filepath.Abs(cfg.LibraryPath)
	if err != nil {
		return nil, fmt.Errorf("runtime: library path %s: %w", cfg.LibraryPath, err)
	}
	process.mu.Lock()
	defer process.mu.Unlock()
	if process.path != "" {
		if !sameFile(process.path, path) {
			return nil, fmt.Errorf("runtime: ONNX Runtime is already loaded from %s in this process; "+
				"cannot also load %s (use one library per process)", process.path, path)
		}
		return &Runtime{path: process.path, version: process.version}, nil
	}
	ort.SetSharedLibraryPath(path)
	if err := ort.InitializeEnvironment(ort.WithLogLevelError()); err != nil {
		return nil, explainLoadError(path, err)
	}
	process.path = path
	process.version = ort.GetVersion()
	return &Runtime{path: path, version: process.version}, nil
}

// explainLoadError turns onnxruntime_go's messages into ones that say what
// is wrong with the file and what to do.
func explainLoadError(path string, err error) error {
	msg := err.Error()
	switch {
	case strings.Contains(msg, "Error setting ORT API base: 2"):
		return &LoadError{Path: path, Err: err, Reason: fmt.Sprintf(
			"the library does not provide ORT C API version %d; it is older than ONNX Runtime 1.%d "+
				"(mlops is tested with %s). Install ONNX Runtime %s (make setup, or brew install onnxruntime)",
			APIVersion, APIVersion, ORTVersion, ORTVersion)}
	case strings.Contains(msg, "OrtGetApiBase"):
		return &LoadError{Path: path, Err: err, Reason: "it is not an ONNX Runtime library (no OrtGetApiBase symbol). " +
			"Point --ort-lib or MLOPS_ORT_LIB at libonnxruntime"}
	case strings.Contains(msg, "Error loading ONNX shared library"):
		return &LoadError{Path: path, Err: err, Reason: "it cannot be loaded (" + dlMessage(msg) + "). " +
			"Check that it is an ONNX Runtime " + ORTVersion + " build for this operating system and CPU"}
	}
	return &LoadError{Path: path, Err: err, Reason: msg}
}

// dlMessage keeps the dlerror text of an onnxruntime_go load error.
func dlMessage(msg string) string {
	if i := strings.LastIndex(msg, "\": "); i >= 0 {
		return msg[i+3:]
	}
	return msg
}

func sameFile(a, b string) bool {
	if a == b {
		return true
	}
	ra, errA := filepath.EvalSymlinks(a)
	rb, errB := filepath.EvalSymlinks(b)
	return errA == nil && errB == nil && ra == rb
}

// LibraryPath is the absolute path of the loaded library.
func (r *Runtime) LibraryPath() string { return r.path }

// Version is the ONNX Runtime version string, e.g. "1.30.0".
func (r *Runtime) Version() string { return r.version }

// Providers lists the execution providers this library can use, e.g.
// ["CPUExecutionProvider"]. CUDA is listed only when a session can actually
// be given the CUDA provider (the library was built with it and its
// provider library and CUDA load).
func (r *Runtime) Providers() ([]string, error) {
	if err := r.check(); err != nil {
		return nil, err
	}
	devices, err := ort.GetEpDevices()
	if err != nil {
		return nil, fmt.Errorf("runtime: list execution providers: %w", err)
	}
	var out []string
	seen := map[string]bool{}
	add := func(name string) {
		if name != "" && !seen[name] {
			seen[name] = true
			out = append(out, name)
		}
	}
	for _, d := range devices {
		add(d.EpName())
	}
	add(providerCPU)
	process.mu.Lock()
	if process.cuda == nil {
		ok := cudaUsable()
		process.cuda = &ok
	}
	cuda := *process.cuda
	process.mu.Unlock()
	if cuda {
		add(providerCUDA)
	}
	return out, nil
}

const (
	providerCPU  = "CPUExecutionProvider"
	providerCUDA = "CUDAExecutionProvider"
)

// cudaUsable appends the CUDA provider to throwaway session options: ORT
// fails there when it was built without CUDA or cannot load it. ORT logs that
// failure as an error, which is expected here, so logging is limited to fatal
// messages during the probe.
func cudaUsable() bool {
	if ort.SetEnvironmentLogLevel(ort.LoggingLevelFatal) == nil {
		defer func() { _ = ort.SetEnvironmentLogLevel(ort.LoggingLevelError) }()
	}
	so, err := ort.NewSessionOptions()
	if err != nil {
		return false
	}
	defer so.Destroy()
	co, err := ort.NewCUDAProviderOptions()
	if err != nil {
		return false
	}
	defer co.Destroy()
	return so.AppendExecutionProviderCUDA(co) == nil
}

func (r *Runtime) check() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return errors.New("runtime: use of a closed Runtime")
	}
	return nil
}

// Close releases this handle. Sessions already created keep working; the
// library stays loaded (see the package documentation).
func (r *Runtime) Close() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.closed = true
	return nil
}
