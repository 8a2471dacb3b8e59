package cmdutil

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/spf13/pflag"
)

func testSchema() *ConfigSchema {
	s := &ConfigSchema{}
	s.Declare(GlobalConfigKeys()...)
	s.Declare(
		ConfigKey{Name: "serve.addr", Default: "127.0.0.1:8080", Flag: "addr"},
		ConfigKey{Name: "serve.timeout", Default: 30 * time.Second},
		ConfigKey{Name: "eval.batch", Default: 64},
	)
	return s
}

// noEnv isolates the file search from the developer's own config.
func noEnv(string) (string, bool) { return "", false }

func writeFile(t *testing.T, dir, name, body string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestConfigPrecedence(t *testing.T) {
	dir := t.TempDir()
	file := writeFile(t, dir, "c.yaml", "output: json\nserve:\n  addr: file:1\n  timeout: 5s\neval:\n  batch: 8\n")
	flags := pflag.NewFlagSet("t", pflag.ContinueOnError)
	flags.String("addr", "127.0.0.1:8080", "")
	flags.String("output", "table", "")
	if err := flags.Parse([]string{"--addr", "flag:3"}); err != nil {
		t.Fatal(err)
	}
	t.Setenv("MLOPS_SERVE_ADDR", "env:2")
	t.Setenv("MLOPS_EVAL_BATCH", "16")

	cfg, err := LoadConfig(LoadOptions{Schema: testSchema(), Flags: flags, ConfigFile: file, Env: noEnv, Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	checks := []struct{ key, got, want, source string }{
		{"serve.addr", cfg.GetString("serve.addr"), "flag:3", "flag"},
		{"eval.batch", cfg.GetString("eval.batch"), "16", "env"},
		{"output", cfg.GetString("output"), "json", "file"},
		{"serve.timeout", cfg.GetDuration("serve.timeout").String(), "5s", "file"},
		{"ort_lib", cfg.GetString("ort_lib"), "", "default"},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s = %q, want %q", c.key, c.got, c.want)
		}
		if s := cfg.Source(c.key); s != c.source {
			t.Errorf("Source(%s) = %q, want %q", c.key, s, c.source)
		}
	}
	if cfg.File() != file {
		t.Errorf("File() = %q, want %q", cfg.File(), file)
	}
}

func TestConfigUnknownKey(t *testing.T) {
	dir := t.TempDir()
	file := writeFile(t, dir, "c.yaml", "output: json\nserve:\n  adr: typo\n")
	_, err := LoadConfig(LoadOptions{Schema: testSchema(), ConfigFile: file, Env: noEnv, Dir: dir})
	var ce *ConfigError
	if !errors.As(err, &ce) {
		t.Fatalf("err = %v, want ConfigError", err)
	}
	if !strings.Contains(err.Error(), `"serve.adr"`) || !strings.Contains(err.Error(), "serve.addr") {
		t.Errorf("message should name the bad key and list known ones: %v", err)
	}
}

func TestConfigBadValues(t *testing.T) {
	dir := t.TempDir()
	for name, body := range map[string]string{
		"enum":     "output: yaml\n",
		"int":      "eval:\n  batch: lots\n",
		"duration": "serve:\n  timeout: soon\n",
		"version":  "version: 2\n",
		"yaml":     "output: [unclosed\n",
	} {
		t.Run(name, func(t *testing.T) {
			file := writeFile(t, dir, name+".yaml", body)
			_, err := LoadConfig(LoadOptions{Schema: testSchema(), ConfigFile: file, Env: noEnv, Dir: dir})
			if err == nil || ExitCode(err) != ExitError {
				t.Fatalf("err = %v (exit %d), want a config error", err, ExitCode(err))
			}
		})
	}
	t.Run("bad flag value is a usage error", func(t *testing.T) {
		flags := pflag.NewFlagSet("t", pflag.ContinueOnError)
		flags.String("output", "table", "")
		_ = flags.Parse([]string{"--output", "xml"})
		_, err := LoadConfig(LoadOptions{Schema: testSchema(), Flags: flags, Env: noEnv, Dir: dir})
		if ExitCode(err) != ExitUsage {
			t.Fatalf("err = %v, want usage error", err)
		}
	})
	t.Run("bad env value names the variable", func(t *testing.T) {
		t.Setenv("MLOPS_OUTPUT", "xml")
		_, err := LoadConfig(LoadOptions{Schema: testSchema(), Env: noEnv, Dir: dir})
		if err == nil || !strings.Contains(err.Error(), "MLOPS_OUTPUT") {
			t.Fatalf("err = %v, want it to name MLOPS_OUTPUT", err)
		}
	})
}

func TestConfigFileSearch(t *testing.T) {
	xdg, work := t.TempDir(), t.TempDir()
	env := func(m map[string]string) EnvLookup {
		return func(k string) (string, bool) { v, ok := m[k]; return v, ok }
	}
	// Nothing anywhere: no file, defaults only.
	cfg, err := LoadConfig(LoadOptions{Schema: testSchema(), Env: env(map[string]string{"XDG_CONFIG_HOME": xdg}), Dir: work})
	if err != nil || cfg.File() != "" {
		t.Fatalf("no file: cfg.File()=%q err=%v", cfg.File(), err)
	}
	local := writeFile(t, work, "mlops.yaml", "output: json\n")
	cfg, err = LoadConfig(LoadOptions{Schema: testSchema(), Env: env(map[string]string{"XDG_CONFIG_HOME": xdg}), Dir: work})
	if err != nil || cfg.File() != local {
		t.Fatalf("./mlops.yaml: got %q, %v", cfg.File(), err)
	}
	user := writeFile(t, xdg, "mlops/config.yaml", "output: table\n")
	cfg, err = LoadConfig(LoadOptions{Schema: testSchema(), Env: env(map[string]string{"XDG_CONFIG_HOME": xdg}), Dir: work})
	if err != nil || cfg.File() != user {
		t.Fatalf("XDG file should win over ./mlops.yaml: got %q, %v", cfg.File(), err)
	}
	home := t.TempDir()
	homeFile := writeFile(t, home, ".config/mlops/config.yaml", "output: json\n")
	cfg, err = LoadConfig(LoadOptions{Schema: testSchema(), Env: env(map[string]string{"HOME": home}), Dir: work})
	if err != nil || cfg.File() != homeFile {
		t.Fatalf("~/.config fallback: got %q, %v", cfg.File(), err)
	}
	cfg, err = LoadConfig(LoadOptions{Schema: testSchema(), Env: env(map[string]string{"MLOPS_CONFIG": local, "XDG_CONFIG_HOME": xdg}), Dir: work})
	if err != nil || cfg.File() != local {
		t.Fatalf("MLOPS_CONFIG should win: got %q, %v", cfg.File(), err)
	}
	_, err = LoadConfig(LoadOptions{Schema: testSchema(), ConfigFile: filepath.Join(work, "missing.yaml"), Env: noEnv, Dir: work})
	if err == nil || !strings.Contains(err.Error(), "missing.yaml") {
		t.Fatalf("explicit missing file: err = %v", err)
	}
}

func TestOnceConfig(t *testing.T) {
	calls := 0
	get := OnceConfig(func() (*Config, error) { calls++; return NewTestConfig(nil, nil), nil })
	a, _ := get()
	b, _ := get()
	if calls != 1 || a != b {
		t.Fatalf("loader ran %d times", calls)
	}
}

func TestNewTestConfig(t *testing.T) {
	cfg := NewTestConfig(testSchema(), map[string]any{"output": "json"})
	if cfg.GetString("output") != "json" || cfg.GetInt("eval.batch") != 64 {
		t.Fatalf("got output=%q batch=%d", cfg.GetString("output"), cfg.GetInt("eval.batch"))
	}
}

func TestEnvVarName(t *testing.T) {
	if got := (ConfigKey{Name: "serve.max-batch"}).EnvVar(); got != "MLOPS_SERVE_MAX_BATCH" {
		t.Fatalf("EnvVar = %q", got)
	}
}
