package buildinfo

import (
	"runtime/debug"
	"strings"
	"testing"
)

func TestResolve(t *testing.T) {
	vcs := []debug.BuildSetting{{Key: "vcs.revision", Value: "0123456789abcdef"}, {Key: "vcs.time", Value: "2026-11-29T10:00:00Z"}}
	for _, c := range []struct {
		name    string
		stamped Info
		bi      *debug.BuildInfo
		want    Info
	}{
		{"go install pkg@version: the module version",
			Info{}, &debug.BuildInfo{Main: debug.Module{Version: "v1.4.0"}},
			Info{Version: "v1.4.0", Commit: "unknown", Date: "unknown"}},
		{"a build in a checkout: (devel) is no version, the VCS stamp gives commit and date",
			Info{}, &debug.BuildInfo{Main: debug.Module{Version: "(devel)"}, Settings: vcs},
			Info{Version: "dev", Commit: "0123456789abcdef", Date: "2026-11-29T10:00:00Z"}},
		{"a pseudo-version from the VCS",
			Info{}, &debug.BuildInfo{Main: debug.Module{Version: "v0.0.0-20261129100000-0123456789ab"}, Settings: vcs},
			Info{Version: "v0.0.0-20261129100000-0123456789ab", Commit: "0123456789abcdef", Date: "2026-11-29T10:00:00Z"}},
		{"release stamps win",
			Info{Version: "2.0.0", Commit: "feed", Date: "2026-12-01"}, &debug.BuildInfo{Main: debug.Module{Version: "v1.4.0"}, Settings: vcs},
			Info{Version: "2.0.0", Commit: "feed", Date: "2026-12-01"}},
		{"nothing known", Info{}, nil, Info{Version: "dev", Commit: "unknown", Date: "unknown"}},
	} {
		got := resolve(c.stamped, c.bi)
		if got.Version != c.want.Version || got.Commit != c.want.Commit || got.Date != c.want.Date {
			t.Errorf("%s: got %+v, want %+v", c.name, got, c.want)
		}
		if !strings.HasPrefix(got.GoVersion, "go") || !strings.Contains(got.Platform, "/") {
			t.Errorf("%s: go version %q, platform %q", c.name, got.GoVersion, got.Platform)
		}
	}
}

func TestString(t *testing.T) {
	b := Info{Version: "1.2.3", Commit: "0123456789abcdef0123", Date: "2026-11-29T00:00:00Z", GoVersion: "go1.26.8", Platform: "linux/amd64"}
	if want := "mlops 1.2.3 (commit 0123456789ab, built 2026-11-29T00:00:00Z, go1.26.8 linux/amd64)"; b.String() != want {
		t.Fatalf("got %q, want %q", b.String(), want)
	}
}
