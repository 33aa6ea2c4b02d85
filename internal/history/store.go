package history

import (
	"encoding/binary"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"
)

// DefaultSlabSize is the size of a slab: large enough that the collector
// sees few objects (one per 16 KiB of events) and a lobby's snapshot of
// several KiB shares one, small enough that a slab pinned by one
// unacknowledged event holds little (64 KiB slabs held 1.3 times as much
// in a game's steady play: see TestDefaultSlabsHoldLittleMoreThanTheRecordsInFlight).
const DefaultSlabSize = 16 << 10

// recHeader is the length prefix of a record in a slab.
const recHeader = 4

// Ref names a record in a Store: the slab's generation and the record's
// offset in it. The zero Ref names nothing.
type Ref uint64

func makeRef(gen uint32, off int) Ref { return Ref(uint64(gen)<<32 | uint64(uint32(off))) }

func (r Ref) gen() uint32 { return uint32(r >> 32) }
func (r Ref) off() int    { return int(uint32(r)) }

// Config configures a Store. Zero fields take the defaults.
type Config struct {
	// SlabSize is the size of an ordinary slab (default DefaultSlabSize); a
	// record larger than it gets a slab of its own.
	SlabSize int
	// MaxBytes bounds the bytes of all live slabs (0: no bound). To make room
	// for a new slab the oldest are dropped, referenced or not.
	MaxBytes int64
	// Horizon is how long a slab is kept after its last record was put,
	// referenced or not (0: for ever).
	Horizon time.Duration
	// Now returns the time in Unix nanoseconds (default time.Now); tests set it.
	Now func() int64
	// Heap keeps ordinary slabs on the Go heap even where they could be
	// mapped outside it (see mem.go); for comparisons.
	Heap bool
}

// slab is one block of records. buf never changes after the slab is made:
// records are appended in place under the store's mutex, each written before
// its Ref is handed out and never again.
type slab struct {
	gen    uint32
	buf    []byte
	used   int          // bytes of buf holding records (under Store.mu)
	newest int64        // Unix nanoseconds of the last Put (under Store.mu)
	refs   atomic.Int64 // references its records still have
	sealed atomic.Bool  // no more records will be put in it
	gone   bool         // dropped (under Store.mu)
	mapped bool         // buf is from the store's mapped chunks (mem.go)
}

// table finds a live slab by its generation: slots[gen&mask]. The live
// slabs' generations span at most len(slots) (a wider span gets a larger
// table), so a slot holds the slab of at most one live generation; a
// dropped slab's slot is cleared. A table is replaced only when it grows
// or shrinks: making and dropping slabs stores into its slots and allocates
// nothing (a fresh snapshot per change was a quarter of all the server
// allocated under play, pointers the collector scanned).
type table struct {
	mask  uint32
	slots []atomic.Pointer[slab]
}

// minTableSlots is the smallest table: 512 bytes.
const minTableSlots = 64

func newTable(span int) *table {
	n := minTableSlots
	for n < span {
		n *= 2
	}
	return &table{mask: uint32(n - 1), slots: make([]atomic.Pointer[slab], n)}
}

func (t *table) lookup(gen uint32) *slab {
	if t == nil {
		return nil
	}
	sl := t.slots[gen&t.mask].Load()
	if sl == nil || sl.gen != gen {
		return nil
	}
	return sl
}

// Store keeps records in slabs. See the package documentation.
type Store struct {
	cfg Config

	mu      sync.Mutex
	cur     *slab   // the slab records are put in; nil before the first
	live    []*slab // live slabs, oldest first
	nextGen uint32
	bytes   int64 // total len(buf) of live slabs

	tab atomic.Pointer[table]

	// Buffers of dropped slabs, for new slabs: a buffer is retired when its
	// slab is dropped, and free to write once no read was pinned at some
	// moment since (see Pin). Both under mu. Expire keeps at most
	// spareSlabs free: beyond them a heap buffer is left to the collector
	// and a mapped one gives its pages back (mem.go).
	retired, free []spare
	readers       atomic.Int64 // reads pinned now
	mem           slabMemory   // where new ordinary slabs come from (under mu)

	puts, released, expired, evicted, lostRefs, reused, retables atomic.Int64
}

