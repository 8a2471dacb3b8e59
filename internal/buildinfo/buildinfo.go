// Package buildinfo says which mlops this binary is: the version, commit
// and date release builds stamp at link time, else what the Go toolchain
// recorded (the module version of `go install ...@v1.2.3`, the VCS revision
// of a build in a checkout). It holds no mutable state: the stamped values
// are only ever written by the linker.
package buildinfo

import (
	"runtime"
	"runtime/debug"
)

// Set at link time by goreleaser (see .goreleaser.yaml) and `make build`:
//
//	-X github.com/mlops-dev/mlops/internal/buildinfo.version=1.2.3
//
// They are never written at run time.
var (
	version = ""
	commit  = ""
	date    = ""
)

// Info describes this binary. JSON names are a contract (`mlops version
// --output json`).
type Info struct {
	Version   string `json:"version"`
	Commit    string `json:"commit"`
	Date      string `json:"date"`
	GoVersion string `json:"go_version"`
	Platform  string `json:"platform"`
}

// Get returns the stamped values, each missing one filled from the Go
// build information.
func Get() Info {
	bi, _ := debug.ReadBuildInfo()
	return resolve(Info{Version: version, Commit: commit, Date: date}, bi)
}

// resolve fills what stamped lacks from bi (which may be nil): the main
// module's version (not "(devel)", which a build in a checkout reports),
// vcs.revision and vcs.time; "dev" and "unknown" where nothing is known.
func resolve(stamped Info, bi *debug.BuildInfo) Info {
	out := stamped
	out.GoVersion, out.Platform = runtime.Version(), runtime.GOOS+"/"+runtime.GOARCH
	if bi != nil {
		if out.Version == "" && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
			out.Version = bi.Main.Version
		}
		for _, s := range bi.Settings {
			switch {
			case s.Key == "vcs.revision" && out.Commit == "":
				out.Commit = s.Value
			case s.Key == "vcs.time" && out.Date == "":
				out.Date = s.Value
			}
		}
	}
	if out.Version == "" {
		out.Version = "dev"
	}
	if out.Commit == "" {
		out.Commit = "unknown"
	}
	if out.Date == "" {
		out.Date = "unknown"
	}
	return out
}

// String is the one-line form `mlops --version` and `mlops version` print.
func (b Info) String() string {
	return "mlops " + b.Version + " (commit " + short(b.Commit) + ", built " + b.Date + ", " + b.GoVersion + " " + b.Platform + ")"
}

func short(c string) string {
	if len(c) > 12 {
		return c[:12]
	}
	return c
}
