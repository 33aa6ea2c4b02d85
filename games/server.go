package games

import (
	"context"
	"errors"
	"io/fs"
	"log/slog"
	"runtime"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/cometplay/cometplay/comet"
	"github.com/cometplay/cometplay/engine"
	"github.com/cometplay/cometplay/lobby"
	"github.com/cometplay/cometplay/rooms"
)

// Config is everything a running game server is built from. The zero value
// of every field but Games is usable: it takes the defaults of the layer it
// configures.
type Config struct {
	// HTTP configures the HTTP server: address, limits, timeouts, the
	// static site (Static, Webroot). Its Logger is Logger. With Cluster,
	// its Loops defaults to GOMAXPROCS−1 (at least 1), not GOMAXPROCS: a P
	// stays free for the goroutines NATS's sockets wake (clusterLoops).
	HTTP engine.Config
	// Comet configures the Comet hub: its paths, leases, heartbeats,
	// windows and limits.
	Comet comet.Config
	// Games are the games the server runs (at least one).
	Games []rooms.Game
	// Rooms configures the rooms runtime. Its Logger is Logger; its
	// TopicPrefix must be "" or "/room/".
	Rooms rooms.ManagerOptions
	// Lobby configures the lobby (presence, room list, quick-match, chat).
	// Its Logger is Logger. NoLobby leaves the lobby out: clients then join
	// rooms by id only.
	Lobby   lobby.Options
	NoLobby bool
	// Admin configures the admin console at /admin/ and pprof at
	// /debug/pprof/; an empty Token leaves both off (404). Its Assets
	// default to the "admin" directory of HTTP.Static, its Metrics and
	// Rooms to the server's.
	Admin AdminConfig
	// Metrics serves the Prometheus metrics at /metrics; MetricsAuth puts
	// them behind the admin token.
	Metrics, MetricsAuth bool
	// Logger receives every layer's logs (default slog.Default()).
	Logger *slog.Logger
	// Cluster, when set, makes the server one node of several (the
	// cluster package; see Cluster): it is also the hub's Comet.Cluster.
	Cluster Cluster
}

// Server is a game server: the HTTP server, the Comet hub on it, the rooms
// runtime running the games, the lobby, the metrics and the admin console,
// wired in the one order that works. Create it with New, add your own
// endpoints to HTTP() if you like, then Start it. Its methods are safe for
// concurrent use.
type Server struct {
	http    *engine.Server
	hub     *comet.Hub
	bridge  *Bridge
	rooms   *rooms.Manager
	lobby   *lobby.Lobby // nil with NoLobby
	metrics *Metrics
	admin   *Admin
	cluster Cluster // nil: one server
}

// clusterLoops is a cluster node's number of event loops by default: one
// processor (P) of the Go runtime fewer than GOMAXPROCS, at least one.
//
// An event loop waits for its sockets in epoll_wait, a system call that
// keeps its P: with a loop for every P, when every loop waits, no P is free
// to run the goroutines that NATS's sockets wake (the Go runtime's own
// poller: the NATS client's reader, the embedded server's routes, the
// subscriptions' handlers), and they wait until the runtime's monitor
// takes a P back, up to 10 ms on a quiet process, at every hop between
// nodes. On this 2-core machine, three nodes behind a balancer at 300
// moves/s: move → opponent p50 2.5 ms and p99 39 ms with two loops a node,
// 1.0 and 4.7 ms with one (docs/CLUSTER.md, "What it costs"). One server
// alone keeps a loop per P: what its loops wake, they run themselves
// (gnet yields its P between two polls).
func clusterLoops(gomaxprocs int) int { return max(1, gomaxprocs-1) }

// New builds a game server from cfg without starting it, or returns an
// error naming what in cfg is wrong.
func New(cfg Config) (*Server, error) {
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	hc := cfg.HTTP
	hc.Logger = cfg.Logger
	if cfg.Cluster != nil && hc.Loops == 0 {
		hc.Loops = clusterLoops(runtime.GOMAXPROCS(0))
	}
	srv, err := engine.New(hc)
	if err != nil {
		return nil, err
	}
	cc := cfg.Comet
	if cfg.Cluster != nil {
		cc.Cluster = cfg.Cluster
	}
	hub, err := comet.NewHub(srv, cc)
	if err != nil {
		return nil, err
	}
	s := &Server{http: srv, hub: hub, bridge: NewBridge(hub), cluster: cfg.Cluster}
	// The rooms and the lobby reach sessions through the bridge, or in a
	// cluster through every session's home node.
	var tr Transport = s.bridge
	ro := cfg.Rooms
	ro.Logger = cfg.Logger
	if cfg.Cluster != nil {
		s.bridge.cluster = cfg.Cluster
		tr = cfg.Cluster.RemoteTransport(s.bridge)
		ro.IDPrefix = cfg.Cluster.RoomIDPrefix()
		if j := cfg.Cluster.Journal(); j != nil {
			ro.Journal = j
		}
	}
	s.rooms = rooms.NewManager(tr, ro)
	fail := func(err error) (*Server, error) {
		s.stopRooms(context.Background())
		return nil, err
	}
	for _, g := range cfg.Games {
		if err := s.rooms.Register(g); err != nil {
			return fail(err)
		}
	}
	switch {
	case cfg.Cluster != nil:
		// The lobby of every node's players, over every node's rooms: the
		// games node's is heard, the others' wait to take over.
		lo := cfg.Lobby
		lo.Logger = cfg.Logger
		s.lobby = lobby.New(cfg.Cluster.RoomService(s.rooms), gatedTransport{cfg.Cluster, tr}, lo)
	case !cfg.NoLobby:
		lo := cfg.Lobby
		lo.Logger = cfg.Logger
		s.lobby = lobby.New(s.rooms, tr, lo)
	}
	if err := s.bridge.Mount(s.rooms, s.lobby); err != nil {
		return fail(err)
	}
	if cfg.Cluster != nil {
		cfg.Cluster.ServeRooms(s.rooms)
		cfg.Cluster.ServeGames(s.bridge, s.bridge)
	}
	s.metrics = NewMetrics(srv, hub)
	if c, ok := cfg.Cluster.(prometheus.Collector); ok {
		s.metrics.Registry().MustRegister(c) // the cluster's figures
	}
	s.metrics.AddRooms(s.rooms)
	if s.lobby != nil {
		s.metrics.AddLobby(s.lobby)
	}
	ac := cfg.Admin
	if ac.Assets == nil && hc.Static != nil {
		if sub, err := fs.Sub(hc.Static, "admin"); err == nil {
			ac.Assets = sub
		}
	}
	if ac.Metrics == nil {
		ac.Metrics = s.metrics
	}
	if ac.Rooms == nil {
		ac.Rooms = s.rooms
	}
	if s.admin, err = MountAdmin(srv, hub, ac); err != nil {
		return fail(err)
	}
	if cfg.Metrics {
		h := s.metrics.Handler()
		if cfg.MetricsAuth {
			h = s.admin.Require(h)
		}
		srv.HandleHTTP("/metrics", h)
	}
	return s, nil
}

