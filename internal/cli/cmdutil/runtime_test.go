package cmdutil

import (
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mlops-dev/mlops/internal/runtime"
)

func TestORTLibSource(t *testing.T) {
	if s := ORTLibSource(nil); s != (runtime.Source{}) {
		t.Errorf("nil config: %+v", s)
	}
	schema := &ConfigSchema{}
	schema.Declare(GlobalConfigKeys()...)
	if s := ORTLibSource(NewTestConfig(schema, nil)); s != (runtime.Source{}) {
		t.Errorf("unset ort_lib: %+v", s)
	}
	s := ORTLibSource(NewTestConfig(schema, map[string]any{KeyORTLib: "/opt/ort/lib"}))
	if s.Path != "/opt/ort/lib" || s.Name == "" {
		t.Errorf("ort_lib set: %+v", s)
	}
}

func TestRuntimeLoader(t *testing.T) {
	schema := &ConfigSchema{}
	schema.Declare(GlobalConfigKeys()...)
	missing := filepath.Join(t.TempDir(), "libonnxruntime.so")
	calls := 0
	f := &Factory{Config: func() (*Config, error) {
		calls++
		return NewTestConfig(schema, map[string]any{KeyORTLib: missing}), nil
	}}
	load := RuntimeLoader(f)
	_, err := load()
	if !runtime.IsNotFound(err) || !strings.Contains(err.Error(), missing) {
		t.Fatalf("got %v, want not found at %s", err, missing)
	}
	if _, err2 := load(); err2 != err || calls != 1 {
		t.Errorf("the loader must run once and cache its result (calls=%d)", calls)
	}

	bad := &Factory{Config: func() (*Config, error) { return nil, errors.New("broken config") }}
	if _, err := RuntimeLoader(bad)(); err == nil || err.Error() != "broken config" {
		t.Errorf("config error: got %v", err)
	}
}
