package main

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// Profiles. The scenarios' -profile DIR collects CPU profiles of the server
// over their measured windows and heap profiles at their ends, through the
// child's control commands (cpu-start, cpu-stop, heap). The raw profiles
// (NAME-cpu.pprof, NAME-heap.pprof) are binary and change with every run,
// so they stay out of git (bench/.gitignore); next to each the bench writes
// what `go tool pprof -top` makes of it (NAME-cpu.txt, NAME-heap.txt),
// which is committed, and RESULTS.md quotes the top of it.

// pprofRow is one line of `go tool pprof -top`.
type pprofRow struct {
	Flat, FlatPct, Cum, CumPct, Name string
}

// pprofTop runs `go tool pprof -top` on a profile, writes its output to
// txt, and returns the rows.
func pprofTop(profile, txt string, extra ...string) ([]pprofRow, error) {
	args := append([]string{"tool", "pprof", "-top", "-nodecount=60"}, extra...)
	args = append(args, profile)
	out, err := exec.Command("go", args...).Output()
	if err != nil {
		return nil, fmt.Errorf("go tool pprof %s: %w", filepath.Base(profile), err)
	}
	if err := writeFileAtomic(txt, out); err != nil {
		return nil, err
	}
	return parsePprofTop(out), nil
}

// parsePprofTop reads the table of `go tool pprof -top`.
func parsePprofTop(out []byte) []pprofRow {
	var rows []pprofRow
	table := false
	for line := range bytes.SplitSeq(out, []byte("\n")) {
		f := strings.Fields(string(line))
		if len(f) >= 5 && f[0] == "flat" && f[1] == "flat%" {
			table = true
			continue
		}
		if !table || len(f) < 6 || !strings.HasSuffix(f[1], "%") || !strings.HasSuffix(f[4], "%") {
			continue
		}
		rows = append(rows, pprofRow{Flat: f[0], FlatPct: f[1], Cum: f[3], CumPct: f[4], Name: strings.Join(f[5:], " ")})
	}
	return rows
}

// shortFunc trims a function name for a table: the module path and long
// generic instantiations go.
func shortFunc(name string) string {
	name = strings.ReplaceAll(name, "github.com/cometplay/cometplay/", "")
	name = strings.ReplaceAll(name, "github.com/panjf2000/gnet/v2", "gnet")
	if i := strings.Index(name, "[go.shape"); i >= 0 {
		name = name[:i] + "[…]"
	}
	if len(name) > 90 {
		name = name[:87] + "…"
	}
	return strings.ReplaceAll(name, "|", `\|`)
}

// ours reports whether a function is cometplay's (not the runtime's or a
// library's).
func ours(name string) bool { return strings.Contains(name, "cometplay/cometplay/") }

// profileSection summarizes a CPU and a heap profile for RESULTS.md: the
// top functions by their own time, cometplay's functions by cumulative
// time, and the heap in use. The full listings are written next to the
// profiles.
func profileSection(title, cpu, heap string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "### Profile: %s\n\n", title)
	if cpu != "" {
		txt := strings.TrimSuffix(cpu, ".pprof") + ".txt"
		rows, err := pprofTop(cpu, txt)
		if err != nil {
			fmt.Fprintf(&b, "CPU profile %s: %v\n\n", filepath.Base(cpu), err)
		} else {
			fmt.Fprintf(&b, "CPU (`%s`, full listing `%s`): the top by own time, and cometplay's functions by cumulative time.\n\n", relProfile(cpu), relProfile(txt))
			b.WriteString("| own time | % | function | | cumulative | % | cometplay function |\n|---:|---:|---|---|---:|---:|---|\n")
			var mine []pprofRow
			cumRows, _ := pprofTop(cpu, strings.TrimSuffix(cpu, ".pprof")+"-cum.txt", "-cum")
			for _, r := range cumRows {
				if ours(r.Name) {
					mine = append(mine, r)
				}
			}
			for i := range 12 {
				var l, m pprofRow
				if i < len(rows) {
					l = rows[i]
				}
				if i < len(mine) {
					m = mine[i]
				}
				if l.Name == "" && m.Name == "" {
					break
				}
				fmt.Fprintf(&b, "| %s | %s | %s | | %s | %s | %s |\n", l.Flat, l.FlatPct, shortFunc(l.Name), m.Cum, m.CumPct, shortFunc(m.Name))
			}
			b.WriteString("\n")
		}
	}
	if heap != "" {
		txt := strings.TrimSuffix(heap, ".pprof") + ".txt"
		rows, err := pprofTop(heap, txt, "-sample_index=inuse_space")
		if err != nil {
			fmt.Fprintf(&b, "Heap profile %s: %v\n\n", filepath.Base(heap), err)
		} else {
			fmt.Fprintf(&b, "Heap in use (`%s`, full listing `%s`), by allocation site:\n\n", relProfile(heap), relProfile(txt))
			b.WriteString("| in use | % | allocated by |\n|---:|---:|---|\n")
			for i, r := range rows {
				if i == 8 {
					break
				}
				fmt.Fprintf(&b, "| %s | %s | %s |\n", r.Flat, r.FlatPct, shortFunc(r.Name))
			}
			b.WriteString("\n")
		}
	}
	return b.String()
}

// relProfile names a profile file relative to the working directory when
// it lies below it (bench/profiles/…), else by its base name.
func relProfile(path string) string {
	wd, err := os.Getwd()
	if err == nil {
		if rel, err := filepath.Rel(wd, path); err == nil && !strings.HasPrefix(rel, "..") {
			return filepath.ToSlash(rel)
		}
	}
	return filepath.Base(path)
}
