// Package doctor implements `mlops doctor`: it checks that this machine can
// run mlops (ONNX Runtime found and loadable, its version and execution
// providers, the config file in use, the registry setting) and says how to
// fix what is missing.
package doctor

import (
	"errors"
	"fmt"
	"os"
	goruntime "runtime"

	"github.com/spf13/cobra"

	"github.com/mlops-dev/mlops/internal/cli/cmdutil"
	"github.com/mlops-dev/mlops/internal/runtime"
)

// KeyRegistry is the registry URL key doctor reports on. The registry
// commands own its meaning; declaring it twice is allowed.
const KeyRegistry = "registry"

// DoctorOptions are the inputs of `mlops doctor`.
type DoctorOptions struct {
	IO *cmdutil.IOStreams
	// Config loads this run's configuration; doctor reports its error
	// instead of failing before it starts.
	Config func() (*cmdutil.Config, error)
	// OutputFlag and ORTLibFlag are the raw flag values, used when the
	// configuration cannot be loaded.
	OutputFlag string
	ORTLibFlag string
	// Locate and Open are runtime.LocateLibrary and runtime.Open in
	// production; tests replace them.
	Locate func(runtime.LocateOptions) (runtime.Location, error)
	Open   func(runtime.Config) (*runtime.Runtime, error)
	Getenv func(string) string
}

// NewCmdDoctor builds `mlops doctor`.
func NewCmdDoctor(f *cmdutil.Factory, runF func(*DoctorOptions) error) *cobra.Command {
	opts := &DoctorOptions{IO: f.IO, Locate: runtime.LocateLibrary, Open: runtime.Open, Getenv: os.Getenv}
	f.DeclareConfig(cmdutil.ConfigKey{Name: KeyRegistry, Default: "",
		Help: "URL of the model registry (file://, s3://, gs://, azblob://, mem://)"})
	cmd := &cobra.Command{
		Use:   "doctor",
		Short: "Check that ONNX Runtime and the configuration are usable",
		Long: `Check what mlops needs on this machine and say how to fix what is missing:

  - ONNX Runtime: where the shared library was found and which rule found it
    (--ort-lib, MLOPS_ORT_LIB, ort_lib in the config file, next to the binary,
    the project-local install .deps/onnxruntime/lib made by make setup, or a
    system location), whether it loads, its version and execution providers
  - the config file in use, and whether it is valid
  - whether a model registry is configured (registry key, MLOPS_REGISTRY)
  - Go version, operating system and architecture of this binary

When the library is missing, the message lists every place searched and how
to install ONNX Runtime ` + runtime.ORTVersion + `.

--output json prints one object with the stable fields ok, onnxruntime
(found, path, source, version, expected_version, api_version, providers,
searched, error), config (file, error), registry (configured, url, source),
go_version, os, arch.

doctor exits 1 when ONNX Runtime is missing or unusable or the config file is
invalid, and 0 otherwise.`,
		Example: `  mlops doctor
  mlops doctor --ort-lib /opt/onnxruntime/lib/libonnxruntime.so
  MLOPS_ORT_LIB=$HOME/onnxruntime/lib mlops doctor --output json`,
		Args:        cmdutil.NoArgs,
		Annotations: map[string]string{cmdutil.AnnotationSkipConfig: "doctor reports config errors itself"},
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Config = f.Config
			if fl := cmd.Flag("output"); fl != nil {
				opts.OutputFlag = fl.Value.String()
			}
			if fl := cmd.Flag("ort-lib"); fl != nil {
				opts.ORTLibFlag = fl.Value.String()
			}
			if runF != nil {
				return runF(opts)
			}
			return doctorRun(opts)
		},
	}
	return cmd
}

func doctorRun(opts *DoctorOptions) error {
	r := Report{GoVersion: goruntime.Version(), OS: goruntime.GOOS, Arch: goruntime.GOARCH}
	cfg, cfgErr := loadConfig(opts)
	format := cmdutil.Format(opts.OutputFlag)
	if cfg != nil {
		r.Config.File = cfg.File()
		format = cmdutil.Format(cfg.GetString(cmdutil.KeyOutput))
	} else {
		r.Config.Error = cfgErr.Error()
	}
	if format != cmdutil.FormatJSON {
		format = cmdutil.FormatTable
	}

	r.Registry = registryStatus(cfg, opts.Getenv)
	ortErr := checkORT(opts, cfg, &r.ORT)
	r.OK = ortErr == nil && cfgErr == nil

	var err error
	if format == cmdutil.FormatJSON {
		err = cmdutil.PrintJSON(opts.IO, r)
	} else {
		err = render(opts.IO, r)
	}
	if err != nil {
		return err
	}
	return errors.Join(ortErr, cfgErr)
}

func loadConfig(opts *DoctorOptions) (*cmdutil.Config, error) {
	if opts.Config == nil {
		return nil, errors.New("no configuration loader")
	}
	cfg, err := opts.Config()
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	return cfg, nil
}

// checkORT fills the ONNX Runtime part of the report and returns the error
// (with the install hint) that makes doctor exit 1.
func checkORT(opts *DoctorOptions, cfg *cmdutil.Config, out *ORTStatus) error {
	out.Expected = runtime.ORTVersion
	out.APIVersion = runtime.APIVersion
	lo := runtime.LocateOptions{}
	switch {
	case cfg != nil:
		lo.Explicit = cmdutil.ORTLibSource(cfg)
	case opts.ORTLibFlag != "":
		lo.Explicit = runtime.Source{Name: "--ort-lib flag", Path: opts.ORTLibFlag}
	case opts.Getenv("MLOPS_ORT_LIB") != "":
		lo.Explicit = runtime.Source{Name: "MLOPS_ORT_LIB", Path: opts.Getenv("MLOPS_ORT_LIB")}
	}
	if exe, err := os.Executable(); err == nil {
		lo.Executable = exe
	}
	lo.WorkDir, _ = os.Getwd()
	loc, err := opts.Locate(lo)
	return finishORT(opts, loc, err, out)
}

func finishORT(opts *DoctorOptions, loc runtime.Location, locErr error, out *ORTStatus) error {
	out.Searched = loc.Searched
	if locErr != nil {
		out.Error = locErr.Error()
		return locErr
	}
	out.Path, out.Source = loc.Path, loc.Source
	rt, err := opts.Open(runtime.Config{LibraryPath: loc.Path})
	if err != nil {
		out.Error = err.Error()
		return fmt.Errorf("%w\n%s", err, runtime.InstallHint(""))
	}
	out.Found = true
	out.Searched = nil // only useful when something is wrong
	out.Version = rt.Version()
	providers, err := rt.Providers()
	if err != nil {
		out.Error = err.Error()
		return err
	}
	out.Providers = providers
	return nil
}

func registryStatus(cfg *cmdutil.Config, getenv func(string) string) RegistryStatus {
	if cfg != nil {
		if u := cfg.GetString(KeyRegistry); u != "" {
			src := cfg.Source(KeyRegistry)
			switch src {
			case "env":
				src = "MLOPS_REGISTRY"
			case "file":
				src = cfg.File()
			}
			return RegistryStatus{Configured: true, URL: u, Source: src}
		}
		return RegistryStatus{}
	}
	if u := getenv("MLOPS_REGISTRY"); u != "" {
		return RegistryStatus{Configured: true, URL: u, Source: "MLOPS_REGISTRY"}
	}
	return RegistryStatus{}
}
