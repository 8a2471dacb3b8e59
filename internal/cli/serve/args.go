package serve

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/mlops-dev/mlops/internal/cli/cmdutil"
	"github.com/mlops-dev/mlops/internal/deploy/engine"
	"github.com/mlops-dev/mlops/internal/registry"
)

// parseModel turns a MODEL argument into a name and a reference:
// NAME=PATH_OR_REF, a file path (named after the file), or a registry
// reference (named after the registry model).
func parseModel(arg string) (name, ref string, err error) {
	if n, r, ok := strings.Cut(arg, "="); ok && !fileExists(arg) {
		if err := registry.ValidateName(n); err != nil {
			return "", "", cmdutil.FlagErrorf("model %q: %q is not a valid model name: %v", arg, n, err)
		}
		if r == "" {
			return "", "", cmdutil.FlagErrorf("model %q: nothing after '='; use NAME=PATH or NAME=REGISTRY_REF", arg)
		}
		return n, r, nil
	}
	if fileExists(arg) || strings.HasSuffix(arg, ".onnx") || strings.ContainsRune(arg, os.PathSeparator) {
		base := strings.TrimSuffix(filepath.Base(arg), filepath.Ext(arg))
		return base, arg, nil
	}
	r, err := registry.ParseRef(arg)
	if err != nil {
		return "", "", cmdutil.FlagErrorf("model %q is neither an existing file nor a registry reference (NAME, NAME@VERSION, NAME@ALIAS): %v", arg, err)
	}
	return r.Name, arg, nil
}

func fileExists(p string) bool {
	st, err := os.Stat(p)
	return err == nil && !st.IsDir()
}

// parseCanary parses REF=PCT% where REF names the model the canary belongs
// to the way a MODEL argument does (NAME@VERSION, or NAME=PATH).
func parseCanary(arg string) (name, ref string, pct float64, err error) {
	i := strings.LastIndex(arg, "=")
	if i < 0 {
		return "", "", 0, cmdutil.FlagErrorf("--canary %q: want REF=PERCENT%%, e.g. fmnist@3=10%%", arg)
	}
	p := strings.TrimSuffix(arg[i+1:], "%")
	pct, perr := strconv.ParseFloat(p, 64)
	if perr != nil || pct <= 0 || pct >= 100 {
		return "", "", 0, cmdutil.FlagErrorf("--canary %q: percentage must be a number between 0 and 100 (exclusive), e.g. 10%%", arg)
	}
	name, ref, err = parseModel(arg[:i])
	return name, ref, pct, err
}

// buildSpecs combines MODEL arguments and --canary flags.
func buildSpecs(models, canaries []string) ([]engine.Spec, error) {
	var specs []engine.Spec
	index := map[string]int{}
	for _, a := range models {
		name, ref, err := parseModel(a)
		if err != nil {
			return nil, err
		}
		if _, dup := index[name]; dup {
			return nil, cmdutil.FlagErrorf("two models are named %q; name them apart with NAME=PATH", name)
		}
		index[name] = len(specs)
		specs = append(specs, engine.Spec{Name: name, Ref: ref})
	}
	for _, c := range canaries {
		name, ref, pct, err := parseCanary(c)
		if err != nil {
			return nil, err
		}
		i, ok := index[name]
		if !ok {
			return nil, cmdutil.FlagErrorf("--canary %q is for model %q, which is not served; serve it too (e.g. mlops serve %s@production --canary %s)", c, name, name, c)
		}
		if specs[i].CanaryRef != "" {
			return nil, cmdutil.FlagErrorf("model %q has two --canary flags; give one", name)
		}
		specs[i].CanaryRef, specs[i].CanaryPercent = ref, pct
	}
	if len(specs) == 0 {
		return nil, fmt.Errorf("no models to serve")
	}
	return specs, nil
}
