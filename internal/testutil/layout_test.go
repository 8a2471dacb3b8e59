package testutil

import (
	"bufio"
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

const module = "github.com/mlops-dev/mlops"

// row is one line of the layout table.
type row struct {
	path    string   // "internal/onnx", "internal/cli/<command>"
	allowed []string // package paths (and their subpackages) it may import
	core    bool     // "core packages": anything outside internal/cli
	cli     bool     // "every internal/cli/*"
	line    int
}

var backticked = regexp.MustCompile("`([^`]+)`")

func readTable(t *testing.T, file string) []row {
	t.Helper()
	f, err := os.Open(file)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var rows []row
	sc := bufio.NewScanner(f)
	inLayout := false
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		if strings.HasPrefix(line, "## ") {
			inLayout = line == "## Layout"
			continue
		}
		if !inLayout || !strings.HasPrefix(line, "| `") {
			continue
		}
		cells := strings.Split(strings.Trim(line, "|"), "|")
		if len(cells) != 3 {
			t.Fatalf("%s:%d: a layout row has three cells (path, what, may import): %q", file, n, line)
		}
		r := row{path: strings.TrimSuffix(strings.Trim(strings.TrimSpace(cells[0]), "`"), "/"), line: n}
		imports := cells[2]
		r.core = strings.Contains(imports, "core packages")
		r.cli = strings.Contains(imports, "every `internal/cli/*`")
		for _, m := range backticked.FindAllStringSubmatch(imports, -1) {
			p := strings.TrimSuffix(m[1], "/")
			switch {
			case p == "internal/cli/*":
			case !strings.Contains(p, "/"): // `cmdutil`
				r.allowed = append(r.allowed, "internal/cli/"+p)
			default:
				r.allowed = append(r.allowed, p)
			}
		}
		rows = append(rows, r)
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	if len(rows) == 0 {
		t.Fatalf("%s: no layout table found under '## Layout'", file)
	}
	return rows
}

// instance is the folder a package's row stands for: the row's path, or
// for a placeholder row (internal/cli/<command>) the package's own folder
// at that depth. A package may import anything inside its instance.
func (r row) instance(pkg string) (string, bool) {
	rp := strings.Split(r.path, "/")
	pp := strings.Split(pkg, "/")
	if len(pp) < len(rp) {
		return "", false
	}
	for i, seg := range rp {
		if strings.HasPrefix(seg, "<") {
			continue
		}
		if pp[i] != seg {
			return "", false
		}
	}
	return strings.Join(pp[:len(rp)], "/"), true
}

// rowOf picks the most specific row for pkg: the longest path, and a
// literal path over a placeholder of the same length.
func rowOf(rows []row, pkg string) (row, string, bool) {
	best, bestInst, found := row{}, "", false
	score := func(r row) int {
		s := 2 * strings.Count(r.path, "/")
		if !strings.Contains(r.path, "<") {
			s++
		}
		return s
	}
	for _, r := range rows {
		inst, ok := r.instance(pkg)
		if ok && (!found || score(r) > score(best)) {
			best, bestInst, found = r, inst, true
		}
	}
	return best, bestInst, found
}

func within(pkg, dir string) bool { return pkg == dir || strings.HasPrefix(pkg, dir+"/") }

// TestContributingLayoutIsTrue keeps CONTRIBUTING.md's layout table true:
// every package `go list ./...` finds has a row (the most specific row whose
// path covers it; `<command>` stands for any one folder), every row names a
// folder that exists, and every package imports only what its row allows
// (its own sub-folders always).
func TestContributingLayoutIsTrue(t *testing.T) {
	root := filepath.Dir(RepoFile(t, "go.mod"))
	rows := readTable(t, filepath.Join(root, "CONTRIBUTING.md"))
	for _, r := range rows {
		if strings.Contains(r.path, "<") {
			continue
		}
		if st, err := os.Stat(filepath.Join(root, r.path)); err != nil || !st.IsDir() {
			t.Errorf("CONTRIBUTING.md:%d lists %s/, which does not exist: remove the row or add the package", r.line, r.path)
		}
	}

	cmd := exec.Command("go", "list", "-json", "./...")
	cmd.Dir = root
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	dec := json.NewDecoder(bytes.NewReader(out))
	n := 0
	for dec.More() {
		var p struct {
			ImportPath string
			Imports    []string
		}
		if err := dec.Decode(&p); err != nil {
			t.Fatal(err)
		}
		n++
		pkg := strings.TrimPrefix(strings.TrimPrefix(p.ImportPath, module), "/")
		r, inst, ok := rowOf(rows, pkg)
		if !ok {
			t.Errorf("package %s has no row in CONTRIBUTING.md's layout table: add one (what lives there, what it may import)", pkg)
			continue
		}
		for _, imp := range p.Imports {
			if !strings.HasPrefix(imp, module+"/") {
				continue
			}
			dep := strings.TrimPrefix(imp, module+"/")
			if within(dep, inst) || (r.cli && within(dep, "internal/cli")) || (r.core && !within(dep, "internal/cli") && !within(dep, "internal/testutil")) {
				continue
			}
			allowed := false
			for _, a := range r.allowed {
				if within(dep, a) {
					allowed = true
					break
				}
			}
			if !allowed {
				t.Errorf("%s imports %s, which its row (CONTRIBUTING.md:%d, %s/) does not allow: change the import or the row", pkg, dep, r.line, r.path)
			}
		}
	}
	if n < 10 {
		t.Fatalf("go list found %d packages; is the test running in the repository?", n)
	}
}

// The matching rules themselves, on a made-up table.
func TestRowOf(t *testing.T) {
	rows := []row{
		{path: "internal/cli/cmdutil"},
		{path: "internal/cli/<command>"},
		{path: "internal/onnx"},
		{path: "internal/onnx/onnxpb"},
	}
	for pkg, want := range map[string]string{
		"internal/cli/cmdutil":     "internal/cli/cmdutil",
		"internal/cli/serve":       "internal/cli/serve",
		"internal/onnx/internal/x": "internal/onnx",
		"internal/onnx/onnxpb":     "internal/onnx/onnxpb",
	} {
		_, inst, ok := rowOf(rows, pkg)
		if !ok || inst != want {
			t.Errorf("rowOf(%s) = %s, %v; want %s", pkg, inst, ok, want)
		}
	}
	if _, _, ok := rowOf(rows, "internal/tune"); ok {
		t.Error("internal/tune matched a row")
	}
}
