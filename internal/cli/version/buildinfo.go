package version

import (
	"runtime"
	"runtime/debug"
)

// Set at link time by goreleaser (see .goreleaser.yaml) and `make build`:
//
//	-X github.com/mlops-dev/mlops/internal/cli/version.version=1.2.3
//
// They are never written at run time.
var (
	version = ""
	commit  = ""
	date    = ""
)

// BuildInfo describes this binary. JSON names are a contract.
type BuildInfo struct {
	Version   string `json:"version"`
	Commit    string `json:"commit"`
	Date      string `json:"date"`
	GoVersion string `json:"go_version"`
	Platform  string `json:"platform"`
}

// Info returns the link-time values, falling back to what the Go toolchain
// recorded (module version for `go install`, VCS revision for a local build).
func Info() BuildInfo {
	bi := BuildInfo{Version: version, Commit: commit, Date: date,
		GoVersion: runtime.Version(), Platform: runtime.GOOS + "/" + runtime.GOARCH}
	if info, ok := debug.ReadBuildInfo(); ok {
		if bi.Version == "" && info.Main.Version != "" && info.Main.Version != "(devel)" {
			bi.Version = info.Main.Version
		}
		for _, s := range info.Settings {
			switch s.Key {
			case "vcs.revision":
				if bi.Commit == "" {
					bi.Commit = s.Value
				}
			case "vcs.time":
				if bi.Date == "" {
					bi.Date = s.Value
				}
			}
		}
	}
	if bi.Version == "" {
		bi.Version = "dev"
	}
	if bi.Commit == "" {
		bi.Commit = "unknown"
	}
	if bi.Date == "" {
		bi.Date = "unknown"
	}
	return bi
}

// String is the one-line form used by `mlops --version`.
func (b BuildInfo) String() string {
	return "mlops " + b.Version + " (commit " + short(b.Commit) + ", built " + b.Date + ", " + b.GoVersion + " " + b.Platform + ")"
}

func short(c string) string {
	if len(c) > 12 {
		return c[:12]
	}
	return c
}