// spareSlabs is the most buffers of dropped slabs kept for reuse: a store
// whose events come and go at a steady rate allocates no new slab, and
// the collector no new bytes, for them.
const spareSlabs = 16

// ErrRecordTooLarge is returned by Put for a record larger than MaxBytes.
var ErrRecordTooLarge = errors.New("history: record larger than the store's byte limit")

// NewStore returns an empty store, or an error for an invalid Config.
func NewStore(cfg Config) (*Store, error) {
	if cfg.SlabSize == 0 {
		cfg.SlabSize = DefaultSlabSize
	}
	if cfg.Now == nil {
		cfg.Now = func() int64 { return time.Now().UnixNano() }
	}
	switch {
	case cfg.SlabSize < 256 || cfg.SlabSize > 1<<30:
		return nil, fmt.Errorf("history: SlabSize must be within 256 B..1 GiB, got %d", cfg.SlabSize)
	case cfg.MaxBytes < 0:
		return nil, fmt.Errorf("history: MaxBytes must not be negative, got %d", cfg.MaxBytes)
	case cfg.MaxBytes > 0 && cfg.MaxBytes < int64(cfg.SlabSize):
		return nil, fmt.Errorf("history: MaxBytes (%d) must be at least SlabSize (%d)", cfg.MaxBytes, cfg.SlabSize)
	case cfg.Horizon < 0:
		return nil, fmt.Errorf("history: Horizon must not be negative, got %v", cfg.Horizon)
	}
	s := &Store{cfg: cfg, nextGen: 1}
	s.initMemory()
	return s, nil
}

// Put stores rec with refs references and returns its Ref. refs must be at
// least 1: each holder calls Release once. rec is copied.
func (s *Store) Put(rec []byte, refs int) (Ref, error) {
	if refs < 1 {
		panic("history: Put needs at least one reference")
	}
	need := recHeader + len(rec)
	if s.cfg.MaxBytes > 0 && int64(need) > s.cfg.MaxBytes {
		return 0, ErrRecordTooLarge
	}
	s.mu.Lock()
	now := s.cfg.Now()
	s.expireLocked(now)
	if s.cur == nil || s.cur.used+need > len(s.cur.buf) {
		s.newSlabLocked(max(s.cfg.SlabSize, need))
	}
	sl := s.cur
	off := sl.used
	binary.LittleEndian.PutUint32(sl.buf[off:], uint32(len(rec)))
	copy(sl.buf[off+recHeader:], rec)
	sl.used += need
	sl.newest = now
	sl.refs.Add(int64(refs))
	s.mu.Unlock()
	s.puts.Add(1)
	return makeRef(sl.gen, off), nil
}

// newSlabLocked seals the current slab and starts a new one of size bytes,
// dropping the oldest slabs first if the byte limit requires it.
func (s *Store) newSlabLocked(size int) {
	if s.cur != nil {
		s.sealLocked(s.cur)
	}
	if s.cfg.MaxBytes > 0 {
		for len(s.live) > 0 && s.bytes+int64(size) > s.cfg.MaxBytes {
			s.dropLocked(s.live[0], &s.evicted)
		}
	}
	b := s.bufferLocked(size)
	sl := &slab{gen: s.nextGen, buf: b.b, mapped: b.mapped}
	s.nextGen++
	s.cur = sl
	s.live = append(s.live, sl)
	s.bytes += int64(size)
	if t := s.tab.Load(); t != nil && s.spanLocked() <= len(t.slots) {
		t.slots[sl.gen&t.mask].Store(sl)
	} else {
		s.retableLocked(2 * s.spanLocked())
	}
}

// spanLocked is the number of generations from the oldest live slab to the
// newest, both included (0 when none lives).
func (s *Store) spanLocked() int {
	if len(s.live) == 0 {
		return 0
	}
	return int(s.live[len(s.live)-1].gen-s.live[0].gen) + 1
}

