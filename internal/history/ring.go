package history

// Entry is what a recipient holds of one event: a reference to its record
// and what delivering it needs without reading the record.
type Entry struct {
	Ref  Ref
	Size uint32 // the bytes it counts for (pacing, per-recipient byte limit)
	Sub  uint32 // the subscription it came through (0: unicast)
}

// Ring is one recipient's history: the entries of consecutive sequence
// numbers first..first+Len()-1, oldest first. Its buffer grows by doubling
// as entries arrive and is let go when it empties, so a recipient that holds
// nothing owns nothing. The zero value is an empty ring. Not safe for
// concurrent use.
type Ring struct {
	buf   []Entry
	head  int32
	n     int32
	first uint64 // sequence number of buf[head] (when n > 0)
	bytes int64  // sum of Size over the entries
}

// firstCap is the buffer a ring gets first, and keepCap the largest it
// keeps when it empties: a recipient that receives an event now and then,
// or a player who acknowledges a move's few events at a time, does not
// reallocate for each. A player holds five between two of its moves (its
// move's ack, its move, the turn, the opponent's move, the turn): six
// entries are 96 bytes, a size class of their own. A ring that needs more
// grows to eight (128 bytes, what every ring got before), then doubles.
const (
	firstCap = 6
	keepCap  = 8
)

// Len returns the number of entries held.
func (r *Ring) Len() int { return int(r.n) }

// Bytes returns the sum of the entries' Size.
func (r *Ring) Bytes() int64 { return r.bytes }

// First returns the sequence number of the oldest entry held, or next if
// the ring is empty (next is the sequence number the next Push will have).
func (r *Ring) First(next uint64) uint64 {
	if r.n == 0 {
		return next
	}
	return r.first
}

// Push appends e as sequence number seq, which must follow the last one
// pushed (or anything, when the ring is empty). limit bounds the entries
// held: when the ring holds limit entries, the oldest is removed first and
// returned with true; its owner releases it.
func (r *Ring) Push(seq uint64, e Entry, limit int) (evicted Entry, ok bool) {
	if r.n > 0 && seq != r.first+uint64(r.n) {
		panic("history: Ring.Push out of sequence")
	}
	if int(r.n) >= limit && r.n > 0 {
		evicted, ok = r.PopFront()
	}
	size := int32(len(r.buf))
	if r.n == size {
		c := 2 * int(size)
		switch {
		case size == 0:
			c = firstCap
		case size < keepCap:
			c = keepCap
		}
		grown := make([]Entry, min(c, max(limit, 1)))
		for i := int32(0); i < r.n; i++ {
			grown[i] = r.buf[(r.head+i)%size]
		}
		r.buf, r.head, size = grown, 0, int32(len(grown))
	}
	if r.n == 0 {
		r.first, r.head = seq, 0
	}
	r.buf[(r.head+r.n)%size] = e
	r.n++
	r.bytes += int64(e.Size)
	return evicted, ok
}

// PopFront removes and returns the oldest entry.
func (r *Ring) PopFront() (Entry, bool) {
	if r.n == 0 {
		return Entry{}, false
	}
	e := r.buf[r.head]
	r.buf[r.head] = Entry{}
	r.head = (r.head + 1) % int32(len(r.buf))
	r.n--
	r.first++
	r.bytes -= int64(e.Size)
	if r.n == 0 && len(r.buf) > keepCap {
		r.buf, r.head = nil, 0
	}
	return e, true
}

// At returns the entry of sequence number seq, if held.
func (r *Ring) At(seq uint64) (Entry, bool) {
	if r.n == 0 || seq < r.first || seq-r.first >= uint64(r.n) {
		return Entry{}, false
	}
	return r.buf[(r.head+int32(seq-r.first))%int32(len(r.buf))], true
}

// Reset removes every entry, calling release for each, and lets the buffer go.
func (r *Ring) Reset(release func(Entry)) {
	for r.n > 0 {
		e, _ := r.PopFront()
		if release != nil {
			release(e)
		}
	}
	r.buf, r.head = nil, 0
}
