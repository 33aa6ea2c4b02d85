package engine

import (
	"sync/atomic"
	"testing"

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
