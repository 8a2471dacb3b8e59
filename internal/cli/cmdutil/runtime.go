package cmdutil

import (
	"os"
	"sync"

	"github.com/mlops-dev/mlops/internal/runtime"
)

// LocateRuntime finds the ONNX Runtime library for this run: the ort_lib
// key (flag --ort-lib, then MLOPS_ORT_LIB, then the config file) is the
// explicit choice; without it the binary's folder, the project-local
// install and the system locations are searched.
func LocateRuntime(cfg *Config) (runtime.Location, error) {
	opts := runtime.LocateOptions{Explicit: ORTLibSource(cfg)}
	if exe, err := os.Executable(); err == nil {
		opts.Executable = exe
	}
	if wd, err := os.Getwd(); err == nil {
		opts.WorkDir = wd
	}
	return runtime.LocateLibrary(opts)
}

// ORTLibSource is the explicit library path of this run (the ort_lib key)
// and where it came from, or the zero Source when none was given.
func ORTLibSource(cfg *Config) runtime.Source {
	if cfg == nil {
		return runtime.Source{}
	}
	p := cfg.GetString(KeyORTLib)
	if p == "" {
		return runtime.Source{}
	}
	name := "ort_lib"
	switch cfg.Source(KeyORTLib) {
	case "flag":
		name = "--ort-lib flag"
	case "env":
		name = "MLOPS_ORT_LIB"
	case "file":
		name = "ort_lib in " + cfg.File()
	}
	return runtime.Source{Name: name, Path: p}
}

// RuntimeLoader returns the Factory.Runtime function: it locates and opens
// ONNX Runtime on first use and returns the same handle afterwards.
func RuntimeLoader(f *Factory) func() (*runtime.Runtime, error) {
	return sync.OnceValues(func() (*runtime.Runtime, error) {
		var cfg *Config
		if f.Config != nil {
			c, err := f.Config()
			if err != nil {
				return nil, err
			}
			cfg = c
		}
		loc, err := LocateRuntime(cfg)
		if err != nil {
			return nil, err
		}
		return runtime.Open(runtime.Config{LibraryPath: loc.Path})
	})
}
