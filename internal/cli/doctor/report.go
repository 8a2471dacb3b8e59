package doctor

import (
	"strconv"
	"strings"

	"github.com/mlops-dev/mlops/internal/cli/cmdutil"
)

// Report is what doctor found. JSON field names are a contract.
type Report struct {
	OK        bool           `json:"ok"`
	ORT       ORTStatus      `json:"onnxruntime"`
	Config    ConfigStatus   `json:"config"`
	Registry  RegistryStatus `json:"registry"`
	GoVersion string         `json:"go_version"`
	OS        string         `json:"os"`
	Arch      string         `json:"arch"`
}

// ORTStatus describes the ONNX Runtime library.
type ORTStatus struct {
	Found      bool     `json:"found"`
	Path       string   `json:"path,omitempty"`
	Source     string   `json:"source,omitempty"` // which rule found it
	Version    string   `json:"version,omitempty"`
	Expected   string   `json:"expected_version"` // the version mlops is tested with
	APIVersion int      `json:"api_version"`      // the C API version mlops needs
	Providers  []string `json:"providers,omitempty"`
	Searched   []string `json:"searched,omitempty"` // only when not found
	Error      string   `json:"error,omitempty"`
}

// ConfigStatus describes the configuration file.
type ConfigStatus struct {
	File  string `json:"file"` // "" when none is in use
	Error string `json:"error,omitempty"`
}

// RegistryStatus says whether a model registry is configured.
type RegistryStatus struct {
	Configured bool   `json:"configured"`
	URL        string `json:"url,omitempty"`
	Source     string `json:"source,omitempty"`
}

func render(io *cmdutil.IOStreams, r Report) error {
	t := cmdutil.NewTable(io, "check", "status", "detail")
	switch {
	case r.ORT.Found:
		detail := r.ORT.Version + " at " + r.ORT.Path + " (" + r.ORT.Source + ")"
		if r.ORT.Version != r.ORT.Expected {
			detail += "; mlops is tested with " + r.ORT.Expected
		}
		t.AddRow("onnxruntime", "ok", detail)
		t.AddRow("providers", "ok", strings.Join(r.ORT.Providers, ", "))
	case r.ORT.Path != "":
		t.AddRow("onnxruntime", "error", "cannot load "+r.ORT.Path+" (details below)")
	default:
		t.AddRow("onnxruntime", "missing", "not found in "+strconv.Itoa(len(r.ORT.Searched))+" candidate paths (listed below with how to install it)")
	}
	switch {
	case r.Config.Error != "":
		t.AddRow("config file", "error", "invalid (details below)")
	case r.Config.File != "":
		t.AddRow("config file", "ok", r.Config.File)
	default:
		t.AddRow("config file", "none", "using defaults and MLOPS_* environment variables")
	}
	if r.Registry.Configured {
		t.AddRow("registry", "ok", r.Registry.URL+" (from "+r.Registry.Source+")")
	} else {
		t.AddRow("registry", "none", "not configured: set registry in the config file or MLOPS_REGISTRY")
	}
	t.AddRow("platform", "ok", r.GoVersion+" "+r.OS+"/"+r.Arch)
	return t.Render()
}
