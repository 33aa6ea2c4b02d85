package history

import (
	"os"
	"runtime"
	"sync"
	"sync/atomic"
)

// Slab memory outside the Go heap.
//
// A slab's buffer holds no pointer, so the collector never scans it; but
// on the heap it still counts toward the heap the collector paces itself
// by: every byte of held events made the heap goal grow by as much again
// (GOGC=100), which the process kept resident. At 5,000 games the slabs
// were a sixth of the live heap and of what the server allocated. Ordinary
// slabs (Config.SlabSize, a multiple of the page size) are therefore
// carved from chunks mapped with mmap: the heap does not see them, a
// buffer is reused through the spare list as before, and a spare buffer
// beyond spareSlabs gives its pages back to the kernel (madvise
// MADV_DONTNEED, from Expire, outside the store's mutex) while its address
// range stays mapped, to be reused
// before any new chunk is mapped. Nothing is unmapped while the store is
// reachable: a reader that resolved a Ref reads its bytes until it unpins,
// and a buffer given back reads as zeros at worst, never as a fault. Once
// the store is unreachable, a cleanup unmaps its chunks. An oversized slab
// (one record larger than SlabSize) stays on the heap.

// chunkBytes is the size of one mapping: 64 slabs of the default size.
const chunkBytes = 1 << 20

// mappings are the chunks a store mapped, unmapped by a cleanup attached
// to the store (it must not point back at the store).
type mappings struct {
	mu       sync.Mutex
	chunks   [][]byte
	resident atomic.Int64 // bytes of slab buffers handed out and not given back
}

func (m *mappings) unmapAll() {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, c := range m.chunks {
		unmapChunk(c)
	}
	m.chunks = nil
	resident.Add(-m.resident.Swap(0))
}

// numChunks is how many chunks m holds mapped.
func (m *mappings) numChunks() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.chunks)
}

// resident is Resident's figure.
var resident atomic.Int64

// Resident returns the bytes of slab buffers mapped outside the Go heap and
// in use or spare (not given back), over every store of the process: what
// runtime.MemStats does not show of the events held. Tests that bound a
// server's memory by its heap add it.
func Resident() int64 { return resident.Load() }

func (m *slabMemory) addResident(n int) {
	m.maps.resident.Add(int64(n))
	resident.Add(int64(n))
}

// slabMemory hands out the buffers of ordinary slabs from mapped chunks.
// Under the store's mutex.
type slabMemory struct {
	size   int       // Config.SlabSize
	maps   *mappings // nil: the heap (mapping unsupported, or SlabSize not a page multiple)
	carve  []byte    // the rest of the newest chunk, not yet handed out
	cold   [][]byte  // spare buffers whose pages were given back
	mapped int64     // bytes mapped
}

// initMemory decides where s's ordinary slabs live.
func (s *Store) initMemory() {
	s.mem.size = s.cfg.SlabSize
	if !canMap || s.cfg.Heap || s.cfg.SlabSize%os.Getpagesize() != 0 || s.cfg.SlabSize > chunkBytes {
		return
	}
	s.mem.maps = new(mappings)
	runtime.AddCleanup(s, (*mappings).unmapAll, s.mem.maps)
}

// newBuffer returns a fresh buffer for an ordinary slab: a cold one, a
// piece of the current chunk, or a piece of a new chunk (the heap when
// mapping fails or is not used).
func (m *slabMemory) newBuffer() spare {
	if m.maps == nil {
		return spare{b: make([]byte, m.size)}
	}
	if n := len(m.cold); n > 0 {
		b := m.cold[n-1]
		m.cold[n-1] = nil
		m.cold = m.cold[:n-1]
		m.addResident(m.size)
		return spare{b: b, mapped: true}
	}
	if len(m.carve) < m.size {
		c, err := mapChunk(chunkBytes)
		if err != nil {
			return spare{b: make([]byte, m.size)} // no address space: the heap will do
		}
		m.maps.mu.Lock()
		m.maps.chunks = append(m.maps.chunks, c)
		m.maps.mu.Unlock()
		m.mapped += int64(len(c))
		m.carve = c
	}
	b := m.carve[:m.size:m.size]
	m.carve = m.carve[m.size:]
	m.addResident(m.size)
	return spare{b: b, mapped: true}
}

// spare is a slab buffer kept for reuse; mapped says it is from a chunk
// (else the heap's).
type spare struct {
	b      []byte
	mapped bool
}

// gaveBack keeps the address ranges of buffers whose pages were given back
// (releasePages: read by no one, they passed the pin check) for later
// slabs.
func (m *slabMemory) gaveBack(bs [][]byte) {
	for _, b := range bs {
		m.addResident(-len(b))
		m.cold = append(m.cold, b)
	}
}
