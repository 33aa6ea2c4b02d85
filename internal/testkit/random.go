package testkit

import (
	"go/ast"
	"go/parser"
	"go/token"
	"math"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// CheckRandom checks n ids from gen: each is length characters of
// alphabet, decodes (with decode) to bits/8 bytes, all are distinct, and
// every one of the bits is set in half of them within six standard
// deviations (a stuck or biased bit, as a broken generator would show,
// fails it; a fair one fails with a probability near 1e-9 per bit).
func CheckRandom(t *testing.T, what string, n, length, bits int, alphabet string, decode func(string) ([]byte, error), gen func() string) {
	t.Helper()
	seen := make(map[string]bool, n)
	ones := make([]int, bits)
	for range n {
		id := gen()
		if len(id) != length || strings.Trim(id, alphabet) != "" {
			t.Fatalf("%s %q: want %d characters of %q", what, id, length, alphabet)
		}
		if seen[id] {
			t.Fatalf("%s %q generated twice in %d", what, id, n)
		}
		seen[id] = true
		b, err := decode(id)
		if err != nil || len(b)*8 != bits {
			t.Fatalf("%s %q decodes to %d bytes (%v); want %d random bits", what, id, len(b), err, bits)
		}
		for i := range bits {
			if b[i/8]>>(i%8)&1 == 1 {
				ones[i]++
			}
		}
	}
	dev := 3 * math.Sqrt(float64(n)) // six standard deviations of a fair bit's count
	for i, k := range ones {
		if math.Abs(float64(k)-float64(n)/2) > dev {
			t.Fatalf("%s: bit %d set in %d of %d ids", what, i, k, n)
		}
	}
}

// RequireCryptoRand checks that the function fn declared in file (relative
// to the calling test's package) reads its randomness with crypto/rand's Read: the
// documented source of every credential.
func RequireCryptoRand(t *testing.T, file, fn string) {
	t.Helper()
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, filepath.FromSlash(file), nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	local := ""
	for _, im := range f.Imports {
		if p, _ := strconv.Unquote(im.Path.Value); p == "crypto/rand" {
			local = "rand"
			if im.Name != nil {
				local = im.Name.Name
			}
		}
	}
	if local == "" {
		t.Fatalf("%s does not import crypto/rand", file)
	}
	found := false
	for _, d := range f.Decls {
		fd, ok := d.(*ast.FuncDecl)
		if !ok || fd.Name.Name != fn {
			continue
		}
		ast.Inspect(fd.Body, func(n ast.Node) bool {
			if sel, ok := n.(*ast.SelectorExpr); ok {
				if x, ok := sel.X.(*ast.Ident); ok && x.Name == local && sel.Sel.Name == "Read" {
					found = true
				}
			}
			return true
		})
	}
	if !found {
		t.Fatalf("%s: %s does not read crypto/rand (%s.Read)", file, fn, local)
	}
}
