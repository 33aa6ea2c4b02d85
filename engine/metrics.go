package engine

import (
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/cometplay/cometplay/lobby"
	"github.com/cometplay/cometplay/rooms"
)

// Metrics in the Prometheus format.
//
// The hot paths only update what the engine counts anyway: atomics (the
// counters of serverStats, hubStats, per-route status counters) and three
// histograms, whose Observe is an atomic add. Metrics turns them into
// Prometheus metrics when it is scraped, with collectors that read the
// atomics then: a scrape costs a few thousand atomic loads, the hot path
// nothing more. Label values are bounded: route is a registered pattern or
// one of "static", "notfound", "unrouted"; code a status code; mode and
// format the protocol's few; game a registered game; reason a fixed set.

// Fixed route labels for requests that no registered pattern serves.
const (
	routeUnrouted uint16 = iota // answered before routing: a request the codec refused (400, 413, 414, 431, 501, 505) or a header timeout (408)
	routeStatic                 // the static site (files, and its 404s)
	routeNotFound               // no route, and no static site
	numFixedRoutes
)

var fixedRouteLabels = [numFixedRoutes]string{"unrouted", "static", "notfound"}

// maxRouteLabels bounds the route labels: patterns registered past it share
// the label "other".
const maxRouteLabels = 1024

// routeStats counts responses by route and status code, and holds each
// route's handler-latency histogram. Route ids are assigned at
// registration; the hot path indexes a copy-on-write table.
type routeStats struct {
	mu    sync.Mutex        // serializes additions
	ids   map[string]uint16 // label → id; guarded by mu
	table atomic.Pointer[[]*routeCounters]
	hist  *prometheus.HistogramVec // cometplay_http_handler_duration_seconds by route
}

// routeCounters are one route label's figures.
type routeCounters struct {
	label   string
	codes   [900]atomic.Int64               // responses by status code - 100
	handler atomic.Pointer[handlerObserver] // handler durations; set once a worker route has the label
}

type handlerObserver struct{ prometheus.Observer }

func (rs *routeStats) init() {
	rs.ids = make(map[string]uint16)
	rs.hist = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "cometplay_http_handler_duration_seconds",
		Help:    "Time a Handler ran on its worker goroutine, by route (a parked response's wait afterwards is not included).",
		Buckets: []float64{.0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60},
	}, []string{"route"})
	t := make([]*routeCounters, 0, numFixedRoutes)
	for i, l := range fixedRouteLabels {
		rs.ids[l] = uint16(i)
		t = append(t, &routeCounters{label: l})
	}
	rs.table.Store(&t)
}

// id returns the id of a route label (a registered pattern), adding it.
// worker says the route runs a Handler: only such labels get a
// handler-latency histogram (loop routes have none to observe).
func (rs *routeStats) id(label string, worker bool) uint16 {
	rs.mu.Lock()
	defer rs.mu.Unlock()
	id, ok := rs.ids[label]
	if !ok {
		old := *rs.table.Load()
		if len(old) >= maxRouteLabels {
			label = "other"
			id, ok = rs.ids[label]
		}
		if !ok {
			id = uint16(len(old))
			t := append(old[:len(old):len(old)], &routeCounters{label: label})
			rs.ids[label] = id
			rs.table.Store(&t)
		}
	}
	if rc := rs.get(id); worker && rc.handler.Load() == nil {
		rc.handler.Store(&handlerObserver{rs.hist.WithLabelValues(label)})
	}
	return id
}

func (rs *routeStats) get(id uint16) *routeCounters {
	if t := *rs.table.Load(); int(id) < len(t) {
		return t[id]
	}
	return nil
}

// count records a response head of route id. Safe from any goroutine; no allocation.
func (rs *routeStats) count(id uint16, status int) {
	if rc := rs.get(id); rc != nil && status >= 100 && status <= 999 {
		rc.codes[status-100].Add(1)
	}
}

// observeHandler records how long a handler of route id ran.
func (rs *routeStats) observeHandler(id uint16, start time.Time) {
	if rc := rs.get(id); rc != nil {
		if h := rc.handler.Load(); h != nil {
			h.Observe(time.Since(start).Seconds())
		}
	}
}

// hubObservers are the Comet hub's histograms, observed once per publish.
type hubObservers struct {
	fanout     prometheus.Histogram // cometplay_comet_fanout_duration_seconds
	recipients prometheus.Histogram // cometplay_comet_fanout_recipients
}

