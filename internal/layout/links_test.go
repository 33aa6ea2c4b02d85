package layout

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"unicode"
)

// mdLink matches an inline Markdown link or image target: [text](target)
// or [text](target "title").
var mdLink = regexp.MustCompile(`\]\(([^)\s]+)(?:\s+"[^"]*")?\)`)

// htmlAnchor matches an HTML anchor a page may link to: id="x" or name="x".
var htmlAnchor = regexp.MustCompile(`<a\s[^>]*(?:id|name)="([^"]+)"`)

// mdFile is a Markdown file's links (outside code), the Markdown files its
// code spans name (`docs/X.md`), and its anchors.
type mdFile struct {
	links   []string
	named   []string
	anchors map[string]bool
}

// namedDoc matches a code span that names a Markdown file by its path: a
// reference to a document, which must resolve as a link does.
var namedDoc = regexp.MustCompile("`([A-Za-z0-9_.-]+/[A-Za-z0-9_./-]*\\.md)`")

// readMarkdown reads path's links and the anchors of its headings (as
// GitHub makes them: see slug) and HTML anchors. Fenced code blocks and code
// spans hold no links.
func readMarkdown(path string) (mdFile, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return mdFile{}, err
	}
	f := mdFile{anchors: map[string]bool{}}
	seen := map[string]int{}
	fence := ""
	for line := range strings.SplitSeq(string(b), "\n") {
		trimmed := strings.TrimLeft(line, " ")
		if fence != "" {
			if strings.HasPrefix(trimmed, fence) {
				fence = ""
			}
			continue
		}
		if strings.HasPrefix(trimmed, "```") || strings.HasPrefix(trimmed, "~~~") {
			fence = trimmed[:3]
			continue
		}
		for _, m := range namedDoc.FindAllStringSubmatch(line, -1) {
			f.named = append(f.named, m[1])
		}
		text := codeSpan.ReplaceAllString(line, "")
		for _, m := range mdLink.FindAllStringSubmatch(text, -1) {
			f.links = append(f.links, m[1])
		}
		for _, m := range htmlAnchor.FindAllStringSubmatch(text, -1) {
			f.anchors[m[1]] = true
		}
		if h := strings.TrimLeft(line, "#"); len(h) < len(line) && len(line)-len(h) <= 6 && strings.HasPrefix(h, " ") {
			s := slug(h)
			if n := seen[s]; n > 0 {
				f.anchors[fmt.Sprintf("%s-%d", s, n)] = true
			} else {
				f.anchors[s] = true
			}
			seen[s]++
		}
	}
	return f, nil
}

// codeSpan matches an inline code span.
var codeSpan = regexp.MustCompile("`[^`]*`")

// mdMarkup matches what a heading's anchor leaves out of its text: the
// target of a link (its text stays), and emphasis and code markers.
var mdMarkup = regexp.MustCompile(`\]\([^)]*\)|[\[*_` + "`" + `]`)

// slug is the anchor GitHub gives a heading: its text without markup,
// lower case, without punctuation but hyphens and underscores, spaces made
// hyphens.
func slug(heading string) string {
	h := mdMarkup.ReplaceAllStringFunc(strings.TrimSpace(heading), func(m string) string {
		if m == "_" {
			return "_" // underscores stay (only the ones of emphasis would not; none here)
		}
		return ""
	})
	var b strings.Builder
	for _, r := range strings.ToLower(h) {
		switch {
		case r == ' ':
			b.WriteByte('-')
		case r == '-' || r == '_' || unicode.IsLetter(r) || unicode.IsDigit(r) || unicode.Is(unicode.M, r):
			b.WriteRune(r)
		}
	}
	return b.String()
}

