// Package static embeds the browser assets of cometplay: index.html, scripts,
// style sheets, pages and the pushlet client library under pushlet/lib/.
//
// The directory static/ holds assets only. This one Go file lives here
// because a //go:embed pattern cannot reach up into a parent directory, so
// the package that embeds the assets must sit beside them.
//
// Every file of the directory is embedded except Go source files at its root
// and names beginning with "." (editor and VCS droppings such as .gitkeep or
// .DS_Store), which [FS] hides. Names beginning with "_" are kept (a pattern
// without the "all:" prefix would drop them) because bundlers emit such
// directories.
package static

import (
	"embed"
	"io"
	"io/fs"
	"path"
	"strings"
)

//go:embed all:*
var files embed.FS

// FS returns the embedded asset tree, rooted at the static directory:
// "index.html" is at its root. The result is immutable and safe for
// concurrent use; it implements [fs.ReadDirFS] and [fs.ReadFileFS].
func FS() fs.FS { return assets{} }

// hidden reports whether name, a valid fs path, is not an asset: a Go file
// at the root, or any element beginning with ".".
func hidden(name string) bool {
	if name == "." {
		return false
	}
	if !strings.Contains(name, "/") && strings.HasSuffix(name, ".go") {
		return true
	}
	for elem := range strings.SplitSeq(name, "/") {
		if strings.HasPrefix(elem, ".") {
			return true
		}
	}
	return false
}

// assets filters files through hidden.
type assets struct{}

func notExist(op, name string) error {
	return &fs.PathError{Op: op, Path: name, Err: fs.ErrNotExist}
}

func (assets) Open(name string) (fs.File, error) {
	if !fs.ValidPath(name) {
		return nil, &fs.PathError{Op: "open", Path: name, Err: fs.ErrInvalid}
	}
	if hidden(name) {
		return nil, notExist("open", name)
	}
	f, err := files.Open(name)
	if err != nil {
		return nil, err
	}
	if d, ok := f.(fs.ReadDirFile); ok {
		if st, err := d.Stat(); err == nil && st.IsDir() {
			return &dir{ReadDirFile: d, name: name}, nil
		}
	}
	return f, nil
}

func (assets) ReadFile(name string) ([]byte, error) {
	if !fs.ValidPath(name) {
		return nil, &fs.PathError{Op: "read", Path: name, Err: fs.ErrInvalid}
	}
	if hidden(name) {
		return nil, notExist("read", name)
	}
	return files.ReadFile(name)
}

func (assets) ReadDir(name string) ([]fs.DirEntry, error) {
	if !fs.ValidPath(name) {
		return nil, &fs.PathError{Op: "readdir", Path: name, Err: fs.ErrInvalid}
	}
	if hidden(name) {
		return nil, notExist("readdir", name)
	}
	entries, err := files.ReadDir(name)
	if err != nil {
		return nil, err
	}
	return visible(name, entries), nil
}

// visible filters the entries of directory name in place.
func visible(name string, entries []fs.DirEntry) []fs.DirEntry {
	kept := entries[:0]
	for _, e := range entries {
		if !hidden(path.Join(name, e.Name())) {
			kept = append(kept, e)
		}
	}
	return kept
}

// dir is an open directory whose ReadDir hides what hidden reports.
type dir struct {
	fs.ReadDirFile
	name    string
	entries []fs.DirEntry // filtered, read on the first ReadDir call
	read    bool
}

// ReadDir follows the contract of [fs.ReadDirFile] over the filtered entries.
func (d *dir) ReadDir(n int) ([]fs.DirEntry, error) {
	if !d.read {
		all, err := d.ReadDirFile.ReadDir(-1)
		if err != nil {
			return nil, err
		}
		d.entries, d.read = visible(d.name, all), true
	}
	if n <= 0 {
		rest := d.entries
		d.entries = nil
		return rest, nil
	}
	if len(d.entries) == 0 {
		return nil, io.EOF
	}
	n = min(n, len(d.entries))
	page := d.entries[:n:n]
	d.entries = d.entries[n:]
	return page, nil
}
