package engine

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cometplay/cometplay/internal/testkit"
)

// The connection-cap tests run the server in a child process with a low
// open-file limit: this test binary re-executed under "ulimit -n", running
// only TestHTTPCapServerHelper, which serves until its stdin closes.

const (
	capEnv      = "ENGINE_HTTP_CAPSERVER"          // "1": be the server
	uncappedEnv = "ENGINE_HTTP_CAPSERVER_UNCAPPED" // "1": MaxConns forced above the limit
	capNoFile   = 512
)

// TestHTTPCapServerHelper is the child's server, not a test of its own.
func TestHTTPCapServerHelper(t *testing.T) {
	if os.Getenv(capEnv) != "1" {
		t.Skip("helper process for TestHTTPCapStorm")
	}
	s, err := New(Config{Addr: "127.0.0.1:0", Loops: 2, Logger: testkit.Logger(), MaxConnsPerAddr: -1})
	if err != nil {
		fmt.Printf("CAPSERVER error=%v\n", err)
		os.Exit(2)
	}
	s.Handle("GET", "/x", hText("x"))
	if os.Getenv(uncappedEnv) == "1" {
		// The unexported knob: what the server would do without the cap
		// New derives from RLIMIT_NOFILE.
		s.maxConns = 1 << 30
	}
	if err := s.Start(); err != nil {
		fmt.Printf("CAPSERVER error=%v\n", err)
		os.Exit(2)
	}
	fmt.Printf("CAPSERVER addr=%s max=%d\n", s.Addr(), s.MaxConns())
	died := make(chan error, 1)
	go func() { died <- s.Wait() }()
	stdin := make(chan struct{})
	go func() {
		io.Copy(io.Discard, os.Stdin)
		close(stdin)
	}()
	select {
	case err := <-died:
		fmt.Printf("CAPSERVER died err=%v\n", err)
		os.Exit(3)
	case <-stdin:
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		s.Shutdown(ctx)
		os.Exit(0)
	}
}

// capChild is a running child server.
type capChild struct {
	*testkit.ChildProc
	addr string
	max  int
}

func startCapChild(t *testing.T, uncapped bool) *capChild {
	t.Helper()
	env := []string{capEnv + "=1"}
	if uncapped {
		env = append(env, uncappedEnv+"=1")
	}
	cp, line := testkit.StartChild(t, "TestHTTPCapServerHelper", "CAPSERVER ", capNoFile, 5*time.Second, env...)
	ch := &capChild{ChildProc: cp}
	if _, err := fmt.Sscanf(line, "CAPSERVER addr=%s max=%d", &ch.addr, &ch.max); err != nil {
		t.Fatalf("child said %q: %v", line, err)
	}
	return ch
}

// storm opens n connections to addr and sends a GET on each. It returns them
// with, for each, the status answered (0: closed or reset without one). A
// failing dial fails the test unless dialErrOK, when the storm stops there.
func storm(t *testing.T, addr string, n int, dialErrOK bool) ([]*testkit.Conn, []int) {
	t.Helper()
	var conns []*testkit.Conn
	for i := range n {
		c, err := net.DialTimeout("tcp", addr, testkit.Timeout)
		if err != nil {
			if dialErrOK {
				t.Logf("dial %d: %v", i, err)
				break
			}
			t.Fatalf("dial %d: %v", i, err)
		}
		conns = append(conns, &testkit.Conn{T: t, C: c, BR: bufio.NewReaderSize(c, 512)})
	}
	n = len(conns)
	statuses := make([]int, n)
	var wg sync.WaitGroup
	for w := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < n; i += 8 {
				c := conns[i]
				if _, err := io.WriteString(c.C, testkit.Req("GET", "/x")); err != nil {
					continue // refused and already reset
				}
				if r, err := c.TryNext("GET"); err == nil {
					statuses[i] = r.StatusCode
				}
			}
		}()
	}
	wg.Wait()
	return conns, statuses
}