// checkLinks returns what is wrong with the relative links of the Markdown
// files (paths relative to root): a target outside root, a file that does
// not exist, or an anchor its Markdown file does not have. Links with a
// scheme (https:, mailto:) point outside the repository on purpose and are
// not checked; an absolute path is refused.
func checkLinks(root string, files []string) ([]string, error) {
	var bad []string
	cache := map[string]mdFile{}
	read := func(rel string) (mdFile, error) {
		if f, ok := cache[rel]; ok {
			return f, nil
		}
		f, err := readMarkdown(filepath.Join(root, rel))
		cache[rel] = f
		return f, err
	}
	scheme := regexp.MustCompile(`^[a-zA-Z][a-zA-Z0-9+.-]*:`)
	for _, file := range files {
		f, err := read(file)
		if err != nil {
			return nil, err
		}
		for _, link := range f.links {
			if scheme.MatchString(link) {
				continue
			}
			target, anchor, _ := strings.Cut(link, "#")
			rel := file
			if target != "" {
				if strings.HasPrefix(target, "/") {
					bad = append(bad, fmt.Sprintf("%s: %s: an absolute path; link relative to the file", file, link))
					continue
				}
				rel = filepath.Join(filepath.Dir(file), filepath.FromSlash(target))
				if rel == ".." || strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
					bad = append(bad, fmt.Sprintf("%s: %s: outside the repository", file, link))
					continue
				}
				if _, err := os.Stat(filepath.Join(root, rel)); err != nil {
					bad = append(bad, fmt.Sprintf("%s: %s: no such file", file, link))
					continue
				}
			}
			if anchor == "" {
				continue
			}
			if !strings.HasSuffix(rel, ".md") {
				bad = append(bad, fmt.Sprintf("%s: %s: an anchor in a file that is not Markdown", file, link))
				continue
			}
			t, err := read(rel)
			if err != nil {
				return nil, err
			}
			if !t.anchors[anchor] {
				bad = append(bad, fmt.Sprintf("%s: %s: %s has no heading or anchor %q", file, link, filepath.ToSlash(rel), anchor))
			}
		}
		// A document named in code: from the repository's root (as the
		// docs name files) or from the file.
		for _, name := range f.named {
			p := filepath.FromSlash(name)
			fromFile := filepath.Join(filepath.Dir(file), p)
			if _, err := os.Stat(filepath.Join(root, p)); err == nil {
				continue
			}
			if _, err := os.Stat(filepath.Join(root, fromFile)); err == nil && !strings.HasPrefix(fromFile, "..") {
				continue
			}
			bad = append(bad, fmt.Sprintf("%s: %s: names a document that is not in the repository", file, name))
		}
	}
	return bad, nil
}

// TestDocLinks: every relative link of README.md and docs/*.md (and each
// #anchor in them) resolves to a file of the repository.
func TestDocLinks(t *testing.T) {
	root := "../.."
	docs, err := filepath.Glob(filepath.Join(root, "docs", "*.md"))
	if err != nil {
		t.Fatal(err)
	}
	files := []string{"README.md"}
	for _, d := range docs {
		rel, err := filepath.Rel(root, d)
		if err != nil {
			t.Fatal(err)
		}
		files = append(files, rel)
	}
	if len(files) < 6 {
		t.Fatalf("checking only %v", files)
	}
	bad, err := checkLinks(root, files)
	if err != nil {
		t.Fatal(err)
	}
	for _, b := range bad {
		t.Error(b)
	}
}

// TestDocLinksDetects runs the checker on made-up files, so that the test
// above cannot pass vacuously.
func TestDocLinksDetects(t *testing.T) {
	root := t.TempDir()
	write := func(name, text string) {
		t.Helper()
		p := filepath.Join(root, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("docs/A.md", "# The `A` guide: *one*\n\n## Twice\n\n## Twice\n\n<a id=\"here\"></a>\n"+
		"[ok](B.md) [ok](B.md#b-side) [ok](#the-a-guide-one) [ok](#twice-1) [ok](#here) [ok](../code.go) [web](https://example.com/x)\n"+
		"[missing](C.md) [outside](../../etc/passwd) [anchor](B.md#nope) [self](#twice-2) [abs](/docs/B.md) [code anchor](../code.go#L1)\n"+
		"`[in code](nowhere.md)`\n```\n[in a block](nowhere.md)\n```\n"+
		"Named: `docs/B.md`, `B.md`, `shared/pushlet/PROTOCOL.md`, `../x/Y.md`.\n")
	write("docs/B.md", "## B side\n")
	write("code.go", "package x\n")
	bad, err := checkLinks(root, []string{filepath.Join("docs", "A.md")})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, b := range bad {
		_, link, _ := strings.Cut(b, ": ")
		link, _, _ = strings.Cut(link, ": ")
		got = append(got, link)
	}
	want := []string{"C.md", "../../etc/passwd", "B.md#nope", "#twice-2", "/docs/B.md", "../code.go#L1", "shared/pushlet/PROTOCOL.md", "../x/Y.md"}
	if !slices.Equal(got, want) {
		t.Errorf("problems found in %v; want %v\n%s", got, want, strings.Join(bad, "\n"))
	}
}
