// Package safefile writes the files mlops makes for its users: each one into a temporary file
// beside its target, renamed into place only once it is complete and only while the operation has
// not been cancelled, and never over anything but a regular file. A device, FIFO, socket, folder or
// symbolic link at the target is refused, even when overwriting was asked for: renaming over
// /dev/full or a named pipe would replace the node itself, not write into it.
//
// Every writer of user files (model save, registry pull, reports, metrics files, weights, serve's
// address file) goes through here so that the rules are the same everywhere. The package holds no
// state and reads no environment.
package safefile

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

var (
	// ErrExists means the target exists and the caller did not ask to overwrite it.
	ErrExists = errors.New("already exists")
	// ErrNotRegular means the target exists and is not a regular file.
	ErrNotRegular = errors.New("not a regular file")
)

// Check reports whether path may be written. A missing path is fine; an existing one must be a
// regular file (not followed through a symbolic link) and is accepted only when overwrite is set.
// Errors match ErrExists or ErrNotRegular and say what to do.
func Check(path string, overwrite bool) error {
	st, err := os.Lstat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	if !st.Mode().IsRegular() {
		return &targetError{ErrNotRegular, fmt.Sprintf("%s is %s, not a regular file: mlops only replaces regular files; choose another path", path, kind(st.Mode()))}
	}
	if !overwrite {
		return &targetError{ErrExists, fmt.Sprintf("%s exists: choose another path, or pass --force to replace it", path)}
	}
	return nil
}

// targetError is a refusal of a target path: its message stands alone, errors.Is finds the sentinel.
type targetError struct {
	sentinel error
	msg      string
}

func (e *targetError) Error() string { return e.msg }
func (e *targetError) Unwrap() error { return e.sentinel }

// kind names a non-regular file mode for messages.
func kind(m fs.FileMode) string {
	switch {
	case m.IsDir():
		return "a folder"
	case m&fs.ModeSymlink != 0:
		return "a symbolic link"
	case m&fs.ModeCharDevice != 0:
		return "a character device"
	case m&fs.ModeDevice != 0:
		return "a block device"
	case m&fs.ModeNamedPipe != 0:
		return "a named pipe (FIFO)"
	case m&fs.ModeSocket != 0:
		return "a socket"
	}
	return "a special file"
}

// CheckFolder reports whether path's folder can take the file: it must exist, be a folder and
// be writable (tried by creating and removing a hidden file, which also catches read-only
// mounts and, as root, file systems such as /sys). Commands call it before their work starts.
// The error names the folder, never a temporary file.
func CheckFolder(path string) error {
	dir := filepath.Dir(path)
	st, err := os.Stat(dir)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return folderMissing(dir)
	case err != nil:
		return fmt.Errorf("folder %s: %w", dir, cause(err))
	case !st.IsDir():
		return fmt.Errorf("%s is not a folder, so %s cannot be written there; choose another path", dir, filepath.Base(path))
	}
	f, err := os.CreateTemp(dir, ".mlops-write-check-*")
	if err != nil {
		return fmt.Errorf("folder %s is not writable (%v): choose another path", dir, cause(err))
	}
	name := f.Name()
	f.Close()
	os.Remove(name)
	return nil
}

func folderMissing(dir string) error {
	return fmt.Errorf("folder %s does not exist: create it first (mkdir -p %s) or choose another path", dir, dir)
}

// cause strips the path from an *fs.PathError: the messages name the folder themselves, and
// the path in the error may be a temporary file's.
func cause(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// Temp creates the temporary file that will become path: in path's folder (so the final rename
// stays on one file system), hidden, and named after path so a leftover is recognisable. Its
// errors name the folder, not the temporary name.
func Temp(path string) (*os.File, error) {
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*")
	switch {
	case err == nil:
		return f, nil
	case errors.Is(err, fs.ErrNotExist):
		return nil, folderMissing(dir)
	default:
		return nil, fmt.Errorf("cannot write %s in folder %s: %w", filepath.Base(path), dir, cause(err))
	}
}

// Rename is one temporary file and the target it becomes.
type Rename struct{ Temp, Target string }

// Commit renames every temp over its target, in order, after checking first that ctx is not done
// and that no target has become something other than a regular file since the work started. It is
// the point of no return of a write: an interrupt that arrives before it wins and nothing is put in
// place. Temps are made readable by everyone (0644), as files created by hand would be. On error
// the caller removes the temps that are left.
func Commit(ctx context.Context, renames ...Rename) error {
	for _, r := range renames {
		if err := Check(r.Target, true); err != nil {
			return err
		}
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	for _, r := range renames {
		if err := os.Chmod(r.Temp, 0o644); err != nil {
			return err
		}
		if err := os.Rename(r.Temp, r.Target); err != nil {
			return err
		}
	}
	return nil
}

// WriteFile writes data to path through a temporary file and Commit. It overwrites an existing
// regular file only when overwrite is set.
func WriteFile(ctx context.Context, path string, data []byte, overwrite bool) error {
	if err := Check(path, overwrite); err != nil {
		return err
	}
	tmp, err := Temp(path)
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name()) // a no-op once renamed
	_, err = tmp.Write(data)
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	return Commit(ctx, Rename{tmp.Name(), path})
}
