package lobby_test

import (
	"os/exec"
	"strings"
	"testing"
)

// TestDependencies enforces the layering of STYLE.md: lobby imports rooms
// and nothing else of ours, never gnet or the engine.
func TestDependencies(t *testing.T) {
	gobin, err := exec.LookPath("go")
	if err != nil {
		t.Fatalf("the go command is needed to list dependencies: %v", err)
	}
	const pkg = "github.com/cometplay/cometplay/lobby"
	out, err := exec.Command(gobin, "list", "-deps", pkg).CombinedOutput()
	if err != nil {
		t.Fatalf("go list -deps %s: %v\n%s", pkg, err, out)
	}
	deps := strings.Fields(string(out))
	if !contains(deps, "github.com/cometplay/cometplay/rooms") {
		t.Fatalf("go list -deps %s does not list rooms: %v", pkg, deps)
	}
	for _, d := range deps {
		ours := strings.HasPrefix(d, "github.com/cometplay/cometplay/")
		if strings.Contains(d, "gnet") || ours && d != pkg && d != "github.com/cometplay/cometplay/rooms" {
			t.Errorf("%s depends on %s", pkg, d)
		}
	}
}

func contains(xs []string, x string) bool {
	for _, y := range xs {
		if y == x {
			return true
		}
	}
	return false
}
