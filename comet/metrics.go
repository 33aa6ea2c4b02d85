package comet

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/cometplay/cometplay/internal/promutil"
)

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

// Collectors returns the hub's Prometheus collectors: its counters, read at
// scrape time, and the fan-out histograms. Register them in a registry of
// your own, or use games.Metrics, which does.
func (h *Hub) Collectors() []prometheus.Collector {
	return []prometheus.Collector{hubCollector{h}, h.obs.fanout, h.obs.recipients}
}

var (
	descHistoryBytes        = promutil.Desc("cometplay_comet_history_bytes", "Bytes of the slabs holding the events sessions may still deliver (bounded by Config.HistoryBytes).")
	descHistoryOffHeap      = promutil.Desc("cometplay_comet_history_offheap_bytes", "Bytes of the history's slabs held outside the Go heap (mapped, resident): the live slabs and up to 16 spare ones; the Go runtime's memory metrics do not count them.")
	descHistoryRefs         = promutil.Desc("cometplay_comet_history_references", "Events held by sessions: one per event per session that has not acknowledged it (bounded by Window, SessionHistoryBytes and ResumeHorizon per session).")
	descHistorySlabsDropped = promutil.Desc("cometplay_comet_history_slabs_dropped_total", "History slabs let go, by reason: released (nothing held them), expired (past ResumeHorizon), evicted (past HistoryBytes; their holders get a gap).", "reason")
	descSessions            = promutil.Desc("cometplay_comet_sessions", "Live Comet sessions, by the mode of their last listen (none: not listened yet) and format.", "mode", "format")
	descSessionsStarted     = promutil.Desc("cometplay_comet_sessions_started_total", "Comet sessions created (joins).")
	descSessionsEnded       = promutil.Desc("cometplay_comet_sessions_ended_total", "Comet sessions ended, by reason (leave, expired, refresh-timeout, shutdown, closed).", "reason")
	descListeners           = promutil.Desc("cometplay_comet_listeners", "Open data channels: streams, and pull/poll refreshes parked until an event or a heartbeat.", "mode")
	descPublished           = promutil.Desc("cometplay_comet_events_published_total", "Events published (by clients and by the server), unicasts included; each is counted once, whatever its recipients.")
	descDelivered           = promutil.Desc("cometplay_comet_events_delivered_total", "Events written to data channels, once per recipient (resent ones included).")
	descChannelWrites       = promutil.Desc("cometplay_comet_channel_writes_total", "Batches written to data channels (a stream's events of one turn, a parked refresh's response): events delivered per write is how well deliveries are coalesced.")
	descGaps                = promutil.Desc("cometplay_comet_gaps_total", "Gap events sent: a client was further behind than its session's window (Config.Window).")
	descHeartbeats          = promutil.Desc("cometplay_comet_heartbeats_total", "Heartbeat (hb) events sent.")
	descNacks               = promutil.Desc("cometplay_comet_nacks_total", "Protocol requests refused with a nack.")
	descFanoutsQueued       = promutil.Desc("cometplay_comet_fanouts_queued", "Events waiting for the hub's fan-out goroutine or being pushed by it (large fan-outs, and every push while one is queued).")
	descFanoutsDeferred     = promutil.Desc("cometplay_comet_fanouts_deferred_total", "Events pushed into their sessions by the hub's fan-out goroutine rather than by their publisher.")
	descFanoutsHelped       = promutil.Desc("cometplay_comet_fanouts_helped_total", "Queued events a publisher pushed itself because the fan-out queue was full (it was slowed down).")
)

// hubCollector reads the hub's atomics at scrape time.
type hubCollector struct{ h *Hub }

func (c hubCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descSessions, descSessionsStarted, descSessionsEnded, descListeners,
		descPublished, descDelivered, descChannelWrites, descGaps, descHeartbeats, descNacks, descHistoryBytes, descHistoryOffHeap, descHistoryRefs, descHistorySlabsDropped,
		descFanoutsQueued, descFanoutsDeferred, descFanoutsHelped} {
		ch <- d
	}
}

func (c hubCollector) Collect(ch chan<- prometheus.Metric) {
	st := &c.h.stats
	for m := range st.sessions {
		for f := range st.sessions[m] {
			ch <- promutil.Gauge(descSessions, st.sessions[m][f].Load(), modeLabels[m], Format(f).String())
		}
	}
	ch <- promutil.Counter(descSessionsStarted, st.joins.Load())
	for i, r := range endReasons {
		ch <- promutil.Counter(descSessionsEnded, st.ended[i].Load(), r)
	}
	ch <- promutil.Gauge(descListeners, st.listenersStream.Load(), "stream")
	ch <- promutil.Gauge(descListeners, st.listenersPull.Load(), "pull")
	ch <- promutil.Counter(descPublished, st.published.Load())
	ch <- promutil.Counter(descDelivered, st.delivered.Load())
	ch <- promutil.Counter(descChannelWrites, st.writes.Load())
	ch <- promutil.Counter(descGaps, st.gaps.Load())
	ch <- promutil.Counter(descHeartbeats, st.heartbeats.Load())
	ch <- promutil.Counter(descNacks, st.nacks.Load())
	hs := c.h.store.Stats()
	ch <- promutil.Gauge(descHistoryBytes, hs.Bytes)
	ch <- promutil.Gauge(descHistoryOffHeap, hs.Resident)
	ch <- promutil.Gauge(descHistoryRefs, hs.Refs)
	ch <- promutil.Counter(descHistorySlabsDropped, hs.Released, "released")
	ch <- promutil.Counter(descHistorySlabsDropped, hs.Expired, "expired")
	ch <- promutil.Counter(descHistorySlabsDropped, hs.Evicted, "evicted")
	fs := c.h.fan.stats()
	ch <- promutil.Gauge(descFanoutsQueued, int64(fs.Queued))
	ch <- promutil.Counter(descFanoutsDeferred, fs.Deferred)
	ch <- promutil.Counter(descFanoutsHelped, fs.Helped)
}
