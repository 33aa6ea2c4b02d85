package main

import (
	"time"

	"github.com/cometplay/cometplay/engine"
	"github.com/cometplay/cometplay/examples/tictactoe/ttt"
	"github.com/cometplay/cometplay/games"
	"github.com/cometplay/cometplay/rooms"
	"github.com/cometplay/cometplay/static"
)

// config is what the example server is built from: main fills it from its
// flags (config.go); tests listen on 127.0.0.1:0 and shorten the protocol's
// waits. It is a games.Config (Games and HTTP.Static are filled in by
// newServer) and what only this example has.
type config struct {
	games.Config
	// ReconnectWindow and EmptyGrace replace tictactoe's (the rooms
	// defaults) when not zero.
	ReconnectWindow, EmptyGrace time.Duration
	// DemoClock serves the demo stream /demo/clock, within ClockDemo's caps.
	DemoClock bool
	ClockDemo engine.ClockDemo
}

// server is the example: a games.Server running tictactoe on the embedded
// site.
type server struct {
	*games.Server
}

// gamesConfig is the games.Config c runs: c's, with tictactoe and the
// embedded site.
func (c *config) gamesConfig() games.Config {
	game := ttt.Game
	if c.ReconnectWindow != 0 {
		game.ReconnectWindow = c.ReconnectWindow
	}
	if c.EmptyGrace != 0 {
		game.EmptyGrace = c.EmptyGrace
	}
	gc := c.Config
	gc.Games = []rooms.Game{game}
	gc.HTTP.Static = static.FS()
	return gc
}

// newServer builds the example server without starting it.
func newServer(c config) (*server, error) {
	g, err := games.New(c.gamesConfig())
	if err != nil {
		return nil, err
	}
	if c.DemoClock {
		engine.MountClockDemo(g.HTTP(), c.ClockDemo)
	}
	return &server{g}, nil
}
