package main

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"time"
)

// RESULTS.md is shared by the bench's commands: each owns one section
// between the markers
//
//	<!-- bench:NAME:start -->
//	...
//	<!-- bench:NAME:end -->
//
// and rewriting a section leaves the rest of the file as it is. A section
// not yet in the file is appended to it.

// resultsPreamble starts a new RESULTS.md.
const resultsPreamble = `# cometplay benchmark results

Everything below is written by ` + "`go run ./bench`" + ` (` + "`make bench`" + ` runs every scenario);
do not edit it by hand: each section is replaced when its command runs again,
and the text between sections is kept.
`

// ErrBadMarkers is returned for a RESULTS.md whose markers of a section are
// missing, repeated or out of order.
var ErrBadMarkers = errors.New("bench: malformed section markers")

func sectionMarkers(name string) (start, end string) {
	return "<!-- bench:" + name + ":start -->", "<!-- bench:" + name + ":end -->"
}

// validSectionName reports whether name can be used in a marker.
func validSectionName(name string) bool {
	if name == "" {
		return false
	}
	for _, c := range name {
		if !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

// ReplaceSection returns doc with the body of section name replaced by body
// (markers included in the result), or with the section appended when doc
// has none. An empty doc gets the preamble first.
func ReplaceSection(doc []byte, name string, body []byte) ([]byte, error) {
	if !validSectionName(name) {
		return nil, fmt.Errorf("bench: invalid section name %q", name)
	}
	start, end := sectionMarkers(name)
	var sec bytes.Buffer
	sec.WriteString(start + "\n")
	sec.Write(bytes.TrimSpace(body))
	sec.WriteString("\n" + end)

	si, ei := bytes.Index(doc, []byte(start)), bytes.Index(doc, []byte(end))
	switch {
	case si < 0 && ei < 0:
		var out bytes.Buffer
		if len(bytes.TrimSpace(doc)) == 0 {
			out.WriteString(resultsPreamble)
		} else {
			out.Write(bytes.TrimRight(doc, "\n"))
			out.WriteString("\n")
		}
		out.WriteString("\n")
		out.Write(sec.Bytes())
		out.WriteString("\n")
		return out.Bytes(), nil
	case si < 0 || ei < 0 || ei < si:
		return nil, fmt.Errorf("%w: section %q", ErrBadMarkers, name)
	case bytes.Count(doc, []byte(start)) > 1 || bytes.Count(doc, []byte(end)) > 1:
		return nil, fmt.Errorf("%w: section %q appears twice", ErrBadMarkers, name)
	}
	var out bytes.Buffer
	out.Write(doc[:si])
	out.Write(sec.Bytes())
	out.Write(doc[ei+len(end):])
	return out.Bytes(), nil
}

// UpdateResultsFile rewrites section name of the file at path (creating the
// file if needed). The file is replaced atomically.
func UpdateResultsFile(path, name string, body []byte) error {
	doc, err := os.ReadFile(path)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	out, err := ReplaceSection(doc, name, body)
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	return writeFileAtomic(path, out)
}

// writeFileAtomic writes data to a temporary file next to path and renames
// it over path.
func writeFileAtomic(path string, data []byte) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return err
	}
	_, werr := f.Write(data)
	cerr := f.Close()
	if err := errors.Join(werr, cerr, os.Chmod(f.Name(), 0o644)); err != nil {
		os.Remove(f.Name())
		return err
	}
	if err := os.Rename(f.Name(), path); err != nil {
		os.Remove(f.Name())
		return err
	}
	return nil
}

// Machine describes where a benchmark ran.
type Machine struct {
	CPU       string // model name from /proc/cpuinfo
	Cores     int    // logical CPUs
	GoVersion string
	Kernel    string
	OS, Arch  string
	Commit    string // git describe of the work tree, "" outside git
}

