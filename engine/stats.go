package engine

import (
	"encoding/json"
	"net/http"
	"runtime"
	"sync/atomic"
	"time"
)

// serverStats are the server's counters, updated with atomics from any loop.
type serverStats struct {
	accepted       atomic.Int64
	refused        atomic.Int64
	refusedAddr    atomic.Int64
	requests       atomic.Int64
	responses      atomic.Int64
	badRequests    atomic.Int64
	headerTimeouts atomic.Int64
	slowClosed     atomic.Int64
	overloaded     atomic.Int64
	panics         atomic.Int64
	bytesIn        atomic.Int64
	bytesOut       atomic.Int64
	relayedIn      atomic.Int64 // connections of requests relayed from other nodes, open now
	relayedOut     atomic.Int64 // responses relayed from other nodes to our clients
}

func (s *Server) countStatusDone(*Exchange) { s.stats.responses.Add(1) }

// Stats is a snapshot of the server's figures, as served at /debug/stats.
type Stats struct {
	Time            time.Time `json:"time"`
	OpenConnections int64     `json:"open_connections"`
	MaxConnections  int       `json:"max_connections"`
	Accepted        int64     `json:"accepted"`
	Refused         int64     `json:"refused_at_cap"`
	RefusedPerAddr  int64     `json:"refused_per_addr"`
	Requests        int64     `json:"requests"`
	Responses       int64     `json:"responses"`
	BadRequests     int64     `json:"bad_requests"`
	HeaderTimeouts  int64     `json:"header_timeouts"`
	SlowClosed      int64     `json:"slow_readers_closed"`
	Overloaded      int64     `json:"overloaded_503"`
	HandlerPanics   int64     `json:"handler_panics"`
	BytesIn         int64     `json:"bytes_in"`
	BytesOut        int64     `json:"bytes_out"`
	// RelayedIn: requests another node received and this one serves, open
	// now; RelayedOut: responses another node served to our clients (a
	// cluster, see ServeRelayed and Exchange.Relay).
	RelayedIn  int64  `json:"relayed_in_open"`
	RelayedOut int64  `json:"relayed_out"`
	Goroutines int    `json:"goroutines"`
	HeapAlloc  uint64 `json:"heap_alloc_bytes"`
	HeapInuse  uint64 `json:"heap_inuse_bytes"`
	Sys        uint64 `json:"sys_bytes"`
	NumGC      uint32 `json:"num_gc"`
	// Sections are the layers' figures (Server.AddStats), by name: in the
	// JSON encoding each is a field of the object beside those above
	// ("comet": the hub's).
	Sections map[string]any `json:"-"`
}

// MarshalJSON encodes the figures with each section as a field of its own.
func (st Stats) MarshalJSON() ([]byte, error) {
	type plain Stats
	b, err := json.Marshal(plain(st))
	if err != nil || len(st.Sections) == 0 {
		return b, err
	}
	extra, err := json.Marshal(st.Sections)
	if err != nil {
		return nil, err
	}
	// {"time":…} + {"comet":…} → {"time":…,"comet":…}
	return append(append(b[:len(b)-1], ','), extra[1:]...), nil
}

// Stats returns a snapshot of the server's figures. It reads runtime memory
// statistics, which briefly stops the world: do not call it per request.
func (s *Server) Stats() Stats {
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	st := Stats{
		Time:            time.Now().UTC(),
		OpenConnections: s.conns.Load(),
		MaxConnections:  s.maxConns,
		Accepted:        s.stats.accepted.Load(),
		Refused:         s.stats.refused.Load(),
		RefusedPerAddr:  s.stats.refusedAddr.Load(),
		Requests:        s.stats.requests.Load(),
		Responses:       s.stats.responses.Load(),
		BadRequests:     s.stats.badRequests.Load(),
		HeaderTimeouts:  s.stats.headerTimeouts.Load(),
		SlowClosed:      s.stats.slowClosed.Load(),
		Overloaded:      s.stats.overloaded.Load(),
		HandlerPanics:   s.stats.panics.Load(),
		BytesIn:         s.stats.bytesIn.Load(),
		BytesOut:        s.stats.bytesOut.Load(),
		RelayedIn:       s.stats.relayedIn.Load(),
		RelayedOut:      s.stats.relayedOut.Load(),
		Goroutines:      runtime.NumGoroutine(),
		HeapAlloc:       ms.HeapAlloc,
		HeapInuse:       ms.HeapInuse,
		Sys:             ms.Sys,
		NumGC:           ms.NumGC,
	}
	s.hookMu.Lock()
	sections := s.statsSections
	s.hookMu.Unlock()
	for _, sec := range sections {
		if st.Sections == nil {
			st.Sections = make(map[string]any, len(sections))
		}
		st.Sections[sec.name] = sec.f()
	}
	return st
}

// registerBuiltins adds the server's own endpoints.
func (s *Server) registerBuiltins() {
	s.Handle("GET", "/debug/stats", func(w *Stream, _ *Request) {
		b, err := json.MarshalIndent(s.Stats(), "", "  ")
		if err != nil {
			w.Respond(http.StatusInternalServerError, "text/plain; charset=utf-8", []byte(err.Error()))
			return
		}
		w.SetHeader("Cache-Control", "no-store")
		w.Respond(http.StatusOK, "application/json", append(b, '\n'))
	})
}
