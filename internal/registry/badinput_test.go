package registry

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestParseRef(t *testing.T) {
	for in, want := range map[string]Ref{
		"fmnist":            {Name: "fmnist"},
		"fmnist@3":          {Name: "fmnist", Version: 3},
		"fmnist@production": {Name: "fmnist", Alias: "production"},
		"a.b_c-1@v2":        {Name: "a.b_c-1", Alias: "v2"},
	} {
		got, err := ParseRef(in)
		if err != nil || got != want || got.String() != in {
			t.Errorf("ParseRef(%q) = %+v, %v", in, got, err)
		}
	}
	for _, in := range []string{"", "../x", "a/b", "..", ".hidden", "x@", "x@0", "x@-1", "x@1a", "x@a/b", "x@../y", "a b", "x@@y", strings.Repeat("n", 129)} {
		if _, err := ParseRef(in); !errors.Is(err, ErrInvalid) {
			t.Errorf("ParseRef(%q): %v, want ErrInvalid", in, err)
		}
	}
}

func TestOpenBadURLs(t *testing.T) {
	ctx := context.Background()
	for url, want := range map[string]string{
		"ftp://x/y":                        "unsupported scheme",
		"s3://bucket?regoin=us-east-1":     "unknown query parameter regoin",
		"file:///tmp/x?create_dir=1":       "takes no query parameters",
		"s3://user:secret@bucket/p":        "credentials in the URL",
		"no-scheme":                        "want s3://",
		"s3:///prefix-only?region=x":       "needs a bucket",
		"file://host/path":                 "file:///absolute/path",
		"gs://b?endpoint=http://127.0.0.1": "unknown query parameter endpoint",
	} {
		_, err := Open(ctx, url, Options{})
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Open(%q): %v, want an error containing %q", url, err, want)
		}
		if err != nil && strings.Contains(err.Error(), "secret") {
			t.Errorf("Open(%q) leaked a credential: %v", url, err)
		}
	}
}

func TestDefaultURL(t *testing.T) {
	u, err := DefaultURL("/data", "/home/u")
	if err != nil || u != "file:///data/mlops/registry" {
		t.Fatalf("%s %v", u, err)
	}
	u, err = DefaultURL("", "/home/u")
	if err != nil || u != "file:///home/u/.local/share/mlops/registry" {
		t.Fatalf("%s %v", u, err)
	}
	if _, err := DefaultURL("", ""); err == nil {
		t.Fatal("no home: want an error")
	}
}

func TestPushBadInput(t *testing.T) {
	ctx := context.Background()
	r := memRegistry(t)
	dir := t.TempDir()
	good := writeModel(t, dir, "m.onnx", nil)
	notModel := filepath.Join(dir, "junk.onnx")
	os.WriteFile(notModel, []byte("this is not protobuf \xff\xff\xff"), 0o644)
	empty := filepath.Join(dir, "empty.onnx")
	os.WriteFile(empty, nil, 0o644)
	missingData := writeModel(t, t.TempDir(), "e.onnx", []byte("w"))
	os.Remove(missingData + ".data")
	truncated := writeModel(t, t.TempDir(), "t.onnx", []byte("0123456789abcdef"))
	os.Truncate(truncated+".data", 10)

	cases := []struct {
		name, model, reg string
		opts             PushOptions
		want             string
	}{
		{"path-like name", good, "../x", PushOptions{}, "model name"},
		{"bad alias", good, "m", PushOptions{Aliases: []string{"1st"}}, "alias"},
		{"missing file", filepath.Join(dir, "nope.onnx"), "m", PushOptions{}, "no such file"},
		{"directory", dir, "m", PushOptions{}, "not a regular file"},
		{"not onnx", notModel, "m", PushOptions{}, "not a readable ONNX model"},
		{"empty", empty, "m", PushOptions{}, "no graph"},
		{"missing external data", missingData, "m", PushOptions{}, "references external data"},
		{"truncated external data", truncated, "m", PushOptions{}, `holds 10 bytes, but tensor "w" reads up to byte 16`},
		{"bad parent", good, "m", PushOptions{Lineage: &Lineage{Parent: "a@b@c"}}, "lineage parent"},
	}
	for _, c := range cases {
		_, err := r.Push(ctx, c.model, c.reg, c.opts)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want an error containing %q", c.name, err, c.want)
		}
	}
	if ms, _, _ := r.Models(ctx); len(ms) != 0 {
		t.Fatalf("failed pushes created models: %v", ms)
	}
	if _, _, err := r.Pull(ctx, Ref{Name: "nosuch"}, t.TempDir(), PullOptions{}); !errors.Is(err, ErrNotFound) {
		t.Errorf("pull unknown model: %v", err)
	}
	if _, err := r.Push(ctx, good, "m", PushOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, _, err := r.Pull(ctx, Ref{Name: "m", Alias: "prod"}, t.TempDir(), PullOptions{}); !errors.Is(err, ErrNotFound) || !strings.Contains(err.Error(), "mlops promote") {
		t.Errorf("pull unknown alias: %v", err)
	}
	if _, _, err := r.Pull(ctx, Ref{Name: "m", Version: 7}, t.TempDir(), PullOptions{}); !errors.Is(err, ErrNotFound) {
		t.Errorf("pull unknown version: %v", err)
	}
}

