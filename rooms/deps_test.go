package rooms_test

import (
	"os/exec"
	"strings"
	"testing"
)

// TestDependencies enforces the layering of STYLE.md: rooms imports nothing
// else of ours, and never gnet or the engine.
func TestDependencies(t *testing.T) {
	checkDeps(t, "github.com/cometplay/cometplay/rooms", "github.com/cometplay/cometplay/rooms/roomstest", "github.com/cometplay/cometplay/rooms/example/nim")
}

func checkDeps(t *testing.T, pkgs ...string) {
	gobin, err := exec.LookPath("go")
	if err != nil {
		t.Fatalf("the go command is needed to list dependencies: %v", err)
	}
	for _, pkg := range pkgs {
		out, err := exec.Command(gobin, "list", "-deps", pkg).CombinedOutput()
		if err != nil {
			t.Fatalf("go list -deps %s: %v\n%s", pkg, err, out)
		}
		deps := strings.Fields(string(out))
		if len(deps) < 5 {
			t.Fatalf("go list -deps %s listed only %v", pkg, deps)
		}
		for _, d := range deps {
			if strings.Contains(d, "gnet") || (strings.HasPrefix(d, "github.com/cometplay/cometplay/") && !strings.HasPrefix(d, "github.com/cometplay/cometplay/rooms")) {
				t.Errorf("%s depends on %s", pkg, d)
			}
		}
	}
}
