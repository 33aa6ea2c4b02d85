package games

// The hardening tests that count a server's open files, memory and
// goroutines run it in a child process: this test binary re-executed
// (optionally under "ulimit -n"), running only TestHardeningServerHelper,
// which serves the full wiring (engine, Comet hub, rooms with nim, lobby)
// until its stdin closes. The test process's own sockets then do not count.

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/cometplay/cometplay/comet"
	"github.com/cometplay/cometplay/engine"
	"github.com/cometplay/cometplay/internal/history"
	"github.com/cometplay/cometplay/internal/testkit"
	"github.com/cometplay/cometplay/rooms"
	"github.com/cometplay/cometplay/rooms/example/nim"
)

const (
	hardServerEnv        = "ENGINE_HARDENING_SERVER"          // "1": be the child server
	hardServerSessionEnv = "ENGINE_HARDENING_SESSION_TIMEOUT" // the hub's SessionTimeout (a Go duration)
	hardServerHeaderEnv  = "ENGINE_HARDENING_HEADER_TIMEOUT"  // the server's HeaderTimeout (a Go duration)
)

// hardFigures is what the child reports at /hardening/figures, after a
// garbage collection that returns free memory to the OS.
type hardFigures struct {
	Goroutines int    `json:"goroutines"`
	HeapInuse  uint64 `json:"heap_inuse"`
	OpenConns  int64  `json:"open_connections"`
	BytesIn    int64  `json:"bytes_in"`
	Sessions   int    `json:"sessions"`
	Rooms      int    `json:"rooms"`
	// Filled in by the parent from /proc.
	FDs   int   `json:"-"`
	RSSKB int64 `json:"-"`
}

func (f hardFigures) String() string {
	return fmt.Sprintf("fds %d, rss %d MiB, heap %d MiB, goroutines %d, conns %d, sessions %d, rooms %d",
		f.FDs, f.RSSKB>>10, f.HeapInuse>>20, f.Goroutines, f.OpenConns, f.Sessions, f.Rooms)
}

// TestHardeningServerHelper is the child's server, not a test of its own.
func TestHardeningServerHelper(t *testing.T) {
	if os.Getenv(hardServerEnv) != "1" {
		t.Skip("helper process for the hardening tests that need a child server")
	}
	fail := func(err error) {
		fmt.Printf("HARDSERVER error=%v\n", err)
		os.Exit(2)
	}
	var err error
	// Every client is 127.0.0.1: no per-address cap.
	c := Config{
		HTTP:   engine.Config{Addr: "127.0.0.1:0", Loops: 2, IdleTimeout: time.Hour, MaxConnsPerAddr: -1},
		Comet:  comet.Config{MaxSessionsPerAddr: -1},
		Games:  []rooms.Game{nim.Game},
		Logger: testkit.Logger(),
	}
	if v := os.Getenv(hardServerHeaderEnv); v != "" {
		if c.HTTP.HeaderTimeout, err = time.ParseDuration(v); err != nil {
			fail(err)
		}
	}
	if v := os.Getenv(hardServerSessionEnv); v != "" {
		if c.Comet.SessionTimeout, err = time.ParseDuration(v); err != nil {
			fail(err)
		}
		c.Comet.Heartbeat = c.Comet.SessionTimeout / 2 // it must be shorter
	}
	gs, err := New(c)
	if err != nil {
		fail(err)
	}
	srv, hub, m := gs.HTTP(), gs.Hub(), gs.Rooms()
	srv.Handle("GET", "/x", func(w *engine.Stream, _ *engine.Request) { w.Respond(200, "text/plain", []byte("x")) })
	srv.Handle("GET", "/hardening/figures", func(w *engine.Stream, _ *engine.Request) {
		// Twice: a buffer put back in a sync.Pool (gnet's inbound ring
		// buffers, once a connection's bytes are consumed; our own pools)
		// survives one collection in the pool's victim cache, and would be
		// counted as if a connection still held it.
		runtime.GC()
		runtime.GC()
		debug.FreeOSMemory()
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		st := srv.Stats()
		b, _ := json.Marshal(hardFigures{
			Goroutines: runtime.NumGoroutine(),
			HeapInuse:  ms.HeapInuse + uint64(history.Resident()), // the history's slabs live outside the heap
			OpenConns:  st.OpenConnections,
			BytesIn:    st.BytesIn,
			Sessions:   hub.NumSessions(),
			Rooms:      m.NumRooms(),
		})
		w.Respond(200, "application/json", b)
	})
	if err := srv.Start(); err != nil {
		fail(err)
	}
	fmt.Printf("HARDSERVER addr=%s pid=%d max=%d\n", srv.Addr(), os.Getpid(), srv.MaxConns())
	died := make(chan error, 1)
	go func() { died <- srv.Wait() }()
	stdin := make(chan struct{})
	go func() {
		io.Copy(io.Discard, os.Stdin)
		close(stdin)
	}()
	select {
	case err := <-died:
		fmt.Printf("HARDSERVER died err=%v\n", err)
		os.Exit(3)
	case <-stdin:
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		gs.Shutdown(ctx)
		os.Exit(0)
	}
}

