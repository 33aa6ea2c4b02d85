package layout

import (
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"os/exec"
	"slices"
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

// rule says what a package may not depend on.
type rule struct {
	pkg    string   // the package and those below it
	direct bool     // checks direct imports (else every dependency)
	banned []string // module paths (and below) it must not depend on; "std-only" allows only the standard library
	why    string
}

var rules = []rule{
	{"/httpcodec", false, []string{"std-only"}, "httpcodec uses the standard library only"},
	{"/engine", false, []string{"/comet", "/games", "/rooms", "/lobby", "/static"}, "engine (HTTP) knows no layer above it"},
	{"/comet", false, []string{"/games", "/rooms", "/lobby", "/static"}, "comet knows nothing of games"},
	{"/rooms", false, []string{gnet, "/engine", "/comet", "/games", "/lobby"}, "rooms imports nothing else of ours"},
	{"/lobby", false, []string{gnet, "/engine", "/comet", "/games"}, "lobby may import rooms only"},
	{"/games", true, []string{gnet, "/static"}, "games reaches gnet only through engine, and takes its site as a config"},
	{"/static", false, []string{module + "/"}, "static holds assets only"},
}

// violations returns what in pkgs breaks the rules (and the one rule of
// the whole module: only engine, and bench's baseline, import gnet).
func violations(pkgs map[string]pkg) []string {
	var out []string
	under := func(p, prefix string) bool { return p == prefix || strings.HasPrefix(p, prefix+"/") }
	for path, p := range pkgs {
		for _, r := range rules {
			if !under(path, module+r.pkg) {
				continue
			}
			deps := p.Deps
			if r.direct {
				deps = p.Imports
			}
			for _, d := range deps {
				for _, b := range r.banned {
					bad := false
					switch {
					case b == "std-only":
						bad = !isStd(d)
					case strings.HasPrefix(b, "/"):
						bad = under(d, module+b)
					case strings.HasSuffix(b, "/"):
						bad = strings.HasPrefix(d, b)
					default:
						bad = strings.HasPrefix(d, b)
					}
					if bad {
						out = append(out, fmt.Sprintf("%s depends on %s: %s", path, d, r.why))
					}
				}
			}
		}
		for _, d := range p.Imports {
			if strings.HasPrefix(d, gnet) && !under(path, module+"/engine") && !under(path, module+"/bench") {
				out = append(out, fmt.Sprintf("%s imports %s: only engine imports gnet", path, d))
			}
		}
	}
	return out
}

func TestImportDirection(t *testing.T) {
	pkgs := listAll(t)
	for _, must := range []string{"/httpcodec", "/engine", "/comet", "/games", "/rooms", "/lobby", "/static"} {
		if _, ok := pkgs[module+must]; !ok {
			t.Errorf("package %s missing", module+must)
		}
	}
	for _, v := range violations(pkgs) {
		t.Error(v)
	}
}

// TestImportDirectionDetects checks the checker on the real graph with one
// made-up violation added per rule, so the test above cannot pass
// vacuously.
func TestImportDirectionDetects(t *testing.T) {
	if isStd("github.com/x/y") || !isStd("net/http") {
		t.Fatal("isStd misclassifies")
	}
	real := listAll(t)
	for _, tc := range []struct{ pkg, dep string }{
		{"/engine", module + "/comet"},
		{"/engine", module + "/games"},
		{"/comet", module + "/rooms"},
		{"/comet", module + "/games"},
		{"/rooms", gnet + "/v2"},
		{"/lobby", module + "/comet"},
		{"/games", gnet + "/v2"},
		{"/httpcodec", "golang.org/x/sys/unix"},
		{"/static", module + "/engine"},
	} {
		pkgs := maps.Clone(real)
		p := pkgs[module+tc.pkg]
		p.Deps = append(slices.Clone(p.Deps), tc.dep)
		p.Imports = append(slices.Clone(p.Imports), tc.dep)
		pkgs[module+tc.pkg] = p
		if v := violations(pkgs); len(v) == 0 {
			t.Errorf("%s importing %s is not reported", tc.pkg, tc.dep)
		}
	}
}
