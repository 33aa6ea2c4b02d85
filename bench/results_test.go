package main

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestReplaceSection(t *testing.T) {
	doc, err := ReplaceSection(nil, "http", []byte("## HTTP\n\nfirst\n"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(string(doc), resultsPreamble) {
		t.Errorf("new document does not start with the preamble:\n%s", doc)
	}
	// A second section is appended; hand-written text between them stays.
	doc = append(doc, "\nNotes kept between sections.\n"...)
	if doc, err = ReplaceSection(doc, "comet", []byte("## Comet\n\nlisteners\n")); err != nil {
		t.Fatal(err)
	}
	if doc, err = ReplaceSection(doc, "http", []byte("## HTTP\n\nsecond\n")); err != nil {
		t.Fatal(err)
	}
	want := resultsPreamble + `
<!-- bench:http:start -->
## HTTP

second
<!-- bench:http:end -->

Notes kept between sections.

<!-- bench:comet:start -->
## Comet

listeners
<!-- bench:comet:end -->
`
	if string(doc) != want {
		t.Errorf("document =\n%s\nwant\n%s", doc, want)
	}
	// Rewriting with the same content changes nothing.
	again, err := ReplaceSection(doc, "comet", []byte("## Comet\n\nlisteners\n"))
	if err != nil || string(again) != string(doc) {
		t.Errorf("rewriting a section with the same body changed the document (err %v):\n%s", err, again)
	}
}

func TestReplaceSectionErrors(t *testing.T) {
	start, end := sectionMarkers("http")
	tests := []struct {
		name, doc, section string
	}{
		{"start without end", "x\n" + start + "\nbody\n", "http"},
		{"end without start", "x\n" + end + "\n", "http"},
		{"end before start", end + "\n" + start + "\n", "http"},
		{"twice", start + "\n" + end + "\n" + start + "\n" + end + "\n", "http"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := ReplaceSection([]byte(tt.doc), tt.section, []byte("b")); !errors.Is(err, ErrBadMarkers) {
				t.Errorf("ReplaceSection() error = %v; want ErrBadMarkers", err)
			}
		})
	}
	for _, name := range []string{"", "a b", "x-->", "Upper"} {
		if _, err := ReplaceSection(nil, name, nil); err == nil {
			t.Errorf("ReplaceSection(name %q) succeeded; want an error", name)
		}
	}
}

func TestUpdateResultsFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sub", "RESULTS.md")
	if err := UpdateResultsFile(path, "a", []byte("one")); err != nil {
		t.Fatal(err)
	}
	if err := UpdateResultsFile(path, "b", []byte("two")); err != nil {
		t.Fatal(err)
	}
	if err := UpdateResultsFile(path, "a", []byte("three")); err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	s := string(got)
	if !strings.Contains(s, "three") || strings.Contains(s, "one") || !strings.Contains(s, "two") || strings.Index(s, "three") > strings.Index(s, "two") {
		t.Errorf("RESULTS.md after three updates:\n%s", s)
	}
	entries, _ := os.ReadDir(filepath.Dir(path))
	if len(entries) != 1 {
		t.Errorf("directory holds %d entries; want only RESULTS.md (temporary files left?)", len(entries))
	}
}

func TestCommandLine(t *testing.T) {
	got := commandLine([]string{"http", "-out", "bench/RESULTS.md", "-server-args", "-cpuprofile /tmp/x y", "it's"})
	want := `go run ./bench http -out bench/RESULTS.md -server-args '-cpuprofile /tmp/x y' 'it'\''s'`
	if got != want {
		t.Errorf("commandLine() = %s; want %s", got, want)
	}
}

func TestWriteTargetsSummary(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "RESULTS.md")
	doc := resultsPreamble + "\n<!-- bench:a:start -->\n## A\n\n### Targets\n\n| target | configuration | measured | status | x |\n|---|---|---:|---|---|\n| p99 ≤ 4 ms | c=1 | 3ms | met | |\n\n### Other\n\n| not | a target |\n<!-- bench:a:end -->\n" +
		"\n<!-- bench:b:start -->\n### Targets\n\n| target | c | m | s | x |\n|---|---|---:|---|---|\n| RSS ≤ 1 KiB | 19000 | 2 KiB | MISSED | over |\n<!-- bench:b:end -->\n"
	if err := os.WriteFile(path, []byte(doc), 0o644); err != nil {
		t.Fatal(err)
	}
	for range 2 { // the second run replaces the section in place
		if err := writeTargetsSummary(path, []string{"all", "-out", path}); err != nil {
			t.Fatal(err)
		}
	}
	got, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	s := string(got)
	if strings.Count(s, "<!-- bench:targets:start -->") != 1 || strings.Index(s, "bench:targets:start") > strings.Index(s, "bench:a:start") {
		t.Fatalf("targets section missing, repeated or not first:\n%s", s)
	}
	for _, want := range []string{"| a | p99 ≤ 4 ms | c=1 | 3ms | met |", "| b | RSS ≤ 1 KiB | 19000 | 2 KiB | MISSED |"} {
		if !strings.Contains(s, want) {
			t.Errorf("summary lacks %q:\n%s", want, s)
		}
	}
	if strings.Contains(s, "| a | not |") {
		t.Errorf("a table that is not the targets was taken:\n%s", s)
	}
}

func TestOutFlag(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{nil, ""},
		{[]string{"-out", "a.md"}, "a.md"},
		{[]string{"-d", "1s", "--out=b.md"}, "b.md"},
		{[]string{"-out=c.md", "-profile", "p"}, "c.md"},
		{[]string{"-out"}, ""},
	} {
		if got := outFlag(tc.args); got != tc.want {
			t.Errorf("outFlag(%q) = %q; want %q", tc.args, got, tc.want)
		}
	}
}