// TestHTTPCapStorm: with an open-file limit of 512, a storm of 3×512
// connections leaves the server serving: connections up to the cap are
// served, the others are answered 503 and closed, and once the storm is over
// new connections are served again. Without the cap (forced above the
// limit) the same storm makes accept fail with EMFILE, which stops gnet's
// whole engine: that is why the cap exists.
func TestHTTPCapStorm(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a child process")
	}
	t.Run("capped", func(t *testing.T) {
		ch := startCapChild(t, false)
		if ch.max >= capNoFile || ch.max < capNoFile/2 {
			t.Fatalf("MaxConns %d with an open-file limit of %d", ch.max, capNoFile)
		}
		conns, statuses := storm(t, ch.addr, 3*capNoFile, false)
		count := map[int]int{}
		for _, st := range statuses {
			count[st]++
		}
		t.Logf("cap %d; storm of %d: statuses %v", ch.max, len(conns), count)
		if count[200] == 0 || count[200] > ch.max {
			t.Errorf("%d connections served; want 1..%d", count[200], ch.max)
		}
		if count[200]+count[503]+count[0] != len(conns) {
			t.Errorf("unexpected statuses %v", count)
		}
		if count[503] == 0 {
			t.Errorf("no connection was answered 503")
		}
		// Still serving during the storm: a second request on an accepted
		// connection, and 503 for a new one (the cap is full).
		for i, st := range statuses {
			if st == 200 {
				if r := conns[i].Get("/x"); r.Text != "x" {
					t.Errorf("second request on a storm connection: %d %q", r.StatusCode, r.Text)
				}
				break
			}
		}
		c := testkit.Dial(t, ch.addr)
		c.Send(testkit.Req("GET", "/x"))
		if r, err := c.TryNext("GET"); err == nil && r.StatusCode != 503 {
			t.Errorf("new connection at the cap: %d", r.StatusCode)
		}
		select {
		case line := <-ch.Lines:
			t.Fatalf("child: %s", line)
		case <-ch.Exited:
			t.Fatalf("child exited during the storm: %v", ch.ExitErr)
		default:
		}
		for _, c := range conns {
			c.C.Close()
		}
		// After the storm: served again, once the server has seen the closes.
		testkit.Eventually(t, "a new connection to be served after the storm", func() bool {
			nc, err := net.DialTimeout("tcp", ch.addr, testkit.Timeout)
			if err != nil {
				return false
			}
			defer nc.Close()
			hc := &testkit.Conn{T: t, C: nc, BR: bufio.NewReader(nc)}
			io.WriteString(nc, testkit.Req("GET", "/debug/stats"))
			r, err := hc.TryNext("GET")
			if err != nil || r.StatusCode != 200 {
				return false
			}
			if !strings.Contains(r.Text, `"refused_at_cap": `) || strings.Contains(r.Text, `"refused_at_cap": 0,`) {
				t.Errorf("stats do not count refusals: %s", r.Text)
			}
			return true
		})
	})
	t.Run("uncapped dies", func(t *testing.T) {
		ch := startCapChild(t, true)
		conns, _ := storm(t, ch.addr, 3*capNoFile, true)
		defer func() {
			for _, c := range conns {
				c.C.Close()
			}
		}()
		select {
		case <-ch.Exited:
		case <-time.After(testkit.Timeout):
			t.Fatal("the uncapped server survived a storm past its open-file limit: the cap test above proves nothing")
		}
		select {
		case line := <-ch.Lines: // sent before the child's exit was seen
			if !strings.Contains(line, "died") || strings.Contains(line, "err=<nil>") {
				t.Fatalf("child: %s (Wait must report an engine that stopped by itself)", line)
			}
			t.Logf("as expected without the cap: %s", line)
		default:
			t.Fatalf("child exited (%v) without reporting its engine's death", ch.ExitErr)
		}
	})
}