func TestManifestRejectsUnsafePaths(t *testing.T) {
	base := `{"schema_version":1,"name":"m","version":1,"size":1,"files":[{"path":%q,"sha256":"` + strings.Repeat("a", 64) + `","size":1,"role":"model"}]}`
	for _, p := range []string{"../evil", "/etc/passwd", "a/../../b", "", ".", "a\\b"} {
		if _, err := decodeManifest([]byte(strings.Replace(base, "%q", `"`+strings.ReplaceAll(p, `\`, `\\`)+`"`, 1))); !errors.Is(err, ErrInvalid) {
			t.Errorf("manifest with path %q accepted: %v", p, err)
		}
	}
	if _, err := decodeManifest([]byte(strings.Replace(base, "%q", `"m.onnx"`, 1))); err != nil {
		t.Fatalf("valid manifest refused: %v", err)
	}
}

// External data that is a symbolic link out of the model's folder is refused by push (it used to
// upload the link's target); a link that stays inside the folder is pushed as the file it names.
func TestPushRefusesLinkOutOfFolder(t *testing.T) {
	ctx := context.Background()
	r := memRegistry(t)
	root := t.TempDir()
	dir := filepath.Join(root, "m")
	os.Mkdir(dir, 0o755)
	model := writeModel(t, dir, "m.onnx", []byte("0123456789abcdef"))
	secret := filepath.Join(root, "passwd")
	os.WriteFile(secret, []byte("root:x:0:0:root:/root:/bin/bash\n"), 0o600)
	os.Remove(model + ".data")
	if err := os.Symlink(secret, model+".data"); err != nil {
		t.Fatal(err)
	}
	_, err := r.Push(ctx, model, "leak", PushOptions{})
	if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), "is a symbolic link to "+secret) {
		t.Fatalf("push through a link out of the folder: %v", err)
	}
	if keys, _ := r.listKeys(ctx, ""); len(keys) != 0 {
		t.Fatalf("a refused push stored %v", keys)
	}
	os.Remove(model + ".data")
	os.WriteFile(filepath.Join(dir, "real.data"), []byte("0123456789abcdef"), 0o644)
	if err := os.Symlink("real.data", model+".data"); err != nil {
		t.Fatal(err)
	}
	m, err := r.Push(ctx, model, "ok", PushOptions{})
	if err != nil || m.Files[1].Path != "m.onnx.data" || m.Files[1].Size != 16 {
		t.Fatalf("push through a link inside the folder: %+v %v", m, err)
	}
}
