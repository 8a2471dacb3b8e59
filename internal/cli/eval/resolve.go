package eval

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/mlops-dev/mlops/internal/cli/cmdutil"
	"github.com/mlops-dev/mlops/internal/registry"
)

// modelResolver turns MODEL/BASELINE arguments into local files: an
// existing path as is, otherwise a registry reference pulled into the user
// cache (reused on later runs).
// The registry is --registry, else MLOPS_REGISTRY / the config key, else the
// default file:// registry under the user's data directory.
func modelResolver(f *cmdutil.Factory, explicit *string) func(context.Context, string) (string, error) {
	return func(ctx context.Context, arg string) (string, error) {
		if _, err := os.Stat(arg); err == nil {
			return arg, nil
		}
		var cfg *cmdutil.Config
		if f.Config != nil {
			c, err := f.Config()
			if err != nil {
				return "", err
			}
			cfg = c
		}
		url, _, err := cmdutil.RegistryURL(cfg, *explicit, nil)
		if err != nil {
			return "", err
		}
		cache, err := os.UserCacheDir()
		if err != nil {
			cache = os.TempDir()
		}
		return resolveModel(ctx, arg, url, filepath.Join(cache, "mlops", "models"))
	}
}

func resolveModel(ctx context.Context, arg, url, cacheDir string) (string, error) {
	if _, err := os.Stat(arg); err == nil {
		return arg, nil
	}
	if url == "" {
		return "", fmt.Errorf("%s: no such file; to use it as a registry reference (NAME, NAME@VERSION, NAME@ALIAS) set the registry URL (registry in the config file or MLOPS_REGISTRY)", arg)
	}
	reg, err := registry.Open(ctx, url, registry.Options{})
	if err != nil {
		return "", err
	}
	defer reg.Close()
	// ResolveModel's errors name arg and say whether a file or a registry model is missing.
	local, _, err := registry.ResolveModel(ctx, reg, arg, cacheDir)
	if err != nil {
		return "", err
	}
	return local, nil
}
