package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/cometplay/cometplay/cluster"
	"github.com/cometplay/cometplay/comet"
	"github.com/cometplay/cometplay/games"
	"github.com/cometplay/cometplay/lobby"

	"github.com/cometplay/cometplay/engine"
	"github.com/cometplay/cometplay/examples/tictactoe/ttt"
	"github.com/cometplay/cometplay/rooms"
	"github.com/cometplay/cometplay/static"
)

// kindGames is the real stack of the example server: games.New, the one
// constructor examples/tictactoe uses too, with ttt.Game, the embedded
// site, the lobby, the metrics at /metrics and the admin console off as
// without a token, plus the hub limits a load test needs and the bench's
// own endpoints.
const kindGames = "games"

// serverOptions are the settings of `bench serve` beyond kind and address.
type serverOptions struct {
	// Hub configures the Comet hub of the games kind (and the limits the
	// net/http Comet baseline mirrors).
	Hub comet.Config
	// Queues is the number of quick-match queues of the games kind: ttt.Game
	// is registered under ttt.Name and, for Queues > 1, also under
	// gameName(1..Queues-1), the same room under other names. Each load
	// process of the player simulation plays its own name, so that both
	// players of a game live in one process (which measures the latency of
	// a move from its send to the opponent's receipt in memory).
	Queues int
	// Node, ClusterListen and ClusterRoutes make the games kind a node of
	// a cluster (cluster.Options: its tag, its embedded NATS server's route
	// address, the other nodes'); Node empty: one server.
	Node, ClusterListen string
	ClusterRoutes       []string
	// NoTurnLog: cluster.Options.NoTurnLog (the rooms' turn log off).
	NoTurnLog bool
}

// gameName is the game played by load process i (see serverOptions.Queues).
func gameName(i int) string {
	if i == 0 {
		return ttt.Name
	}
	return ttt.Name + "-" + strconv.Itoa(i)
}

// defaultHubConfig is the hub of the load tests: every session comes from
// 127.0.0.1, so no per-address cap, and simulated players may publish as
// fast as the scenario drives them.
func defaultHubConfig() comet.Config {
	return comet.Config{MaxSessionsPerAddr: -1, PublishRate: -1}
}

func startGames(addr string, log *slog.Logger, o serverOptions) (*runningServer, error) {
	var gs []rooms.Game
	for i := range max(1, o.Queues) {
		g := ttt.Game
		g.Name = gameName(i)
		gs = append(gs, g)
	}
	var node *cluster.Node
	if o.Node != "" {
		var err error
		node, err = cluster.Start(cluster.Options{Node: o.Node, Listen: o.ClusterListen, Routes: o.ClusterRoutes, NoTurnLog: o.NoTurnLog, Logger: log})
		if err != nil {
			return nil, err
		}
	}
	gc := games.Config{
		HTTP:  engine.Config{Addr: addr, Static: static.FS(), StaticModTime: staticModTime, MaxConnsPerAddr: -1}, // the load generator is one address
		Comet: o.Hub,
		// Every simulated player comes from the load generator's address:
		// no per-address share of the rooms or the lobby's queue.
		Rooms:   rooms.ManagerOptions{MaxWaitingPerAddr: -1},
		Lobby:   lobby.Options{QueuePerAddr: lobby.DefaultQueueSize},
		Games:   gs,
		Metrics: true,
		Logger:  log,
	}
	if node != nil {
		gc.Cluster = node
	}
	g, err := games.New(gc)
	if err != nil {
		if node != nil {
			node.Close()
		}
		return nil, err
	}
	mountDirectMatch(g.HTTP(), g.Hub(), g.Rooms())
	mountBenchPublish(g.HTTP(), g.Hub())
	if err := g.Start(); err != nil {
		g.Shutdown(context.Background())
		return nil, err
	}
	stop := g.Shutdown
	if node != nil {
		stop = func(ctx context.Context) error {
			err := g.Shutdown(ctx)
			node.Close()
			return err
		}
	}
	return &runningServer{
		Kind: kindGames,
		Addr: g.Addr(),
		stop: stop,
		extra: func() any {
			x := map[string]any{"hub": g.Hub().Stats(), "rooms": g.Rooms().Stats()}
			if lb := g.Lobby(); lb != nil { // a cluster's lobby is on its games node
				x["lobby"] = lb.Stats()
			}
			return x
		},
	}, nil
}

// parseMsRange parses "min-max" in milliseconds ("" leaves both zero).
func parseMsRange(s string) (lo, hi int, err error) {
	if s == "" {
		return 0, 0, nil
	}
	a, b, ok := strings.Cut(s, "-")
	if !ok {
		b = a
	}
	lo, err1 := strconv.Atoi(a)
	hi, err2 := strconv.Atoi(b)
	if errors.Join(err1, err2) != nil || lo < 0 || hi < lo {
		return 0, 0, fmt.Errorf("bench: bad millisecond range %q (want min-max)", s)
	}
	return lo, hi, nil
}

