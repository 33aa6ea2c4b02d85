package comet

import (
	"fmt"
	"time"

	"github.com/cometplay/cometplay/engine"

	"github.com/cometplay/cometplay/internal/history"
)

// What a session may still have to deliver is held once per event in the
// hub's history store (internal/history): each event published or sent is
// encoded once as a record of its fields, put in a slab with one reference
// per recipient, and each recipient's session keeps 16 bytes for it in its
// ring (history.Entry: the reference, its size, the subscription it came
// through). Nothing the collector scans grows with the events held or the
// sessions holding them. A data channel writes an event from its record,
// encoded in its format once per event and event loop (encCache).

// historyDefaults fills in and checks the history's settings.
func (c *Config) historyDefaults() []error {
	if c.SessionHistoryBytes == 0 {
		c.SessionHistoryBytes = max(DefaultSessionHistoryBytes, c.MaxEventBytes)
	}
	if c.ResumeHorizon == 0 {
		c.ResumeHorizon = DefaultResumeHorizon
	}
	if c.HistoryBytes == 0 {
		c.HistoryBytes = max(DefaultHistoryBytes, minHistoryEvents*int64(c.MaxEventBytes))
	}
	var errs []error
	bad := func(field, format string, args ...any) {
		errs = append(errs, &engine.ConfigError{Field: field, Problem: fmt.Sprintf(format, args...)})
	}
	if c.SessionHistoryBytes < c.MaxEventBytes {
		bad("SessionHistoryBytes", "must be at least MaxEventBytes (%d), got %d", c.MaxEventBytes, c.SessionHistoryBytes)
	}
	if c.ResumeHorizon < time.Second {
		bad("ResumeHorizon", "must be at least 1s, got %v", c.ResumeHorizon)
	}
	if c.HistoryBytes < minHistoryEvents*int64(c.MaxEventBytes) {
		bad("HistoryBytes", "must be at least %d × MaxEventBytes (%d), got %d", minHistoryEvents, minHistoryEvents*int64(c.MaxEventBytes), c.HistoryBytes)
	}
	return errs
}

// minHistoryEvents is the fewest of the largest events the hub's history
// must be able to hold: a slab holds several, and one record never fills
// the store.
const minHistoryEvents = 64

// newStore returns the history store the configuration asks for.
func newStore(c *Config) (*history.Store, error) {
	return history.NewStore(history.Config{MaxBytes: c.HistoryBytes, Horizon: c.ResumeHorizon})
}

// record encodes fs as a history record, appended to dst.
func record(dst []byte, fs []Field) []byte {
	for _, f := range fs {
		dst = history.AppendField(dst, f.Name, f.Value)
	}
	return dst
}

// encCache holds, for one event loop, the encodings of the events it wrote
// last, by record and format family: an event fanned out to thousands of
// listeners on a loop is encoded once there. Its buffers are reused. Loop
// only (each loop has its own, in its loopScratch).
type encCache struct {
	slots [encSlots]encSlot
}

const encSlots = 8 // a power of two

type encSlot struct {
	ref history.Ref // 0: empty
	fam Format
	buf []byte
}

// encoded returns rec's fields encoded in f's family: from the cache, or
// encoded now into a slot. The bytes are valid until the next call.
func (c *encCache) encoded(ref history.Ref, rec []byte, f Format) []byte {
	fam := family(f)
	i := (uint64(ref) ^ uint64(ref)>>29 ^ uint64(fam)) & (encSlots - 1)
	sl := &c.slots[i]
	if sl.ref == ref && sl.fam == fam {
		return sl.buf
	}
	b := sl.buf[:0]
	first := true
	for it := history.ReadFields(rec); it.Next(); first = false {
		b = appendField(b, fam, it.Name, it.Value, first)
	}
	sl.ref, sl.fam, sl.buf = ref, fam, b
	return b
}
