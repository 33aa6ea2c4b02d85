//go:build !race

package comet

import "testing"

// The race detector's instrumentation allocates, hence the build tag; make
// test runs these in a pass without it.

// TestHotPathAllocations: a small event is one allocation with its fields;
// a move's query costs two (one string for every parameter, the slice).
func TestHotPathAllocations(t *testing.T) {
	req := parseRequest(t, "GET /comet?p_event=publish&p_id=Xs7s8d9f0g1Xs7s8d9f0g1Xs7s8d9f0g1a&p_subject=%2Froom%2Fr-4f&type=move&data=%7B%22cell%22%3A4%7D&move=t1.17&seq=3 HTTP/1.1\r\nHost: x\r\n\r\n")
	readParams(req, DefaultMaxParams) // warm the pool
	for _, tc := range []struct {
		name string
		max  float64
		f    func()
	}{
		{"NewEvent", 1, func() { _ = NewEvent("refresh", "p_wait", "1000", "p_url", "/comet") }},
		{"readParams", 2, func() { readParams(req, DefaultMaxParams) }},
	} {
		if got := testing.AllocsPerRun(200, tc.f); got > tc.max {
			t.Errorf("%s: %.1f allocations; want at most %.0f", tc.name, got, tc.max)
		}
	}
}
