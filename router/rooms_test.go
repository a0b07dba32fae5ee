package router_test

import (
	"os/exec"
	"strings"
	"testing"
)

// TestMountersDoNotImportTheReadModel: the write API and the heartbeat
// endpoints are mounted on the router (api.Handler.Mount takes one; cmd
// mounts the heartbeat handler), not on the read model (status), which
// they have no other use for (docs/architecture.md).
func TestMountersDoNotImportTheReadModel(t *testing.T) {
	t.Parallel()
	out, err := exec.Command("go", "list", "-f", "{{.ImportPath}}: {{join .Imports \" \"}}", "../api", "../heartbeat").CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		pkg, imports, _ := strings.Cut(line, ": ")
		for _, imp := range strings.Fields(imports) {
			if imp == "github.com/tocsin/tocsin/status" {
				t.Errorf("%s imports the read model (status)", pkg)
			}
		}
	}
}
