package history

import (
	"testing"
	"unsafe"
)

func TestRingKeepsConsecutiveSequenceNumbers(t *testing.T) {
	var r Ring
	if r.First(1) != 1 || r.Len() != 0 {
		t.Fatal("an empty ring must report next as its first")
	}
	for seq := uint64(1); seq <= 10; seq++ {
		if _, ev := r.Push(seq, Entry{Ref: Ref(seq), Size: 10}, 4); ev != (seq > 4) {
			t.Fatalf("push %d: evicted %v; want %v", seq, ev, seq > 4)
		}
	}
	if r.Len() != 4 || r.First(11) != 7 || r.Bytes() != 40 {
		t.Fatalf("len %d first %d bytes %d; want 4, 7, 40", r.Len(), r.First(11), r.Bytes())
	}
	for seq := uint64(7); seq <= 10; seq++ {
		if e, ok := r.At(seq); !ok || e.Ref != Ref(seq) {
			t.Fatalf("At(%d) = %v, %v", seq, e, ok)
		}
	}
	if _, ok := r.At(6); ok {
		t.Fatal("At returned an evicted entry")
	}
	if _, ok := r.At(11); ok {
		t.Fatal("At returned an entry not pushed yet")
	}
	defer func() {
		if recover() == nil {
			t.Fatal("Push out of sequence did not panic")
		}
	}()
	r.Push(12, Entry{}, 4)
}

func TestAnEmptiedRingOwnsNothing(t *testing.T) {
	var r Ring
	for seq := uint64(1); seq <= 100; seq++ {
		r.Push(seq, Entry{Ref: Ref(seq), Size: 1}, 256)
	}
	for r.Len() > 0 {
		r.PopFront()
	}
	if r.buf != nil {
		t.Fatalf("an emptied ring keeps a buffer of %d entries", cap(r.buf))
	}
	r.Push(500, Entry{Ref: 1}, 256) // any sequence number after empty
	if r.First(501) != 500 {
		t.Fatalf("first = %d; want 500", r.First(501))
	}
	released := 0
	r.Reset(func(Entry) { released++ })
	if released != 1 || r.Len() != 0 || r.buf != nil {
		t.Fatalf("Reset released %d, left %d entries and a buffer of %d", released, r.Len(), cap(r.buf))
	}
}

// A player's ring, holding the five events between two of its moves, owns
// 96 bytes (it was 128, a buffer of eight entries); one that held seven or
// eight owns 128, as before, and keeps it.
func TestAPlayersRingOwnsNinetySixBytes(t *testing.T) {
	owns := func(r *Ring) uintptr { return uintptr(cap(r.buf)) * unsafe.Sizeof(Entry{}) }
	var r Ring
	for seq := uint64(1); seq <= 5; seq++ {
		r.Push(seq, Entry{Ref: Ref(seq), Size: 150}, 256)
	}
	if got := owns(&r); got > 96 {
		t.Fatalf("a ring of 5 entries owns %d bytes; want at most 96", got)
	}
	for seq := uint64(6); seq <= 8; seq++ {
		r.Push(seq, Entry{Ref: Ref(seq), Size: 150}, 256)
	}
	if got := owns(&r); got > 128 {
		t.Fatalf("a ring of 8 entries owns %d bytes; want at most 128", got)
	}
	for r.Len() > 0 {
		r.PopFront()
	}
	if got := owns(&r); got != 128 {
		t.Fatalf("an emptied ring of 8 entries owns %d bytes; want 128 (kept)", got)
	}
}
