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

// TestSlabChurnAllocatesOnlyTheSlabs: events put and released at a steady
// rate make and drop slabs all along; each new slab costs its small header
// and nothing else (its buffer is a dropped slab's, the slab table is
// updated in place). A fresh table per slab made or dropped was a quarter
// of what the server allocated under play.
func TestSlabChurnAllocatesOnlyTheSlabs(t *testing.T) {
	s, _ := newTestStore(t, Config{SlabSize: 256})
	rec := record(1, 100) // two records fill a slab
	var held []Ref
	cycle := func() {
		for range 20 {
			ref, err := s.Put(rec, 1)
			if err != nil {
				t.Fatal(err)
			}
			held = append(held, ref)
			if len(held) == 4 {
				for _, r := range held {
					s.Release(r)
				}
				held = held[:0]
			}
		}
	}
	cycle()
	before := s.Stats()
	allocs := testing.AllocsPerRun(50, cycle)
	after := s.Stats()
	made := float64(after.Released-before.Released) / 51 // slabs dropped per run, as many as made
	if made < 5 {
		t.Fatalf("%.1f slabs made per run; the test wants about 10", made)
	}
	if allocs > made+0.5 {
		t.Fatalf("%.1f allocations per run of 20 records in %.1f new slabs; want one per slab (its header)", allocs, made)
	}
}
