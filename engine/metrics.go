package engine

import (
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/cometplay/cometplay/internal/promutil"
)

// Metrics in the Prometheus format.
//
// The hot paths only update what the engine counts anyway: atomics (the
// counters of serverStats, per-route status counters) and histograms, whose
// Observe is an atomic add. Metrics turns them into Prometheus metrics when
// it is scraped, with collectors that read the atomics then: a scrape costs
// a few thousand atomic loads, the hot path nothing more. Label values are
// bounded: route is a registered pattern or one of "static", "notfound",
// "unrouted"; code a status code. (The Comet hub's metrics, with their
// mode and format labels, are comet's; the rooms' and lobby's, games'.)

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
}

// routeCounters are one route label's figures.
type routeCounters struct {
	label   string
	codes   [900]atomic.Int64           // responses by status code - 100
	handler atomic.Pointer[handlerHist] // handler durations; set once a worker route has the label
}

// handlerBounds are the upper bounds of the handler-duration buckets.
var handlerBounds = [...]time.Duration{
	100 * time.Microsecond, 250 * time.Microsecond, 500 * time.Microsecond,
	time.Millisecond, 2500 * time.Microsecond, 5 * time.Millisecond,
	10 * time.Millisecond, 25 * time.Millisecond, 50 * time.Millisecond,
	100 * time.Millisecond, 250 * time.Millisecond, 500 * time.Millisecond,
	time.Second, 2500 * time.Millisecond, 5 * time.Second, 10 * time.Second,
	30 * time.Second, time.Minute,
}

// handlerHist is one route's handler-duration histogram: atomic counts
// by bucket (the last for longer than every bound), read at scrape time.
// A worker adds a batch's observations at once (handlerTally).
type handlerHist struct {
	counts [len(handlerBounds) + 1]atomic.Uint64
	count  atomic.Uint64
	sumNs  atomic.Int64
}

// handlerTally gathers, on a worker's stack, the durations of the Handlers
// of one route that it runs in a row: a batch of pipelined requests costs
// its histogram a few atomic adds instead of a few per request.
type handlerTally struct {
	h      *handlerHist
	n      uint64
	sumNs  int64
	counts [len(handlerBounds) + 1]uint32
}

func (t *handlerTally) add(h *handlerHist, took time.Duration) {
	if h != t.h {
		t.flush()
		t.h = h
	}
	if h == nil {
		return
	}
	i := 0
	for i < len(handlerBounds) && took > handlerBounds[i] {
		i++
	}
	t.counts[i]++
	t.n++
	t.sumNs += int64(took)
}

func (t *handlerTally) flush() {
	if t.h == nil || t.n == 0 {
		return
	}
	for i, c := range t.counts {
		if c > 0 {
			t.h.counts[i].Add(uint64(c))
		}
	}
	t.h.sumNs.Add(t.sumNs)
	t.h.count.Add(t.n) // last: a scrape never sees more observations than bucket counts
	*t = handlerTally{}
}

var descHandlerDuration = promutil.Desc("cometplay_http_handler_duration_seconds",
	"Time a Handler ran on its worker goroutine, by route (a parked response's wait afterwards is not included).", "route")

// metric returns the histogram as Prometheus reads it.
func (h *handlerHist) metric(route string) prometheus.Metric {
	n := h.count.Load()
	buckets := make(map[float64]uint64, len(handlerBounds))
	var cum uint64
	for i, b := range handlerBounds {
		cum += h.counts[i].Load()
		buckets[b.Seconds()] = min(cum, n)
	}
	return prometheus.MustNewConstHistogram(descHandlerDuration, n, time.Duration(h.sumNs.Load()).Seconds(), buckets, route)
}