func newHubObservers() hubObservers {
	return hubObservers{
		fanout: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "cometplay_comet_fanout_duration_seconds",
			Help:    "Time to fan one published event out to its subscribers: the subject index lookup and the append to every recipient's window (the loops then write it).",
			Buckets: prometheus.ExponentialBuckets(1e-6, 4, 11), // 1 µs .. 1 s
		}),
		recipients: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "cometplay_comet_fanout_recipients",
			Help:    "Sessions one published event was fanned out to.",
			Buckets: prometheus.ExponentialBuckets(1, 4, 10), // 1 .. 262144
		}),
	}
}

// observe records one multicast.
func (o *hubObservers) observe(start time.Time, n int) {
	o.fanout.Observe(time.Since(start).Seconds())
	o.recipients.Observe(float64(n))
}

// modeNone is the mode slot of a session that has not listened yet.
const modeNone = Mode(len(modeNames))

// modeLabels name the mode slots of hubStats.sessions.
var modeLabels = [len(modeNames) + 1]string{"stream", "pull", "poll", "none"}

// endReasons are the reasons a session ends, indexed as hubStats.ended.
var endReasons = [...]string{ReasonLeave, ReasonExpired, ReasonRefreshTimeout, ReasonShutdown, ReasonClosed}

func (st *hubStats) sessionEnded(reason string) {
	for i, r := range endReasons {
		if r == reason {
			st.ended[i].Add(1)
			return
		}
	}
}

