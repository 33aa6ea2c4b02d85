package engine

import (
	"encoding/base32"
	"encoding/base64"
	"encoding/json"
	"go/ast"
	"go/parser"
	"go/token"
	"math"
	"net/http"
	"net/url"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cometplay/cometplay/internal/testkit"
	"github.com/cometplay/cometplay/rooms"
	"github.com/cometplay/cometplay/rooms/example/nim"
)

// The session and game security tests: who may act for a session or a
// seat, and how unguessable the credentials are. docs/SECURITY.md lists
// them with what each proves.

// base64URL is the alphabet of session ids (RFC 4648 §5, no padding).
const base64URL = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"

// checkRandom checks n ids from gen: each is length characters of
// alphabet, decodes (with decode) to bits/8 bytes, all are distinct, and
// every one of the bits is set in half of them within six standard
// deviations (a stuck or biased bit, as a broken generator would show,
// fails it; a fair one fails with a probability near 1e-9 per bit).
func checkRandom(t *testing.T, what string, n, length, bits int, alphabet string, decode func(string) ([]byte, error), gen func() string) {
	t.Helper()
	seen := make(map[string]bool, n)
	ones := make([]int, bits)
	for range n {
		id := gen()
		if len(id) != length || strings.Trim(id, alphabet) != "" {
			t.Fatalf("%s %q: want %d characters of %q", what, id, length, alphabet)
		}
		if seen[id] {
			t.Fatalf("%s %q generated twice in %d", what, id, n)
		}
		seen[id] = true
		b, err := decode(id)
		if err != nil || len(b)*8 != bits {
			t.Fatalf("%s %q decodes to %d bytes (%v); want %d random bits", what, id, len(b), err, bits)
		}
		for i := range bits {
			if b[i/8]>>(i%8)&1 == 1 {
				ones[i]++
			}
		}
	}
	dev := 3 * math.Sqrt(float64(n)) // six standard deviations of a fair bit's count
	for i, k := range ones {
		if math.Abs(float64(k)-float64(n)/2) > dev {
			t.Fatalf("%s: bit %d set in %d of %d ids", what, i, k, n)
		}
	}
}

// requireCryptoRand checks that the function fn declared in file (relative
// to this package) reads its randomness with crypto/rand's Read: the
// documented source of every credential.
func requireCryptoRand(t *testing.T, file, fn string) {
	t.Helper()
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, filepath.FromSlash(file), nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	local := ""
	for _, im := range f.Imports {
		if p, _ := strconv.Unquote(im.Path.Value); p == "crypto/rand" {
			local = "rand"
			if im.Name != nil {
				local = im.Name.Name
			}
		}
	}
	if local == "" {
		t.Fatalf("%s does not import crypto/rand", file)
	}
	found := false
	for _, d := range f.Decls {
		fd, ok := d.(*ast.FuncDecl)
		if !ok || fd.Name.Name != fn {
			continue
		}
		ast.Inspect(fd.Body, func(n ast.Node) bool {
			if sel, ok := n.(*ast.SelectorExpr); ok {
				if x, ok := sel.X.(*ast.Ident); ok && x.Name == local && sel.Sel.Name == "Read" {
					found = true
				}
			}
			return true
		})
	}
	if !found {
		t.Fatalf("%s: %s does not read crypto/rand (%s.Read)", file, fn, local)
	}
}

