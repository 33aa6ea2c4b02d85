package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"runtime/pprof"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Load processes. A scenario whose clients need more file descriptors than
// one process may open (20,000 here, a hard limit) splits them over several
// `bench loadchild` processes. The parent writes the child's configuration
// as one JSON line on its stdin, then commands, one per line; the child
// answers with lines "<tag> <json>" on its stdout:
//
//	parent → child: {"mode":"players",…}    the configuration (first line)
//	child → parent: progress {…}            now and then while it ramps up
//	child → parent: ready {…}               every client is set up
//	parent → child: window START END        record samples between these unix ns
//	parent → child: <scenario command>      e.g. "fanout" steps of the listeners
//	parent → child: finish                  stop, report
//	child → parent: result {…}              the counters and histograms
//
// The child exits when its stdin ends, whatever it was doing, and dies with
// the parent (Pdeathsig).

// loadCommand builds the command that runs `bench loadchild`; tests replace
// it to run the test binary, as childCommand.
var loadCommand = func() (*exec.Cmd, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, err
	}
	if n := os.Getenv("BENCH_LOAD_NICE"); n != "" {
		return exec.Command("nice", "-n", n, exe, "loadchild"), nil
	}
	return exec.Command(exe, "loadchild"), nil
}

// loadChildConfig is the first line a load child reads.
type loadChildConfig struct {
	Mode      string           `json:"mode"` // "players" or "listeners"
	Players   *playersConfig   `json:"players,omitempty"`
	Listeners *listenersConfig `json:"listeners,omitempty"`
}

// loadChildMain is `bench loadchild`.
func loadChildMain(ctx context.Context, stdin io.Reader, stdout io.Writer) error {
	in := bufio.NewReader(stdin)
	line, err := in.ReadString('\n')
	if err != nil {
		return fmt.Errorf("bench: loadchild: reading the configuration: %w", err)
	}
	if path := os.Getenv("BENCH_LOAD_CPUPROFILE"); path != "" {
		f, err := os.Create(fmt.Sprintf("%s.%d", path, os.Getpid()))
		if err == nil {
			_ = pprof.StartCPUProfile(f)
			defer func() { pprof.StopCPUProfile(); f.Close() }()
		}
	}
	var cfg loadChildConfig
	if err := json.Unmarshal([]byte(line), &cfg); err != nil {
		return fmt.Errorf("bench: loadchild: configuration: %w", err)
	}
	out := &lineWriter{w: stdout}
	cmds := make(chan string, 16)
	go func() {
		defer close(cmds)
		sc := bufio.NewScanner(in)
		for sc.Scan() {
			cmds <- strings.TrimSpace(sc.Text())
		}
	}()
	switch cfg.Mode {
	case "players":
		if cfg.Players == nil {
			return errors.New("bench: loadchild: no players configuration")
		}
		return runPlayersChild(ctx, *cfg.Players, cmds, out)
	case "listeners":
		if cfg.Listeners == nil {
			return errors.New("bench: loadchild: no listeners configuration")
		}
		return runListenersChild(ctx, *cfg.Listeners, cmds, out)
	}
	return fmt.Errorf("bench: loadchild: unknown mode %q", cfg.Mode)
}

// lineWriter writes tagged lines; safe for concurrent use.
type lineWriter struct {
	mu sync.Mutex
	w  io.Writer
}

// send writes "tag json(v)".
func (l *lineWriter) send(tag string, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		b, _ = json.Marshal(err.Error())
		tag = "error"
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	fmt.Fprintf(l.w, "%s %s\n", tag, b)
}

// loadChild is the parent's handle of a load process.
type loadChild struct {
	idx   int
	cmd   *exec.Cmd
	stdin io.WriteCloser
	lines chan childLine
	log   *tailBuffer
	exit  chan struct{}
	err   error
}

type childLine struct {
	tag  string
	data []byte
}

