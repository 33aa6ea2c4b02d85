package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// ServerSpec describes a server child process.
type ServerSpec struct {
	Kind string
	// Procs is the child's GOMAXPROCS (0: inherit).
	Procs int
	// Args are extra flags of `bench serve` (for example -cpuprofile).
	Args []string
	// Env are extra environment variables ("GOGC=200").
	Env []string
}

// childCommand builds the command that runs `bench serve` with args. It
// re-executes the running binary; tests replace it to run the test binary,
// whose TestMain dispatches to serveMain.
var childCommand = func(args []string) (*exec.Cmd, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, err
	}
	return exec.Command(exe, append([]string{"serve"}, args...)...), nil
}

// Child is a running server child process.
type Child struct {
	Spec  ServerSpec
	Addr  string
	cmd   *exec.Cmd
	stdin io.WriteCloser
	log   *tailBuffer
	exit  chan struct{} // closed when the process has exited
	err   error         // Wait's result, set before exit closes
	ctl   childControl
}

// startTimeout bounds the time a child takes to print its address: a
// liveness bound. A cluster node first starts its embedded NATS server,
// which may take up to a minute on a busy machine (cluster's
// natsReadyWait); at 15 s a node of TestClusterSweepCommand was killed
// once in make test.
const startTimeout = 90 * time.Second

// StartChild starts `bench serve -kind spec.Kind -addr 127.0.0.1:0` as a child
// process and waits for it to print its address. The child exits when its
// stdin closes (Stop, or this process dying) or after its -maxlife.
func StartChild(spec ServerSpec) (*Child, error) {
	args := append([]string{"-kind", spec.Kind, "-addr", "127.0.0.1:0", "-maxlife", "30m"}, spec.Args...)
	cmd, err := childCommand(args)
	if err != nil {
		return nil, err
	}
	cmd.Env = os.Environ()
	if spec.Procs > 0 {
		cmd.Env = append(cmd.Env, "GOMAXPROCS="+strconv.Itoa(spec.Procs))
	}
	cmd.Env = append(cmd.Env, spec.Env...)
	// The kernel kills the child if this process dies without closing stdin.
	// Its own process group keeps a terminal's Ctrl-C for this process,
	// which then stops the child in order.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL, Setpgid: true}
	c := &Child{Spec: spec, cmd: cmd, log: &tailBuffer{max: 8 << 10}, exit: make(chan struct{})}
	c.ctl.answers = make(chan string, 1)
	cmd.Stderr = c.log
	if c.stdin, err = cmd.StdinPipe(); err != nil {
		return nil, err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("bench: starting %s server: %w", spec.Kind, err)
	}
	go func() {
		c.err = cmd.Wait()
		close(c.exit)
	}()
	addrc := make(chan string, 1)
	go func() {
		// The address is the first line that is one; a library may print
		// banners to stdout before it.
		sc := bufio.NewScanner(stdout)
		addr := ""
		for addr == "" && sc.Scan() {
			line := strings.TrimSpace(sc.Text())
			if _, _, err := net.SplitHostPort(line); err == nil && !strings.ContainsAny(line, " \t") {
				addr = line
			} else {
				fmt.Fprintln(c.log, "stdout:", line)
			}
		}
		addrc <- addr
		// Then the answers to control commands (see Control).
		for sc.Scan() {
			line := sc.Text()
			if strings.HasPrefix(line, "ok") || strings.HasPrefix(line, "err ") {
				select {
				case c.ctl.answers <- line:
				default:
					fmt.Fprintln(c.log, "unexpected answer:", line)
				}
			} else {
				fmt.Fprintln(c.log, "stdout:", line)
			}
		}
		_, _ = io.Copy(io.Discard, stdout)
	}()
	select {
	case addr := <-addrc:
		if addr != "" {
			c.Addr = addr
			return c, nil
		}
		<-c.exit
	case <-time.After(startTimeout):
	}
	c.kill()
	return nil, fmt.Errorf("bench: %s server did not start (%v); its log:\n%s", spec.Kind, c.err, c.log)
}

// Pid returns the child's process id.
func (c *Child) Pid() int { return c.cmd.Process.Pid }

// Stop asks the child to shut down (it closes its stdin) and waits for it to
// exit, killing it if ctx ends first.
func (c *Child) Stop(ctx context.Context) error {
	c.stdin.Close()
	select {
	case <-c.exit:
	case <-ctx.Done():
		c.kill()
		return fmt.Errorf("bench: %s server (pid %d) did not stop in time; killed", c.Spec.Kind, c.Pid())
	}
	if c.err != nil {
		return fmt.Errorf("bench: %s server: %w; its log:\n%s", c.Spec.Kind, c.err, c.log)
	}
	return nil
}

// exited reports whether the child's process has ended.
func (c *Child) exited() bool {
	select {
	case <-c.exit:
		return true
	default:
		return false
	}
}

// kill ends the child (by its pid) and waits for it.
func (c *Child) kill() {
	_ = c.cmd.Process.Kill()
	<-c.exit
}