// setModeLocked records the mode a session listens with, and moves it
// between the per-mode session gauges. s.mu must be held.
func (s *Session) setModeLocked(m Mode) {
	s.mode = m
	if s.stopped || s.modeSlot == m {
		return
	}
	st := &s.hub.stats
	st.sessions[s.modeSlot][s.format].Add(-1)
	st.sessions[m][s.format].Add(1)
	s.modeSlot = m
}

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
func NewMetrics(srv *Server, hub *Hub) *Metrics {
	reg := prometheus.NewRegistry()
	reg.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		serverCollector{srv},
		srv.routeStats.hist,
	)
	if hub != nil {
		reg.MustRegister(hubCollector{hub}, hub.obs.fanout, hub.obs.recipients)
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

// desc is shorthand for a metric description.
func desc(name, help string, labels ...string) *prometheus.Desc {
	return prometheus.NewDesc(name, help, labels, nil)
}

var (
	descConnsOpen        = desc("cometplay_connections_open", "Open client connections.")
	descConnsMax         = desc("cometplay_connections_max", "The cap on open connections (Config.MaxConns, after the open-file limit).")
	descConnsAccepted    = desc("cometplay_connections_accepted_total", "Connections accepted.")
	descConnsRefused     = desc("cometplay_connections_refused_total", "Connections refused (answered 503 and closed) because the cap was reached or the server was shutting down.")
	descConnsRefusedAddr = desc("cometplay_connections_refused_per_addr_total", "Connections refused (answered 503 and closed) because their client address had Config.MaxConnsPerAddr open.")
	descSlowClosed       = desc("cometplay_connections_slow_closed_total", "Connections closed because the peer did not read its responses (Config.MaxOutbound).")
	descHeaderTimeouts   = desc("cometplay_http_header_timeouts_total", "Requests whose head and body did not arrive within Config.HeaderTimeout.")
	descRequestsParsed   = desc("cometplay_http_requests_parsed_total", "Requests parsed (before routing), pipelined ones included.")
	descRequests         = desc("cometplay_http_requests_total", "Responses started, by route (the registered pattern, or static, notfound, unrouted) and status code.", "route", "code")
	descBadRequests      = desc("cometplay_http_bad_requests_total", "Requests the parser refused (answered 400, 413, 414, 431, 501 or 505 and closed).")
	descOverloaded       = desc("cometplay_http_overloaded_total", "Requests answered 503 because the worker queue was full (Config.WorkQueue).")
	descPanics           = desc("cometplay_http_handler_panics_total", "Handlers that panicked (answered 500, or the connection closed).")
	descBytesIn          = desc("cometplay_http_received_bytes_total", "Bytes read from client connections.")
	descBytesOut         = desc("cometplay_http_sent_bytes_total", "Bytes written to client connections.")
	descWorkers          = desc("cometplay_workers", "Goroutines running Handlers (Config.Workers).")
	descWorkQueue        = desc("cometplay_worker_queue_length", "Requests waiting for a worker.")
	descWorkQueueCap     = desc("cometplay_worker_queue_capacity", "Requests that may wait for a worker before the server answers 503 (Config.WorkQueue).")
	descSessions         = desc("cometplay_comet_sessions", "Live Comet sessions, by the mode of their last listen (none: not listened yet) and format.", "mode", "format")
	descSessionsStarted  = desc("cometplay_comet_sessions_started_total", "Comet sessions created (joins).")
	descSessionsEnded    = desc("cometplay_comet_sessions_ended_total", "Comet sessions ended, by reason (leave, expired, refresh-timeout, shutdown, closed).", "reason")
	descListeners        = desc("cometplay_comet_listeners", "Open data channels: streams, and pull/poll refreshes parked until an event or a heartbeat.", "mode")
	descPublished        = desc("cometplay_comet_events_published_total", "Events published (by clients and by the server), unicasts included; each is counted once, whatever its recipients.")
	descDelivered        = desc("cometplay_comet_events_delivered_total", "Events written to data channels, once per recipient (resent ones included).")
	descGaps             = desc("cometplay_comet_gaps_total", "Gap events sent: a client was further behind than its session's window (HubConfig.Window).")
	descHeartbeats       = desc("cometplay_comet_heartbeats_total", "Heartbeat (hb) events sent.")
	descNacks            = desc("cometplay_comet_nacks_total", "Protocol requests refused with a nack.")

	descRooms         = desc("cometplay_rooms", "Rooms by state (waiting, playing, finished).", "state")
	descRoomsCreated  = desc("cometplay_rooms_created_total", "Rooms created (OnCreate succeeded).")
	descRoomsDisposed = desc("cometplay_rooms_disposed_total", "Rooms disposed.")
	descGamesStarted  = desc("cometplay_games_started_total", "Games started (a room went from waiting, or for a rematch from finished, to playing), by game.", "game")
	descGamesFinished = desc("cometplay_games_finished_total", "Games finished, by game.", "game")
	descMoves         = desc("cometplay_moves_total", "Moves applied.")
	descMovesRejected = desc("cometplay_moves_rejected_total", "Moves refused, by reason.", "reason")
	descMailbox       = desc("cometplay_rooms_mailbox_items", "Items waiting in all room mailboxes (the executors' backlog).")
	descMailboxFull   = desc("cometplay_rooms_mailbox_full_total", "Client items refused because a room's mailbox was full (ManagerOptions.MailboxSize).")
	descRunQueue      = desc("cometplay_rooms_run_queue_length", "Rooms with work waiting for an executor.")
	descExecutors     = desc("cometplay_rooms_executors", "Executor goroutines running room hooks (ManagerOptions.Executors).")
	descExecutorsBusy = desc("cometplay_rooms_executors_busy", "Executors running a room's hooks now.")
	descRoomPanics    = desc("cometplay_rooms_hook_panics_total", "Room hooks that panicked (each closed its room).")

	descLobbyOnline = desc("cometplay_lobby_players_online", "Players online in the lobby.")
	descLobbyQueue  = desc("cometplay_lobby_queue_length", "Lobby actions waiting for the lobby goroutine.")
)

func counter(d *prometheus.Desc, v int64, labels ...string) prometheus.Metric {
	return prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v), labels...)
}

func gauge(d *prometheus.Desc, v int64, labels ...string) prometheus.Metric {
	return prometheus.MustNewConstMetric(d, prometheus.GaugeValue, float64(v), labels...)
}

// serverCollector reads the server's atomics at scrape time.
type serverCollector struct{ s *Server }

func (c serverCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descConnsOpen, descConnsMax, descConnsAccepted, descConnsRefused,
		descConnsRefusedAddr, descSlowClosed, descHeaderTimeouts, descRequestsParsed, descRequests, descBadRequests, descOverloaded,
		descPanics, descBytesIn, descBytesOut, descWorkers, descWorkQueue, descWorkQueueCap} {
		ch <- d
	}
}

