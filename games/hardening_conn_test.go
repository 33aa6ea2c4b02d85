package games

import (
	"bufio"
	"io"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cometplay/cometplay/internal/testkit"
)

// TestHardeningConnectCycles: cycles of 10,000 connections to a child
// server (the full wiring), all open at once, then all reset at once, as by
// clients that die: some connect only, some send half a request head, some
// a whole request they never read the answer of, some open a Comet stream
// with join-listen (a session each, whose lease is 1 s here). After each
// cycle the child's open files and goroutines return exactly to their
// baseline, its sessions to none, and its heap and resident memory to
// within a bound that does not grow with the cycles: nothing is leaked per
// connection or per session. (Under -race resident memory is only
// bounded: the detector keeps its shadow memory; "make hardening" runs the
// long form without it, where the bound is tight.) The client side holds one cycle's sockets at a
// time (the open-file limit is 20,000 for each process).
func TestHardeningConnectCycles(t *testing.T) {
	cycles, conns := testkit.Scale(3, 10), testkit.Scale(2000, 10_000)
	ch := startHardChild(t, 0, hardServerSessionEnv+"=1s")
	rng := testkit.Rand(t)
	base := ch.figures()
	t.Logf("baseline: %v", base)
	var warm hardFigures
	for cycle := range cycles {
		start := time.Now()
		kinds := make([]int, conns)
		for i := range kinds {
			kinds[i] = rng.IntN(4)
		}
		cs := testkit.DialEach(t, ch.addr, conns, func(i int) string {
			switch kinds[i] {
			case 1:
				return "GET /x HTTP/1.1\r\nHost: t\r\nX-Half: "
			case 2:
				return testkit.Req("GET", "/x")
			case 3:
				return testkit.Req("GET", "/comet?p_event=join-listen&p_format=json")
			}
			return ""
		})
		held := ch.waitFigures(2*testkit.Timeout, "every connection of the cycle to be open", func(f hardFigures) bool {
			return f.OpenConns == int64(conns)+1 // and the measuring one
		})
		for _, c := range cs {
			testkit.ResetClose(c)
		}
		after := ch.waitFigures(2*testkit.Timeout, "the child to return to its baseline", func(f hardFigures) bool {
			return f.OpenConns == 1 && f.FDs == base.FDs && f.Goroutines <= base.Goroutines && f.Sessions == 0
		})
		t.Logf("cycle %d (%v): held %d connections, %d sessions (%d fds); after: %v", cycle, time.Since(start).Round(time.Millisecond), held.OpenConns-1, held.Sessions, held.FDs, after)
		if cycle == 0 {
			// The first cycle grows pools and maps to their working size.
			warm = after
			continue
		}
		// A leak of even 100 bytes per connection would add 1 MB a cycle.
		if after.HeapInuse > warm.HeapInuse+4<<20 {
			t.Fatalf("cycle %d: heap in use %d MiB after the warm-up cycle's %d MiB", cycle, after.HeapInuse>>20, warm.HeapInuse>>20)
		}
		// Resident memory returns near the warm-up level; under the race
		// detector, whose shadow memory is never given back, it is only
		// bounded.
		limit := warm.RSSKB + warm.RSSKB/4 + 16<<10
		if testkit.RaceEnabled {
			limit = 2*warm.RSSKB + 64<<10
		}
		if after.RSSKB > limit {
			t.Fatalf("cycle %d: resident memory %d MiB after the warm-up cycle's %d MiB (limit %d MiB)", cycle, after.RSSKB>>10, warm.RSSKB>>10, limit>>10)
		}
	}
	ch.alive()
}

// TestHardeningCapStormComet is TestHTTPCapStorm with the full wiring and
// Comet streams: a child server under "ulimit -n 512" gets three times that
// many connections, each opening a stream (join-listen). Up to the
// connection cap they are served (the stream's first event arrives), the
// rest are answered 503 and closed, the server keeps serving, and once the
// clients are gone their sessions expire and its open files return to the
// baseline.
func TestHardeningCapStormComet(t *testing.T) {
	const nofile = 512
	ch := startHardChild(t, nofile, hardServerSessionEnv+"=1s")
	base := ch.figures()
	n := 3 * nofile
	conns := make([]*testkit.Conn, 0, n)
	defer func() {
		for _, c := range conns {
			testkit.ResetClose(c.C)
		}
	}()
	for i := range n {
		c, err := net.DialTimeout("tcp", ch.addr, testkit.Timeout)
		if err != nil {
			t.Fatalf("dial %d: %v", i, err)
		}
		conns = append(conns, &testkit.Conn{T: t, C: c, BR: bufio.NewReaderSize(c, 1024)})
	}
	statuses := make([]int, n)
	var wg sync.WaitGroup
	for w := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < n; i += 8 {
				c := conns[i]
				if _, err := io.WriteString(c.C, testkit.Req("GET", "/comet?p_event=join-listen&p_format=json")); err != nil {
					continue // refused and already reset
				}
				resp, err := c.Head("GET")
				if err != nil {
					continue
				}
				statuses[i] = resp.StatusCode
				if resp.StatusCode == 200 {
					// The stream is live: its first event arrives.
					line, err := bufio.NewReader(resp.Body).ReadString('\n')
					if err != nil || !strings.Contains(line, `"join-listen-ack"`) {
						statuses[i] = -1
					}
				}
			}
		}()
	}
	wg.Wait()
	count := map[int]int{}
	for _, st := range statuses {
		count[st]++
	}
	t.Logf("cap %d; storm of %d streams: statuses %v (0: reset without an answer)", ch.max, n, count)
	if count[200] == 0 || count[200] > ch.max || count[503] == 0 || count[200]+count[503]+count[0] != n {
		t.Fatalf("statuses %v; want 1..%d streams served, the others 503 (or reset)", count, ch.max)
	}
	ch.alive()
	for _, c := range conns {
		testkit.ResetClose(c.C)
	}
	conns = nil
	// Served again once the storm is over, and back to the baseline.
	testkit.Eventually(t, "a new connection to be served after the storm", func() bool {
		c, err := net.DialTimeout("tcp", ch.addr, testkit.Timeout)
		if err != nil {
			return false
		}
		defer c.Close()
		hc := &testkit.Conn{T: t, C: c, BR: bufio.NewReader(c)}
		io.WriteString(c, testkit.Req("GET", "/x"))
		r, err := hc.TryNext("GET")
		return err == nil && r.StatusCode == 200 && r.Text == "x"
	})
	after := ch.waitFigures(2*testkit.Timeout, "the sessions to expire and the open files to return to the baseline", func(f hardFigures) bool {
		return f.Sessions == 0 && f.FDs == base.FDs && f.OpenConns == 1
	})
	t.Logf("baseline %v; after %v", base, after)
	ch.alive()
}
