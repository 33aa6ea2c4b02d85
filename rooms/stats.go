package rooms

import (
	"errors"
	"sync"
	"sync/atomic"
)

// Stats is a snapshot of a Manager's figures, for monitoring (the games
// package exports them as Prometheus metrics). Counters count from NewManager;
// the others are current values.
type Stats struct {
	// Rooms counts the rooms by state, indexed by State (waiting, playing,
	// finished). A room is counted once its OnCreate has succeeded.
	Rooms [StateDisposed]int64 `json:"rooms"`
	// Created and Disposed count rooms whose OnCreate succeeded, and those
	// of them that have been disposed since.
	Created  int64 `json:"created"`
	Disposed int64 `json:"disposed"`
	// Games counts games started (waiting → playing, and each rematch) and
	// finished (playing → finished), by game name.
	Games map[string]GameStats `json:"games"`
	// Moves counts moves applied (OnMessage accepted them).
	Moves int64 `json:"moves"`
	// MovesRejected counts moves refused, by reason (the Reject constants;
	// every one is present).
	MovesRejected map[string]int64 `json:"moves_rejected"`
	// MailboxItems is the number of items waiting in all room mailboxes;
	// MailboxFull counts client items refused with ErrMailboxFull.
	MailboxItems int64 `json:"mailbox_items"`
	MailboxFull  int64 `json:"mailbox_full"`
	// JournalRefused counts client items (moves, messages, joins, Do)
	// refused because their room's journal append had waited past
	// ManagerOptions.JournalPatience: ErrJournalUnavailable at once, or
	// ReasonJournalUnavailable for those already waiting in the mailbox.
	JournalRefused int64 `json:"journal_refused"`
	// RunQueue is the number of rooms with work waiting for an executor;
	// Executors is the pool's size and ExecutorsBusy how many run a room now.
	RunQueue      int   `json:"run_queue"`
	Executors     int   `json:"executors"`
	ExecutorsBusy int64 `json:"executors_busy"`
	// Panics counts hooks that panicked (each closed its room).
	Panics int64 `json:"panics"`
}

// GameStats are the counters of one game.
type GameStats struct {
	Started  int64 `json:"started"`
	Finished int64 `json:"finished"`
}

// Why a move was refused: the keys of Stats.MovesRejected. The first six
// are refusals of Manager.Deliver (answered to the client at once; a move
// that waited in the mailbox when its room's journal became unavailable is
// counted as store_unavailable too); the others are decided by the runtime
// or the game on the room's executor.
const (
	RejectMalformed          = "malformed"         // ErrBadMessage
	RejectNoRoom             = "no_room"           // ErrNoRoom
	RejectNotInRoom          = "not_in_room"       // ErrNotInRoom
	RejectSpectator          = "spectator"         // ErrSpectator, ReasonSpectator
	RejectMailboxFull        = "mailbox_full"      // ErrMailboxFull
	RejectJournalUnavailable = "store_unavailable" // ErrJournalUnavailable, ReasonJournalUnavailable
	RejectNotInProgress      = "not_in_progress"   // ReasonNotInProgress
	RejectNotYourTurn        = "not_your_turn"     // ReasonNotYourTurn
	RejectStaleSeq           = "stale_seq"         // the move's seq is not the next one
	RejectByGame             = "game"              // OnMessage returned an error
	RejectOther              = "other"
)

// managerStats are the Manager's counters: atomics updated where things
// happen (an add each), read by Stats.
type managerStats struct {
	rooms       [StateDisposed]atomic.Int64
	created     atomic.Int64
	disposed    atomic.Int64
	moves       atomic.Int64
	rejected    [len(rejectIndex)]atomic.Int64
	mailbox     atomic.Int64
	mailboxFull atomic.Int64
	// journalRefused: client items refused because their room's append
	// was late (ErrJournalUnavailable, ReasonJournalUnavailable).
	journalRefused atomic.Int64
	busy           atomic.Int64
	panics         atomic.Int64

	gmu   sync.Mutex
	games map[string]*gameCounters // guarded by gmu
}

