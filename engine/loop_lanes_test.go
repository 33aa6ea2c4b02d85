package engine

import (
	"sync/atomic"
	"testing"
	"time"

	"github.com/cometplay/cometplay/httpcodec"
	"github.com/cometplay/cometplay/internal/testkit"
)

// countTask is a bulk task that counts its runs; the first run waits until
// the test says go (the loop is held for that moment, as a fan-out holds it
// while it writes).
type countTask struct {
	n     atomic.Int64
	first chan struct{} // closed by the test
}

func (c *countTask) RunOnLoop(uint32) {
	if c.n.Add(1) == 1 {
		<-c.first
	}
}

// TestLoopServesSocketsBetweenBulkSlices: a loop with a long bulk lane (a
// fan-out to a crowd of listeners) serves its sockets between slices of it:
// a request that arrived while the lane was being run is answered before
// the lane is done, not after. gnet runs a task a task posts again in the
// same pass over its queue, so a lane that posted its own next slice never
// gave the loop back to its sockets.
func TestLoopServesSocketsBetweenBulkSlices(t *testing.T) {
	const tasks = 200_000
	served := make(chan int64, 1)
	bulk := &countTask{first: make(chan struct{})}
	s := hStart(t, Config{Loops: 1}, func(s *Server) {
		s.HandleLoop("/probe", false, func(x *Exchange, _ *httpcodec.Request) {
			served <- bulk.n.Load()
			x.Respond(200, nil, []byte("ok"))
		})
	})
	c := testkit.Dial(t, s.Addr())
	// The loop is known once it opened a connection.
	testkit.EventuallyWithin(t, testkit.Timeout, "the loop", func() bool { return len(s.Loops()) == 1 })
	ts := make([]Posted, tasks)
	for i := range ts {
		ts[i] = Posted{Task: bulk}
	}
	s.Loops()[0].PostAll(ts)
	testkit.EventuallyWithin(t, testkit.Timeout, "the bulk lane to start", func() bool { return bulk.n.Load() > 0 })
	// The request is in the server's socket before the lane goes on.
	c.Send(testkit.Req("GET", "/probe"))
	close(bulk.first)
	n := testkit.Recv(t, served, "the probe")
	if r := c.Next("GET"); r.StatusCode != 200 {
		t.Fatalf("probe: %d", r.StatusCode)
	}
	if n >= tasks {
		t.Fatalf("the probe was served after all %d bulk tasks had run; want it between slices of %d", tasks, bulkSlice)
	}
	t.Logf("served after %d of %d bulk tasks", n, tasks)
	testkit.EventuallyWithin(t, testkit.Timeout, "the bulk lane to finish", func() bool { return bulk.n.Load() == tasks })
}

// urgentProbe is a bulk task: its first run waits until the loop's urgent
// lane holds work (a Handler's response), and its check-th run records
// whether that work is still waiting.
type urgentProbe struct {
	l       *Loop
	n       int
	check   int
	release chan struct{} // closed by the first run: the Handler answers
	waiting chan bool
}

func (u *urgentProbe) pending() bool {
	u.l.mu.Lock()
	defer u.l.mu.Unlock()
	return len(u.l.ops) > 0
}

func (u *urgentProbe) RunOnLoop(uint32) {
	u.n++
	switch u.n {
	case 1:
		close(u.release)
		deadline := time.Now().Add(testkit.Timeout)
		for !u.pending() && time.Now().Before(deadline) {
			time.Sleep(time.Millisecond)
		}
	case u.check:
		u.waiting <- u.pending()
	}
}

// TestLoopRunsUrgentWithinBulkSlice: a Handler's response posted while the
// loop runs a slice of its bulk lane is written within a few tasks, not
// after the slice (a few hundred writes, milliseconds on a busy machine).
func TestLoopRunsUrgentWithinBulkSlice(t *testing.T) {
	started, release := make(chan struct{}), make(chan struct{})
	s := hStart(t, Config{Loops: 1}, func(s *Server) {
		s.Handle("GET", "/warm", func(w *Stream, _ *Request) { w.Respond(200, "text/plain", []byte("w")) })
		s.Handle("GET", "/h", func(w *Stream, _ *Request) {
			started <- struct{}{}
			<-release
			w.Respond(200, "text/plain", []byte("h"))
		})
	})
	c := testkit.Dial(t, s.Addr())
	if r := c.Get("/warm"); r.Text != "w" { // the loop is known once it served a connection
		t.Fatalf("response %d %q", r.StatusCode, r.Text)
	}
	l := s.Loops()[0]
	u := &urgentProbe{l: l, check: 4 * urgentCheck, waiting: make(chan bool, 1)}
	if u.check >= bulkSlice {
		t.Fatalf("the check (%d) must fall within one slice (%d)", u.check, bulkSlice)
	}
	ts := make([]Posted, bulkSlice)
	for i := range ts {
		ts[i] = Posted{Task: u}
	}
	// The request is with a worker before the lane starts; the first bulk
	// task lets it answer, and waits until its response is in the urgent
	// lane.
	u.release = release
	c.Send(testkit.Req("GET", "/h"))
	testkit.Recv(t, started, "the handler")
	l.PostAll(ts)
	if testkit.Recv(t, u.waiting, "the check") {
		t.Fatalf("the response still waited after %d of the slice's %d tasks", u.check, bulkSlice)
	}
	if r := c.Next("GET"); r.Text != "h" {
		t.Fatalf("response %d %q", r.StatusCode, r.Text)
	}
}

