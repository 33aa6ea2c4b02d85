package main

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/cometplay/cometplay/engine"
	"github.com/cometplay/cometplay/examples/tictactoe/ttt"
	"github.com/cometplay/cometplay/lobby"
	"github.com/cometplay/cometplay/rooms"
	"github.com/cometplay/cometplay/static"
)

// config is what the example server is built from: main fills it from its
// flags; tests listen on 127.0.0.1:0 and shorten the protocol's waits.
type config struct {
	Addr    string
	Webroot string // overrides and extends the embedded site ("": none)
	Logger  *slog.Logger
	// StaticModTime is the Last-Modified of embedded files.
	StaticModTime time.Time
	// Hub configures the Comet protocol (zero: the engine's defaults).
	Hub engine.HubConfig
	// DetachGrace replaces engine.DefaultDetachGrace when positive.
	DetachGrace time.Duration
}

// server is the wired example: the HTTP server with the site and the
// Comet hub, the rooms Manager running tictactoe, and the lobby.
type server struct {
	srv   *engine.Server
	hub   *engine.Hub
	games *engine.Games
	rooms *rooms.Manager
	lobby *lobby.Lobby
}

// newServer builds the example server without starting it.
func newServer(c config) (*server, error) {
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	srv, err := engine.New(engine.Config{Addr: c.Addr, Static: static.FS(), StaticModTime: c.StaticModTime, Webroot: c.Webroot, Logger: c.Logger})
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
	manager := rooms.NewManager(games, rooms.ManagerOptions{Logger: c.Logger})
	if err := manager.Register(ttt.Game); err != nil {
		return nil, err
	}
	lb := lobby.New(manager, games, lobby.Options{Logger: c.Logger})
	if err := games.Mount(manager, lb); err != nil {
		lb.Close()
		return nil, err
	}
	engine.MountClockDemo(srv)
	return &server{srv: srv, hub: hub, games: games, rooms: manager, lobby: lb}, nil
}

// start starts listening; the address is then s.srv.Addr().
func (s *server) start() error { return s.srv.Start() }

// shutdown stops the server. Rooms go first, so every player hears
// "shutdown" while connections still carry it; then the server sends abort
// to every listener and drains.
func (s *server) shutdown(ctx context.Context) error {
	errRooms := s.rooms.Shutdown(ctx)
	s.lobby.Close()
	return errors.Join(errRooms, s.srv.Shutdown(ctx))
}