// rejectIndex gives each reason its counter.
var rejectIndex = [...]string{
	RejectMalformed, RejectNoRoom, RejectNotInRoom, RejectSpectator, RejectMailboxFull, RejectJournalUnavailable,
	RejectNotInProgress, RejectNotYourTurn, RejectStaleSeq, RejectByGame, RejectOther,
}

type gameCounters struct{ started, finished atomic.Int64 }

// game returns the counters of a game, made on first use.
func (s *managerStats) game(name string) *gameCounters {
	s.gmu.Lock()
	defer s.gmu.Unlock()
	if s.games == nil {
		s.games = make(map[string]*gameCounters)
	}
	g := s.games[name]
	if g == nil {
		g = new(gameCounters)
		s.games[name] = g
	}
	return g
}

func (s *managerStats) reject(reason string) {
	for i, r := range rejectIndex {
		if r == reason {
			s.rejected[i].Add(1)
			return
		}
	}
	s.rejected[len(rejectIndex)-1].Add(1)
}

// rejectErr counts a move Deliver refused.
func (s *managerStats) rejectErr(err error) {
	switch {
	case errors.Is(err, ErrBadMessage):
		s.reject(RejectMalformed)
	case errors.Is(err, ErrNoRoom):
		s.reject(RejectNoRoom)
	case errors.Is(err, ErrNotInRoom):
		s.reject(RejectNotInRoom)
	case errors.Is(err, ErrSpectator):
		s.reject(RejectSpectator)
	case errors.Is(err, ErrMailboxFull):
		s.reject(RejectMailboxFull)
	case errors.Is(err, ErrJournalUnavailable):
		s.reject(RejectJournalUnavailable)
	default:
		s.reject(RejectOther)
	}
}

// track moves r's count to its current state (none once disposed). It may
// be called again for the same state: it counts each change once.
// Executor only: it runs where the room's public info is published, which
// every state change goes through.
func (s *managerStats) track(r *room) {
	if r.counted == r.state+1 {
		return
	}
	if r.counted != 0 {
		s.rooms[r.counted-1].Add(-1)
	} else {
		s.created.Add(1)
	}
	if r.state == StateDisposed {
		s.disposed.Add(1)
		r.counted = r.state + 1 // counted as disposed: never again
		return
	}
	s.rooms[r.state].Add(1)
	r.counted = r.state + 1
}

// Stats returns a snapshot of the Manager's figures. It is cheap (atomic
// loads and one short lock) and safe for concurrent use.
func (m *Manager) Stats() Stats {
	s := &m.stats
	st := Stats{
		Created:        s.created.Load(),
		Disposed:       s.disposed.Load(),
		Moves:          s.moves.Load(),
		MailboxItems:   s.mailbox.Load(),
		MailboxFull:    s.mailboxFull.Load(),
		JournalRefused: s.journalRefused.Load(),
		Executors:      m.o.Executors,
		ExecutorsBusy:  s.busy.Load(),
		Panics:         s.panics.Load(),
		Games:          make(map[string]GameStats),
		MovesRejected:  make(map[string]int64, len(rejectIndex)),
	}
	for i := range st.Rooms {
		st.Rooms[i] = s.rooms[i].Load()
	}
	for i, r := range rejectIndex {
		st.MovesRejected[r] = s.rejected[i].Load()
	}
	for _, name := range m.Games() {
		st.Games[name] = GameStats{}
	}
	s.gmu.Lock()
	for name, g := range s.games {
		st.Games[name] = GameStats{Started: g.started.Load(), Finished: g.finished.Load()}
	}
	s.gmu.Unlock()
	m.sched.mu.Lock()
	st.RunQueue = len(m.sched.q) - m.sched.head
	m.sched.mu.Unlock()
	return st
}
