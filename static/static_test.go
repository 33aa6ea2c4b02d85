package static

import (
	"io/fs"
	"regexp"
	"strings"
	"testing"
	"testing/fstest"
)

func TestFS(t *testing.T) {
	if err := fstest.TestFS(FS(), "index.html"); err != nil {
		t.Fatal(err)
	}
}

func TestFSHidesGoFiles(t *testing.T) {
	fsys := FS()
	for _, name := range []string{"static.go", "static_test.go"} {
		if _, err := fs.Stat(fsys, name); err == nil {
			t.Errorf("Stat(%q) = nil error; want not exist", name)
		}
		if _, err := fs.ReadFile(fsys, name); err == nil {
			t.Errorf("ReadFile(%q) = nil error; want not exist", name)
		}
	}
	err := fs.WalkDir(fsys, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if hidden(p) {
			t.Errorf("WalkDir visited hidden %q", p)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestHidden(t *testing.T) {
	tests := []struct {
		name string
		want bool
	}{
		{".", false},
		{"index.html", false},
		{"static.go", true},
		{"js/tool.go", false}, // only the package's own files are hidden
		{".gitkeep", true},
		{"pushlet/.DS_Store", true},
		{".git/config", true},
		{"_app/main.js", false},
		{"pushlet/lib/ajax-pushlet-client.js", false},
	}
	for _, tt := range tests {
		if got := hidden(tt.name); got != tt.want {
			t.Errorf("hidden(%q) = %v; want %v", tt.name, got, tt.want)
		}
	}
}

func TestIndexIsHTML(t *testing.T) {
	b, err := fs.ReadFile(FS(), "index.html")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(strings.ToLower(string(b)), "<html") {
		t.Errorf("index.html does not look like HTML: %.60q", b)
	}
}

// TestNoTestPages: the embedded site is what every production binary
// serves on the game's origin, so it holds no test harness. A test page
// builds a client from its URL (static/test/client.html took every option
// from ?opts=, a javascript: frameUrl among them): served on the game's
// origin, it runs whatever a link says there. Test pages live in the
// tests' own testdata.
func TestNoTestPages(t *testing.T) {
	err := fs.WalkDir(FS(), ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (d.Name() == "test" || d.Name() == "tests" || d.Name() == "testdata") {
			t.Errorf("the embedded site holds %s/", p)
		}
		if !d.IsDir() && strings.HasSuffix(p, ".js") {
			b, err := fs.ReadFile(FS(), p)
			if err != nil {
				return err
			}
			if strings.Contains(string(b), "location.search") && strings.Contains(string(b), "JSON.parse") {
				t.Errorf("%s reads options from its URL, as a test page does", p)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// inlineScript finds what a Content-Security-Policy without 'unsafe-inline'
// refuses to run or apply in an HTML page: script elements without src,
// event handler attributes, javascript: URLs, style elements and
// attributes.
var inlineScript = regexp.MustCompile(`(?is)<script\b[^>]*>\s*[^<\s]|\son[a-z]+\s*=|javascript:|<style\b|\sstyle\s*=`)

// TestPagesKeepTheirPolicy: the embedded pages (the site, the admin
// console, the iframe transport's frame) are served with a policy that
// runs only the origin's own script and style files
// (engine.DefaultPageCSP), and say the same in a <meta> element, so
// nothing in them may be inline.
func TestPagesKeepTheirPolicy(t *testing.T) {
	pages := 0
	err := fs.WalkDir(FS(), ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(p, ".html") {
			return err
		}
		pages++
		b, err := fs.ReadFile(FS(), p)
		if err != nil {
			return err
		}
		if m := inlineScript.Find(b); m != nil {
			t.Errorf("%s has inline script or style, which its policy refuses: %.60q", p, m)
		}
		if !strings.Contains(string(b), `<meta http-equiv="Content-Security-Policy" content="default-src 'self'; script-src 'self';`) {
			t.Errorf("%s does not state its policy in a <meta> element", p)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if pages < 3 {
		t.Fatalf("%d pages checked; want at least index.html, admin/index.html and js/cometplay-frame.html", pages)
	}
}

func TestInlineScriptPattern(t *testing.T) {
	for s, want := range map[string]bool{
		`<script type="module" src="js/app.js"></script>`:  false,
		`<script src=a.js></script>`:                       false,
		"<script>\nalert(1)</script>":                      true,
		`<script type="module">import x from 'y'</script>`: true,
		`<body onload="go()">`:                             true,
		`<a href="javascript:go()">`:                       true,
		`<style>p{}</style>`:                               true,
		`<p style="color:red">`:                            true,
		`<link rel="stylesheet" href="app.css">`:           false,
		`<button type="button" id="online">`:               false,
	} {
		if got := inlineScript.MatchString(s); got != want {
			t.Errorf("inlineScript.MatchString(%q) = %v; want %v", s, got, want)
		}
	}
}
