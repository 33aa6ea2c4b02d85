package comet

import (
	"bufio"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"runtime/debug"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cometplay/cometplay/engine"

	"github.com/cometplay/cometplay/internal/testkit"
)

// TestHardeningNonReaders: stream listeners subscribed to one subject, some
// reading and many never reading (a small receive window, nothing read),
// while the server publishes large events to all. The server closes each
// non-reader once the bytes queued for it pass MaxOutbound, its heap stays
// bounded (far below what buffering everything for them would take), and
// every reader receives every event, in order, without a gap.
func TestHardeningNonReaders(t *testing.T) {
	const maxOut = 256 << 10
	const evSize = 64 << 10
	readersN := testkit.Scale(5, 50)
	stallN := testkit.Scale(20, 200)
	events := testkit.Scale(100, 400)
	// Each session may hold 16 of the events: the publisher stays at most 4
	// ahead of the slowest reader.
	th := newTestHub(t, Config{Window: 1024, SessionHistoryBytes: 16 * evSize}, engine.Config{Loops: 2, MaxOutbound: maxOut})

	listen := func(c net.Conn, id string) {
		fmt.Fprintf(c, "GET /comet?p_event=listen&p_id=%s&p_subject=/big HTTP/1.1\r\nHost: x\r\n\r\n", id)
	}
	var stalled []*Session
	for range stallN {
		s, err := th.hub.Join(FormatJSON)
		if err != nil {
			t.Fatal(err)
		}
		c := testkit.DialSmallRcvbuf(t, th.srv.Addr(), 4<<10)
		listen(c.C, s.ID())
		stalled = append(stalled, s)
	}
	// Readers: each counts the events it got, checking their order.
	type reader struct {
		got  atomic.Int64 // data events received, in order
		err  error
		done chan struct{}
	}
	rs := make([]*reader, readersN)
	for i := range rs {
		s, err := th.hub.Join(FormatJSON)
		if err != nil {
			t.Fatal(err)
		}
		c := testkit.Dial(t, th.srv.Addr())
		listen(c.C, s.ID())
		r := &reader{done: make(chan struct{})}
		rs[i] = r
		go func() {
			defer close(r.done)
			resp, err := http.ReadResponse(c.BR, nil)
			if err != nil {
				r.err = err
				return
			}
			br := bufio.NewReaderSize(resp.Body, 4*evSize)
			for r.got.Load() < int64(events) {
				c.C.SetReadDeadline(time.Now().Add(testkit.Timeout))
				line, err := br.ReadSlice('\n')
				if err != nil {
					r.err = fmt.Errorf("after %d events: %w", r.got.Load(), err)
					return
				}
				var ev map[string]string
				if err := json.Unmarshal(line, &ev); err != nil {
					r.err = err
					return
				}
				switch ev["p_event"] {
				case "data":
					if want := strconv.FormatInt(r.got.Load(), 10); ev["i"] != want {
						r.err = fmt.Errorf("event %s; want %s", ev["i"], want)
						return
					}
					r.got.Add(1)
				case "gap":
					r.err = fmt.Errorf("gap after %d events: %v", r.got.Load(), ev)
					return
				}
			}
		}()
	}
	testkit.EventuallyWithin(t, testkit.Timeout, "every listener attached", func() bool {
		return th.hub.Stats().StreamListeners == int64(readersN+stallN)
	})

	value := strings.Repeat("v", evSize)
	// The heap's peak is what is measured: collect often, so that it shows
	// what is held rather than garbage not yet collected.
	defer debug.SetGCPercent(debug.SetGCPercent(10))
	grow := testkit.HeapGrowth(func() {
		for i := range events {
			// Publishers do not wait for readers; this one stays at most 4
			// events (MaxOutbound) ahead of the slowest reader only so that
			// the readers, sharing two cores with everything else under
			// -race, are never the ones found slow.
			for _, r := range rs {
				for r.got.Load() < int64(i-4) {
					select {
					case <-r.done:
						t.Fatalf("reader stopped: %v", r.err)
					case <-time.After(time.Millisecond):
					}
				}
			}
			th.hub.Publish("/big", "i", strconv.Itoa(i), "v", value)
		}
		for _, r := range rs {
			testkit.Recv(t, r.done, "a reader to get every event")
		}
	})
	for i, r := range rs {
		if r.err != nil || r.got.Load() != int64(events) {
			t.Fatalf("reader %d: %d of %d events: %v", i, r.got.Load(), events, r.err)
		}
	}
	testkit.EventuallyWithin(t, testkit.Timeout, "every non-reader closed", func() bool { return th.srv.Stats().SlowClosed == int64(stallN) })
	for i, s := range stalled {
		if s.Listening() {
			t.Fatalf("non-reader %d still has a listener", i)
		}
	}
	if st := th.srv.Stats(); st.SlowClosed != int64(stallN) {
		t.Fatalf("slow_readers_closed = %d; want %d (the readers must not be among them)", st.SlowClosed, stallN)
	}
	all := int64(stallN) * int64(events) * evSize
	t.Logf("%d readers got %d events of %d KiB each; %d non-readers closed; heap grew by at most %d MiB (buffering everything for them: %d MiB)",
		readersN, events, evSize>>10, stallN, grow>>20, all>>20)
	// What must be held: every event, as a record in the history (no client
	// acknowledges, and all are younger than the resume horizon) and encoded
	// once per loop; up to about twice MaxOutbound per listener, queued
	// for it (a non-reader before it is found out); the test's own readers'
	// buffers; plus slack for the runtime and for garbage between
	// collections.
	limit := 2*int64(events)*evSize + int64(stallN+readersN)*2*maxOut + int64(readersN)*4*evSize + 32<<20
	if grow > limit {
		t.Fatalf("heap grew by %d MiB; want under %d MiB", grow>>20, limit>>20)
	}
}
