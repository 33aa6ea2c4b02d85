//go:build !race

package history

import "testing"

// The race detector's instrumentation allocates, hence the build tag; make
// test runs these in a pass without it.

// TestRingReusesItsBufferWithoutAllocating: a recipient that holds a few events at a time
// and acknowledges them (a player's move, its opponent's, the turn: about
// six between two acknowledgements) reuses its ring's buffer instead of
// growing a new one each time.
func TestRingReusesItsBufferWithoutAllocating(t *testing.T) {
	var r Ring
	seq := uint64(1)
	cycle := func() {
		for range 6 {
			r.Push(seq, Entry{Ref: Ref(seq), Size: 10}, 256)
			seq++
		}
		for r.Len() > 0 {
			r.PopFront()
		}
	}
	cycle()
	if got := testing.AllocsPerRun(100, cycle); got != 0 {
		t.Fatalf("%.1f allocations for 6 events held then acknowledged; want none", got)
	}
}
