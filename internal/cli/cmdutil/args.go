package cmdutil

import (
	"strings"

	"github.com/spf13/cobra"
)

// NoArgs rejects positional arguments with a usage error.
func NoArgs(cmd *cobra.Command, args []string) error {
	if len(args) > 0 {
		return FlagErrorf("%s takes no arguments, got %q", cmd.CommandPath(), strings.Join(args, " "))
	}
	return nil
}

// ExactArgs requires n positional arguments; what names them in the error
// ("MODEL", "MODEL OUTPUT").
func ExactArgs(n int, what string) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if len(args) != n {
			return FlagErrorf("%s needs %s (%d argument(s)), got %d", cmd.CommandPath(), what, n, len(args))
		}
		return nil
	}
}

// RangeArgs requires between min and max positional arguments.
func RangeArgs(min, max int, what string) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if len(args) < min || len(args) > max {
			return FlagErrorf("%s needs %s (%d to %d argument(s)), got %d", cmd.CommandPath(), what, min, max, len(args))
		}
		return nil
	}
}

// AnnotationSkipConfig marks a command that must work even when the
// configuration is broken (completion, version): the root command does not
// load the configuration before running it.
const AnnotationSkipConfig = "mlops/skip-config"
