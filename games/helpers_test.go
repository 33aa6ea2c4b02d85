package games

import (
	"context"
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/cometplay/cometplay/comet"
	"github.com/cometplay/cometplay/engine"
	"github.com/cometplay/cometplay/internal/testkit"
	"github.com/cometplay/cometplay/lobby"
	"github.com/cometplay/cometplay/rooms"
	"github.com/cometplay/cometplay/rooms/example/nim"
)

// gamesServer is a Server started on 127.0.0.1:0 for flows over loopback
// with Go clients, and its parts at hand.
type gamesServer struct {
	*Server
	t    testing.TB
	srv  *engine.Server
	hub  *comet.Hub
	m    *rooms.Manager
	lb   *lobby.Lobby // nil with NoLobby
	base string       // http://127.0.0.1:port
	hc   *http.Client
}

// startGames builds the server with New(c), its address, logger and games
// filled in when zero (127.0.0.1:0, testkit.Logger, Nim), starts it, and
// shuts it down in t.Cleanup.
func startGames(t testing.TB, c Config) *gamesServer {
	t.Helper()
	if c.HTTP.Addr == "" {
		c.HTTP.Addr = "127.0.0.1:0"
	}
	if c.Logger == nil {
		c.Logger = testkit.Logger()
	}
	if len(c.Games) == 0 {
		c.Games = []rooms.Game{nim.Game}
	}
	s, err := New(c)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	gs := &gamesServer{Server: s, t: t, srv: s.HTTP(), hub: s.Hub(), m: s.Rooms(), lb: s.Lobby(), base: "http://" + s.Addr(),
		hc: &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 64}}}
	t.Cleanup(func() {
		gs.hc.CloseIdleConnections()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		s.Shutdown(ctx)
	})
	return gs
}

// newGamesServer is a Nim server with the lobby whose seats are held for
// window (the lobby keeps players away as long), and a lost listen
// reported after 50 ms.
func newGamesServer(t *testing.T, window time.Duration) *gamesServer {
	t.Helper()
	return newGamesServerWith(t, window, lobby.Options{AwayGrace: window})
}

// newGamesServerWith is newGamesServer with the lobby's options.
func newGamesServerWith(t *testing.T, window time.Duration, lo lobby.Options) *gamesServer {
	t.Helper()
	game := nim.Game
	game.ReconnectWindow = window
	return startGames(t, Config{Comet: comet.Config{DetachGrace: 50 * time.Millisecond}, Games: []rooms.Game{game}, Lobby: lo})
}

// get performs a GET with the given query and returns status, headers and body.
func (gs *gamesServer) get(path, query string) (int, http.Header, string) {
	gs.t.Helper()
	resp, err := gs.hc.Get(gs.base + path + "?" + query)
	if err != nil {
		gs.t.Fatalf("GET %s?%s: %v", path, query, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		gs.t.Fatalf("read body: %v", err)
	}
	return resp.StatusCode, resp.Header, string(b)
}