// retableLocked replaces the slab table with one of at least span slots
// holding the live slabs. Readers holding the old table find in it the
// slabs live when it was replaced, as they would have a moment before.
func (s *Store) retableLocked(span int) {
	t := newTable(span)
	for _, sl := range s.live {
		t.slots[sl.gen&t.mask].Store(sl)
	}
	s.tab.Store(t)
	s.retables.Add(1)
}

// bufferLocked returns a buffer for a new slab of size bytes: a dropped
// slab's when one is free, else a new one (mem.go).
func (s *Store) bufferLocked(size int) spare {
	if size != s.cfg.SlabSize {
		return spare{b: make([]byte, size)}
	}
	s.recycleLocked()
	if n := len(s.free); n > 0 {
		b := s.free[n-1]
		s.free[n-1] = spare{}
		s.free = s.free[:n-1]
		s.reused.Add(1)
		return b
	}
	return s.mem.newBuffer()
}

// recycleLocked frees the retired buffers if no read is pinned now (none
// still reads a slab retired before).
func (s *Store) recycleLocked() {
	if len(s.retired) > 0 && s.readers.Load() == 0 {
		s.free = append(s.free, s.retired...)
		clear(s.retired)
		s.retired = s.retired[:0]
	}
}

// trimLocked takes the free buffers beyond spareSlabs out of the store and
// returns the mapped ones among them, whose pages the caller gives back
// (giveBack) without the mutex: a madvise per buffer is no work for the
// Put of an event loop, nor for the others waiting on mu meanwhile. Heap
// buffers are left to the collector.
func (s *Store) trimLocked(dst [][]byte) [][]byte {
	for len(s.free) > spareSlabs {
		n := len(s.free)
		if b := s.free[n-1]; b.mapped {
			dst = append(dst, b.b)
		}
		s.free[n-1] = spare{}
		s.free = s.free[:n-1]
	}
	return dst
}

// retireLocked keeps the buffer of dropped slab sl for reuse: always if
// it is mapped (the collector cannot take it), else unless spareSlabs are
// kept already.
func (s *Store) retireLocked(sl *slab) {
	if len(sl.buf) != s.cfg.SlabSize {
		return
	}
	if sl.mapped || len(s.retired)+len(s.free) < spareSlabs {
		s.retired = append(s.retired, spare{b: sl.buf, mapped: sl.mapped})
	}
}

// sealLocked marks sl full; it is dropped at once if nothing references it.
func (s *Store) sealLocked(sl *slab) {
	sl.sealed.Store(true)
	if s.cur == sl {
		s.cur = nil
	}
	if sl.refs.Load() == 0 {
		s.dropLocked(sl, nil)
	}
}

// dropLocked removes sl from the live slabs. Its remaining references, if
// any, now resolve to nothing; reason counts the drop (nil: released).
func (s *Store) dropLocked(sl *slab, reason *atomic.Int64) {
	if sl.gone {
		return
	}
	sl.gone = true
	sl.sealed.Store(true)
	if s.cur == sl {
		s.cur = nil
	}
	for i, l := range s.live {
		if l == sl {
			s.live = append(s.live[:i], s.live[i+1:]...)
			break
		}
	}
	s.bytes -= int64(len(sl.buf))
	s.retireLocked(sl)
	if t := s.tab.Load(); t != nil {
		if t.slots[sl.gen&t.mask].Load() == sl {
			t.slots[sl.gen&t.mask].Store(nil)
		}
		// A span that was wide once (a slab kept to its horizon) does not
		// keep a large table for good.
		if span := s.spanLocked(); len(t.slots) > minTableSlots && span*8 < len(t.slots) {
			s.retableLocked(2 * span)
		}
	}
	if reason == nil {
		s.released.Add(1)
	} else {
		reason.Add(1)
		s.lostRefs.Add(max(sl.refs.Load(), 0))
	}
}

// expireLocked drops the slabs whose newest record is older than the horizon.
func (s *Store) expireLocked(now int64) {
	if s.cfg.Horizon <= 0 {
		return
	}
	limit := now - int64(s.cfg.Horizon)
	for len(s.live) > 0 && s.live[0].newest < limit {
		s.dropLocked(s.live[0], &s.expired)
	}
}

