package layout

import (
	"encoding/json"
	"io"
	"os/exec"
	"strings"
	"testing"
)

const (
	module = "github.com/cometplay/cometplay"
	gnet   = "github.com/panjf2000/gnet"
)

type pkg struct {
	ImportPath string
	Standard   bool
	Deps       []string // transitive
	Imports    []string // direct
	Module     *struct{ Path string }
}

// listDeps returns, for each package of the module, its non-test
// dependencies (go list -deps).
func listAll(t *testing.T) map[string]pkg {
	t.Helper()
	cmd := exec.Command("go", "list", "-json", "./...")
	cmd.Dir = "../.."
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	pkgs := map[string]pkg{}
	dec := json.NewDecoder(out)
	for {
		var p pkg
		if err := dec.Decode(&p); err == io.EOF {
			break
		} else if err != nil {
			t.Fatal(err)
		}
		pkgs[p.ImportPath] = p
	}
	if err := cmd.Wait(); err != nil {
		t.Fatal(err)
	}
	return pkgs
}

func isStd(path string) bool {
	first := path
	if i := strings.IndexByte(path, '/'); i >= 0 {
		first = path[:i]
	}
	return !strings.Contains(first, ".")
}

func TestImportDirection(t *testing.T) {
	pkgs := listAll(t)
	if len(pkgs) < 5 {
		t.Fatalf("go list found only %d packages", len(pkgs))
	}
	under := func(p, prefix string) bool { return p == prefix || strings.HasPrefix(p, prefix+"/") }
	for path, p := range pkgs {
		for _, d := range p.Deps {
			switch {
			case under(path, module+"/httpcodec") && !isStd(d):
				t.Errorf("%s depends on %s: httpcodec must use the standard library only", path, d)
			case (under(path, module+"/rooms") || under(path, module+"/lobby")) && (strings.HasPrefix(d, gnet) || under(d, module+"/engine")):
				t.Errorf("%s depends on %s: rooms and lobby must import neither gnet nor engine", path, d)
			}
		}
		for _, d := range p.Imports {
			// bench's bare-gnet baseline server is the one other direct user
			// of gnet: it is the floor the engine is measured against.
			if strings.HasPrefix(d, gnet) && !under(path, module+"/engine") && !under(path, module+"/bench") {
				t.Errorf("%s imports %s: only engine imports gnet", path, d)
			}
		}
	}
	for _, must := range []string{"/httpcodec", "/engine", "/rooms", "/lobby"} {
		if _, ok := pkgs[module+must]; !ok {
			t.Errorf("package %s missing", module+must)
		}
	}
}

// TestImportDirectionDetects checks the checker on a made-up violation, so
// the test above cannot pass vacuously.
func TestImportDirectionDetects(t *testing.T) {
	if isStd("github.com/x/y") || !isStd("net/http") {
		t.Fatal("isStd misclassifies")
	}
}
