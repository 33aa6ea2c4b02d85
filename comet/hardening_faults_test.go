package comet

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/cometplay/cometplay/internal/testkit"
)

// TestHardeningLongPollVanish: a long-poll client refreshes round after
// round while events are published; in random rounds it vanishes (its
// connection reset) while its refresh is parked, right after sending it, or
// while the answer is being written (it read part of it). Its next refresh,
// on a new connection, carries p_last = the last event of the last answer it
// read whole, and the events of the lost answers come again: in the end it
// has every event exactly once, in order, without a gap. The seed is logged.
func TestHardeningLongPollVanish(t *testing.T) {
	rounds := testkit.Scale(300, 3000)
	th := newTestHub(t, Config{Window: 1024, MaxSessionsPerAddr: -1})
	rng := testkit.Rand(t)
	id := th.join(FormatJSON)
	th.do(FormatJSON, testkit.Query("p_event", "subscribe", "p_id", id, "p_subject", "/feed"))
	th.do(FormatJSON, testkit.Query("p_event", "listen", "p_id", id, "p_mode", "pull"))
	s := th.hub.Session(id)
	th.hc.CloseIdleConnections() // from here on, only this test's raw connections
	testkit.EventuallyWithin(t, testkit.Timeout, "the setup's connections to close", func() bool { return th.srv.Stats().OpenConnections == 0 })
	acceptedBase, dialed := th.srv.Stats().Accepted, int64(0)

	published := 0
	var got []int   // "i" of every data event received in whole answers
	var last uint64 // p_seq of the last of them
	publish := func(k int) {
		for range k {
			// Some events are large, so that an answer spans many packets.
			v := strings.Repeat("x", rng.IntN(4)*rng.IntN(8<<10))
			th.hub.Publish("/feed", "i", strconv.Itoa(published), "v", v)
			published++
		}
	}
	refresh := func() net.Conn {
		c, err := net.DialTimeout("tcp", th.srv.Addr(), testkit.Timeout)
		if err != nil {
			t.Fatal(err)
		}
		dialed++
		fmt.Fprintf(c, "GET /comet?%s HTTP/1.1\r\nHost: x\r\n\r\n", testkit.Query("p_event", "refresh", "p_id", id, "p_last", strconv.FormatUint(last, 10)))
		return c
	}
	// whole reads a complete answer and records its events.
	whole := func(c net.Conn) {
		t.Helper()
		defer c.Close()
		hc := &testkit.Conn{T: t, C: c, BR: bufio.NewReader(c)}
		r := hc.Next("GET")
		var evs []map[string]string
		if err := json.Unmarshal([]byte(r.Text), &evs); err != nil {
			t.Fatalf("answer %q: %v", r.Text, err)
		}
		for _, e := range evs {
			switch e["p_event"] {
			case "data":
				i, _ := strconv.Atoi(e["i"])
				got = append(got, i)
				last, _ = strconv.ParseUint(e["p_seq"], 10, 64)
			case "gap":
				t.Fatalf("gap: %v", e)
			}
		}
	}
	parked := func() bool { return s.Listening() }
	counts := map[string]int{}
	for round := range rounds {
		// Every earlier connection has been accepted and closed by the
		// server: a vanished client's refresh cannot arrive late and take
		// over this round's (a newer refresh ends an older one; that is the
		// protocol, not what this test is about).
		testkit.EventuallyWithin(t, testkit.Timeout, "the earlier connections to be accepted and closed", func() bool {
			return th.srv.Stats().Accepted-acceptedBase == dialed && th.srv.Stats().OpenConnections == 0
		})
		publish(rng.IntN(5))
		switch k := rng.IntN(6); {
		case k == 0 && len(got) == published:
			// Vanish while parked; events come while nobody listens.
			c := refresh()
			testkit.EventuallyWithin(t, testkit.Timeout, "the refresh to park", parked)
			testkit.ResetClose(c)
			testkit.EventuallyWithin(t, testkit.Timeout, "the parked refresh to detach", func() bool { return !parked() })
			publish(1 + rng.IntN(3))
			counts["vanished while parked"]++
		case k == 1 && len(got) == published:
			// Vanish while parked, as the answer is written: an event
			// arrives and the client resets the connection at once.
			c := refresh()
			testkit.EventuallyWithin(t, testkit.Timeout, "the refresh to park", parked)
			publish(1 + rng.IntN(3))
			testkit.ResetClose(c)
			counts["vanished as the parked answer was written"]++
		case k == 2:
			// Vanish right after sending the refresh.
			testkit.ResetClose(refresh())
			counts["vanished after sending"]++
		case k == 3 && published > len(got):
			// Vanish mid-answer: read a part of it, then reset.
			c := refresh()
			c.SetReadDeadline(time.Now().Add(testkit.Timeout))
			io.ReadFull(c, make([]byte, 1+rng.IntN(300)))
			testkit.ResetClose(c)
			counts["vanished mid-answer"]++
		default:
			if published == len(got) {
				publish(1) // a whole answer needs something to answer with
			}
			whole(refresh())
			counts["read whole"]++
		}
		if round%50 == 0 && t.Failed() {
			return
		}
	}
	// The client comes back for good: everything not yet read arrives.
	for len(got) < published {
		whole(refresh())
	}
	t.Logf("%d rounds, %d events: %v", rounds, published, counts)
	if len(got) != published {
		t.Fatalf("got %d events; published %d", len(got), published)
	}
	for i, v := range got {
		if v != i {
			t.Fatalf("event %d is %d: every event exactly once and in order was expected (got %v…)", i, v, got[max(0, i-5):min(len(got), i+5)])
		}
	}
}
