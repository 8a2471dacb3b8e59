package version

import (
	"encoding/json"
	"testing"

	"github.com/mlops-dev/mlops/internal/buildinfo"
	"github.com/mlops-dev/mlops/internal/cli/cmdutil"
)

func TestVersionRun(t *testing.T) {
	info := buildinfo.Info{Version: "1.2.3", Commit: "0123456789abcdef0123", Date: "2026-11-29T00:00:00Z", GoVersion: "go1.26.8", Platform: "linux/amd64"}

	io, _, out, _ := cmdutil.Test()
	opts := &VersionOptions{IO: io, Info: info, Format: func() (cmdutil.Format, error) { return cmdutil.FormatTable, nil }}
	if err := versionRun(opts); err != nil {
		t.Fatal(err)
	}
	if want := "mlops 1.2.3 (commit 0123456789ab, built 2026-11-29T00:00:00Z, go1.26.8 linux/amd64)\n"; out.String() != want {
		t.Fatalf("got %q, want %q", out, want)
	}

	io, _, out, _ = cmdutil.Test()
	opts = &VersionOptions{IO: io, Info: info, Format: func() (cmdutil.Format, error) { return cmdutil.FormatJSON, nil }}
	if err := versionRun(opts); err != nil {
		t.Fatal(err)
	}
	var got map[string]string
	if err := json.Unmarshal(out.Bytes(), &got); err != nil {
		t.Fatal(err)
	}
	for k, v := range map[string]string{"version": "1.2.3", "commit": info.Commit, "date": info.Date, "go_version": "go1.26.8", "platform": "linux/amd64"} {
		if got[k] != v {
			t.Errorf("%s = %q, want %q", k, got[k], v)
		}
	}
}
