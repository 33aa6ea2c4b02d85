package history

import (
	"bytes"
	"runtime"
	"testing"
)

func liveHeap() int64 {
	runtime.GC()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return int64(ms.HeapAlloc)
}

// fillSlabs puts records into s until it holds n slabs, each record held
// (one reference), and returns their refs.
func fillSlabs(t *testing.T, s *Store, n int) []Ref {
	t.Helper()
	var refs []Ref
	for i := 0; s.Stats().Slabs < n || s.cur.used+recHeader+1000 <= len(s.cur.buf); i++ {
		refs = append(refs, mustPut(t, s, record(i, 1000), 1))
	}
	return refs
}

// TestOrdinarySlabsLiveOutsideTheHeap: events held in ordinary slabs do
// not grow the Go heap (which the collector paces itself by, and the
// process keeps about twice of); the same events in a store told to use the
// heap do, by about their bytes.
func TestOrdinarySlabsLiveOutsideTheHeap(t *testing.T) {
	const slabs = 200 // 3.2 MiB of 16 KiB slabs
	grow := func(heap bool) (int64, Stats) {
		s, _ := newTestStore(t, Config{Heap: heap})
		before := liveHeap()
		refs := fillSlabs(t, s, slabs)
		grew := liveHeap() - before
		st := s.Stats()
		for i, ref := range refs { // the records are all there
			if got, ok := s.Get(ref); !ok || !bytes.Equal(got, record(i, 1000)) {
				t.Fatalf("record %d does not read back", i)
			}
		}
		runtime.KeepAlive(s)
		return grew, st
	}
	onHeap, hs := grow(true)
	mapped, ms := grow(false)
	t.Logf("%d slabs (%d KiB): heap grew %d KiB with Heap, %d KiB mapped; %d KiB mapped outside", ms.Slabs, ms.Bytes>>10, onHeap>>10, mapped>>10, ms.Mapped>>10)
	if hs.Mapped != 0 {
		t.Fatalf("a Heap store mapped %d bytes", hs.Mapped)
	}
	if onHeap < hs.Bytes*9/10 {
		t.Fatalf("the heap grew %d bytes for %d bytes of slabs on it: the comparison measures nothing", onHeap, hs.Bytes)
	}
	if ms.Mapped < ms.Bytes {
		t.Fatalf("%d bytes mapped for %d bytes of live slabs", ms.Mapped, ms.Bytes)
	}
	if mapped > ms.Bytes/10 {
		t.Fatalf("the heap grew %d bytes for %d bytes of mapped slabs; want at most a tenth (their headers and refs)", mapped, ms.Bytes)
	}
}

// TestSpareMappedSlabsGiveTheirPagesBack: once the events are released
// their slabs' buffers stay mapped, all but spareSlabs of them with their
// pages given back; new slabs reuse them before anything new is mapped,
// and what was given back reads as the new records.
func TestSpareMappedSlabsGiveTheirPagesBack(t *testing.T) {
	s, _ := newTestStore(t, Config{})
	refs := fillSlabs(t, s, 100)
	for _, ref := range refs {
		s.Release(ref)
	}
	s.Expire()
	st := s.Stats()
	dropped := int(st.Released)
	if st.Spare != spareSlabs || st.Cold < dropped-spareSlabs {
		t.Fatalf("%d slabs dropped: %d spare and %d given back; want %d spare, the rest given back (%+v)", dropped, st.Spare, st.Cold, spareSlabs, st)
	}
	mapped := st.Mapped
	refs = fillSlabs(t, s, 100)
	st = s.Stats()
	if st.Mapped != mapped {
		t.Fatalf("mapped %d bytes more for as many slabs again; want the given-back ones reused", st.Mapped-mapped)
	}
	for i, ref := range refs {
		if got, ok := s.Get(ref); !ok || !bytes.Equal(got, record(i, 1000)) {
			t.Fatalf("record %d does not read back from a reused buffer", i)
		}
	}
}

// TestAnUnreachableStoreUnmapsItsChunks: a store's mapped chunks go with it
// (a hub closed, a test's store), or every test hub would leave its slabs
// mapped for good.
func TestAnUnreachableStoreUnmapsItsChunks(t *testing.T) {
	var m *mappings
	func() {
		s, _ := newTestStore(t, Config{})
		fillSlabs(t, s, 3)
		if s.Stats().Mapped == 0 {
			t.Fatal("nothing mapped")
		}
		m = s.mem.maps
	}()
	for i := 0; m.numChunks() > 0; i++ {
		if i == 1000 {
			t.Fatal("the store's chunks were not unmapped after 1000 collections")
		}
		runtime.GC()
		runtime.Gosched()
	}
}
