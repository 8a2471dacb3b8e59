package cmdutil

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
)

// FuzzConfigFile feeds arbitrary bytes as a config file: loading must
// return a config or a ConfigError, never panic or fail another way.
// Seed corpus: testdata/fuzz/FuzzConfigFile.
func FuzzConfigFile(f *testing.F) {
	f.Add([]byte("version: 1\noutput: json\n"))
	f.Add([]byte("serve:\n  addr: x\n  timeout: 5s\n"))
	f.Add([]byte("output: [a, b]\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		dir := t.TempDir()
		p := filepath.Join(dir, "c.yaml")
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
		cfg, err := LoadConfig(LoadOptions{Schema: testSchema(), ConfigFile: p, Env: noEnv, Dir: dir})
		if err != nil {
			var ce *ConfigError
			if !errors.As(err, &ce) {
				t.Fatalf("error of type %T: %v", err, err)
			}
			return
		}
		// Whatever loaded must be readable with the declared types.
		_ = cfg.GetString(KeyOutput)
		_ = cfg.GetDuration("serve.timeout")
		_ = cfg.GetInt("eval.batch")
	})
}
