//go:build !race

package comet

import "testing"

// The race detector's instrumentation allocates, hence the build tag; make
// test runs these in a pass without it.

// TestHotPathAllocations: a small event is one allocation with its fields;
// a move's query costs two (one string for every parameter, the slice),
// one on a loop (whose slice is reused); a
// server's publish to a room and a unicast cost none.
func TestHotPathAllocations(t *testing.T) {
	req := parseRequest(t, "GET /comet?p_event=publish&p_id=Xs7s8d9f0g1Xs7s8d9f0g1Xs7s8d9f0g1a&p_subject=%2Froom%2Fr-4f&type=move&data=%7B%22cell%22%3A4%7D&move=t1.17&seq=3 HTTP/1.1\r\nHost: x\r\n\r\n")
	readParams(req, DefaultMaxParams) // warm the pool
	var scratch params                // a loop's parameters slice (loopScratch.params)
	h := benchHub(t, 2)               // two sessions on /all: a room's players
	s, err := h.Join(FormatJSON)
	if err != nil {
		t.Fatal(err)
	}
	for range 1000 { // the sessions' histories at their size, the store's slab in use
		h.Publish("/all", "type", "move", "data", `{"cell":4}`)
		s.Send("/dm", "type", "ack")
	}
	for _, tc := range []struct {
		name string
		max  float64
		f    func()
	}{
		{"NewEvent", 1, func() { _ = NewEvent("refresh", "p_wait", "1000", "p_url", "/comet") }},
		{"readParams", 2, func() { readParams(req, DefaultMaxParams) }},
		{"readParamsInto a loop's slice", 1, func() { scratch, _ = readParamsInto(scratch[:0], req, DefaultMaxParams) }},
		// The event is held once, as bytes in the store's slabs (one
		// allocation per 16 KiB of events, below one per call here).
		{"Hub.Publish to a room", 0, func() { h.Publish("/all", "type", "move", "data", `{"cell":4}`) }},
		{"Session.Send", 0, func() { s.Send("/dm", "type", "ack") }},
		// The publish-ack of every move is built once per second.
		{"publish-ack", 0, func() { _ = plain(&publishAck, "publish-ack") }},
	} {
		if got := testing.AllocsPerRun(200, tc.f); got > tc.max {
			t.Errorf("%s: %.1f allocations; want at most %.0f", tc.name, got, tc.max)
		}
	}
}