// startLoadChild starts a load process and sends it cfg.
func startLoadChild(idx int, cfg loadChildConfig) (*loadChild, error) {
	cmd, err := loadCommand()
	if err != nil {
		return nil, err
	}
	cmd.Env = os.Environ()
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL, Setpgid: true}
	lc := &loadChild{idx: idx, cmd: cmd, lines: make(chan childLine, 256), log: &tailBuffer{max: 8 << 10}, exit: make(chan struct{})}
	cmd.Stderr = lc.log
	if lc.stdin, err = cmd.StdinPipe(); err != nil {
		return nil, err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("bench: starting load process: %w", err)
	}
	go func() {
		lc.err = cmd.Wait()
		close(lc.exit)
	}()
	go func() {
		defer close(lc.lines)
		sc := bufio.NewScanner(stdout)
		sc.Buffer(make([]byte, 64<<10), 64<<20) // results carry histograms
		for sc.Scan() {
			tag, data, _ := strings.Cut(sc.Text(), " ")
			lc.lines <- childLine{tag, []byte(data)}
		}
		_, _ = io.Copy(io.Discard, stdout)
	}()
	b, err := json.Marshal(cfg)
	if err != nil {
		lc.kill()
		return nil, err
	}
	if err := lc.command(string(b)); err != nil {
		lc.kill()
		return nil, err
	}
	return lc, nil
}

// Pid returns the process id.
func (lc *loadChild) Pid() int { return lc.cmd.Process.Pid }

// command writes one line to the child.
func (lc *loadChild) command(line string) error {
	if _, err := io.WriteString(lc.stdin, line+"\n"); err != nil {
		return fmt.Errorf("bench: load process %d: %w; its log:\n%s", lc.idx, err, lc.log)
	}
	return nil
}

// next returns the next line of the child, failing after timeout, when the
// child exits, or on an "error" line.
func (lc *loadChild) next(ctx context.Context, timeout time.Duration) (childLine, error) {
	t := time.NewTimer(timeout)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return childLine{}, ctx.Err()
	case l, ok := <-lc.lines:
		if !ok {
			<-lc.exit
			return l, fmt.Errorf("bench: load process %d ended (%v); its log:\n%s", lc.idx, lc.err, lc.log)
		}
		if l.tag == "error" {
			var msg string
			json.Unmarshal(l.data, &msg)
			return l, fmt.Errorf("bench: load process %d: %s", lc.idx, msg)
		}
		return l, nil
	case <-t.C:
		return childLine{}, fmt.Errorf("bench: load process %d: nothing for %v; its log:\n%s", lc.idx, timeout, lc.log)
	}
}

// await returns the data of the next line tagged tag, passing the others
// to other (which may be nil).
func (lc *loadChild) await(ctx context.Context, tag string, timeout time.Duration, other func(childLine)) ([]byte, error) {
	deadline := time.Now().Add(timeout)
	for {
		l, err := lc.next(ctx, time.Until(deadline))
		if err != nil {
			return nil, err
		}
		if l.tag == tag {
			return l.data, nil
		}
		if other != nil {
			other(l)
		}
	}
}

// stop closes the child's stdin and waits for it, killing it after timeout.
func (lc *loadChild) stop(timeout time.Duration) {
	lc.stdin.Close()
	select {
	case <-lc.exit:
	case <-time.After(timeout):
		lc.kill()
	}
}

func (lc *loadChild) kill() {
	_ = lc.cmd.Process.Kill()
	<-lc.exit
}

// loadGroup is a set of load processes driven in step.
type loadGroup []*loadChild

func (g loadGroup) command(line string) error {
	for _, lc := range g {
		if err := lc.command(line); err != nil {
			return err
		}
	}
	return nil
}

// await collects each child's next line tagged tag; other, if set, sees
// the lines before it, from several goroutines at once.
func (g loadGroup) await(ctx context.Context, tag string, timeout time.Duration, other func(*loadChild, childLine)) ([][]byte, error) {
	out := make([][]byte, len(g))
	errs := make([]error, len(g))
	var wg sync.WaitGroup
	for i, lc := range g {
		wg.Go(func() {
			out[i], errs[i] = lc.await(ctx, tag, timeout, func(l childLine) {
				if other != nil {
					other(lc, l)
				}
			})
		})
	}
	wg.Wait()
	return out, errors.Join(errs...)
}

func (g loadGroup) stop() {
	var wg sync.WaitGroup
	for _, lc := range g {
		wg.Go(func() { lc.stop(10 * time.Second) })
	}
	wg.Wait()
}

// cpuTime returns the CPU time all the load processes have used.
func (g loadGroup) cpuTime() time.Duration {
	var t time.Duration
	for _, lc := range g {
		if d, err := procCPUTime(lc.Pid()); err == nil {
			t += d
		}
	}
	return t
}
