package main

import (
	"context"
	"errors"
	"io/fs"
	"log/slog"
	"time"

	"github.com/cometplay/cometplay/engine"
	"github.com/cometplay/cometplay/examples/tictactoe/ttt"
	"github.com/cometplay/cometplay/lobby"
	"github.com/cometplay/cometplay/rooms"
	"github.com/cometplay/cometplay/static"
)

// config is what the example server is built from: main fills it from its
// flags (config.go); tests listen on 127.0.0.1:0 and shorten the protocol's
// waits. Zero fields take the engine's, the runtime's and the lobby's
// defaults.
type config struct {
	Addr    string
	Webroot string // overrides and extends the embedded site ("": none)
	Logger  *slog.Logger
	// StaticModTime is the Last-Modified of embedded files.
	StaticModTime time.Time
	// Engine configures the HTTP server: its limits and timeouts. Addr,
	// Webroot, Logger and StaticModTime above replace its own; Static is
	// the embedded site.
	Engine engine.Config
	// Hub configures the Comet protocol (zero: the engine's defaults).
	Hub engine.HubConfig
	// DetachGrace replaces engine.DefaultDetachGrace when positive.
	DetachGrace time.Duration
	// Rooms configures the rooms runtime (its Logger is Logger).
	Rooms rooms.ManagerOptions
	// ReconnectWindow and EmptyGrace replace tictactoe's (the rooms
	// defaults) when not zero.
	ReconnectWindow, EmptyGrace time.Duration
	// Lobby configures the lobby (its Logger is Logger).
	Lobby lobby.Options
	// AdminToken turns the admin console and pprof on ("": off);
	// AdminInterval is the period of its figures (0: a second).
	AdminToken    string
	AdminInterval time.Duration
	// Metrics serves /metrics; MetricsAuth requires the admin token there.
	Metrics, MetricsAuth bool
	// DemoClock serves the demo stream /demo/clock, within ClockDemo's caps.
	DemoClock bool
	ClockDemo engine.ClockDemo
}

// server is the wired example: the HTTP server with the site and the
// Comet hub, the rooms Manager running tictactoe, the lobby, the metrics
// and the admin console.
type server struct {
	srv     *engine.Server
	hub     *engine.Hub
	games   *engine.Games
	rooms   *rooms.Manager
	lobby   *lobby.Lobby
	metrics *engine.Metrics
	admin   *engine.Admin
}

// newServer builds the example server without starting it.
func newServer(c config) (*server, error) {
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.MetricsAuth && c.AdminToken == "" {
		return nil, errors.New("metrics behind the admin token need an admin token")
	}
	ec := c.Engine
	ec.Addr, ec.Webroot, ec.Logger, ec.StaticModTime, ec.Static = c.Addr, c.Webroot, c.Logger, c.StaticModTime, static.FS()
	srv, err := engine.New(ec)
	if err != nil {
		return nil, err
	}
	hub, err := engine.NewHub(srv, c.Hub)
	if err != nil {
		return nil, err
	}
	games := engine.NewGames(hub)
	if c.DetachGrace > 0 {
		games.SetDetachGrace(c.DetachGrace)
	}
	ro := c.Rooms
	ro.Logger = c.Logger
	manager := rooms.NewManager(games, ro)
	stopRooms := func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		manager.Shutdown(ctx)
	}
	game := ttt.Game
	if c.ReconnectWindow != 0 {
		game.ReconnectWindow = c.ReconnectWindow
	}
	if c.EmptyGrace != 0 {
		game.EmptyGrace = c.EmptyGrace
	}
	if err := manager.Register(game); err != nil {
		stopRooms()
		return nil, err
	}
	lo := c.Lobby
	lo.Logger = c.Logger
	lb := lobby.New(manager, games, lo)
	if err := games.Mount(manager, lb); err != nil {
		lb.Close()
		stopRooms()
		return nil, err
	}
	metrics := engine.NewMetrics(srv, hub)
	metrics.AddRooms(manager)
	metrics.AddLobby(lb)
	assets, err := fs.Sub(static.FS(), "admin")
	if err != nil {
		lb.Close()
		stopRooms()
		return nil, err
	}
	admin, err := engine.MountAdmin(srv, hub, engine.AdminConfig{
		Token: c.AdminToken, Assets: assets, Metrics: metrics, Rooms: manager, Interval: c.AdminInterval,
	})
	if err != nil {
		lb.Close()
		stopRooms()
		return nil, err
	}
	if c.Metrics {
		h := metrics.Handler()
		if c.MetricsAuth {
			h = admin.Require(h)
		}
		srv.HandleHTTP("/metrics", h)
	}
	if c.DemoClock {
		engine.MountClockDemo(srv, c.ClockDemo)
	}
	return &server{srv: srv, hub: hub, games: games, rooms: manager, lobby: lb, metrics: metrics, admin: admin}, nil
}

// start starts listening; the address is then s.srv.Addr().
func (s *server) start() error { return s.srv.Start() }

// shutdown stops the server. Rooms go first, so every player hears
// "shutdown" while connections still carry it; then the server sends abort
// to every listener and drains.
func (s *server) shutdown(ctx context.Context) error {
	errRooms := s.rooms.Shutdown(ctx)
	s.lobby.Close()
	s.admin.Close()
	return errors.Join(errRooms, s.srv.Shutdown(ctx))
}
