package rooms

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	mrand "math/rand/v2"
	"time"
)

// Journal keeps, for each room, the items it processed, so that another
// Manager (another node, after this one died) can rebuild the room as it
// was: Manager.Restore replays them. A Manager with a Journal
// (ManagerOptions.Journal) appends one Entry per item that changes a room
// (its creation, a join, a spectator, a reclaimed seat, a message, a
// leave, a change of presence, a timer) before anything the item produced
// goes out: its events, its Transport calls and its public info are held
// until the entry is durable. Whatever a client has seen, a move's "ack"
// included, is therefore in the journal.
//
// Append must not block: it calls done once, from any goroutine, when the
// entry is durable (err nil) or can never be (err not nil: another node
// owns the room now, its fencing refused the write). Until then the room
// processes nothing more (one append in flight per room); an error evicts
// the room (Manager.Evict: stopped without a word, its held output
// dropped). A journal that cannot write for a while (no quorum) keeps
// trying rather than failing, and must not call done before the entry is
// durable or refused. Once an append has waited
// ManagerOptions.JournalPatience, the room's journal counts as
// unavailable: the client items waiting in its mailbox are answered
// ReasonJournalUnavailable ("error" for a message, "join-rejected" for a
// join), new ones are refused with ErrJournalUnavailable, and its members
// get an "error" event without a move (ReasonJournalWaiting); the
// runtime's own items (timers, leaves, presence) wait. The item whose
// append waits is neither dropped nor refused: its output goes out when
// its entry is durable, and the room takes client items again. Nothing
// that is not durable goes out meanwhile, and nothing is applied twice
// (a client sending its move again with the same move id gets its "ack").
//
// A room whose game implements Persister also appends, every
// ManagerOptions.SnapshotEvery entries, a snapshot of itself
// (EntrySnapshot), between two items and in the same way (one append in
// flight; a refusal evicts the room). Once a snapshot is durable the
// journal may drop the room's entries before it: Restore reads nothing
// before the latest snapshot.
type Journal interface {
	Append(roomID string, e Entry, done func(error))
}

// EntryKind says what item an Entry records.
type EntryKind string

// The kinds of journal entries.
const (
	EntryCreate   EntryKind = "create"
	EntryJoin     EntryKind = "join"
	EntrySpectate EntryKind = "spectate"
	EntryReclaim  EntryKind = "reclaim"
	EntryMessage  EntryKind = "message"
	EntryLeave    EntryKind = "leave"
	EntryPresence EntryKind = "presence"
	EntryTimer    EntryKind = "timer"
	// EntrySnapshot is the room written down whole after the entries
	// before it (ManagerOptions.SnapshotEvery; its game implements
	// Persister): Restore starts from the latest one, and once it is
	// durable the entries before it may be dropped.
	EntrySnapshot EntryKind = "snapshot"
	// EntryOwner is a journal's own entry, not a room's item (a new
	// owner's fence: see the cluster package); Restore passes over it.
	EntryOwner EntryKind = "owner"
)

// Entry is one item a room processed, with what the runtime read outside
// the room while processing it, so that replaying it gives the same result.
// It is JSON-encodable.
type Entry struct {
	Kind EntryKind `json:"k"`
	// Time is ctx.Now() during the item (the same for all of it).
	Time time.Time `json:"t"`
	// Session is the session of a join, spectate, reclaim, message, leave
	// or presence item.
	Session string `json:"s,omitempty"`
	// Player: join, spectate and reclaim.
	Player *PlayerInfo `json:"p,omitempty"`
	// Game, Options, Secret and CreatorNext: create. Secret is the room's
	// own random secret: its reconnection tokens and ctx.Rand derive from it.
	// Prefix is the IDPrefix of the Manager that made the room, which
	// begins its tokens wherever it is rebuilt. A snapshot has Game, Secret
	// and Prefix too: it stands for the creation.
	Game        string  `json:"g,omitempty"`
	Options     Options `json:"o,omitempty"`
	Secret      []byte  `json:"x,omitempty"`
	Prefix      string  `json:"pf,omitempty"`
	CreatorNext bool    `json:"cn,omitempty"`
	// Token: reclaim.
	Token string `json:"tk,omitempty"`
	// Message: message.
	Message *Message `json:"m,omitempty"`
	// Timer: the ordinal of the timer that fired (the room's n-th timer).
	Timer uint32 `json:"n,omitempty"`
	// Seen are the sessions' states the runtime read during the item, in
	// order (bit 0: detached, bit 1: ended).
	Seen []uint8 `json:"v,omitempty"`
	// Snapshot: snapshot, the room's state (the runtime's and the game's),
	// in JSON of the runtime's own form; Time is then the time of the item
	// before it.
	Snapshot json.RawMessage `json:"sn,omitempty"`
}

// entryKinds are the journal entries' kinds of the items that are
// journaled: what changes a room's state. Manager.Do's functions (which
// must not change state when a Journal is set), Shutdown and Evict are
// not ("").
var entryKinds = [...]EntryKind{kCreate: EntryCreate, kJoin: EntryJoin, kSpectate: EntrySpectate, kReclaim: EntryReclaim,
	kMessage: EntryMessage, kLeave: EntryLeave, kPresence: EntryPresence, kTimer: EntryTimer, kEvict: ""}