// orderTask records, on its loop, the order in which tasks ran.
type orderTask struct {
	name string
	log  *[]string
}

func (o *orderTask) RunOnLoop(uint32) { *o.log = append(*o.log, o.name) }

// TestLoopPostUrgentGoesAheadOfBulk: a task posted with PostUrgent (a
// delivery to a room's two players) runs before the bulk tasks posted
// before it (a lobby fan-out to thousands), not after all of them; tasks of
// each lane keep their own order. The loop is held while both are posted,
// so the order does not depend on the machine's speed.
func TestLoopPostUrgentGoesAheadOfBulk(t *testing.T) {
	s := hStart(t, Config{Loops: 1}, func(s *Server) {
		s.Handle("GET", "/warm", func(w *Stream, _ *Request) { w.Respond(200, "text/plain", []byte("w")) })
	})
	c := testkit.Dial(t, s.Addr())
	if r := c.Get("/warm"); r.Text != "w" { // the loop is known once it served a connection
		t.Fatalf("response %d %q", r.StatusCode, r.Text)
	}
	l := s.Loops()[0]
	hold := testkit.NewHold()
	l.Post(hold, 0)
	testkit.Recv(t, hold.Entered, "the loop to be held")

	var log []string // appended on the loop only
	const bulk = 3 * bulkSlice
	ts := make([]Posted, bulk)
	for i := range ts {
		ts[i] = Posted{Task: &orderTask{name: "bulk", log: &log}}
	}
	l.PostAll(ts)
	l.PostUrgent(&orderTask{name: "urgent1", log: &log}, 0)
	l.PostAllUrgent([]Posted{{Task: &orderTask{name: "urgent2", log: &log}}})
	done := make(chan []string, 1)
	l.Post(&endTask{f: func() { done <- append([]string(nil), log...) }}, 0)
	hold.Release()

	got := testkit.Recv(t, done, "every task to run")
	if len(got) != bulk+2 {
		t.Fatalf("%d tasks ran, want %d", len(got), bulk+2)
	}
	if got[0] != "urgent1" || got[1] != "urgent2" {
		t.Fatalf("first tasks run: %q, %q; want the two urgent ones ahead of the %d bulk tasks posted before them", got[0], got[1], bulk)
	}
}

// endTask calls f on the loop.
type endTask struct{ f func() }

func (e *endTask) RunOnLoop(uint32) { e.f() }

// funcTask runs a function on the loop.
type funcTask func()

func (f funcTask) RunOnLoop(uint32) { f() }

// TestABurstsInboxArraysAreLetGo: a burst of deliveries (a crowd
// reconnecting, a fan-out to thousands) grows a loop's inbox arrays; once
// the loop has run long enough with a few tasks at a time they are let go,
// not kept (and scanned by the collector) for the server's life, and a
// steady load keeps its arrays.
func TestABurstsInboxArraysAreLetGo(t *testing.T) {
	s := hStart(t, Config{Loops: 1}, nil)
	c := testkit.Dial(t, s.Addr())
	c.Send(testkit.Req("GET", "/"))
	c.Next("GET")
	testkit.EventuallyWithin(t, testkit.Timeout, "the loop", func() bool { return len(s.Loops()) == 1 })
	l := s.Loops()[0]
	run := func(urgent bool, n int) {
		done := make(chan struct{})
		var left atomic.Int64
		left.Store(int64(n))
		ts := make([]Posted, n)
		for i := range ts {
			ts[i] = Posted{Task: funcTask(func() {
				if left.Add(-1) == 0 {
					close(done)
				}
			})}
		}
		if urgent {
			l.PostAllUrgent(ts)
		} else {
			l.PostAll(ts)
		}
		testkit.Recv(t, done, "the tasks")
	}
	type caps struct{ urgent, bulk, bulkRun int }
	// The urgent lane's two arrays alternate: the one this task runs in
	// (runCap), and l.ops or spare.
	read := func() caps {
		got := make(chan caps, 1)
		l.PostUrgent(funcTask(func() {
			l.mu.Lock()
			c := caps{urgent: cap(l.ops), bulk: cap(l.bulk)}
			l.mu.Unlock()
			c.urgent, c.bulkRun = max(c.urgent, cap(l.spare), l.runCap), cap(l.bulkRun)
			got <- c
		}), 0)
		return testkit.Recv(t, got, "the capacities")
	}
	run(true, 20_000)
	run(false, 20_000)
	if c := read(); c.urgent < 20_000 || c.bulk < 20_000 {
		t.Fatalf("after the burst: %+v; want arrays of 20,000 ops (the test measures nothing)", c)
	}
	// A steady load of 6,000 at a time keeps its arrays.
	for range 3 {
		run(true, 6_000)
		run(false, 6_000)
	}
	if c := read(); c.urgent < 20_000 || c.bulk < 20_000 {
		t.Fatalf("under a steady load: %+v; want the arrays kept", c)
	}
	// Then a few at a time, for as many runs again: let go.
	for range 2*keepIdleRuns + 10 {
		run(true, 1)
		run(false, 1)
	}
	if c := read(); c.urgent > keptOps || c.bulk > keptOps || c.bulkRun > keptOps {
		t.Fatalf("after %d quiet runs: %+v; want at most %d ops each", 2*keepIdleRuns, c, keptOps)
	}
	// A huge fan-out's bulk lane goes as soon as it is drained.
	run(false, dropOps+1000)
	if c := read(); c.bulk > keptOps {
		t.Fatalf("after a fan-out of %d: %+v; want its array let go at once", dropOps+1000, c)
	}
}
