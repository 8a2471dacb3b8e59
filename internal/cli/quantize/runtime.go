package quantize

import (
	"os"

	"github.com/mlops-dev/mlops/internal/cli/cmdutil"
	"github.com/mlops-dev/mlops/internal/runtime"
)

// runtimeOpener opens ONNX Runtime from the ort_lib setting, next to the
// binary, or the project-local install, as the runtime package orders them.
func runtimeOpener(f *cmdutil.Factory) func() (*runtime.Runtime, error) {
	return func() (*runtime.Runtime, error) {
		lo := runtime.LocateOptions{}
		if f.Config != nil {
			cfg, err := f.Config()
			if err != nil {
				return nil, err
			}
			if p := cfg.GetString(cmdutil.KeyORTLib); p != "" {
				lo.Explicit = runtime.Source{Name: cfg.Source(cmdutil.KeyORTLib), Path: p}
			}
		}
		if exe, err := os.Executable(); err == nil {
			lo.Executable = exe
		}
		if wd, err := os.Getwd(); err == nil {
			lo.WorkDir = wd
		}
		path, _, err := runtime.Locate(lo)
		if err != nil {
			return nil, err
		}
		return runtime.Open(runtime.Config{LibraryPath: path})
	}
}
