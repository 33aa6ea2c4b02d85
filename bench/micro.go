package main

import (
	"bufio"
	"bytes"
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"time"
)

// microMain is `bench micro`: the Go micro-benchmarks of the hot paths
// (the codec's, the engine's, the Comet hub's publish and sessions, the
// history store's, the bench's own through exported APIs) run with `go test -bench`, their figures recorded
// in RESULTS.md.
func microMain(ctx context.Context, args, invocation []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("micro", flag.ContinueOnError)
	out := fs.String("out", "", "RESULTS.md to update (its micro section); empty prints the section")
	pkgs := fs.String("pkgs", "./httpcodec,./engine,./comet,./internal/history,./bench", "packages whose benchmarks run")
	bench := fs.String("bench", ".", "the -bench pattern")
	benchtime := fs.String("benchtime", "300ms", "the -benchtime of each benchmark")
	if err := fs.Parse(args); err != nil {
		return err
	}
	started := time.Now()
	goArgs := []string{"test", "-run", "^$", "-bench", *bench, "-benchmem", "-count", "1", "-benchtime", *benchtime}
	goArgs = append(goArgs, strings.Split(*pkgs, ",")...)
	cmd := exec.CommandContext(ctx, "go", goArgs...)
	var buf bytes.Buffer
	cmd.Stdout = io.MultiWriter(&buf, os.Stderr)
	cmd.Stderr = io.MultiWriter(&buf, os.Stderr)
	// A package that fails (other work in the tree may not build at this
	// instant) is reported in the section; the others' figures stand.
	runErr := cmd.Run()
	if ctx.Err() != nil {
		return ctx.Err()
	}
	results := parseBenchOutput(buf.Bytes())
	if runErr != nil && len(results) == 0 {
		return fmt.Errorf("bench: go %s: %w", strings.Join(goArgs, " "), runErr)
	}
	var b strings.Builder
	b.WriteString("## Micro-benchmarks\n\n")
	b.WriteString(runHeader(invocation, started, time.Since(started), DescribeMachine()))
	fmt.Fprintf(&b, "\n`go %s`, on the same shared machine (its noise applies). "+
		"Allocations are per operation; a hot path that allocates shows here first. "+
		"Per-recipient and per-delivery figures divide the time of one publish by its recipients.\n\n", strings.Join(goArgs, " "))
	if runErr != nil {
		fmt.Fprintf(&b, "**Not every package ran** (`%v`):\n\n```\n%s```\n", runErr, failures(buf.Bytes()))
	}
	pkg := ""
	for _, r := range results {
		if r.Pkg != pkg {
			pkg = r.Pkg
			fmt.Fprintf(&b, "\n**%s**\n\n| benchmark | ns/op | B/op | allocs/op | other |\n|---|---:|---:|---:|---|\n", strings.TrimPrefix(pkg, "github.com/cometplay/cometplay/"))
		}
		fmt.Fprintf(&b, "| %s | %s | %s | %s | %s |\n", r.Name, r.Metrics["ns/op"], r.Metrics["B/op"], r.Metrics["allocs/op"], r.other())
	}
	md := b.String()
	if *out == "" {
		_, err := io.WriteString(stdout, md)
		return err
	}
	if err := UpdateResultsFile(*out, "micro", []byte(md)); err != nil {
		return err
	}
	_, err := fmt.Fprintf(stdout, "%d benchmarks\nwrote %s (section micro)\n", len(results), *out)
	return err
}

// benchResult is one line of `go test -bench` output.
type benchResult struct {
	Pkg, Name string
	N         string
	Metrics   map[string]string
	Order     []string // metric units in their order
}

func (r benchResult) other() string {
	var parts []string
	for _, u := range r.Order {
		if u != "ns/op" && u != "B/op" && u != "allocs/op" {
			parts = append(parts, r.Metrics[u]+" "+u)
		}
	}
	return strings.Join(parts, ", ")
}

// parseBenchOutput reads benchmark lines ("BenchmarkX-2  N  v unit  v unit …")
// and the "pkg:" lines that precede them.
func parseBenchOutput(out []byte) []benchResult {
	var rs []benchResult
	pkg := ""
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		line := sc.Text()
		if p, ok := strings.CutPrefix(line, "pkg: "); ok {
			pkg = strings.TrimSpace(p)
			continue
		}
		f := strings.Fields(line)
		if len(f) < 4 || !strings.HasPrefix(f[0], "Benchmark") || len(f)%2 != 0 {
			continue
		}
		name := f[0]
		if i := strings.LastIndexByte(name, '-'); i > 0 {
			name = name[:i] // the GOMAXPROCS suffix
		}
		r := benchResult{Pkg: pkg, Name: strings.TrimPrefix(name, "Benchmark"), N: f[1], Metrics: map[string]string{}}
		for i := 2; i+1 < len(f); i += 2 {
			r.Metrics[f[i+1]] = f[i]
			r.Order = append(r.Order, f[i+1])
		}
		rs = append(rs, r)
	}
	return rs
}

// failures returns the lines of go test's output that report a failure.
func failures(out []byte) string {
	var b strings.Builder
	for line := range strings.SplitSeq(string(out), "\n") {
		if strings.HasPrefix(line, "FAIL") || strings.HasPrefix(line, "--- FAIL") || strings.HasPrefix(line, "# ") ||
			strings.Contains(line, "[setup failed]") || strings.Contains(line, "no such file") {
			b.WriteString(line + "\n")
		}
	}
	return b.String()
}
