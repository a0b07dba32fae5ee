package probes

import (
	"os/exec"
	"strings"
	"testing"
)

// TestRoomsKeepApart: the queue and SMTP rooms use the helpers probe
// exports and nothing of each other, so that one can change without the
// other (docs/architecture.md).
func TestRoomsKeepApart(t *testing.T) {
	t.Parallel()
	out, err := exec.Command("go", "list", "-f", "{{.ImportPath}}: {{join .Imports \" \"}}", "../queue", "../smtp").CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	const base = "github.com/tocsin/tocsin/probe/"
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		pkg, imports, _ := strings.Cut(line, ": ")
		for _, imp := range strings.Fields(imports) {
			if strings.HasPrefix(imp, base) {
				t.Errorf("%s imports %s, another room of probe", pkg, imp)
			}
		}
	}
}
