package testutil

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestContributingLayoutIsTrue keeps CONTRIBUTING.md's layout table true:
// every package `go list ./...` finds lies under a row (a row covers its
// sub-folders; `<command>` stands for any one folder), and every row names
// a folder that exists.
func TestContributingLayoutIsTrue(t *testing.T) {
	repo := filepath.Dir(RepoFile(t, "go.mod"))
	doc, err := os.ReadFile(filepath.Join(repo, "CONTRIBUTING.md"))
	if err != nil {
		t.Fatal(err)
	}
	rowRE := regexp.MustCompile("(?m)^\\| `([^`]+/)` \\|")
	var rows []*regexp.Regexp
	for _, m := range rowRE.FindAllStringSubmatch(string(doc), -1) {
		path := m[1]
		pattern := regexp.QuoteMeta(path)
		if strings.Contains(path, "<") {
			pattern = regexp.MustCompile(`<[^>]+>`).ReplaceAllString(pattern, "[^/]+")
		} else if _, err := os.Stat(filepath.Join(repo, filepath.FromSlash(path))); err != nil {
			t.Errorf("CONTRIBUTING.md lists %s, which does not exist: remove the row or add the package", path)
		}
		rows = append(rows, regexp.MustCompile("^"+pattern))
	}
	if len(rows) < 10 {
		t.Fatalf("found only %d layout rows in CONTRIBUTING.md; has the table's format changed?", len(rows))
	}
	cmd := exec.Command("go", "list", "-f", "{{.Dir}}", "./...")
	cmd.Dir = repo
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	for _, dir := range strings.Fields(string(out)) {
		rel, err := filepath.Rel(repo, dir)
		if err != nil {
			t.Fatal(err)
		}
		rel = filepath.ToSlash(rel) + "/"
		covered := false
		for _, r := range rows {
			if r.MatchString(rel) {
				covered = true
				break
			}
		}
		if !covered {
			t.Errorf("package %s has no row in CONTRIBUTING.md's layout table: add one (what lives there, what it may import)", rel)
		}
	}
}