func (c serverCollector) Collect(ch chan<- prometheus.Metric) {
	s := c.s
	st := &s.stats
	ch <- gauge(descConnsOpen, s.conns.Load())
	ch <- gauge(descConnsMax, int64(s.maxConns))
	ch <- counter(descConnsAccepted, st.accepted.Load())
	ch <- counter(descConnsRefused, st.refused.Load())
	ch <- counter(descConnsRefusedAddr, st.refusedAddr.Load())
	ch <- counter(descSlowClosed, st.slowClosed.Load())
	ch <- counter(descHeaderTimeouts, st.headerTimeouts.Load())
	ch <- counter(descRequestsParsed, st.requests.Load())
	ch <- counter(descBadRequests, st.badRequests.Load())
	ch <- counter(descOverloaded, st.overloaded.Load())
	ch <- counter(descPanics, st.panics.Load())
	ch <- counter(descBytesIn, st.bytesIn.Load())
	ch <- counter(descBytesOut, st.bytesOut.Load())
	ch <- gauge(descWorkers, int64(s.cfg.Workers))
	ch <- gauge(descWorkQueueCap, int64(s.cfg.WorkQueue))
	queued := 0
	if s.started.Load() && s.workers != nil {
		queued = len(s.workers.jobs)
	}
	ch <- gauge(descWorkQueue, int64(queued))
	for _, rc := range *s.routeStats.table.Load() {
		for i := range rc.codes {
			if n := rc.codes[i].Load(); n > 0 {
				ch <- counter(descRequests, n, rc.label, strconv.Itoa(i+100))
			}
		}
	}
}

// hubCollector reads the hub's atomics at scrape time.
type hubCollector struct{ h *Hub }

func (c hubCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descSessions, descSessionsStarted, descSessionsEnded, descListeners,
		descPublished, descDelivered, descGaps, descHeartbeats, descNacks} {
		ch <- d
	}
}

func (c hubCollector) Collect(ch chan<- prometheus.Metric) {
	st := &c.h.stats
	for m := range st.sessions {
		for f := range st.sessions[m] {
			ch <- gauge(descSessions, st.sessions[m][f].Load(), modeLabels[m], Format(f).String())
		}
	}
	ch <- counter(descSessionsStarted, st.joins.Load())
	for i, r := range endReasons {
		ch <- counter(descSessionsEnded, st.ended[i].Load(), r)
	}
	ch <- gauge(descListeners, st.listenersStream.Load(), "stream")
	ch <- gauge(descListeners, st.listenersPull.Load(), "pull")
	ch <- counter(descPublished, st.published.Load())
	ch <- counter(descDelivered, st.delivered.Load())
	ch <- counter(descGaps, st.gaps.Load())
	ch <- counter(descHeartbeats, st.heartbeats.Load())
	ch <- counter(descNacks, st.nacks.Load())
}

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
		ch <- gauge(descRooms, n, rooms.State(i).String())
	}
	ch <- counter(descRoomsCreated, st.Created)
	ch <- counter(descRoomsDisposed, st.Disposed)
	for name, g := range st.Games {
		ch <- counter(descGamesStarted, g.Started, name)
		ch <- counter(descGamesFinished, g.Finished, name)
	}
	ch <- counter(descMoves, st.Moves)
	for reason, n := range st.MovesRejected {
		ch <- counter(descMovesRejected, n, reason)
	}
	ch <- gauge(descMailbox, st.MailboxItems)
	ch <- counter(descMailboxFull, st.MailboxFull)
	ch <- gauge(descRunQueue, int64(st.RunQueue))
	ch <- gauge(descExecutors, int64(st.Executors))
	ch <- gauge(descExecutorsBusy, st.ExecutorsBusy)
	ch <- counter(descRoomPanics, st.Panics)
}

// lobbyCollector reads lobby.Lobby.Stats at scrape time.
type lobbyCollector struct{ l *lobby.Lobby }

func (c lobbyCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- descLobbyOnline
	ch <- descLobbyQueue
}

func (c lobbyCollector) Collect(ch chan<- prometheus.Metric) {
	st := c.l.Stats()
	ch <- gauge(descLobbyOnline, st.PlayersOnline)
	ch <- gauge(descLobbyQueue, int64(st.Queued))
}

// closeReason says why a connection closed, for the debug log of every
// close. A close by the server after a timeout or past a cap has its cause
// logged when it is decided, just before. Loop only.
func closeReason(c *conn, err error) string {
	switch {
	case err != nil:
		return err.Error()
	case !c.closing:
		return "closed by the peer"
	default:
		return "closed by the server"
	}
}
