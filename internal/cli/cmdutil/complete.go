package cmdutil

import (
	"context"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/mlops-dev/mlops/internal/registry"
)

// Shell completion of flag values and arguments: the choices of an enumeration, files by
// extension, and model names, versions and aliases from the configured registry.

// File extensions that completion offers for each kind of file.
var (
	ModelExts  = []string{"onnx"}
	DataExts   = []string{"npy", "npz", "csv", "jsonl", "parquet"}
	LabelsExts = []string{"npy", "csv", "jsonl", "parquet"}
	ConfigExts = []string{"yaml", "yml"}
)

// RefKind says which registry references completion offers.
type RefKind int

// The references completion offers.
const (
	RefNames    RefKind = iota // NAME
	RefAny                     // NAME, then NAME@VERSION and NAME@ALIAS
	RefVersions                // NAME, then NAME@VERSION only (rm)
)

// registryCompletionTimeout bounds how long completion waits for a registry (a slow bucket
// must not hang the shell).
const registryCompletionTimeout = 2 * time.Second

// CompleteEnum makes completion offer values for flag (and only them, no file names).
func CompleteEnum(cmd *cobra.Command, flag string, values ...string) {
	_ = cmd.RegisterFlagCompletionFunc(flag, cobra.FixedCompletions(values, cobra.ShellCompDirectiveNoFileComp))
}

// CompleteFiles makes completion offer files with these extensions (and folders) for flag.
func CompleteFiles(fl *pflag.FlagSet, flag string, exts ...string) {
	_ = fl.SetAnnotation(flag, cobra.BashCompFilenameExt, exts)
}

// CompleteModelRefs makes completion offer the registry's models for flag: NAME, and once an
// @ is typed NAME@VERSION and NAME@ALIAS (withFiles adds .onnx files, for flags that take
// either).
func CompleteModelRefs(f *Factory, cmd *cobra.Command, flag string, withFiles bool) {
	_ = cmd.RegisterFlagCompletionFunc(flag, func(c *cobra.Command, _ []string, toComplete string) ([]string, cobra.ShellCompDirective) {
		return modelRefs(f, c, toComplete, RefAny, withFiles)
	})
}

// ModelRefArgs is a ValidArgsFunction for commands whose first n arguments (0: all of them)
// are registry references of kind refs (withFiles: or .onnx files).
func ModelRefArgs(f *Factory, n int, refs RefKind, withFiles bool) cobra.CompletionFunc {
	return func(c *cobra.Command, args []string, toComplete string) ([]string, cobra.ShellCompDirective) {
		if n > 0 && len(args) >= n {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		return modelRefs(f, c, toComplete, refs, withFiles)
	}
}

// FileArgs is a ValidArgsFunction offering files with these extensions for the first n
// arguments (0: all).
func FileArgs(n int, exts ...string) cobra.CompletionFunc {
	return func(_ *cobra.Command, args []string, _ string) ([]string, cobra.ShellCompDirective) {
		if n > 0 && len(args) >= n {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		return exts, cobra.ShellCompDirectiveFilterFileExt
	}
}

func modelRefs(f *Factory, c *cobra.Command, toComplete string, kind RefKind, withFiles bool) ([]string, cobra.ShellCompDirective) {
	dir := cobra.ShellCompDirectiveNoFileComp
	if withFiles && (strings.ContainsRune(toComplete, '/') || strings.HasPrefix(toComplete, ".")) {
		return ModelExts, cobra.ShellCompDirectiveFilterFileExt // a path: files only
	}
	refs := registryRefs(f, c, toComplete, kind)
	if withFiles {
		// The shell adds the matching files itself; the names come first.
		dir = cobra.ShellCompDirectiveDefault
	}
	return refs, dir
}

// registryRefs lists what completes toComplete in the registry the command would use. Errors
// (no registry, a broken config, a timeout) complete nothing: completion never fails loudly.
func registryRefs(f *Factory, c *cobra.Command, toComplete string, kind RefKind) []string {
	// The command's own setup (config file, MLOPS_* variables, --registry) as a run would do it;
	// cobra's __complete does not run it.
	if pre := c.Root().PersistentPreRunE; pre != nil {
		_ = pre(c, nil)
	}
	if f == nil || f.Registry == nil {
		return nil
	}
	explicit := ""
	if fl := c.Flags().Lookup("registry"); fl != nil {
		explicit = fl.Value.String()
	}
	ctx, cancel := context.WithTimeout(context.Background(), registryCompletionTimeout)
	defer cancel()
	reg, err := f.Registry(ctx, explicit, registry.Options{})
	if err != nil {
		return nil
	}
	defer reg.Close()
	name, _, hasAt := strings.Cut(toComplete, "@")
	var out []string
	if !hasAt || kind == RefNames {
		models, _, err := reg.Models(ctx)
		if err != nil {
			return nil
		}
		for _, m := range models {
			if strings.HasPrefix(m.Name, toComplete) {
				out = append(out, m.Name)
			}
		}
		return out
	}
	vs, _, err := reg.Versions(ctx, name)
	if err != nil {
		return nil
	}
	seen := map[string]bool{}
	for _, v := range vs {
		out = append(out, name+"@"+strconv.Itoa(v.Version))
		for _, a := range v.Aliases {
			if kind == RefAny && !seen[a] {
				seen[a] = true
				out = append(out, name+"@"+a)
			}
		}
	}
	return out
}
