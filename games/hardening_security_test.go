package games

// The game security tests: who may act for a seat or a session in a game,
// and how unguessable a seat's reconnection token is. docs/SECURITY.md
// lists them with what each proves.

import (
	"encoding/base32"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cometplay/cometplay/internal/testkit"
	"github.com/cometplay/cometplay/rooms"
	"github.com/cometplay/cometplay/rooms/example/nim"
)

// TestHardeningReconnectionTokens: reconnection tokens, as players receive
// them in "joined" (one room per token), are 20 bytes (160 bits) from
// crypto/rand in lowercase base32: 32 characters, never repeated, no
// biased bit.
func TestHardeningReconnectionTokens(t *testing.T) {
	n := testkit.Scale(20_000, 200_000)
	testkit.RequireCryptoRand(t, "../rooms/identity.go", "randomString")
	// Tokens as players receive them, in "joined": one room per token.
	tr := &captureTransport{joined: map[string]string{}}
	m := rooms.NewManager(tr, rooms.ManagerOptions{Logger: testkit.Logger()})
	t.Cleanup(func() { m.Shutdown(t.Context()) })
	if err := m.Register(nim.Game); err != nil {
		t.Fatal(err)
	}
	k := n / 10
	for i := range k {
		sid := "s" + strconv.Itoa(i)
		if _, err := m.Create("nim", rooms.PlayerInfo{SessionID: sid, PlayerID: sid, Name: "P"}, nil); err != nil {
			t.Fatal(err)
		}
	}
	testkit.EventuallyWithin(t, testkit.Timeout, "every creator seated", func() bool { return tr.count() == k })
	var tokens []string
	tr.mu.Lock()
	for _, tok := range tr.joined {
		tokens = append(tokens, tok)
	}
	tr.mu.Unlock()
	lower32 := base32.NewEncoding("abcdefghijklmnopqrstuvwxyz234567").WithPadding(base32.NoPadding)
	testkit.CheckRandom(t, "token", len(tokens), 32, 160, "abcdefghijklmnopqrstuvwxyz234567", lower32.DecodeString,
		func() string { tok := tokens[0]; tokens = tokens[1:]; return tok })
}

// captureTransport is a rooms.Transport that keeps the token of each
// session's "joined" event.
type captureTransport struct {
	mu     sync.Mutex
	joined map[string]string // session → token
}

func (c *captureTransport) Send(sid string, ev rooms.Event) {
	if ev.Type != "joined" {
		return
	}
	var d struct{ Token string }
	json.Unmarshal(ev.Data, &d)
	c.mu.Lock()
	c.joined[sid] = d.Token
	c.mu.Unlock()
}
func (c *captureTransport) Publish(string, rooms.Event) {}
func (c *captureTransport) Subscribe(string, string)    {}
func (c *captureTransport) Unsubscribe(string, string)  {}
func (c *captureTransport) count() int                  { c.mu.Lock(); defer c.mu.Unlock(); return len(c.joined) }