// TestHardeningSecretIDs: session ids and reconnection tokens carry at
// least 122 random bits (a UUIDv4's) from crypto/rand, in a fixed alphabet,
// and do not repeat. Session ids (p_id) are an 8-byte public part and a
// 16-byte (128-bit) secret, base64url: 33 characters; reconnection tokens
// are 20 bytes (160 bits) in lowercase base32: 32 characters.
func TestHardeningSecretIDs(t *testing.T) {
	n := testkit.Scale(20_000, 200_000)
	t.Run("session secret generator", func(t *testing.T) {
		requireCryptoRand(t, "comet.go", "newID")
		checkRandom(t, "secret", n, secretIDLen, 128, base64URL, base64.RawURLEncoding.DecodeString, func() string { return newID(16) })
	})
	t.Run("session ids over the wire", func(t *testing.T) {
		th := newTestHub(t, HubConfig{MaxSessionsPerAddr: -1})
		seen := map[string]bool{}
		for range 200 {
			evs := th.do(FormatJSON, "p_event=join&p_format=json")
			id, pub := evs[0]["p_id"], evs[0]["p_public"]
			if len(id) != pubIDLen+secretIDLen || strings.Trim(id, base64URL) != "" || !strings.HasPrefix(id, pub) || seen[id] {
				t.Fatalf("join-ack p_id %q, p_public %q: want 33 base64url characters, starting with the public id, never repeated", id, pub)
			}
			seen[id] = true
			if b, err := base64.RawURLEncoding.DecodeString(id[pubIDLen:]); err != nil || len(b) != 16 {
				t.Fatalf("secret part of %q: %d bytes, %v", id, len(b), err)
			}
		}
	})
	t.Run("reconnection tokens", func(t *testing.T) {
		requireCryptoRand(t, "../rooms/identity.go", "randomString")
		// Tokens as players receive them, in "joined": one room per token.
		tr := &captureTransport{joined: map[string]string{}}
		m := rooms.NewManager(tr, rooms.ManagerOptions{Logger: testLogger(t)})
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
		eventually(t, testkit.Timeout, "every creator seated", func() bool { return tr.count() == k })
		var tokens []string
		tr.mu.Lock()
		for _, tok := range tr.joined {
			tokens = append(tokens, tok)
		}
		tr.mu.Unlock()
		lower32 := base32.NewEncoding("abcdefghijklmnopqrstuvwxyz234567").WithPadding(base32.NoPadding)
		checkRandom(t, "token", len(tokens), 32, 160, "abcdefghijklmnopqrstuvwxyz234567", lower32.DecodeString,
			func() string { tok := tokens[0]; tokens = tokens[1:]; return tok })
	})
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
			st, _, body := gs.get("/comet", q(append([]string{"p_id", f}, r...)...))
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
	vs.mu.Lock()
	var subjects []string
	for _, sub := range vs.subs {
		subjects = append(subjects, sub.subject)
	}
	vs.mu.Unlock()
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

// TestHardeningCrossOrigin: with an allowed-origins list, a request from any
// other origin, whatever its kind (a GET control request, a form POST as a
// cross-site form would send, an EventSource-like stream, a preflight), is
// refused with 403 before it does anything: a foreign page that knows a
// session id cannot make the session publish (CSRF), and no CORS header
// lets it read an answer. Look-alike origins (another scheme, a suffix, a
// port, "null") are foreign. The allowed origin gets CORS headers; a
// same-origin request (Origin naming the Host) needs none.
func TestHardeningCrossOrigin(t *testing.T) {
	const allowed = "https://game.example"
	for _, cfg := range []struct {
		name    string
		origins []string
	}{{"allow list", []string{allowed}}, {"default", nil}} {
		t.Run(cfg.name, func(t *testing.T) {
			th := newTestHub(t, HubConfig{AllowedOrigins: cfg.origins})
			victim := th.join(FormatJSON)
			th.do(FormatJSON, q("p_event", "subscribe", "p_id", victim, "p_subject", "/chat"))
			vs := th.hub.Session(victim)
			type req struct {
				name, method, query, body string
				hdr                       []string
			}
			reqs := []req{
				{"GET join", "GET", q("p_event", "join", "p_format", "json"), "", nil},
				{"GET publish", "GET", q("p_event", "publish", "p_id", victim, "p_subject", "/chat", "msg", "csrf"), "", nil},
				{"form POST publish", "POST", "", q("p_event", "publish", "p_id", victim, "p_subject", "/chat", "msg", "csrf"),
					[]string{"Content-Type", "application/x-www-form-urlencoded"}},
				{"text POST publish", "POST", "", `<event p_event="publish" p_id="` + victim + `" p_subject="/chat" msg="csrf" />`,
					[]string{"Content-Type", "text/plain"}},
				{"EventSource listen", "GET", q("p_event", "listen", "p_id", victim, "p_format", "sse"), "",
					[]string{"Accept", "text/event-stream", "Last-Event-ID", "0"}},
				{"preflight", "OPTIONS", "", "", []string{"Access-Control-Request-Method", "POST", "Access-Control-Request-Headers", "content-type"}},
			}
			do := func(r req, origin string) *http.Response {
				t.Helper()
				u := th.base + "/comet"
				if r.query != "" {
					u += "?" + r.query
				}
				hr, _ := http.NewRequest(r.method, u, strings.NewReader(r.body))
				hr.Header.Set("Origin", origin)
				for i := 0; i+1 < len(r.hdr); i += 2 {
					hr.Header.Set(r.hdr[i], r.hdr[i+1])
				}
				resp, err := th.hc.Do(hr)
				if err != nil {
					t.Fatalf("%s: %v", r.name, err)
				}
				// A stream would not end: read its head only.
				resp.Body.Close()
				return resp
			}
			sessions := th.hub.NumSessions()
			foreign := []string{"https://evil.example", "http://game.example", "https://game.example.evil.example",
				"https://evil.example/https://game.example", "https://game.example:8443", "null", "HTTPS://EVIL.EXAMPLE"}
			for _, o := range foreign {
				for _, r := range reqs {
					resp := do(r, o)
					if resp.StatusCode != http.StatusForbidden || resp.Header.Get("Access-Control-Allow-Origin") != "" {
						t.Fatalf("%s from %s: %d, Access-Control-Allow-Origin %q; want 403 without CORS headers",
							r.name, o, resp.StatusCode, resp.Header.Get("Access-Control-Allow-Origin"))
					}
				}
			}
			if vs.Seq() != 0 || vs.Listening() || th.hub.NumSessions() != sessions {
				t.Fatalf("foreign requests acted: victim's seq %d, listening %v; sessions %d → %d", vs.Seq(), vs.Listening(), sessions, th.hub.NumSessions())
			}
			// Same origin: no CORS header needed, served.
			u, _ := url.Parse(th.base)
			if resp := do(reqs[0], "http://"+u.Host); resp.StatusCode != 200 || resp.Header.Get("Access-Control-Allow-Origin") != "" {
				t.Fatalf("same origin: %d %q", resp.StatusCode, resp.Header.Get("Access-Control-Allow-Origin"))
			}
			if cfg.origins == nil {
				return
			}
			for _, r := range reqs {
				resp := do(r, allowed)
				want := 200
				if r.method == "OPTIONS" {
					want = http.StatusNoContent
				}
				if resp.StatusCode != want || resp.Header.Get("Access-Control-Allow-Origin") != allowed || !strings.Contains(resp.Header.Get("Vary"), "Origin") {
					t.Fatalf("%s from the allowed origin: %d %v", r.name, resp.StatusCode, resp.Header)
				}
				if r.method == "OPTIONS" && (!strings.Contains(resp.Header.Get("Access-Control-Allow-Methods"), "POST") || !strings.Contains(resp.Header.Get("Access-Control-Allow-Headers"), "Last-Event-ID")) {
					t.Fatalf("preflight from the allowed origin: %v", resp.Header)
				}
			}
			if vs.Seq() == 0 {
				t.Fatal("the allowed origin's publishes did not arrive")
			}
		})
	}
}
