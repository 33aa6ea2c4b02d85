package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime"
	"runtime/pprof"
	"runtime/trace"
	"strings"
	"sync"
	"time"
)

// A server child is controlled through its stdin and answers on its stdout,
// one line each way, after it has printed its address:
//
//	stats                → ok {"goroutines":…,"heap_inuse_bytes":…,"runtime":{…},…}
//	cpu-start PATH       → ok          (starts a CPU profile into PATH)
//	cpu-stop             → ok          (stops it and closes the file)
//	heap PATH            → ok          (GC, then writes a heap profile)
//	gc                   → ok
//	trace PATH SECONDS   → ok          (an execution trace of the next SECONDS into PATH)
//
// An answer is "ok [text]" or "err message". The end of stdin stops the
// child, as before. So the parent profiles exactly the measured window of a
// scenario, not the child's whole life (the -cpuprofile flag of serve), and
// reads the runtime's figures of any server kind, not only of those that
// serve /debug/stats.

// childStats is the answer to "stats".
type childStats struct {
	Goroutines int    `json:"goroutines"`
	HeapAlloc  uint64 `json:"heap_alloc_bytes"`
	HeapInuse  uint64 `json:"heap_inuse_bytes"`
	HeapSys    uint64 `json:"heap_sys_bytes"`
	StackInuse uint64 `json:"stack_inuse_bytes"`
	Sys        uint64 `json:"sys_bytes"`
	NumGC      uint32 `json:"num_gc"`
	// Runtime holds the collector's figures from runtime/metrics (pauses,
	// CPU, heap; see gcstats.go).
	Runtime runtimeFigures `json:"runtime"`
	// Extra holds the server kind's own figures (the hub's, for cometplay).
	Extra json.RawMessage `json:"extra,omitempty"`
}

func readChildStats(extra func() any) childStats {
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	st := childStats{
		Goroutines: runtime.NumGoroutine(),
		HeapAlloc:  ms.HeapAlloc,
		HeapInuse:  ms.HeapInuse,
		HeapSys:    ms.HeapSys,
		StackInuse: ms.StackInuse,
		Sys:        ms.Sys,
		NumGC:      ms.NumGC,
		Runtime:    readRuntimeFigures(),
	}
	if extra != nil {
		if b, err := json.Marshal(extra()); err == nil {
			st.Extra = b
		}
	}
	return st
}

// controller runs the child's side of the control protocol.
type controller struct {
	out   io.Writer
	extra func() any // the server's own figures for "stats" (nil: none)
	cpu   *os.File   // the CPU profile being written, if any
}

// serve reads commands from in until EOF and answers each on c.out.
func (c *controller) serve(in io.Reader) {
	sc := bufio.NewScanner(in)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" {
			continue
		}
		ans, err := c.do(line)
		if err != nil {
			fmt.Fprintf(c.out, "err %s\n", strings.ReplaceAll(err.Error(), "\n", " "))
			continue
		}
		fmt.Fprintf(c.out, "ok %s\n", ans)
	}
	c.stopCPU()
}

func (c *controller) do(line string) (string, error) {
	cmd, arg, _ := strings.Cut(line, " ")
	switch cmd {
	case "stats":
		b, err := json.Marshal(readChildStats(c.extra))
		return string(b), err
	case "cpu-start":
		if c.cpu != nil {
			return "", errors.New("a CPU profile is already running")
		}
		f, err := os.Create(arg)
		if err != nil {
			return "", err
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			f.Close()
			return "", err
		}
		c.cpu = f
		return "", nil
	case "cpu-stop":
		if c.cpu == nil {
			return "", errors.New("no CPU profile is running")
		}
		return "", c.stopCPU()
	case "heap":
		return "", writeHeapProfile(arg)
	case "gc":
		runtime.GC()
		return "", nil
	case "trace":
		path, secs, _ := strings.Cut(arg, " ")
		d, err := time.ParseDuration(secs + "s")
		if err != nil || d <= 0 || d > 20*time.Second {
			return "", fmt.Errorf("trace: want PATH SECONDS (at most 20), got %q", arg)
		}
		return "", writeTrace(path, d)
	}
	return "", fmt.Errorf("unknown command %q", cmd)
}

// writeTrace writes an execution trace of the next d into path.
func writeTrace(path string, d time.Duration) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := trace.Start(f); err != nil {
		f.Close()
		return err
	}
	time.Sleep(d)
	trace.Stop()
	return f.Close()
}

func (c *controller) stopCPU() error {
	if c.cpu == nil {
		return nil
	}
	pprof.StopCPUProfile()
	err := c.cpu.Close()
	c.cpu = nil
	return err
}

// controlTimeout bounds one control exchange (a heap profile of a large
// heap takes a while).
const controlTimeout = 30 * time.Second

// childControl is the parent's side: it sends a command and waits for the
// answer line, which the child's stdout reader hands over.
type childControl struct {
	mu      sync.Mutex // one exchange at a time
	answers chan string
}

// Control sends one command to the child and returns the text of its "ok"
// answer; an "err" answer is an error.
func (c *Child) Control(cmd string) (string, error) {
	c.ctl.mu.Lock()
	defer c.ctl.mu.Unlock()
	if _, err := io.WriteString(c.stdin, cmd+"\n"); err != nil {
		return "", fmt.Errorf("bench: %s server: control %q: %w", c.Spec.Kind, cmd, err)
	}
	select {
	case ans := <-c.ctl.answers:
		if rest, ok := strings.CutPrefix(ans, "ok"); ok {
			return strings.TrimSpace(rest), nil
		}
		return "", fmt.Errorf("bench: %s server: %s: %s", c.Spec.Kind, cmd, strings.TrimPrefix(ans, "err "))
	case <-c.exit:
		return "", fmt.Errorf("bench: %s server exited; its log:\n%s", c.Spec.Kind, c.log)
	case <-time.After(controlTimeout):
		return "", fmt.Errorf("bench: %s server: no answer to %q", c.Spec.Kind, cmd)
	}
}

// Stats asks the child for its runtime figures.
func (c *Child) Stats() (childStats, error) {
	var st childStats
	ans, err := c.Control("stats")
	if err != nil {
		return st, err
	}
	err = json.Unmarshal([]byte(ans), &st)
	return st, err
}
