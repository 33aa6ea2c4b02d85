package testkit

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// ChildProc is a child process of this test binary running one helper
// test as a server: its stdout lines with the prefix are its reports, the
// first one saying where it listens. Closing its stdin asks it to stop.
type ChildProc struct {
	Cmd     *exec.Cmd
	Lines   chan string   // the child's further reports
	Exited  chan struct{} // closed when the child has exited
	ExitErr error         // cmd.Wait's result, set before exited closes
}

// StartChild runs the helper test under "ulimit -n nofile" when
// nofile > 0, with env added to the environment. It returns the child and
// its first report. The test's cleanup stops it (killing it after wait).
func StartChild(t *testing.T, helper, prefix string, nofile int, wait time.Duration, env ...string) (*ChildProc, string) {
	t.Helper()
	args := []string{os.Args[0], "-test.run=^" + helper + "$", "-test.count=1"}
	var cmd *exec.Cmd
	if nofile > 0 {
		script := fmt.Sprintf(`ulimit -n %d && exec "$0" "$@"`, nofile)
		cmd = exec.Command("sh", append([]string{"-c", script}, args...)...)
	} else {
		cmd = exec.Command(args[0], args[1:]...)
	}
	cmd.Env = append(os.Environ(), env...)
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	cp := &ChildProc{Cmd: cmd, Lines: make(chan string, 16), Exited: make(chan struct{})}
	first := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for n := 0; sc.Scan(); {
			line := sc.Text()
			if !strings.HasPrefix(line, prefix) {
				continue
			}
			if n++; n == 1 {
				first <- line
				continue
			}
			select {
			case cp.Lines <- line:
			default: // nobody listening: drop it
			}
		}
		cp.ExitErr = cmd.Wait()
		close(cp.Exited)
	}()
	t.Cleanup(func() {
		stdin.Close()
		select {
		case <-cp.Exited:
		case <-time.After(wait):
			cmd.Process.Kill() // the child this test started, by its own handle
			<-cp.Exited
		}
	})
	return cp, Recv(t, first, "the child server to start")
}
