// Package pull implements `mlops pull REF`: download a model version from the registry,
// verifying every file's sha256 before it is put in place.
package pull

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/mlops-dev/mlops/internal/cli/cmdutil"
	"github.com/mlops-dev/mlops/internal/registry"
	"github.com/mlops-dev/mlops/internal/safefile"
)

// PullOptions are the inputs of `mlops pull`.
type PullOptions struct {
	IO           *cmdutil.IOStreams
	OpenRegistry func(context.Context, string, registry.Options) (*registry.Registry, error)
	Format       func() (cmdutil.Format, error)

	Registry    string
	Ref         string
	Output      string
	Force       bool
	PartSizeMiB int
	Concurrency int
}

// PullResult is the JSON output of `mlops pull`.
type PullResult struct {
	Name    string          `json:"name"`
	Version int             `json:"version"`
	Path    string          `json:"path"`
	Output  string          `json:"output"` // the same as path: the name every writer uses (docs/json.md)
	Size    int64           `json:"size"`
	Files   []registry.File `json:"files"`
}

// NewCmdPull builds `mlops pull`.
func NewCmdPull(f *cmdutil.Factory, runF func(*PullOptions) error) *cobra.Command {
	opts := &PullOptions{IO: f.IO, Format: f.OutputFormat}
	opts.OpenRegistry = f.Registry
	f.DeclareConfig(cmdutil.RegistryConfigKey())
	cmd := &cobra.Command{
		Use:   "pull NAME[@VERSION|@ALIAS] [-o PATH]",
		Short: "Download a model version from the registry",
		Long: `Download a model version: NAME (the latest version), NAME@VERSION or NAME@ALIAS.

-o PATH is the model file to write, or an existing folder to write it into under
its stored name (default: the current folder). External data files are written
next to the model. An existing file (the model or one of its data files) is
replaced only with --force; a target that is not a regular file (a device,
FIFO, folder or symbolic link) is refused even then, and -o - is refused: a
model and its data files cannot share standard output. Every file is downloaded
to a temporary file beside its destination and its sha256 and size are checked
against the manifest before anything is renamed into place: on a mismatch or
an interruption nothing is left at PATH.

` + cmdutil.RegistryHelpPointer + `

--output json prints: name, version, path, size, files (path, sha256, size, role).`,
		Example: `  mlops pull fmnist@production -o model.onnx
  mlops pull fmnist@production -o model.onnx --force   # replace the copy pulled before
  mlops pull fmnist@3 -o models/
  mlops pull fmnist --output json`,
		Args: cmdutil.ExactArgs(1, "the model reference NAME[@VERSION|@ALIAS]"),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Ref = args[0]
			if runF != nil {
				return runF(opts)
			}
			return pullRun(cmd.Context(), opts)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&opts.Registry, "registry", "", cmdutil.RegistryFlagUsage)
	fl.StringVarP(&opts.Output, cmdutil.OutFlag, "o", ".", "model file to write, or an existing folder")
	fl.BoolVar(&opts.Force, "force", false, "replace existing files (regular files only: devices, FIFOs and links are refused)")
	fl.IntVar(&opts.PartSizeMiB, "part-size", registry.DefaultPartSize>>20, "download range size in MiB")
	fl.IntVar(&opts.Concurrency, "concurrency", registry.DefaultConcurrency, "ranges downloaded in parallel")
	cmd.ValidArgsFunction = cmdutil.ModelRefArgs(f, 1, cmdutil.RefAny, false)
	cmdutil.CompleteFiles(fl, "out", cmdutil.ModelExts...)
	return cmd
}

func pullRun(ctx context.Context, opts *PullOptions) error {
	format, err := opts.Format()
	if err != nil {
		return err
	}
	ref, err := registry.ParseRef(opts.Ref)
	if err != nil {
		return cmdutil.FlagErrorf("%v", err)
	}
	if opts.PartSizeMiB < 1 || opts.PartSizeMiB > 1024 {
		return cmdutil.FlagErrorf("--part-size %d: use 1 to 1024 MiB", opts.PartSizeMiB)
	}
	if opts.Concurrency < 1 || opts.Concurrency > 64 {
		return cmdutil.FlagErrorf("--concurrency %d: use 1 to 64", opts.Concurrency)
	}
	if opts.Output == cmdutil.StdoutPath {
		return cmdutil.FlagErrorf("-o -: a model and its data files cannot be written to standard output; give a file or folder (./- for a file named -)")
	}
	if err := checkTarget(opts.Output); err != nil {
		return err
	}
	reg, err := opts.OpenRegistry(ctx, opts.Registry, registry.Options{PartSize: opts.PartSizeMiB << 20, Concurrency: opts.Concurrency})
	if err != nil {
		return err
	}
	defer reg.Close()
	progress := cmdutil.NewTransferProgress(opts.IO)
	m, path, err := reg.Pull(ctx, ref, opts.Output, registry.PullOptions{Progress: progress.Report, Overwrite: opts.Force})
	progress.Finish()
	if err != nil {
		return err
	}
	if format == cmdutil.FormatJSON {
		return cmdutil.PrintJSON(opts.IO, PullResult{Name: m.Name, Version: m.Version, Path: path, Output: path, Size: m.Size, Files: m.Files})
	}
	fmt.Fprintf(opts.IO.Out, "pulled %s to %s (%d file(s), %s, sha256 verified)\n", m.Ref(), path, len(m.Files), cmdutil.HumanBytes(m.Size))
	return nil
}

// checkTarget says before the download whether -o can be written: an
// existing folder must take new files; a missing folder (or a file's
// missing folder) is created, so its nearest existing parent must be a
// writable folder. (Whether an existing file may be replaced is the
// registry's check, with --force.)
func checkTarget(out string) error {
	if st, err := os.Stat(out); err == nil && st.IsDir() {
		return safefile.CheckFolder(filepath.Join(out, "model.onnx"))
	}
	return cmdutil.CheckOutputDir("-o", filepath.Dir(out))
}
