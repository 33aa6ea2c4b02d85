package roomstest

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/cometplay/cometplay/rooms"
)

// SettleTimeout bounds how long the Harness waits for the Manager to go
// idle before failing the test.
const SettleTimeout = 10 * time.Second

// Harness runs games on a Manager with a recording Transport and a fake
// Clock. Every method that acts waits until the Manager is idle, so the
// events it caused can be read right after it returns. Methods must be
// called from the test's goroutine.
type Harness struct {
	TB testing.TB
	M  *rooms.Manager
	T  *Transport
	C  *Clock
}

// New returns a Harness running the games, shut down in tb.Cleanup. Zero
// fields of o take the Manager's defaults, except Clock and Logger, which
// are the Harness's fake clock and a logger writing to tb.Log.
func New(tb testing.TB, o rooms.ManagerOptions, games ...rooms.Game) *Harness {
	tb.Helper()
	h := &Harness{TB: tb, T: NewTransport(), C: NewClock()}
	o.Clock = h.C
	if o.Logger == nil {
		o.Logger = slog.New(slog.NewTextHandler(tbWriter{tb}, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	h.M = rooms.NewManager(h.T, o)
	for _, g := range games {
		if err := h.M.Register(g); err != nil {
			tb.Fatalf("Register(%s) = %v", g.Name, err)
		}
	}
	h.C.SetSettle(h.Settle)
	tb.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), SettleTimeout)
		defer cancel()
		if err := h.M.Shutdown(ctx); err != nil {
			tb.Errorf("Shutdown = %v", err)
		}
	})
	return h
}

// DiscardLogger is a logger for tests that do not want the runtime's logs.
var DiscardLogger = slog.New(slog.NewTextHandler(io.Discard, nil))

type tbWriter struct{ tb testing.TB }

func (w tbWriter) Write(p []byte) (int, error) {
	w.tb.Log(string(p))
	return len(p), nil
}

// Player returns the PlayerInfo the Harness uses for a name: session
// "sess-<name>", player id and display name <name>.
func Player(name string) rooms.PlayerInfo {
	return rooms.PlayerInfo{SessionID: Session(name), PlayerID: name, Name: name}
}

// Session returns the session id of Player(name).
func Session(name string) string { return "sess-" + name }

// Settle waits until the Manager is idle, failing the test after
// SettleTimeout.
func (h *Harness) Settle() {
	h.TB.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), SettleTimeout)
	defer cancel()
	if err := h.M.WaitIdle(ctx); err != nil {
		h.TB.Fatalf("Manager not idle after %v: %v", SettleTimeout, err)
	}
}

// Advance moves the clock, letting the Manager process each timer it fires.
func (h *Harness) Advance(d time.Duration) {
	h.TB.Helper()
	h.C.Advance(d)
	h.Settle()
}

// Create creates a room of the game with the named creator (none if
// creator is "") and returns its id, failing the test on error.
func (h *Harness) Create(game, creator string, opts rooms.Options) string {
	h.TB.Helper()
	var p rooms.PlayerInfo
	if creator != "" {
		p = Player(creator)
	}
	id, err := h.M.Create(game, p, opts)
	if err != nil {
		h.TB.Fatalf("Create(%s) = %v", game, err)
	}
	h.Settle()
	return id
}

// Join asks a seat for the named player and returns Manager.Join's error.
func (h *Harness) Join(room, name string) error {
	return h.settled(h.M.Join(room, Player(name)))
}

// JoinWith is Join with join options (a password...).
func (h *Harness) JoinWith(room, name string, opts rooms.Options) error {
	p := Player(name)
	p.Options = opts
	return h.settled(h.M.Join(room, p))
}

// Spectate asks a spectator's place for the named player.
func (h *Harness) Spectate(room, name string) error {
	return h.settled(h.M.Spectate(room, Player(name)))
}

// Leave takes the named player out of the room.
func (h *Harness) Leave(room, name string) error {
	return h.settled(h.M.Leave(room, Session(name)))
}

// Send delivers a message (not a move) from the named player; data is
// encoded as JSON.
func (h *Harness) Send(room, name, typ string, data any) error {
	return h.settled(h.M.Deliver(room, Session(name), rooms.Message{Type: typ, Data: h.encode(data)}))
}

// Move delivers a move from the named player.
func (h *Harness) Move(room, name, typ, moveID string, seq int, data any) error {
	return h.settled(h.M.Deliver(room, Session(name), rooms.Message{Type: typ, Data: h.encode(data), MoveID: moveID, Seq: seq}))
}

// Detach, Attach and End report the named player's session's connection
// state to the Manager.
func (h *Harness) Detach(name string) { h.M.Detached(Session(name)); h.Settle() }

// Attach reports that the named player's session listens again.
func (h *Harness) Attach(name string) { h.M.Attached(Session(name)); h.Settle() }

// End reports that the named player's session is gone.
func (h *Harness) End(name string) { h.M.SessionEnded(Session(name)); h.Settle() }

// Events returns the events the named player's session received.
func (h *Harness) Events(name string) []Record { return h.T.Events(Session(name)) }

// Take returns and forgets the events the named player's session received
// since the last Take.
func (h *Harness) Take(name string) []Record { return h.T.Take(Session(name)) }

// Last returns the last event of the type the named player received,
// failing the test if there is none.
func (h *Harness) Last(name, typ string) Record {
	h.TB.Helper()
	r, ok := h.T.Last(Session(name), typ)
	if !ok {
		h.TB.Fatalf("%s got no %q event (got %v)", name, typ, h.T.Types(Session(name)))
	}
	return r
}

// Token returns the reconnection token of the named player's last "joined".
func (h *Harness) Token(name string) string {
	h.TB.Helper()
	var j struct{ Token string }
	if err := h.Last(name, "joined").Decode(&j); err != nil {
		h.TB.Fatal(err)
	}
	return j.Token
}

func (h *Harness) settled(err error) error {
	h.TB.Helper()
	h.Settle()
	return err
}

func (h *Harness) encode(v any) json.RawMessage {
	h.TB.Helper()
	if v == nil {
		return nil
	}
	if b, ok := v.(json.RawMessage); ok {
		return b
	}
	b, err := json.Marshal(v)
	if err != nil {
		h.TB.Fatal(err)
	}
	return b
}