// hubFlags are the serve flags that configure the hub, rendered back for
// the report.
func describeHub(c comet.Config) string {
	var parts []string
	add := func(name string, v any) { parts = append(parts, fmt.Sprintf("%s=%v", name, v)) }
	add("MaxSessionsPerAddr", c.MaxSessionsPerAddr)
	add("PublishRate", c.PublishRate)
	if c.PollWaitMax > 0 {
		add("PollWait", fmt.Sprintf("%d–%d ms", c.PollWaitMin, c.PollWaitMax))
	}
	if c.Heartbeat > 0 {
		add("Heartbeat", c.Heartbeat.Round(time.Millisecond))
	}
	return strings.Join(parts, ", ")
}

// mountDirectMatch adds the bench's own matchmaker to the games server:
//
//	GET /bench/match?p_id=ID&game=NAME&player=PLAYER → {}, then the room's joined…
//	GET /bench/leave?p_id=ID&room=ROOM   → {}
//	GET /bench/seat?game=NAME&a=ID&pa=PLAYER&b=ID&pb=PLAYER → {"room":"ID"}
//
// It seats sessions as the lobby's quick-match does (rooms.Manager.Create,
// then Join in queue order), but without the lobby's hello, whose answer
// lists every player online and every room (see the players section of
// RESULTS.md for what that costs with thousands of players). It lets the
// player simulation load the game path (engine, Games, rooms runtime, ttt)
// with more players than the lobby can admit. Handlers run on the engine's
// workers; the queue has its own lock.
func mountDirectMatch(srv *engine.Server, hub *comet.Hub, m *rooms.Manager) {
	var (
		mu      sync.Mutex
		waiting = map[string]rooms.PlayerInfo{} // by game: one player waits at most
	)
	answer := func(w *engine.Stream, status int, body string) {
		w.SetHeader("Cache-Control", "no-store")
		w.Respond(status, "application/json", []byte(body+"\n"))
	}
	srv.Handle("GET", "/bench/match", func(w *engine.Stream, r *engine.Request) {
		q := r.Query()
		s := hub.Session(q.Get("p_id"))
		game, player := q.Get("game"), q.Get("player")
		if s == nil || game == "" || player == "" {
			answer(w, 400, `{"error":"unknown session, no game or no player"}`)
			return
		}
		me := rooms.PlayerInfo{SessionID: s.ID(), PlayerID: player, Name: player}
		mu.Lock()
		other, ok := waiting[game]
		if ok {
			delete(waiting, game)
		} else {
			waiting[game] = me
		}
		mu.Unlock()
		answer(w, 200, `{}`)
		if !ok {
			return
		}
		id, err := m.Create(game, rooms.PlayerInfo{}, nil)
		if err == nil {
			err = errors.Join(m.Join(id, other), m.Join(id, me))
		}
		if err != nil {
			srv.Logger().Warn("bench match", "err", err)
		}
	})
	// GET /bench/seat?game=NAME&a=SESSION&pa=PLAYER&b=SESSION&pb=PLAYER
	// → {"room":"ID"}: a new room of this server's Manager, a seated
	// first (X), then b; their sessions may live on other nodes of a
	// cluster (bench cluster-recover puts rooms on the node it kills, their
	// players' sessions on the others).
	srv.Handle("GET", "/bench/seat", func(w *engine.Stream, r *engine.Request) {
		q := r.Query()
		game := q.Get("game")
		a := rooms.PlayerInfo{SessionID: q.Get("a"), PlayerID: q.Get("pa"), Name: q.Get("pa")}
		b := rooms.PlayerInfo{SessionID: q.Get("b"), PlayerID: q.Get("pb"), Name: q.Get("pb")}
		if game == "" || a.SessionID == "" || b.SessionID == "" || a.PlayerID == "" || b.PlayerID == "" {
			answer(w, 400, `{"error":"want game, a, pa, b and pb"}`)
			return
		}
		id, err := m.Create(game, rooms.PlayerInfo{}, nil)
		if err == nil {
			err = errors.Join(m.Join(id, a), m.Join(id, b))
		}
		if err != nil {
			answer(w, 503, `{"error":`+strconv.Quote(err.Error())+`}`)
			return
		}
		answer(w, 200, `{"room":`+strconv.Quote(id)+`}`)
	})
	srv.Handle("GET", "/bench/leave", func(w *engine.Stream, r *engine.Request) {
		q := r.Query()
		s := hub.Session(q.Get("p_id"))
		if s == nil {
			answer(w, 400, `{"error":"unknown session"}`)
			return
		}
		if err := m.Leave(q.Get("room"), s.ID()); err != nil {
			answer(w, 400, `{"error":"leave failed"}`)
			return
		}
		answer(w, 200, `{}`)
	})
}
