package safefile

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

func TestCheck(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "model.onnx")
	if err := os.WriteFile(file, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	fifo := filepath.Join(dir, "fifo")
	if err := syscall.Mkfifo(fifo, 0o644); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(dir, "link.onnx")
	if err := os.Symlink(file, link); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		path      string
		overwrite bool
		want      error
		says      string
	}{
		{filepath.Join(dir, "new.onnx"), false, nil, ""},
		{file, true, nil, ""},
		{file, false, ErrExists, "pass --force"},
		{fifo, true, ErrNotRegular, "named pipe"},
		{link, true, ErrNotRegular, "symbolic link"},
		{dir, true, ErrNotRegular, "folder"},
		{"/dev/null", true, ErrNotRegular, "character device"},
	}
	for _, c := range cases {
		err := Check(c.path, c.overwrite)
		if !errors.Is(err, c.want) || (c.want == nil) != (err == nil) {
			t.Errorf("Check(%s, %v) = %v, want %v", c.path, c.overwrite, err, c.want)
			continue
		}
		if err != nil && !strings.Contains(err.Error(), c.says) {
			t.Errorf("Check(%s): %q does not say %q", c.path, err, c.says)
		}
	}
}

func TestWriteFile(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	p := filepath.Join(dir, "report.html")
	if err := WriteFile(ctx, p, []byte("one"), false); err != nil {
		t.Fatal(err)
	}
	if err := WriteFile(ctx, p, []byte("two"), false); !errors.Is(err, ErrExists) {
		t.Fatalf("second write without overwrite: %v", err)
	}
	if err := WriteFile(ctx, p, []byte("two"), true); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(p); string(b) != "two" {
		t.Fatalf("content %q", b)
	}
	st, _ := os.Stat(p)
	if st.Mode().Perm() != 0o644 {
		t.Fatalf("mode %v, want 0644", st.Mode())
	}
	fifo := filepath.Join(dir, "fifo")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := WriteFile(ctx, fifo, []byte("x"), true); !errors.Is(err, ErrNotRegular) {
		t.Fatalf("write over a FIFO: %v", err)
	}
	if st, err := os.Lstat(fifo); err != nil || st.Mode()&os.ModeNamedPipe == 0 {
		t.Fatalf("the FIFO was replaced: %v %v", st.Mode(), err)
	}
	assertOnly(t, dir, "fifo", "report.html")
}

// An interrupt that arrives before the commit wins: nothing is renamed into place.
func TestCommitCancelled(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "out.onnx")
	ctx, cancel := context.WithCancel(context.Background())
	tmp, err := Temp(p)
	if err != nil {
		t.Fatal(err)
	}
	tmp.Close()
	cancel()
	if err := Commit(ctx, Rename{tmp.Name(), p}); !errors.Is(err, context.Canceled) {
		t.Fatalf("Commit after cancel: %v", err)
	}
	if _, err := os.Stat(p); !os.IsNotExist(err) {
		t.Fatalf("target written after cancel: %v", err)
	}
}

// A target that turned into a FIFO between the start of the work and the commit is refused, and
// no other target of the same commit is renamed either.
func TestCommitChecksEveryTargetFirst(t *testing.T) {
	dir := t.TempDir()
	data, model := filepath.Join(dir, "m.onnx.data"), filepath.Join(dir, "m.onnx")
	if err := syscall.Mkfifo(model, 0o600); err != nil {
		t.Fatal(err)
	}
	t1, _ := Temp(data)
	t2, _ := Temp(model)
	t1.Close()
	t2.Close()
	if err := Commit(context.Background(), Rename{t1.Name(), data}, Rename{t2.Name(), model}); !errors.Is(err, ErrNotRegular) {
		t.Fatalf("Commit onto a FIFO: %v", err)
	}
	if _, err := os.Stat(data); !os.IsNotExist(err) {
		t.Fatal("the data file was renamed although the model target was refused")
	}
}

func assertOnly(t *testing.T, dir string, names ...string) {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range ents {
		got = append(got, e.Name())
	}
	if len(got) != len(names) {
		t.Fatalf("%s holds %v, want %v (a temp file was left?)", dir, got, names)
	}
	for i := range got {
		if got[i] != names[i] {
			t.Fatalf("%s holds %v, want %v", dir, got, names)
		}
	}
}

// A missing, non-folder or unwritable folder is named as such, before any
// work; Temp's errors name the folder too, never the temporary file.
func TestCheckFolder(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "file")
	if err := os.WriteFile(file, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := CheckFolder(filepath.Join(dir, "out.onnx")); err != nil {
		t.Fatalf("writable folder: %v", err)
	}
	missing := filepath.Join(dir, "nodir")
	for path, want := range map[string]string{
		filepath.Join(missing, "out.onnx"): "folder " + missing + " does not exist",
		filepath.Join(file, "out.onnx"):    file + " is not a folder",
	} {
		if err := CheckFolder(path); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("CheckFolder(%s) = %v, want %q", path, err, want)
		}
		if _, err := Temp(path); err == nil || strings.Contains(err.Error(), ".tmp-") {
			t.Errorf("Temp(%s) = %v: must fail without naming the temporary file", path, err)
		}
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 1 {
		t.Errorf("CheckFolder left files behind: %v", entries)
	}
}
