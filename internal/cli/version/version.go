// Package version implements `mlops version`; the build metadata itself is
// internal/buildinfo's.
package version

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/mlops-dev/mlops/internal/buildinfo"
	"github.com/mlops-dev/mlops/internal/cli/cmdutil"
)

// VersionOptions are the inputs of `mlops version`.
type VersionOptions struct {
	IO     *cmdutil.IOStreams
	Format func() (cmdutil.Format, error)
	Info   buildinfo.Info
}

// NewCmdVersion builds `mlops version`.
func NewCmdVersion(f *cmdutil.Factory, runF func(*VersionOptions) error) *cobra.Command {
	opts := &VersionOptions{IO: f.IO, Format: f.OutputFormat}
	return &cobra.Command{
		Use:   "version",
		Short: "Print the mlops version, commit and build date",
		Long: `Print the version of this mlops binary, the commit it was built from, the
build date and the Go toolchain. Release builds get these from goreleaser;
otherwise the module version Go recorded (go install ...@v1.2.3) and the VCS
revision and time of a build in a checkout are reported, or "dev".`,
		Example: `  mlops version
  mlops version --output json | jq -r .version`,
		Args: cmdutil.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Info = buildinfo.Get()
			if runF != nil {
				return runF(opts)
			}
			return versionRun(opts)
		},
	}
}

func versionRun(opts *VersionOptions) error {
	format, err := opts.Format()
	if err != nil {
		return err
	}
	if format == cmdutil.FormatJSON {
		return cmdutil.PrintJSON(opts.IO, opts.Info)
	}
	_, err = fmt.Fprintln(opts.IO.Out, opts.Info.String())
	return err
}