// TestHardeningForgedSessionIDs: no request acts for a session it does not
// hold the whole secret id of. Every id one character away from a real one
// (at every position), the public id alone, the public part of one session
// with the secret of another, a truncated or extended id, and the case-
// flipped id are each refused with 400 for every request kind, and none has
// an effect: the victim's session is still there, received nothing, and
// subscribed to nothing. A unicast with p_to naming a session (by public or
// secret id) reaches it and only it, and carries the sender's public id,
// never the target's rights: the victim's id in p_to does not make a
// publish to the victim's room the victim's.
func TestHardeningForgedSessionIDs(t *testing.T) {
	gs := newGamesServer(t, 30*time.Second)
	victim, mallory, bystander := gs.newPlayer("Vic"), gs.newPlayer("Mal"), gs.newPlayer("Bys")
	other := gs.newPlayer("Oth")
	victim.lobby("action", "create", "game", "nim")
	victim.joined()
	other.lobby("action", "join", "room", victim.room)
	other.joined()
	// The game's start reaches the victim last with "turn": once it has
	// that, the room has nothing more on its way to it (on a busy machine
	// its seq moved under the checks below while the start's events were
	// still being pushed).
	victim.wait("/room/", "turn")
	vs := gs.hub.Session(victim.c.ID)
	seqBefore := vs.Seq()
	id := victim.c.ID

	var forged []string
	for i := range len(id) {
		for _, c := range []byte{'A', 'z', '0', '-'} {
			if id[i] != c {
				forged = append(forged, id[:i]+string(c)+id[i+1:])
				break
			}
		}
	}
	pubIDLen := len(victim.c.Public) // a session id is its public id and a secret
	forged = append(forged,
		victim.c.Public,                             // the public id (p_from) as p_id
		mallory.c.Public+id[pubIDLen:],              // another session's public part with the victim's secret
		id[:pubIDLen]+mallory.c.ID[pubIDLen:],       // the victim's public part with another secret
		id[:len(id)-1], id+"A", strings.ToUpper(id), // truncated, extended, case-flipped
		strings.ToLower(id), " "+id, id+" ")
	requests := [][]string{
		{"p_event", "publish", "p_subject", "/room/" + victim.room, "type", "take", "data", "1", "seq", "1"},
		{"p_event", "publish", "p_subject", "/lobby", "action", "chat", "text", "forged"},
		{"p_event", "subscribe", "p_subject", "/spy"},
		{"p_event", "unsubscribe"},
		{"p_event", "listen", "p_mode", "pull"},
		{"p_event", "refresh"},
		{"p_event", "hb"},
		{"p_event", "leave"},
	}
	for _, f := range forged {
		if f == id {
			continue
		}
		for _, r := range requests {
			st, _, body := gs.get("/comet", testkit.Query(append([]string{"p_id", f}, r...)...))
			if st != http.StatusBadRequest || !strings.Contains(body, "Invalid or expired id") {
				t.Fatalf("%s with p_id %q: %d %q; want 400 Invalid or expired id", r[1], f, st, body)
			}
		}
	}
	// Nothing happened to the victim: not ended (leave), not detached
	// (listen, refresh), sent nothing (publish), subscriptions unchanged.
	if gs.hub.Session(id) == nil || !vs.Listening() || vs.Seq() != seqBefore {
		t.Fatalf("the victim's session changed: alive %v, listening %v, seq %d → %d", gs.hub.Session(id) != nil, vs.Listening(), seqBefore, vs.Seq())
	}
	subjects := vs.Info().Subjects
	if len(subjects) == 0 || strings.Contains(strings.Join(subjects, " "), "/spy") {
		t.Fatalf("the victim's subscriptions changed: %v", subjects)
	}

	// p_to names a target; it gives no rights. Mallory, who is in no room,
	// publishes to the victim's room naming the victim: refused as Mallory.
	for _, to := range []string{victim.c.Public, id} {
		err := mallory.c.Publish(t.Context(), "/room/"+victim.room, "p_to", to, "type", "take", "data", "1", "move", "m", "seq", "1")
		if err == nil || !strings.Contains(err.Error(), rooms.ErrNotInRoom.Error()) {
			t.Fatalf("publish to the victim's room with p_to=%q: %v; want nack %q", to, err, rooms.ErrNotInRoom)
		}
	}
	// Nor can a unicast pass for a lobby or room event: those subjects are
	// claimed by the server, whatever p_to says.
	for _, subject := range []string{"/lobby/chat", "/lobby", "/room/" + victim.room + "/x"} {
		if err := mallory.c.Publish(t.Context(), subject, "p_to", id, "type", "chat", "data", `{"from":"admin"}`); err == nil {
			t.Fatalf("a unicast on %s to the victim was accepted", subject)
		}
	}
	// A unicast reaches the target only, from Mallory's public id.
	bysSeq := gs.hub.Session(bystander.c.ID).Seq()
	if _, err := bystander.c.Subscribe(t.Context(), "/dm", ""); err != nil {
		t.Fatal(err)
	}
	if err := mallory.c.Publish(t.Context(), "/dm", "p_to", id, "msg", "hi"); err != nil {
		t.Fatal(err)
	}
	dm := victim.wait("/dm", "")
	if dm["p_from"] != mallory.c.Public || dm["p_id"] != mallory.c.Public || dm["msg"] != "hi" {
		t.Fatalf("unicast: %v; want p_from and p_id = the sender's public id", dm)
	}
	if got := gs.hub.Session(bystander.c.ID).Seq(); got != bysSeq {
		t.Fatalf("a unicast to the victim reached a subscriber of the subject (seq %d → %d)", bysSeq, got)
	}
}
