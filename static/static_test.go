package static

import (
	"io/fs"
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