// CPUTime returns the user and system CPU time the child has used so far,
// from /proc/<pid>/stat.
func (c *Child) CPUTime() (time.Duration, error) { return procCPUTime(c.Pid()) }

// RSS returns the child's resident set size.
func (c *Child) RSS() (int64, error) { return procRSS(c.Pid()) }

// procRSS returns the resident set size of process pid, from the VmRSS line
// of /proc/<pid>/status.
func procRSS(pid int) (int64, error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return 0, err
	}
	for line := range strings.SplitSeq(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			f := strings.Fields(v)
			if len(f) != 2 || f[1] != "kB" {
				break
			}
			n, err := strconv.ParseInt(f[0], 10, 64)
			return n << 10, err
		}
	}
	return 0, errors.New("bench: no VmRSS in /proc status")
}

// procOpenFiles counts the files process pid has open (/proc/<pid>/fd).
func procOpenFiles(pid int) (int, error) {
	ents, err := os.ReadDir("/proc/" + strconv.Itoa(pid) + "/fd")
	return len(ents), err
}

// procFileLimit returns the soft open-file limit of process pid, from the
// "Max open files" line of /proc/<pid>/limits.
func procFileLimit(pid int) (int, error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/limits")
	if err != nil {
		return 0, err
	}
	for line := range strings.SplitSeq(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "Max open files"); ok {
			if f := strings.Fields(v); len(f) > 0 {
				if f[0] == "unlimited" {
					return math.MaxInt, nil
				}
				return strconv.Atoi(f[0])
			}
		}
	}
	return 0, errors.New("bench: no open-file limit in /proc limits")
}

// clockTick is USER_HZ, the unit of /proc/<pid>/stat times: 100 on every
// Linux architecture Go supports (the kernel ABI fixes it for user space).
const clockTick = 100

// procCPUTime returns utime+stime of process pid.
func procCPUTime(pid int) (time.Duration, error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0, err
	}
	// The command name (field 2) is in parentheses and may hold spaces:
	// count fields after the last ')'. utime and stime are fields 14, 15.
	k := bytes.LastIndexByte(b, ')')
	if k < 0 {
		return 0, errors.New("bench: unexpected /proc stat format")
	}
	f := strings.Fields(string(b[k+1:]))
	if len(f) < 13 {
		return 0, errors.New("bench: unexpected /proc stat format")
	}
	ut, err1 := strconv.ParseInt(f[11], 10, 64)
	st, err2 := strconv.ParseInt(f[12], 10, 64)
	if err := errors.Join(err1, err2); err != nil {
		return 0, err
	}
	return time.Duration(ut+st) * time.Second / clockTick, nil
}

// procRunqueueWait returns the time the threads of process pid have spent
// runnable but waiting for a CPU, the second field of each thread's
// /proc/<pid>/task/<tid>/schedstat (0 where the kernel keeps no
// schedstats). Threads that exited no longer count: a Go process keeps its
// threads.
func procRunqueueWait(pid int) (time.Duration, error) {
	dir := "/proc/" + strconv.Itoa(pid) + "/task"
	tasks, err := os.ReadDir(dir)
	if err != nil {
		return 0, err
	}
	var ns int64
	for _, t := range tasks {
		b, err := os.ReadFile(dir + "/" + t.Name() + "/schedstat")
		if err != nil {
			continue // exited meanwhile
		}
		if f := strings.Fields(string(b)); len(f) >= 2 {
			if n, err := strconv.ParseInt(f[1], 10, 64); err == nil {
				ns += n
			}
		}
	}
	return time.Duration(ns), nil
}

// machineBusy returns the CPU time all processes of the machine have used
// (user, nice, system, irq, softirq) plus the time the hypervisor stole, from
// the first line of /proc/stat.
func machineBusy() (time.Duration, error) {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0, err
	}
	line, _, _ := bytes.Cut(b, []byte("\n"))
	f := strings.Fields(string(line))
	if len(f) < 9 || f[0] != "cpu" {
		return 0, errors.New("bench: unexpected /proc/stat format")
	}
	var ticks int64
	for _, i := range []int{1, 2, 3, 6, 7, 8} { // user nice system irq softirq steal
		n, err := strconv.ParseInt(f[i], 10, 64)
		if err != nil {
			return 0, err
		}
		ticks += n
	}
	return time.Duration(ticks) * time.Second / clockTick, nil
}

// loadAverage returns the first three fields of /proc/loadavg, or "unknown".
func loadAverage() string {
	b, err := os.ReadFile("/proc/loadavg")
	if f := strings.Fields(string(b)); err == nil && len(f) >= 3 {
		return strings.Join(f[:3], " ")
	}
	return "unknown"
}

// tailBuffer keeps the last max bytes written to it. Safe for concurrent use.
type tailBuffer struct {
	mu  sync.Mutex
	max int
	b   []byte
}

func (t *tailBuffer) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.b = append(t.b, p...)
	if over := len(t.b) - t.max; over > 0 {
		t.b = append(t.b[:0], t.b[over:]...)
	}
	return len(p), nil
}

func (t *tailBuffer) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return string(t.b)
}
