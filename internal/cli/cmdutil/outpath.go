package cmdutil

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"

	"github.com/mlops-dev/mlops/internal/safefile"
)

// StdoutPath is the output path that means standard output, for the flags that can write there.
const StdoutPath = "-"

// CheckOutput vets an output path from the command line before any work starts, so that a
// refusal comes at once and not after minutes of calibration: "-" is refused for a flag that
// cannot write to standard output (never a file named "-"), an existing file needs force, and
// an existing target that is not a regular file (a device, FIFO, folder or symbolic link) is
// refused even with force; the folder must exist and be writable. Writers check again when they
// put the file in place.
func CheckOutput(flag, path string, force bool) error {
	if path == StdoutPath {
		return FlagErrorf("%s -: this file cannot be written to standard output; give a file path (./- for a file named -)", flag)
	}
	if err := safefile.CheckFolder(path); err != nil {
		return err
	}
	return safefile.Check(path, force)
}

// ReportFile is a flag naming a file that is regenerated on every run (an HTML report, a metrics
// textfile), so an existing regular file is replaced without --force, and "-" means standard
// output.
type ReportFile struct{ Flag, Path string }

// CheckReportFiles vets report files before any work starts: at most one may go to standard
// output, and not together with --output json or markdown, which print there too; the others
// must be absent or regular files. It returns the flag that writes to standard output ("" for
// none): the command then leaves its table off standard output so the file arrives alone.
func CheckReportFiles(format Format, files ...ReportFile) (string, error) {
	toStdout := ""
	for _, f := range files {
		switch f.Path {
		case "":
		case StdoutPath:
			if toStdout != "" {
				return "", FlagErrorf("%s - and %s - both write to standard output; send one of them to a file", toStdout, f.Flag)
			}
			if format == FormatJSON || format == FormatMarkdown {
				return "", FlagErrorf("%s - writes to standard output, where --output %s goes too; send one of them to a file", f.Flag, format)
			}
			toStdout = f.Flag
		default:
			if err := safefile.CheckFolder(f.Path); err != nil {
				return "", fmt.Errorf("%s %s: %w", f.Flag, f.Path, err)
			}
			if err := safefile.Check(f.Path, true); err != nil {
				return "", err
			}
		}
	}
	return toStdout, nil
}

// CheckOutputDir vets a folder flag (--plots, --checkpoint-dir) before any work starts: an
// existing path must be a folder that can be written to; a missing one is created later, so its
// nearest existing parent must be a writable folder.
func CheckOutputDir(flag, dir string) error {
	if dir == "" {
		return nil
	}
	if dir == StdoutPath {
		return FlagErrorf("%s -: a folder cannot be standard output; give a folder path", flag)
	}
	for probe := filepath.Clean(dir); ; probe = filepath.Dir(probe) {
		st, err := os.Stat(probe)
		switch {
		case err == nil && !st.IsDir():
			return fmt.Errorf("%s %s: %s is not a folder; choose another path", flag, dir, probe)
		case err == nil:
			if err := safefile.CheckFolder(filepath.Join(probe, "probe")); err != nil {
				return fmt.Errorf("%s %s: %w", flag, dir, err)
			}
			return nil
		case !errors.Is(err, fs.ErrNotExist) && !errors.Is(err, syscall.ENOTDIR): // a/b where a is a file: look at a
			return fmt.Errorf("%s %s: %w", flag, dir, err)
		case filepath.Dir(probe) == probe:
			return fmt.Errorf("%s %s: no parent folder exists", flag, dir)
		}
	}
}

// CheckModelOutput is CheckOutput for an ONNX model: the external data file a save would write
// next to it (OUT.onnx.data) counts as part of the output, so it is not replaced without force
// even when OUT.onnx itself is absent (it may hold the weights of another model).
func CheckModelOutput(flag, path string, force bool) error {
	if err := CheckOutput(flag, path, force); err != nil {
		return err
	}
	data := path + ".data"
	if err := safefile.Check(data, force); errors.Is(err, safefile.ErrExists) {
		return fmt.Errorf("%s exists (external data a model written to %s would replace): choose another path, or pass --force to replace it", data, path)
	} else if err != nil {
		return err
	}
	return nil
}

// CheckInput vets an input path before any work starts, so a missing one is named as such
// ("no such file") and not through a layer that failed to read it. Folders pass: some
// inputs are folders (a TensorFlow SavedModel), and readers of files say so themselves.
func CheckInput(path string) error {
	_, err := os.Stat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("%s: no such file", path)
	}
	return err
}
