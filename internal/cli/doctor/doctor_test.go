package doctor

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/mlops-dev/mlops/internal/cli/cmdutil"
	"github.com/mlops-dev/mlops/internal/runtime"
)

func TestNewCmdDoctorFlags(t *testing.T) {
	io, _, _, _ := cmdutil.Test()
	f := &cmdutil.Factory{IO: io}
	var got *DoctorOptions
	cmd := NewCmdDoctor(f, func(o *DoctorOptions) error { got = o; return nil })
	cmd.SetArgs([]string{})
	if err := cmd.Execute(); err != nil {
		t.Fatal(err)
	}
	if got == nil || got.Locate == nil || got.Open == nil {
		t.Fatalf("options not filled: %+v", got)
	}
	cmd = NewCmdDoctor(f, func(o *DoctorOptions) error { return nil })
	cmd.SetArgs([]string{"extra"})
	cmd.SilenceErrors, cmd.SilenceUsage = true, true
	if err := cmd.Execute(); !cmdutil.IsUsageError(err) {
		t.Errorf("doctor extra: got %v, want a usage error", err)
	}
	if !hasKey(f.Schema, KeyRegistry) {
		t.Error("doctor must declare the registry key so config files may set it")
	}
}

func hasKey(s *cmdutil.ConfigSchema, name string) bool {
	for _, k := range s.Keys() {
		if k.Name == name {
			return true
		}
	}
	return false
}

// testOptions runs doctor on a configuration holding values, with fake
// library discovery and loading; it returns the options and stdout.
func testOptions(values map[string]any, locate func(runtime.LocateOptions) (runtime.Location, error),
	open func(runtime.Config) (*runtime.Runtime, error)) (*DoctorOptions, *bytes.Buffer) {
	io, _, out, _ := cmdutil.Test()
	schema := &cmdutil.ConfigSchema{}
	schema.Declare(cmdutil.GlobalConfigKeys()...)
	schema.Declare(cmdutil.ConfigKey{Name: KeyRegistry, Default: ""})
	cfg := cmdutil.NewTestConfig(schema, values)
	return &DoctorOptions{
		IO:     io,
		Config: func() (*cmdutil.Config, error) { return cfg, nil },
		Locate: locate,
		Open:   open,
		Getenv: func(string) string { return "" },
	}, out
}

func TestDoctorMissingLibraryJSON(t *testing.T) {
	var asked runtime.LocateOptions
	locate := func(o runtime.LocateOptions) (runtime.Location, error) {
		asked = o
		return runtime.Location{Searched: []string{"/a/libonnxruntime.so", "/b/libonnxruntime.so"}},
			&runtime.NotFoundError{Searched: []string{"/a/libonnxruntime.so", "/b/libonnxruntime.so"}}
	}
	open := func(runtime.Config) (*runtime.Runtime, error) {
		t.Fatal("Open must not be called when nothing was found")
		return nil, nil
	}
	opts, out := testOptions(map[string]any{"output": "json", "ort_lib": "/x/lib.so", "registry": "file:///r"}, locate, open)
	err := doctorRun(opts)
	if !runtime.IsNotFound(err) || !strings.Contains(err.Error(), "make setup") {
		t.Fatalf("got %v, want the not-found error with the install hint", err)
	}
	if asked.Explicit.Path != "/x/lib.so" {
		t.Errorf("the ort_lib value was not passed on: %+v", asked.Explicit)
	}
	var r Report
	if err := json.Unmarshal(out.Bytes(), &r); err != nil {
		t.Fatalf("stdout is not JSON: %v\n%s", err, out)
	}
	if r.OK || r.ORT.Found || len(r.ORT.Searched) != 2 || r.ORT.APIVersion != runtime.APIVersion ||
		!r.Registry.Configured || r.Registry.URL != "file:///r" || r.GoVersion == "" {
		t.Errorf("report = %+v", r)
	}
}

func TestDoctorUnloadableLibraryTable(t *testing.T) {
	locate := func(runtime.LocateOptions) (runtime.Location, error) {
		return runtime.Location{Path: "/lib/libonnxruntime.so", Source: "system location"}, nil
	}
	open := func(runtime.Config) (*runtime.Runtime, error) {
		return nil, &runtime.LoadError{Path: "/lib/libonnxruntime.so", Reason: "too old"}
	}
	opts, out := testOptions(nil, locate, open)
	err := doctorRun(opts)
	var le *runtime.LoadError
	if !errors.As(err, &le) || !strings.Contains(err.Error(), "brew install onnxruntime") {
		t.Fatalf("got %v, want the load error with the install hint", err)
	}
	for _, want := range []string{"onnxruntime  error", "cannot load /lib/libonnxruntime.so", "registry     none"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("table lacks %q:\n%s", want, out)
		}
	}
}

func TestDoctorBrokenConfig(t *testing.T) {
	var asked runtime.LocateOptions
	locate := func(o runtime.LocateOptions) (runtime.Location, error) {
		asked = o
		return runtime.Location{}, &runtime.NotFoundError{}
	}
	io, _, out, _ := cmdutil.Test()
	opts := &DoctorOptions{
		IO:         io,
		Config:     func() (*cmdutil.Config, error) { return nil, errors.New("bad.yaml: unknown key(s) \"x\"") },
		OutputFlag: "json",
		ORTLibFlag: "/flag/lib.so",
		Locate:     locate,
		Getenv:     func(string) string { return "/env/lib.so" },
	}
	err := doctorRun(opts)
	if err == nil || !strings.Contains(err.Error(), "unknown key") {
		t.Fatalf("got %v, want the config error", err)
	}
	if asked.Explicit.Path != "/flag/lib.so" || asked.Explicit.Name != "--ort-lib flag" {
		t.Errorf("with a broken config the flag must still be used: %+v", asked.Explicit)
	}
	var r Report
	if err := json.Unmarshal(out.Bytes(), &r); err != nil || !strings.Contains(r.Config.Error, "unknown key") {
		t.Errorf("report: %v %+v", err, r)
	}
}
