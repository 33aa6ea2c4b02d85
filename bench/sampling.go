package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"time"
)

// cpuMark is the CPU time used so far by the server, the load processes
// (this one included) and the whole machine.
type cpuMark struct {
	at                  time.Time
	server, load, total time.Duration
	serverWait          time.Duration // the server's threads' time ready to run, waiting for a CPU
}

func markCPU(c *Child, g loadGroup) cpuMark {
	m := cpuMark{at: time.Now()}
	m.server, _ = c.CPUTime()
	m.serverWait, _ = procRunqueueWait(c.Pid())
	m.load = g.cpuTime()
	if self, err := procCPUTime(os.Getpid()); err == nil {
		m.load += self
	}
	m.total, _ = machineBusy()
	return m
}

// cpuUse is the CPU used between two marks, in cores (CPU seconds per
// second of wall time).
type cpuUse struct {
	Wall                     time.Duration
	Server, Load, OtherCores float64
	ServerCPU                time.Duration
	// ServerWait is the time the server's threads spent ready to run but
	// waiting for a CPU (the kernel's run queue), per second of wall time:
	// time a request spent outside the process, however fast its code.
	ServerWait float64
}

func cpuBetween(a, b cpuMark) cpuUse {
	wall := b.at.Sub(a.at)
	if wall <= 0 {
		return cpuUse{}
	}
	srv, load := b.server-a.server, b.load-a.load
	other := (b.total - a.total) - srv - load
	return cpuUse{
		Wall:       wall,
		ServerCPU:  srv,
		Server:     srv.Seconds() / wall.Seconds(),
		Load:       load.Seconds() / wall.Seconds(),
		OtherCores: max(0, other.Seconds()/wall.Seconds()),
		ServerWait: max(0, (b.serverWait-a.serverWait).Seconds()/wall.Seconds()),
	}
}

// serverSample is the server's state at one moment.
type serverSample struct {
	At         time.Time `json:"at"`
	RSS        int64     `json:"rss"`
	Goroutines int       `json:"goroutines"`
	HeapInuse  uint64    `json:"heap_inuse"`
	CPU        time.Duration
}

func sampleServer(c *Child) (serverSample, error) {
	s := serverSample{At: time.Now()}
	var err error
	if s.RSS, err = c.RSS(); err != nil {
		return s, err
	}
	if s.CPU, err = c.CPUTime(); err != nil {
		return s, err
	}
	st, err := c.Stats()
	if err != nil {
		return s, err
	}
	s.Goroutines, s.HeapInuse = st.Goroutines, st.HeapInuse
	return s, nil
}

// sampler samples the server every period until stopped.
type sampler struct {
	mu      sync.Mutex
	samples []serverSample
	errs    int
	stopc   chan struct{}
	done    chan struct{}
}

func startSampler(c *Child, period time.Duration) *sampler {
	s := &sampler{stopc: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(s.done)
		t := time.NewTicker(period)
		defer t.Stop()
		for {
			smp, err := sampleServer(c)
			s.mu.Lock()
			if err != nil {
				s.errs++
			} else {
				s.samples = append(s.samples, smp)
			}
			s.mu.Unlock()
			select {
			case <-t.C:
			case <-s.stopc:
				return
			}
		}
	}()
	return s
}

func (s *sampler) stop() []serverSample {
	close(s.stopc)
	<-s.done
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.samples
}

// sampleSummary condenses samples: the largest RSS and heap, the range of
// the goroutine count.
type sampleSummary struct {
	MaxRSS                 int64
	MaxHeap                uint64
	MinGoroutines, MaxGoro int
	N                      int
}

func summarize(ss []serverSample) sampleSummary {
	var s sampleSummary
	for i, x := range ss {
		s.MaxRSS = max(s.MaxRSS, x.RSS)
		s.MaxHeap = max(s.MaxHeap, x.HeapInuse)
		if i == 0 || x.Goroutines < s.MinGoroutines {
			s.MinGoroutines = x.Goroutines
		}
		s.MaxGoro = max(s.MaxGoro, x.Goroutines)
	}
	s.N = len(ss)
	return s
}

// debugStats fetches /debug/stats of an engine server (the games kind).
func debugStats(addr string) (map[string]any, error) {
	hc := &http.Client{Timeout: 10 * time.Second}
	resp, err := hc.Get("http://" + addr + "/debug/stats")
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != 200 {
		return nil, fmt.Errorf("bench: /debug/stats: HTTP %d", resp.StatusCode)
	}
	var m map[string]any
	return m, json.Unmarshal(b, &m)
}

// profiler collects a CPU profile of the server over a window and a heap
// profile at its end, into dir as NAME-cpu.pprof and NAME-heap.pprof.
type profiler struct {
	c         *Child
	dir, name string
	on        bool
}

func startProfile(c *Child, dir, name string) (*profiler, error) {
	if dir == "" {
		return &profiler{}, nil
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, err
	}
	p := &profiler{c: c, dir: abs, name: name}
	if _, err := c.Control("cpu-start " + p.path("cpu")); err != nil {
		return nil, err
	}
	p.on = true
	return p, nil
}

func (p *profiler) path(what string) string {
	return filepath.Join(p.dir, p.name+"-"+what+".pprof")
}

// stop ends the CPU profile and writes the heap profile; it returns the
// two files.
func (p *profiler) stop() (cpu, heap string, err error) {
	if !p.on {
		return "", "", nil
	}
	p.on = false
	if _, err := p.c.Control("cpu-stop"); err != nil {
		return "", "", err
	}
	if _, err := p.c.Control("heap " + p.path("heap")); err != nil {
		return p.path("cpu"), "", err
	}
	return p.path("cpu"), p.path("heap"), nil
}

// traceWindow writes an execution trace of the server for 5 s from the
// middle of the window [start, end) into dir as NAME-trace.out.
func traceWindow(ctx context.Context, c *Child, dir, name string, start, end time.Time) error {
	const d = 5 * time.Second
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return err
	}
	mid := start.Add(end.Sub(start) / 2).Add(-d / 2)
	if err := sleepCtx(ctx, time.Until(mid)); err != nil {
		return err
	}
	_, err = c.Control(fmt.Sprintf("trace %s %d", filepath.Join(abs, name+"-trace.out"), int(d/time.Second)))
	return err
}