// journaled reports whether items of kind k are journal entries.
func (k itemKind) journaled() bool { return int(k) < len(entryKinds) && entryKinds[k] != "" }

// entryOf starts the entry of it (Seen is filled as the item runs).
func (r *room) entryOf(it *item, now time.Time) *Entry {
	e := &Entry{Kind: entryKinds[it.kind], Time: now, Session: it.session}
	switch it.kind {
	case kCreate:
		e.Game, e.Options, e.Secret, e.Prefix, e.CreatorNext = r.game.Name, it.entry.opts, r.d.secret[:], r.d.prefix, it.creatorNext
	case kJoin, kSpectate, kReclaim:
		info := it.entry.info
		e.Player, e.Token = &info, it.entry.token
	case kMessage:
		msg := it.msg
		e.Message = &msg
	case kTimer:
		e.Timer = it.timer.ord
	}
	return e
}

// itemOf is the item an entry replays; the timer of a timer entry is found
// by its ordinal among the room's pending timers (nil: it was stopped
// before it ran, and the item does nothing, as it did).
func (r *room) itemOf(e *Entry) (item, error) {
	it := item{session: e.Session}
	switch e.Kind {
	case EntryCreate:
		it.kind, it.entry, it.creatorNext = kCreate, &entry{opts: e.Options}, e.CreatorNext
	case EntryJoin, EntrySpectate, EntryReclaim:
		if e.Player == nil {
			return it, fmt.Errorf("rooms: journal entry %s without its player", e.Kind)
		}
		it.kind = kJoin
		for k, ek := range entryKinds {
			if ek == e.Kind {
				it.kind = itemKind(k)
			}
		}
		it.entry = &entry{info: *e.Player, token: e.Token}
	case EntryMessage:
		if e.Message == nil {
			return it, errors.New("rooms: journal entry message without its message")
		}
		it.kind, it.msg = kMessage, *e.Message
	case EntryLeave:
		it.kind = kLeave
	case EntryPresence:
		it.kind = kPresence
	case EntryTimer:
		it.kind = kTimer
		for t := r.timers; t != nil; t = t.next {
			if t.ord == e.Timer {
				it.timer = t
				break
			}
		}
		if it.timer == nil {
			it.timer = &Timer{r: r, stopped: true}
		}
	default:
		return it, fmt.Errorf("rooms: unknown journal entry kind %q", e.Kind)
	}
	return it, nil
}

// sessionState reads a session's state for the room: from the Manager's
// sessions, written down in the item's entry, or, in a replay, from the
// entry.
func (r *room) sessionState(s string) (detached, ended bool) {
	if r.d.replay != nil {
		if len(r.d.replay.Seen) == 0 {
			return false, false // not written down: an entry of another version
		}
		v := r.d.replay.Seen[0]
		r.d.replay.Seen = r.d.replay.Seen[1:]
		return v&1 != 0, v&2 != 0
	}
	detached, ended = r.m.sessions.state(s)
	if r.d.cur != nil {
		var v uint8
		if detached {
			v |= 1
		}
		if ended {
			v |= 2
		}
		r.d.cur.Seen = append(r.d.cur.Seen, v)
	}
	return detached, ended
}

// now is ctx.Now() for the room: fixed for each item (the time it started,
// or in a replay the entry's), so that an item is a function of its input.
func (r *room) now() time.Time {
	if r.d.replay != nil {
		return r.d.replay.Time
	}
	if !r.d.itemNow.IsZero() {
		return r.d.itemNow
	}
	return r.m.clock.Now()
}

// newSecret returns a room's random secret.
func newSecret() (b [16]byte) {
	rand.Read(b[:])
	return b
}

// derive returns 32 bytes derived from the room's secret for a purpose
// and a number.
func (r *room) derive(purpose byte, n uint64) []byte {
	mac := hmac.New(sha256.New, r.d.secret[:])
	var b [9]byte
	b[0] = purpose
	binary.BigEndian.PutUint64(b[1:], n)
	mac.Write(b[:])
	return mac.Sum(nil)
}

// nextToken returns the room's next reconnection token: 160 bits derived
// from its secret and a count (32 characters), so that a replay gives the
// same tokens.
func (r *room) nextToken() string {
	r.d.tokenN++
	return r.d.prefix + idEncoding.EncodeToString(r.derive('t', uint64(r.d.tokenN))[:20])
}

// Rand returns a source of random numbers for the current hook, seeded
// from the room's secret and its position in the journal: replaying the
// room's journal (Manager.Restore) draws the same numbers. A game that
// wants its room to survive its node uses it instead of math/rand (see
// docs/ROOMS.md, "Determinism"). Valid only inside the hook.
func (c *Ctx) Rand() *mrand.Rand {
	c.check()
	r := c.r
	if r.d.rnd == nil {
		seed := r.derive('r', r.d.pos)
		r.d.rnd = mrand.New(mrand.NewPCG(binary.BigEndian.Uint64(seed), binary.BigEndian.Uint64(seed[8:])))
	}
	return r.d.rnd
}

// closeReasonOr says why a disposed room closed, for Restore's errors.
func (r *room) closeReasonOr() string {
	if r.closeReason != "" {
		return r.closeReason
	}
	return "closed"
}
