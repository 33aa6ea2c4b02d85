package games

import (
	"net/http"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/cometplay/cometplay/comet"
	"github.com/cometplay/cometplay/engine"
	"github.com/cometplay/cometplay/internal/promutil"
	"github.com/cometplay/cometplay/lobby"
	"github.com/cometplay/cometplay/rooms"
)

// Metrics collects a server's figures (and, once added, a hub's, a rooms
// Manager's and a lobby's) in a Prometheus registry, with the Go runtime
// and process collectors, and serves them in the text exposition format.
// Create it with NewMetrics; serve Handler, e.g. with
// srv.HandleHTTP("/metrics", m.Handler()). Safe for concurrent use.
type Metrics struct {
	reg *prometheus.Registry
}

// NewMetrics returns the metrics of srv and, when hub is not nil, of its
// Comet hub. It may be called before or after srv.Start.
func NewMetrics(srv *engine.Server, hub *comet.Hub) *Metrics {
	reg := prometheus.NewRegistry()
	reg.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	)
	reg.MustRegister(srv.Collectors()...)
	if hub != nil {
		reg.MustRegister(hub.Collectors()...)
	}
	return &Metrics{reg: reg}
}

// AddRooms adds the figures of a rooms Manager (rooms.Manager.Stats).
func (m *Metrics) AddRooms(mgr *rooms.Manager) { m.reg.MustRegister(roomsCollector{mgr}) }

// AddLobby adds the figures of a lobby (lobby.Lobby.Stats).
func (m *Metrics) AddLobby(lb *lobby.Lobby) { m.reg.MustRegister(lobbyCollector{lb}) }

// Registry returns the registry, to register an application's own
// collectors beside the engine's.
func (m *Metrics) Registry() *prometheus.Registry { return m.reg }

// Handler returns the net/http handler serving the metrics (promhttp): the
// text exposition format, gzipped when the scraper accepts it. Mount it
// with Server.HandleHTTP; it runs on a worker.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{})
}

var (
	descRooms         = promutil.Desc("cometplay_rooms", "Rooms by state (waiting, playing, finished).", "state")
	descRoomsCreated  = promutil.Desc("cometplay_rooms_created_total", "Rooms created (OnCreate succeeded).")
	descRoomsDisposed = promutil.Desc("cometplay_rooms_disposed_total", "Rooms disposed.")
	descGamesStarted  = promutil.Desc("cometplay_games_started_total", "Games started (a room went from waiting, or for a rematch from finished, to playing), by game.", "game")
	descGamesFinished = promutil.Desc("cometplay_games_finished_total", "Games finished, by game.", "game")
	descMoves         = promutil.Desc("cometplay_moves_total", "Moves applied.")
	descMovesRejected = promutil.Desc("cometplay_moves_rejected_total", "Moves refused, by reason.", "reason")
	descMailbox       = promutil.Desc("cometplay_rooms_mailbox_items", "Items waiting in all room mailboxes (the executors' backlog).")
	descMailboxFull   = promutil.Desc("cometplay_rooms_mailbox_full_total", "Client items refused because a room's mailbox was full (ManagerOptions.MailboxSize).")
	descRunQueue      = promutil.Desc("cometplay_rooms_run_queue_length", "Rooms with work waiting for an executor.")
	descExecutors     = promutil.Desc("cometplay_rooms_executors", "Executor goroutines running room hooks (ManagerOptions.Executors).")
	descExecutorsBusy = promutil.Desc("cometplay_rooms_executors_busy", "Executors running a room's hooks now.")
	descRoomPanics    = promutil.Desc("cometplay_rooms_hook_panics_total", "Room hooks that panicked (each closed its room).")
	descLobbyOnline   = promutil.Desc("cometplay_lobby_players_online", "Players online in the lobby.")
	descLobbyQueue    = promutil.Desc("cometplay_lobby_queue_length", "Lobby actions waiting for the lobby goroutine.")
)

// roomsCollector reads rooms.Manager.Stats at scrape time.
type roomsCollector struct{ m *rooms.Manager }

func (c roomsCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descRooms, descRoomsCreated, descRoomsDisposed, descGamesStarted,
		descGamesFinished, descMoves, descMovesRejected, descMailbox, descMailboxFull, descRunQueue,
		descExecutors, descExecutorsBusy, descRoomPanics} {
		ch <- d
	}
}

func (c roomsCollector) Collect(ch chan<- prometheus.Metric) {
	st := c.m.Stats()
	for i, n := range st.Rooms {
		ch <- promutil.Gauge(descRooms, n, rooms.State(i).String())
	}
	ch <- promutil.Counter(descRoomsCreated, st.Created)
	ch <- promutil.Counter(descRoomsDisposed, st.Disposed)
	for name, g := range st.Games {
		ch <- promutil.Counter(descGamesStarted, g.Started, name)
		ch <- promutil.Counter(descGamesFinished, g.Finished, name)
	}
	ch <- promutil.Counter(descMoves, st.Moves)
	for reason, n := range st.MovesRejected {
		ch <- promutil.Counter(descMovesRejected, n, reason)
	}
	ch <- promutil.Gauge(descMailbox, st.MailboxItems)
	ch <- promutil.Counter(descMailboxFull, st.MailboxFull)
	ch <- promutil.Gauge(descRunQueue, int64(st.RunQueue))
	ch <- promutil.Gauge(descExecutors, int64(st.Executors))
	ch <- promutil.Gauge(descExecutorsBusy, st.ExecutorsBusy)
	ch <- promutil.Counter(descRoomPanics, st.Panics)
}

// lobbyCollector reads lobby.Lobby.Stats at scrape time.
type lobbyCollector struct{ l *lobby.Lobby }

func (c lobbyCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- descLobbyOnline
	ch <- descLobbyQueue
}

func (c lobbyCollector) Collect(ch chan<- prometheus.Metric) {
	st := c.l.Stats()
	ch <- promutil.Gauge(descLobbyOnline, st.PlayersOnline)
	ch <- promutil.Gauge(descLobbyQueue, int64(st.Queued))
}
