package cmdutil

import (
	"context"
	"fmt"
	"os"

	"github.com/mlops-dev/mlops/internal/registry"
)

// KeyRegistry is the registry URL setting: --registry on the registry commands, MLOPS_REGISTRY,
// or `registry:` in the config file. Without it, the default file:// registry is used.
const KeyRegistry = "registry"

// RegistryConfigKey declares the registry URL key.
func RegistryConfigKey() ConfigKey {
	return ConfigKey{Name: KeyRegistry, Default: "",
		Help: "URL of the model registry (s3://, gs://, azblob://, file://, mem://); default file://$XDG_DATA_HOME/mlops/registry"}
}

// RegistryURL returns the registry URL of this run and where it came from: explicit (a
// --registry flag value), else the registry key (MLOPS_REGISTRY, config file), else the default
// file:// registry under the user's data directory.
func RegistryURL(cfg *Config, explicit string, getenv func(string) string) (url, source string, err error) {
	if explicit != "" {
		return explicit, "--registry flag", nil
	}
	if cfg != nil {
		if u := cfg.GetString(KeyRegistry); u != "" {
			src := "registry key"
			switch cfg.Source(KeyRegistry) {
			case "env":
				src = "MLOPS_REGISTRY"
			case "file":
				src = "registry in " + cfg.File()
			}
			return u, src, nil
		}
	}
	if getenv == nil {
		getenv = os.Getenv
	}
	u, err := registry.DefaultURL(getenv("XDG_DATA_HOME"), getenv("HOME"))
	return u, "default", err
}

// OpenRegistry opens the registry of this run (see RegistryURL).
func OpenRegistry(ctx context.Context, cfg *Config, explicit string, opts registry.Options) (*registry.Registry, error) {
	u, _, err := RegistryURL(cfg, explicit, nil)
	if err != nil {
		return nil, err
	}
	return registry.Open(ctx, u, opts)
}

// RegistryLoader returns the Factory.Registry function: it opens the registry named by the
// command's --registry value, else the configured one, else the default (see RegistryURL).
// Each call opens a new handle; the caller closes it.
func RegistryLoader(f *Factory) func(context.Context, string, registry.Options) (*registry.Registry, error) {
	return func(ctx context.Context, explicit string, opts registry.Options) (*registry.Registry, error) {
		var cfg *Config
		if f.Config != nil {
			c, err := f.Config()
			if err != nil {
				return nil, err
			}
			cfg = c
		}
		return OpenRegistry(ctx, cfg, explicit, opts)
	}
}

// RegistryFlagUsage is the help text of the --registry flag of the registry commands.
const RegistryFlagUsage = "registry URL: s3://bucket/prefix?region=..&endpoint=..&use_path_style=true, gs://bucket/prefix, azblob://container/prefix, file:///path, mem:// (also: MLOPS_REGISTRY, config key registry)"

// RegistryHelpPointer is the line the registry commands' help has in place
// of RegistryHelp, which `mlops help registry` prints once.
const RegistryHelpPointer = `Where the registry is and where its credentials come from: mlops help registry.`

// RegistryHelp is the text of the `mlops help registry` topic: the one place
// the help says where the registry is and where credentials come from.
const RegistryHelp = `The model registry is a blob store named by a URL:

  s3://bucket/prefix?region=eu-west-1   (MinIO: &endpoint=http://127.0.0.1:9000&use_path_style=true)
  gs://bucket/prefix                    (fake-gcs-server: STORAGE_EMULATOR_HOST=host:port)
  azblob://container/prefix             (Azurite: ?localemu=true&protocol=http&domain=127.0.0.1:10000)
  file:///absolute/path                 (created if missing)
  mem://                                (this process only; for tests)

Highest precedence first: --registry URL, MLOPS_REGISTRY, the config key
"registry"; without one, a file:// registry under $XDG_DATA_HOME/mlops/registry
(~/.local/share/mlops/registry) is used.

Credentials come from each cloud's usual chain (AWS_* variables, AWS_PROFILE
and ~/.aws for S3; GOOGLE_APPLICATION_CREDENTIALS or the metadata server for
GCS; AZURE_STORAGE_ACCOUNT with AZURE_STORAGE_KEY, a SAS token or a
connection string for Azure). Credentials in the URL are refused, and none
are ever printed or logged.

push, pull, ls, promote, rollback and rm work on it; serve, eval and retrain
accept NAME, NAME@VERSION and NAME@ALIAS wherever they take a model file.
See docs/registry.md.`

// TransferProgress adapts registry progress events to progress bars with bytes/s on a
// terminal (one bar per file and phase); it prints nothing when stderr is not a terminal.
type TransferProgress struct {
	io       *IOStreams
	bar      Progress
	key      string
	lastDone int64
}

// NewTransferProgress starts reporting to s.
func NewTransferProgress(s *IOStreams) *TransferProgress { return &TransferProgress{io: s} }

// Report is a registry.ProgressFunc.
func (t *TransferProgress) Report(p registry.Progress) {
	key := p.Op + " " + p.File
	if key != t.key {
		t.Finish()
		t.key, t.lastDone = key, 0
		switch p.Op {
		case "skip":
			t.io.Statusf("%s: already in the registry (read back and verified), not uploaded", p.File)
			return
		case "repair":
			t.io.Statusf("%s: the copy in the registry is damaged (its size or sha256 does not match); uploading it again", p.File)
			return
		}
		t.bar = NewProgress(t.io, p.Total, key, true)
	}
	if t.bar != nil && p.Done > t.lastDone {
		t.bar.Add(p.Done - t.lastDone)
		t.lastDone = p.Done
	}
}

// Finish closes the current bar.
func (t *TransferProgress) Finish() {
	if t.bar != nil {
		t.bar.Finish()
		t.bar = nil
	}
}

// HumanBytes formats a byte count with binary units: 512 B, 1.5 KiB, 3.2 GiB.
func HumanBytes(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}
