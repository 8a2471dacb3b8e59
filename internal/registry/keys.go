package registry

import (
	"fmt"
	"strconv"
	"strings"
)

// Object keys, relative to the registry's prefix. See the package documentation.

func blobKey(sha string) string { return "blobs/sha256/" + sha }

func versionsPrefix(name string) string { return "models/" + name + "/versions/" }

func manifestKey(name string, v int) string {
	return fmt.Sprintf("%s%d.json", versionsPrefix(name), v)
}

func tombstoneKey(name string, v int) string {
	return fmt.Sprintf("%s%d.removed", versionsPrefix(name), v)
}

func aliasesPrefix(name string) string { return "models/" + name + "/aliases/" }

func aliasEventsPrefix(name, alias string) string { return aliasesPrefix(name) + alias + "/" }

func aliasEventKey(name, alias string, seq int) string {
	return fmt.Sprintf("%s%08d.json", aliasEventsPrefix(name, alias), seq)
}

// parseNumbered parses "<n><suffix>" after prefix; ok is false for anything else.
func parseNumbered(key, prefix, suffix string) (int, bool) {
	rest, ok := strings.CutPrefix(key, prefix)
	if !ok {
		return 0, false
	}
	rest, ok = strings.CutSuffix(rest, suffix)
	if !ok || rest == "" || strings.Contains(rest, "/") {
		return 0, false
	}
	n, err := strconv.Atoi(rest)
	if err != nil || n <= 0 {
		return 0, false
	}
	return n, true
}