// hardChild is a running child server.
type hardChild struct {
	*testkit.ChildProc
	t    *testing.T
	addr string
	pid  int
	max  int
	meas *testkit.Conn // one kept-alive connection for measurements (it counts in every figure alike)
}

// startHardChild starts the child server, under "ulimit -n nofile" when
// nofile > 0, with extra environment variables.
func startHardChild(t *testing.T, nofile int, env ...string) *hardChild {
	t.Helper()
	cp, line := testkit.StartChild(t, "TestHardeningServerHelper", "HARDSERVER ", nofile, 10*time.Second, append([]string{hardServerEnv + "=1"}, env...)...)
	ch := &hardChild{ChildProc: cp, t: t}
	t.Cleanup(func() { // runs before the child's own cleanup
		if ch.meas != nil {
			ch.meas.C.Close()
		}
	})
	if _, err := fmt.Sscanf(line, "HARDSERVER addr=%s pid=%d max=%d", &ch.addr, &ch.pid, &ch.max); err != nil {
		t.Fatalf("child said %q: %v", line, err)
	}
	return ch
}

// alive fails the test if the child has exited or reported its death.
func (ch *hardChild) alive() {
	ch.t.Helper()
	select {
	case line := <-ch.Lines:
		ch.t.Fatalf("child: %s", line)
	case <-ch.Exited:
		ch.t.Fatalf("child exited: %v", ch.ExitErr)
	default:
	}
}

// figuresTimeout bounds the wait for the child's figures: it only catches
// a child that stopped answering.
const figuresTimeout = 2 * time.Minute

// figures measures the child: its own report and, from /proc, its open
// files and resident memory.
func (ch *hardChild) figures() hardFigures {
	ch.t.Helper()
	if ch.meas == nil {
		c, err := net.DialTimeout("tcp", ch.addr, testkit.Timeout)
		if err != nil {
			ch.t.Fatalf("dial the child: %v", err)
		}
		ch.meas = &testkit.Conn{T: ch.t, C: c, BR: bufio.NewReader(c)}
	}
	ch.meas.Send(testkit.Req("GET", "/hardening/figures"))
	// The child collects garbage and returns memory to the OS before it
	// answers: with a large heap, under -race, on a machine whose cores
	// are busy elsewhere, that may take far longer than a request.
	ch.meas.C.SetReadDeadline(time.Now().Add(figuresTimeout))
	resp, err := http.ReadResponse(ch.meas.BR, &http.Request{Method: "GET"})
	if err != nil {
		ch.t.Fatalf("child figures: %v", err)
	}
	body, err := io.ReadAll(resp.Body)
	var f hardFigures
	if err != nil || resp.StatusCode != 200 || json.Unmarshal(body, &f) != nil {
		ch.t.Fatalf("child figures: %d %q %v", resp.StatusCode, body, err)
	}
	fds, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", ch.pid))
	if err != nil {
		ch.t.Fatalf("child fds: %v", err)
	}
	f.FDs = len(fds)
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", ch.pid))
	if err != nil {
		ch.t.Fatalf("child status: %v", err)
	}
	for _, line := range strings.Split(string(status), "\n") {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			f.RSSKB, _ = strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
		}
	}
	return f
}

// waitFigures polls the child's figures until ok accepts them, or fails
// after d with the last figures.
func (ch *hardChild) waitFigures(d time.Duration, what string, ok func(hardFigures) bool) hardFigures {
	ch.t.Helper()
	deadline := time.Now().Add(d)
	for {
		f := ch.figures()
		if ok(f) {
			return f
		}
		if time.Now().After(deadline) {
			ch.t.Fatalf("timed out waiting for %s; last: %v", what, f)
		}
		ch.alive()
		time.Sleep(20 * time.Millisecond)
	}
}
