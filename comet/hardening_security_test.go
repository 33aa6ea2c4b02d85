package comet

import (
	"encoding/base64"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/cometplay/cometplay/internal/testkit"
)

// The session security tests: who may act for a session, and how
// unguessable its id is. docs/SECURITY.md lists
// them with what each proves.

// base64URL is the alphabet of session ids (RFC 4648 §5, no padding).
const base64URL = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"

// TestHardeningSecretIDs: session ids carry at least 122 random bits (a
// UUIDv4's) from crypto/rand, in a fixed alphabet, and do not repeat.
// Session ids (p_id) are an 8-byte public part and a 16-byte (128-bit)
// secret, base64url: 33 characters. (Reconnection tokens: the games
// package's TestHardeningReconnectionTokens.)
func TestHardeningSecretIDs(t *testing.T) {
	n := testkit.Scale(20_000, 200_000)
	t.Run("session secret generator", func(t *testing.T) {
		testkit.RequireCryptoRand(t, "hub.go", "newID")
		testkit.CheckRandom(t, "secret", n, secretIDLen, 128, base64URL, base64.RawURLEncoding.DecodeString, func() string { return newID(16) })
	})
	t.Run("session ids over the wire", func(t *testing.T) {
		th := newTestHub(t, Config{MaxSessionsPerAddr: -1})
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
			th := newTestHub(t, Config{AllowedOrigins: cfg.origins})
			victim := th.join(FormatJSON)
			th.do(FormatJSON, testkit.Query("p_event", "subscribe", "p_id", victim, "p_subject", "/chat"))
			vs := th.hub.Session(victim)
			type req struct {
				name, method, query, body string
				hdr                       []string
			}
			reqs := []req{
				{"GET join", "GET", testkit.Query("p_event", "join", "p_format", "json"), "", nil},
				{"GET publish", "GET", testkit.Query("p_event", "publish", "p_id", victim, "p_subject", "/chat", "msg", "csrf"), "", nil},
				{"form POST publish", "POST", "", testkit.Query("p_event", "publish", "p_id", victim, "p_subject", "/chat", "msg", "csrf"),
					[]string{"Content-Type", "application/x-www-form-urlencoded"}},
				{"text POST publish", "POST", "", `<event p_event="publish" p_id="` + victim + `" p_subject="/chat" msg="csrf" />`,
					[]string{"Content-Type", "text/plain"}},
				{"EventSource listen", "GET", testkit.Query("p_event", "listen", "p_id", victim, "p_format", "sse"), "",
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