// DescribeMachine collects a Machine; fields it cannot read are "unknown".
func DescribeMachine() Machine {
	m := Machine{
		CPU:       "unknown",
		Cores:     runtime.NumCPU(),
		GoVersion: runtime.Version(),
		Kernel:    "unknown",
		OS:        runtime.GOOS,
		Arch:      runtime.GOARCH,
	}
	if f, err := os.Open("/proc/cpuinfo"); err == nil {
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			k, v, ok := strings.Cut(sc.Text(), ":")
			if ok && strings.TrimSpace(k) == "model name" {
				m.CPU = strings.TrimSpace(v)
				break
			}
		}
		f.Close()
	}
	if b, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		m.Kernel = strings.TrimSpace(string(b))
	}
	if out, err := exec.Command("git", "describe", "--always", "--dirty").Output(); err == nil {
		m.Commit = strings.TrimSpace(string(out))
	}
	return m
}

// Markdown formats m as a list.
func (m Machine) Markdown() string {
	var b strings.Builder
	fmt.Fprintf(&b, "- CPU: %s, %d logical cores (%s/%s)\n", m.CPU, m.Cores, m.OS, m.Arch)
	fmt.Fprintf(&b, "- Go: %s; kernel: %s\n", m.GoVersion, m.Kernel)
	if m.Commit != "" {
		fmt.Fprintf(&b, "- Source: `%s`\n", m.Commit)
	}
	return b.String()
}

// commandLine returns the command that produced this run, as a user would
// type it (the binary of `go run` is a temporary file).
func commandLine(args []string) string {
	parts := []string{"go", "run", "./bench"}
	for _, a := range args {
		parts = append(parts, shellQuote(a))
	}
	return strings.Join(parts, " ")
}

func shellQuote(s string) string {
	if s != "" && strings.IndexFunc(s, func(r rune) bool {
		return !(r == '-' || r == '_' || r == '.' || r == '/' || r == ',' || r == '=' || r == ':' ||
			'a' <= r && r <= 'z' || 'A' <= r && r <= 'Z' || '0' <= r && r <= '9')
	}) < 0 {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// runHeader is the first lines of every section: date, command, machine.
func runHeader(args []string, started time.Time, took time.Duration, m Machine) string {
	var b strings.Builder
	fmt.Fprintf(&b, "- Date: %s (took %v)\n", started.UTC().Format("2006-01-02 15:04 MST"), took.Round(time.Second))
	fmt.Fprintf(&b, "- Command: `%s`\n", commandLine(args))
	b.WriteString(m.Markdown())
	return b.String()
}

// writeTargetsSummary gathers the "### Targets" tables of every section of
// the results file into a section "targets", placed first.
func writeTargetsSummary(path string, invocation []string) error {
	doc, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	var b strings.Builder
	b.WriteString("## Targets at a glance\n\n")
	fmt.Fprintf(&b, "Every target of the sections below, as they state it (written by `%s` on %s; each section has its own date, command and noise figures).\n\n",
		commandLine(invocation), time.Now().UTC().Format("2006-01-02 15:04 MST"))
	b.WriteString("| section | target | configuration | measured | status | by how much, context |\n|---|---|---|---:|---|---|\n")
	section := ""
	inTargets := false
	for line := range strings.SplitSeq(string(doc), "\n") {
		switch {
		case strings.HasPrefix(line, "<!-- bench:") && strings.HasSuffix(line, ":start -->"):
			section = strings.TrimSuffix(strings.TrimPrefix(line, "<!-- bench:"), ":start -->")
			inTargets = false
		case strings.HasPrefix(line, "### "):
			inTargets = strings.HasPrefix(line, "### Targets")
		case inTargets && strings.HasPrefix(line, "| ") && !strings.HasPrefix(line, "| target |") && section != "targets":
			b.WriteString("| " + section + " " + line + "\n")
		}
	}
	start, _ := sectionMarkers("targets")
	if !strings.Contains(string(doc), start) {
		// First time: before the first section, after the preamble.
		if i := strings.Index(string(doc), "<!-- bench:"); i >= 0 {
			doc = []byte(string(doc[:i]) + start + "\n" + "<!-- bench:targets:end -->\n\n" + string(doc[i:]))
		}
	}
	out, err := ReplaceSection(doc, "targets", []byte(b.String()))
	if err != nil {
		return err
	}
	return writeFileAtomic(path, out)
}