// Expire drops what is older than the horizon now. The store does so on
// every Put; an owner calls Expire periodically so that a store nobody
// writes to lets go of its slabs too, and of the memory of all but
// spareSlabs of the buffers they leave.
func (s *Store) Expire() {
	s.mu.Lock()
	s.expireLocked(s.cfg.Now())
	s.recycleLocked()
	back := s.trimLocked(nil)
	s.mu.Unlock()
	if len(back) == 0 {
		return
	}
	for _, b := range back {
		releasePages(b)
	}
	s.mu.Lock()
	s.mem.gaveBack(back)
	s.mu.Unlock()
}

// Pin starts a read: the records Get returns until the matching Unpin
// stay as they are, even if their slabs are dropped meanwhile (a dropped
// slab's buffer is reused only once no read is pinned). Pin for as long as
// it takes to copy or encode what Get returned, not longer: a read pinned
// for good keeps the store allocating new slabs. Safe for concurrent use.
func (s *Store) Pin() { s.readers.Add(1) }

// Unpin ends a read started by Pin.
func (s *Store) Unpin() { s.readers.Add(-1) }

// Get returns the record ref names, or false if its slab was dropped. The
// bytes are read-only, and valid until the caller's Unpin: call Pin before
// Get.
func (s *Store) Get(ref Ref) ([]byte, bool) {
	sl := s.tab.Load().lookup(ref.gen())
	if sl == nil {
		return nil, false
	}
	off := ref.off()
	n := int(binary.LittleEndian.Uint32(sl.buf[off:]))
	return sl.buf[off+recHeader : off+recHeader+n : off+recHeader+n], true
}

// Alive reports whether ref still resolves.
func (s *Store) Alive(ref Ref) bool {
	return s.tab.Load().lookup(ref.gen()) != nil
}

// Release gives up one reference to ref's record. A full slab whose records
// are no longer referenced is dropped.
func (s *Store) Release(ref Ref) {
	sl := s.tab.Load().lookup(ref.gen())
	if sl == nil {
		return // dropped already
	}
	if sl.refs.Add(-1) > 0 || !sl.sealed.Load() {
		return
	}
	s.mu.Lock()
	if sl.refs.Load() == 0 {
		s.dropLocked(sl, nil)
	}
	s.mu.Unlock()
}

// Stats describes a store.
type Stats struct {
	Bytes    int64 // bytes of the live slabs
	Slabs    int   // live slabs
	Refs     int64 // references held into the live slabs
	Puts     int64 // records put, ever
	Released int64 // slabs dropped once nothing referenced them
	Expired  int64 // slabs dropped for the horizon
	Evicted  int64 // slabs dropped for the byte limit
	LostRefs int64 // references that pointed into slabs dropped for the horizon or the byte limit
	Reused   int64 // slabs made with a dropped slab's buffer
	Spare    int   // buffers of dropped slabs kept for reuse, resident (outside Bytes)
	Retables int64 // slab tables made because the live slabs' span of generations grew or shrank
	Mapped   int64 // bytes mapped outside the Go heap for ordinary slabs: live, spare, given back and not yet handed out
	Cold     int   // spare buffers whose pages were given back to the kernel (mapped, not resident)
	Resident int64 // of Mapped, the bytes of buffers in use or spare (not given back)
}

// Stats returns the store's figures.
func (s *Store) Stats() Stats {
	s.mu.Lock()
	st := Stats{Bytes: s.bytes, Slabs: len(s.live), Spare: len(s.retired) + len(s.free), Mapped: s.mem.mapped, Cold: len(s.mem.cold)}
	if s.mem.maps != nil {
		st.Resident = s.mem.maps.resident.Load()
	}
	for _, sl := range s.live {
		st.Refs += sl.refs.Load()
	}
	s.mu.Unlock()
	st.Puts, st.Released, st.Expired, st.Evicted, st.LostRefs, st.Reused = s.puts.Load(), s.released.Load(), s.expired.Load(), s.evicted.Load(), s.lostRefs.Load(), s.reused.Load()
	st.Retables = s.retables.Load()
	return st
}