func (rs *routeStats) init() {
	rs.ids = make(map[string]uint16)
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
		rc.handler.Store(new(handlerHist))
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

// handlerHist returns the handler-duration histogram of route id, or nil.
func (rs *routeStats) handlerHist(id uint16) *handlerHist {
	if rc := rs.get(id); rc != nil {
		return rc.handler.Load()
	}
	return nil
}

// RouteLabels returns the values the route label of the server's metrics
// takes: each registered pattern (up to a bound past which they share
// "other"), and "static", "notfound" and "unrouted".
func (s *Server) RouteLabels() []string {
	var ls []string
	for _, rc := range *s.routeStats.table.Load() {
		ls = append(ls, rc.label)
	}
	return ls
}

// Collectors returns the server's Prometheus collectors: its counters, read
// at scrape time, and the handler duration histogram. Register them in a
// registry of your own, or use games.Metrics, which does.
func (s *Server) Collectors() []prometheus.Collector {
	return []prometheus.Collector{serverCollector{s}}
}

var (
	descConnsOpen        = promutil.Desc("cometplay_connections_open", "Open client connections.")
	descConnsMax         = promutil.Desc("cometplay_connections_max", "The cap on open connections (Config.MaxConns, after the open-file limit).")
	descConnsAccepted    = promutil.Desc("cometplay_connections_accepted_total", "Connections accepted.")
	descConnsRefused     = promutil.Desc("cometplay_connections_refused_total", "Connections refused (answered 503 and closed) because the cap was reached or the server was shutting down.")
	descConnsRefusedAddr = promutil.Desc("cometplay_connections_refused_per_addr_total", "Connections refused (answered 503 and closed) because their client address had Config.MaxConnsPerAddr open.")
	descSlowClosed       = promutil.Desc("cometplay_connections_slow_closed_total", "Connections closed because the peer did not read its responses (Config.MaxOutbound).")
	descHeaderTimeouts   = promutil.Desc("cometplay_http_header_timeouts_total", "Requests whose head and body did not arrive within Config.HeaderTimeout.")
	descRequestsParsed   = promutil.Desc("cometplay_http_requests_parsed_total", "Requests parsed (before routing), pipelined ones included.")
	descRequests         = promutil.Desc("cometplay_http_requests_total", "Responses started, by route (the registered pattern, or static, notfound, unrouted) and status code.", "route", "code")
	descBadRequests      = promutil.Desc("cometplay_http_bad_requests_total", "Requests the parser refused (answered 400, 413, 414, 431, 501 or 505 and closed).")
	descOverloaded       = promutil.Desc("cometplay_http_overloaded_total", "Requests answered 503 because the worker queue was full (Config.WorkQueue).")
	descPanics           = promutil.Desc("cometplay_http_handler_panics_total", "Handlers that panicked (answered 500, or the connection closed).")
	descBytesIn          = promutil.Desc("cometplay_http_received_bytes_total", "Bytes read from client connections.")
	descBytesOut         = promutil.Desc("cometplay_http_sent_bytes_total", "Bytes written to client connections.")
	descWorkers          = promutil.Desc("cometplay_workers", "Goroutines running Handlers (Config.Workers).")
	descWorkQueue        = promutil.Desc("cometplay_worker_queue_length", "Requests waiting for a worker.")
	descWorkQueueCap     = promutil.Desc("cometplay_worker_queue_capacity", "Requests that may wait for a worker before the server answers 503 (Config.WorkQueue).")
)

// serverCollector reads the server's atomics at scrape time.
type serverCollector struct{ s *Server }

func (c serverCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descConnsOpen, descConnsMax, descConnsAccepted, descConnsRefused,
		descConnsRefusedAddr, descSlowClosed, descHeaderTimeouts, descRequestsParsed, descRequests, descBadRequests, descOverloaded,
		descPanics, descBytesIn, descBytesOut, descWorkers, descWorkQueue, descWorkQueueCap, descHandlerDuration} {
		ch <- d
	}
}

func (c serverCollector) Collect(ch chan<- prometheus.Metric) {
	s := c.s
	st := &s.stats
	ch <- promutil.Gauge(descConnsOpen, s.conns.Load())
	ch <- promutil.Gauge(descConnsMax, int64(s.maxConns))
	ch <- promutil.Counter(descConnsAccepted, st.accepted.Load())
	ch <- promutil.Counter(descConnsRefused, st.refused.Load())
	ch <- promutil.Counter(descConnsRefusedAddr, st.refusedAddr.Load())
	ch <- promutil.Counter(descSlowClosed, st.slowClosed.Load())
	ch <- promutil.Counter(descHeaderTimeouts, st.headerTimeouts.Load())
	ch <- promutil.Counter(descRequestsParsed, st.requests.Load())
	ch <- promutil.Counter(descBadRequests, st.badRequests.Load())
	ch <- promutil.Counter(descOverloaded, st.overloaded.Load())
	ch <- promutil.Counter(descPanics, st.panics.Load())
	ch <- promutil.Counter(descBytesIn, st.bytesIn.Load())
	ch <- promutil.Counter(descBytesOut, st.bytesOut.Load())
	ch <- promutil.Gauge(descWorkers, int64(s.cfg.Workers))
	ch <- promutil.Gauge(descWorkQueueCap, int64(s.cfg.WorkQueue))
	queued := 0
	if s.started.Load() && s.workers != nil {
		queued = len(s.workers.jobs) // batches: a connection's pipelined requests count once
	}
	ch <- promutil.Gauge(descWorkQueue, int64(queued))
	for _, rc := range *s.routeStats.table.Load() {
		if h := rc.handler.Load(); h != nil {
			ch <- h.metric(rc.label)
		}
		for i := range rc.codes {
			if n := rc.codes[i].Load(); n > 0 {
				ch <- promutil.Counter(descRequests, n, rc.label, strconv.Itoa(i+100))
			}
		}
	}
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
