package cmdutil

import (
	"context"
	"fmt"
	"sync"

	"github.com/mlops-dev/mlops/internal/registry"
	"github.com/mlops-dev/mlops/internal/runtime"
)

// Factory holds the lazily-built dependencies of one run. It is the only way
// a command reaches the outside world; tests build one with fakes. Packages
// that own a dependency add a field here (for example Runtime func() for
// ONNX Runtime, Registry func(ctx) for the model registry).
type Factory struct {
	IO *IOStreams

	// Config returns the resolved configuration of this run. The root
	// command installs a loader that knows the parsed flags; it is safe to
	// call more than once (the first result is cached).
	Config func() (*Config, error)

	// Runtime opens ONNX Runtime, found from --ort-lib > MLOPS_ORT_LIB >
	// config ort_lib > next to the binary > .deps/onnxruntime/lib > system
	// locations (see RuntimeLoader). Commands that run models call it.
	Runtime func() (*runtime.Runtime, error)

	// Registry opens the model registry of this run: explicit (a command's --registry value)
	// > MLOPS_REGISTRY > config key registry > the default file:// registry (see
	// RegistryLoader). The caller closes it.
	Registry func(ctx context.Context, explicit string, opts registry.Options) (*registry.Registry, error)

	// ExecutableName is what the user typed to run us ("mlops").
	ExecutableName string

	// Schema collects configuration keys; commands declare theirs with
	// DeclareConfig while they are built, before any config is loaded.
	Schema *ConfigSchema
}

// DeclareConfig registers configuration keys a command reads.
func (f *Factory) DeclareConfig(keys ...ConfigKey) {
	if f.Schema == nil {
		f.Schema = &ConfigSchema{}
	}
	f.Schema.Declare(keys...)
}

// OutputFormat returns the --output format of this run (config key "output").
func (f *Factory) OutputFormat() (Format, error) {
	if f.Config == nil {
		return FormatTable, nil
	}
	cfg, err := f.Config()
	if err != nil {
		return "", err
	}
	return ParseFormat(cfg.GetString(KeyOutput))
}

// OnceConfig wraps a loader so it runs at most once and every caller sees
// the same result.
func OnceConfig(load func() (*Config, error)) func() (*Config, error) {
	var (
		once sync.Once
		cfg  *Config
		err  error
	)
	return func() (*Config, error) {
		once.Do(func() {
			cfg, err = load()
			if err == nil && cfg == nil {
				err = fmt.Errorf("config loader returned nothing")
			}
		})
		return cfg, err
	}
}

// Keys every command shares. Commands declare their own next to their code.
const (
	KeyOutput = "output"  // table|json|markdown
	KeyORTLib = "ort_lib" // path of the ONNX Runtime shared library
)

// GlobalConfigKeys are declared by the root command.
func GlobalConfigKeys() []ConfigKey {
	return []ConfigKey{
		{Name: KeyOutput, Default: string(FormatTable), Flag: "output", Values: []string{string(FormatTable), string(FormatJSON), string(FormatMarkdown)},
			Help: "output format of commands that report: table, json or markdown"},
		{Name: KeyORTLib, Default: "", Flag: "ort-lib",
			Help: "path of the ONNX Runtime shared library (libonnxruntime.so / .dylib)"},
		{Name: "quiet", Default: false, Flag: "quiet", Help: "print only results and errors, no status messages"},
		{Name: "verbose", Default: false, Flag: "verbose", Help: "print diagnostic messages to stderr"},
		{Name: "no_color", Default: false, Flag: "no-color", Help: "never use colour"},
	}
}