// Validate reports what is wrong with c, all of it at once: an error
// joining one *engine.ConfigError per problem (engine.ConfigErrors lists
// them), whose Field is the setting's path in Config
// ("HTTP.MaxConnsPerAddr", "Comet.Heartbeat", "Rooms.MailboxSize",
// "Lobby.ChatRate", "Admin.Token"), or nil. Each layer's settings are
// checked by the layer's own Validate (engine.Config, comet.Config,
// rooms.ManagerOptions, lobby.Options, AdminConfig); Validate adds what
// only their combination tells. New calls it before building anything.
func (c Config) Validate() error {
	var errs []error
	for _, l := range []struct {
		path string
		err  error
	}{{"HTTP", c.HTTP.Validate()}, {"Comet", c.Comet.Validate()}, {"Rooms", c.Rooms.Validate()}, {"Admin", c.Admin.Validate()}} {
		for _, e := range engine.ConfigErrors(l.path, l.err) {
			errs = append(errs, e)
		}
	}
	if !c.NoLobby {
		for _, e := range engine.ConfigErrors("Lobby", c.Lobby.Validate()) {
			errs = append(errs, e)
		}
	}
	bad := func(field, problem string) {
		errs = append(errs, &engine.ConfigError{Field: field, Problem: problem})
	}
	if len(c.Games) == 0 {
		bad("Games", "no game to run")
	}
	if c.Cluster != nil && c.NoLobby {
		bad("NoLobby", "a cluster's rooms hear of their players' sessions through the lobby: run it")
	}
	if problem := topicPrefixProblem(c.Rooms.TopicPrefix); problem != "" {
		bad("Rooms.TopicPrefix", problem)
	}
	if c.Admin.Token != "" && c.Admin.Assets == nil && c.HTTP.Static == nil {
		bad("Admin.Assets", "the console needs its page: Assets, or HTTP.Static with an admin directory")
	}
	if c.MetricsAuth && c.Admin.Token == "" {
		bad("MetricsAuth", "needs Admin.Token (the token /metrics will require)")
	}
	if c.MetricsAuth && !c.Metrics {
		bad("MetricsAuth", "needs Metrics")
	}
	return errors.Join(errs...)
}

// Start starts listening; Addr then returns the address.
func (s *Server) Start() error { return s.http.Start() }

// Addr returns the address the server listens on (after Start).
func (s *Server) Addr() string { return s.http.Addr() }

// Shutdown stops the server: the rooms first, so that every player hears
// "shutdown" while the connections still carry it, then the lobby and the
// admin console, then the HTTP server, which sends abort to every listener
// and drains. ctx bounds it (default: the HTTP server's ShutdownTimeout).
func (s *Server) Shutdown(ctx context.Context) error {
	errRooms := s.stopRooms(ctx)
	s.admin.Close()
	return errors.Join(errRooms, s.http.Shutdown(ctx))
}

// stopRooms shuts the rooms down and closes the lobby.
func (s *Server) stopRooms(ctx context.Context) error {
	// A node of a cluster hands its rooms over to the others if it can;
	// what is left (none then) closes.
	if h, ok := s.cluster.(RoomHandover); ok {
		h.HandOver(ctx, s.rooms)
	}
	err := s.rooms.Shutdown(ctx)
	if s.lobby != nil {
		s.lobby.Close()
	}
	return err
}

// HTTP returns the HTTP server, to add endpoints (before Start).
func (s *Server) HTTP() *engine.Server { return s.http }

// Hub returns the Comet hub.
func (s *Server) Hub() *comet.Hub { return s.hub }

// Rooms returns the rooms runtime.
func (s *Server) Rooms() *rooms.Manager { return s.rooms }

// Lobby returns the lobby (nil with NoLobby).
func (s *Server) Lobby() *lobby.Lobby { return s.lobby }

// Metrics returns the metrics registry, to add an application's own
// collectors.
func (s *Server) Metrics() *Metrics { return s.metrics }

// Admin returns the admin console (disabled without a token).
func (s *Server) Admin() *Admin { return s.admin }
