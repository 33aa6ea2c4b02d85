package comet

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cometplay/cometplay/engine"
	"github.com/cometplay/cometplay/internal/history"
	"github.com/cometplay/cometplay/internal/netaddr"
	"github.com/cometplay/cometplay/internal/timewheel"
)

// Config configures the Comet hub. Zero fields take the defaults below,
// which follow Pushlet 2.0.4's pushlet.properties where it has one.
type Config struct {
	// Paths the protocol is served at (default "/pushlet/pushlet.srv" and "/comet").
	Paths []string
	// Cluster, when set, runs the hub as one node of several (see Cluster;
	// the cluster package): sessions' ids name their home node, and a
	// request for another node's session is relayed there.
	Cluster Cluster
	// DefaultFormat is used when a join names none (default js, as Pushlet).
	DefaultFormat Format
	// SessionTimeout is the lease renewed by every request and every open
	// stream (default 5 minutes).
	SessionTimeout time.Duration
	// Heartbeat is the silence after which a stream gets an hb event, and the
	// time a pull refresh waits for an event before answering with an hb
	// (default 20 s; shorter than SessionTimeout).
	Heartbeat time.Duration
	// PullRefreshTimeout and PollRefreshTimeout stop a pull or poll session
	// whose client does not come back with a refresh in time (45 s, 60 s).
	PullRefreshTimeout time.Duration
	PollRefreshTimeout time.Duration
	// PullWaitMin/Max and PollWaitMin/Max bound the random p_wait (in
	// milliseconds) sent in refresh events (2000–6000, 6000–10000; both 0:
	// the default). The max must be shorter than the refresh timeout, or
	// clients expire between two polls.
	PullWaitMin, PullWaitMax int
	PollWaitMin, PollWaitMax int
	// PollWaitFloor is the shortest p_wait a poll client gets when it asks
	// for a shorter one than the server's with the p_wait parameter of
	// listen and refresh (default 1000 ms): the site's pages ask while a
	// game is on, and no client polls faster by asking.
	PollWaitFloor int
	// Window, SessionHistoryBytes and ResumeHorizon bound what a session
	// keeps for resume, whichever comes first: its last Window events
	// (default 256), SessionHistoryBytes of them (default 1 MiB, at least
	// MaxEventBytes), and what is younger than ResumeHorizon (default 30 s,
	// a seat's reconnect window). What the client acknowledges (p_last on a
	// listen or refresh, p_ack on any request) is let go at once. A client
	// resuming from further back gets a gap event. Events are held once for
	// all their recipients, as records in pointer-free slabs; a session
	// holds 16 bytes per event (none when it holds none).
	Window              int
	SessionHistoryBytes int
	ResumeHorizon       time.Duration
	// HistoryBytes bounds the events the hub holds for all its sessions
	// together (default 128 MiB, at least 64 × MaxEventBytes): past it the
	// oldest are let go, and the sessions that still held them get a gap.
	HistoryBytes int64
	// ForcePullAll forces every listen to pull mode; ForcePullAgents forces it
	// for User-Agents containing one of the strings (case-insensitive). Both
	// are off by default (Pushlet forced pull for "safari", which is every
	// Chromium).
	ForcePullAll    bool
	ForcePullAgents []string
	// AllowedOrigins lists origins ("https://example.com") whose pages may
	// use the protocol besides the server's own (http://<Host>); "*" allows
	// any. Requests of other sites' pages, told by Origin, Sec-Fetch-Site or
	// Referer, are answered 403 (see checkOrigin). Default: same origin only.
	AllowedOrigins []string
	// MaxSessions caps concurrent sessions (default 100,000); a join over it
	// is answered 503.
	MaxSessions int
	// MaxSubscriptions caps a session's subscriptions (default 64).
	MaxSubscriptions int
	// MaxSubscribedSegments caps the subject segments of the subscriptions
	// a client makes, summed over every part of every list (default 256):
	// each may add a node to the subject index, so this bounds what a
	// session's subscriptions cost in memory. Subscriptions made from Go
	// (rooms, lobby, Session.Subscribe) are not counted.
	MaxSubscribedSegments int
	// SubscribeRate and SubscribeBurst limit a client's subscribes (new
	// subscriptions) and unsubscribes with a token bucket of their own
	// (defaults 10 a second, bursts of 64; a SubscribeRate of -1 disables
	// it). Over it: nack "rate limited". A bucket apart from the
	// publishes' so that a client re-subscribing everything on a new
	// session does not spend its moves.
	SubscribeRate  int
	SubscribeBurst int
	// MaxFields caps the fields of one published event (default 32).
	MaxFields int
	// MaxEventBytes caps the total size of a published event's names and
	// values (default 16 KiB).
	MaxEventBytes int
	// MaxParams caps the parameters of one protocol request, in its query
	// and body together, repeats included (default the larger of
	// DefaultMaxParams and 2×MaxFields; at least MaxFields). Past it the
	// request is answered 400 at once, before the rest is read.
	MaxParams int
	// MaxSessionsPerAddr caps the live sessions joined from one client IP
	// address, an IPv6 address counting with its whole /64 (default 128;
	// -1: no cap). A join over it is answered 503.
	MaxSessionsPerAddr int
	// PublishRate and PublishBurst limit each session's publishes (moves,
	// chat and lobby actions included) with a token bucket: PublishRate per
	// second sustained, PublishBurst at once (defaults 20 and 40; a
	// PublishRate of -1 disables the limit). Over it: nack "rate limited".
	PublishRate  int
	PublishBurst int
	// StallTimeout closes a stream whose connection accepts no more bytes
	// while events wait for it, for this long (default 5 s): a peer that
	// stopped reading. A backlog larger than the connection's outbound cap
	// (engine Config.MaxOutbound) is sent in slices as the peer reads it.
	StallTimeout time.Duration
	// DetachGrace is how long a session's lost data channel (its connection
	// went away before the response ended) must stay lost before
	// SessionDetached is reported (default 2 s; negative: at once). A stream
	// that reconnects at once (a network blip, a long-poll client between
	// two refreshes whose request was cut) is not reported at all: a game's
	// players do not flicker "dropped".
	DetachGrace time.Duration
}

// Hub defaults.
const (
	DefaultSessionTimeout     = 5 * time.Minute
	DefaultHeartbeat          = 20 * time.Second
	DefaultPullRefreshTimeout = 45 * time.Second
	DefaultPollRefreshTimeout = 60 * time.Second
	DefaultStallTimeout       = 5 * time.Second
	DefaultDetachGrace        = 2 * time.Second
	DefaultWindow             = 256
	// DefaultSessionHistoryBytes is a connection's outbound cap (engine's
	// DefaultMaxOutbound): a client that reads slower than its events come
	// falls that far behind before it loses any, as it would be closed that
	// far behind anyway. It holds a whole Window of events of up to 4 KiB (a
	// game's are a few hundred bytes), or 64 of the largest.
	DefaultSessionHistoryBytes = 1 << 20
	// DefaultResumeHorizon is a seat's reconnect window: a client gone
	// longer has lost its seat anyway, and reloads its state.
	DefaultResumeHorizon = 30 * time.Second
	// DefaultHistoryBytes bounds the history of the whole hub: 5,000 games
	// at a move a second hold a few MiB of it when their clients acknowledge,
	// and the bound holds with none doing so.
	DefaultHistoryBytes     = 128 << 20
	DefaultMaxSessions      = 100_000
	DefaultMaxSubscriptions = 64
	// DefaultMaxSubscribedSegments allows every subscription of a session
	// at DefaultMaxSubscriptions four segments ("/room/r-4f/chat" has 4).
	DefaultMaxSubscribedSegments = 256
	// DefaultSubscribeRate and DefaultSubscribeBurst: a client may make its
	// whole set of subscriptions at once (DefaultMaxSubscriptions), then
	// change ten a second. Each change takes the subject index's write
	// lock, which every publish waits for.
	DefaultSubscribeRate  = 10
	DefaultSubscribeBurst = DefaultMaxSubscriptions
	DefaultMaxFields      = 32
	DefaultMaxEventBytes  = 16 << 10
	DefaultPollWaitFloor  = 1000
	// DefaultMaxParams bounds a request's parameters: a publish carries at
	// most MaxFields (32) fields of its own and a few p_* control fields
	// (p_event, p_id, p_subject, p_to, p_label: clients send fewer than
	// 10); twice MaxFields leaves room for repeats. The cap bounds the work
	// of reading one request on the event loop, whatever its body holds.
	DefaultMaxParams          = 64
	DefaultMaxSessionsPerAddr = 128
	DefaultPublishRate        = 20
	DefaultPublishBurst       = 40
	// MaxLabelLen bounds p_label.
	MaxLabelLen = 128
)

func (c Config) withDefaults() (Config, error) {
	if len(c.Paths) == 0 {
		c.Paths = []string{"/pushlet/pushlet.srv", "/comet"}
	}
	def := func(d *time.Duration, v time.Duration) {
		if *d == 0 {
			*d = v
		}
	}
	def(&c.SessionTimeout, DefaultSessionTimeout)
	def(&c.Heartbeat, DefaultHeartbeat)
	def(&c.PullRefreshTimeout, DefaultPullRefreshTimeout)
	def(&c.PollRefreshTimeout, DefaultPollRefreshTimeout)
	def(&c.StallTimeout, DefaultStallTimeout)
	def(&c.DetachGrace, DefaultDetachGrace)
	defi := func(d *int, v int) {
		if *d == 0 {
			*d = v
		}
	}
	if c.PullWaitMin == 0 && c.PullWaitMax == 0 {
		c.PullWaitMin, c.PullWaitMax = 2000, 6000
	}
	if c.PollWaitMin == 0 && c.PollWaitMax == 0 {
		c.PollWaitMin, c.PollWaitMax = 6000, 10000
	}
	defi(&c.PollWaitFloor, DefaultPollWaitFloor)
	defi(&c.Window, DefaultWindow)
	defi(&c.MaxSessions, DefaultMaxSessions)
	defi(&c.MaxSubscriptions, DefaultMaxSubscriptions)
	defi(&c.MaxSubscribedSegments, DefaultMaxSubscribedSegments)
	defi(&c.SubscribeRate, DefaultSubscribeRate)
	defi(&c.SubscribeBurst, max(DefaultSubscribeBurst, c.SubscribeRate))
	defi(&c.MaxFields, DefaultMaxFields)
	defi(&c.MaxEventBytes, DefaultMaxEventBytes)
	defi(&c.MaxParams, max(DefaultMaxParams, 2*c.MaxFields))
	defi(&c.MaxSessionsPerAddr, DefaultMaxSessionsPerAddr)
	defi(&c.PublishRate, DefaultPublishRate)
	defi(&c.PublishBurst, max(DefaultPublishBurst, c.PublishRate))
	var errs []error
	bad := func(field, format string, args ...any) {
		errs = append(errs, &engine.ConfigError{Field: field, Problem: fmt.Sprintf(format, args...)})
	}
	for _, d := range []struct {
		n string
		v time.Duration
	}{{"SessionTimeout", c.SessionTimeout}, {"Heartbeat", c.Heartbeat}, {"PullRefreshTimeout", c.PullRefreshTimeout}, {"PollRefreshTimeout", c.PollRefreshTimeout}, {"StallTimeout", c.StallTimeout}} {
		if d.v < 0 {
			bad(d.n, "must be positive, got %v", d.v)
		}
	}
	if c.Heartbeat > 0 && c.SessionTimeout > 0 && c.Heartbeat >= c.SessionTimeout {
		bad("Heartbeat", "must be shorter than SessionTimeout (%v), got %v", c.SessionTimeout, c.Heartbeat)
	}
	ms := func(n int) time.Duration { return time.Duration(n) * time.Millisecond }
	for _, w := range []struct {
		name    string
		min     int
		max     int
		refresh time.Duration
	}{{"Pull", c.PullWaitMin, c.PullWaitMax, c.PullRefreshTimeout}, {"Poll", c.PollWaitMin, c.PollWaitMax, c.PollRefreshTimeout}} {
		switch {
		case w.min < 0:
			bad(w.name+"WaitMin", "must not be negative, got %v", ms(w.min))
		case w.max <= 0:
			bad(w.name+"WaitMax", "must be positive, got %v", ms(w.max))
		case w.max < w.min:
			bad(w.name+"WaitMax", "must be at least %sWaitMin (%v), got %v", w.name, ms(w.min), ms(w.max))
		case w.refresh > 0 && ms(w.max) >= w.refresh:
			bad(w.name+"WaitMax", "must be shorter than %sRefreshTimeout (%v), or clients expire between polls, got %v", w.name, w.refresh, ms(w.max))
		}
	}
	if c.PollWaitFloor < 0 {
		bad("PollWaitFloor", "must be positive, got %v", ms(c.PollWaitFloor))
	}
	if c.Cluster != nil && !ValidTag(c.Cluster.Tag()) {
		bad("Cluster", "its tag must be %d characters of A-Z a-z 0-9 - _, got %q", TagLen, c.Cluster.Tag())
	}
	if c.Window < 1 || c.Window > 1<<16 {
		bad("Window", "must be within 1..65536, got %d", c.Window)
	}
	// atLeast says problem, with the value, of a field below least.
	atLeast := func(field string, v, least int, problem string) {
		if v < least {
			bad(field, "%s, got %d", problem, v)
		}
	}
	atLeast("MaxSessions", c.MaxSessions, 0, "must be positive")
	atLeast("MaxSubscriptions", c.MaxSubscriptions, 0, "must be positive")
	atLeast("MaxSubscribedSegments", c.MaxSubscribedSegments, 0, "must be positive")
	atLeast("MaxFields", c.MaxFields, 0, "must be positive")
	atLeast("MaxEventBytes", c.MaxEventBytes, 0, "must be positive")
	atLeast("MaxParams", c.MaxParams, 0, "must not be negative (0: automatic)")
	atLeast("SubscribeBurst", c.SubscribeBurst, 0, "must not be negative (0: automatic)")
	atLeast("PublishBurst", c.PublishBurst, 0, "must not be negative (0: automatic)")
	if c.MaxParams >= 0 && c.MaxParams < c.MaxFields {
		bad("MaxParams", "must be at least MaxFields (%d), got %d", c.MaxFields, c.MaxParams)
	}
	atLeast("MaxSessionsPerAddr", c.MaxSessionsPerAddr, -1, "must be positive, or -1 for no cap")
	atLeast("SubscribeRate", c.SubscribeRate, -1, "must be positive, or -1 for no limit")
	atLeast("PublishRate", c.PublishRate, -1, "must be positive, or -1 for no limit")
	if c.DefaultFormat >= numFormats {
		bad("DefaultFormat", "unknown format %d", c.DefaultFormat)
	}
	for _, o := range c.AllowedOrigins {
		if o != "*" && !strings.Contains(o, "://") {
			bad("AllowedOrigins", "%q is not an origin like https://example.com (or *)", o)
		}
	}
	errs = append(errs, c.historyDefaults()...)
	return c, errors.Join(errs...)
}

// Hub is the Comet core: sessions, subjects, per-session event queues and
// the transports, speaking Pushlet's protocol. All exported methods are safe
// for concurrent use and never block on a client.
type Hub struct {
	srv *engine.Server
	cfg Config

	// sessions maps a session's public id to it. A session id (p_id) is
	// its public id followed by a 128-bit secret, so one map serves lookups
	// by either; the secret part is compared in constant time.
	mu       sync.RWMutex
	sessions map[string]*Session
	perAddr  netaddr.Counts // live sessions per client address key (netaddr.Key: IPv6 by /64)

	index subjectIndex

	claimMu  sync.RWMutex
	claims   []claim  // longest prefix first
	reserves []string // subjects clients may not subscribe to (server-side only)

	events sessionEventQueue

	stats hubStats
	obs   hubObservers // fan-out histograms (metrics.go)

	scratch []loopScratch // per event loop (engine.Loop.Index): used only on that loop

	fan   fanoutQueue    // large fan-outs, pushed by the hub (fanout.go)
	store *history.Store // the events sessions still hold (history.go)
	// janitor lets the store drop what is past the resume horizon while
	// nothing is published (a Put does it too); armed with the first
	// session, on the server's wheel.
	janitor   timewheel.Timer
	janitorOn atomic.Bool
	closed    atomic.Bool // the server is shutting down
}

// loopScratch is space a listener's delivery uses on its event loop.
type loopScratch struct {
	items  []item   // what is being written
	cbuf   []byte   // response body assembly
	enc    encCache // events encoded last on this loop
	params params   // the request being served's parameters (Hub.serve)
}

// scratchFor returns l's scratch space. Loop only (l's).
func (h *Hub) scratchFor(l *engine.Loop) *loopScratch { return &h.scratch[l.Index()] }

type claim struct {
	prefix       string
	childrenOnly bool
	h            SubjectHandler
}

type hubStats struct {
	joins, leaves, published, delivered, gaps, heartbeats, nacks atomic.Int64
	writes                                                       atomic.Int64 // to data channels: a stream's batch, a refresh's response
	relayed                                                      atomic.Int64 // requests relayed to their session's home node
	listenersStream, listenersPull                               atomic.Int64
	// For the metrics: live sessions by mode slot (modeNone before the
	// first listen) and format, and ended sessions by reason (endReasons).
	sessions [len(modeNames) + 1][numFormats]atomic.Int64
	ended    [len(endReasons)]atomic.Int64
}

// NewHub creates the hub and mounts the protocol on srv (at cfg.Paths).
// Call it before srv.Start.
func NewHub(srv *engine.Server, cfg Config) (*Hub, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	store, err := newStore(&cfg)
	if err != nil {
		return nil, err
	}
	h := &Hub{
		store:    store,
		srv:      srv,
		cfg:      cfg,
		sessions: make(map[string]*Session),
		perAddr:  make(netaddr.Counts),
		obs:      newHubObservers(),
	}
	h.scratch = make([]loopScratch, srv.Config().Loops)
	h.events.init(srv.Logger())
	for _, p := range cfg.Paths {
		srv.HandleLoop(p, false, h.serve)
	}
	srv.RegisterOnShutdown(h.abortAll)
	srv.AddStats("comet", func() any { return h.Stats() })
	// A session id's secret must not reach the access log; its public
	// part may.
	srv.RedactParam("p_id", pubIDLen)
	if cfg.Cluster != nil {
		cfg.Cluster.Attach(srv, h)
	}
	return h, nil
}

// Logger returns the logger of the hub's server.
func (h *Hub) Logger() *slog.Logger { return h.srv.Logger() }

// Config returns the hub's effective configuration.
func (h *Hub) Config() Config { return h.cfg }

// Stats is a snapshot of the hub's figures.
type Stats struct {
	Sessions        int   `json:"sessions"`
	StreamListeners int64 `json:"stream_listeners"`
	PullListeners   int64 `json:"pull_listeners_parked"`
	Joins           int64 `json:"joins"`
	Leaves          int64 `json:"sessions_ended"`
	Published       int64 `json:"events_published"`
	Delivered       int64 `json:"events_delivered"`
	ChannelWrites   int64 `json:"channel_writes"` // batches written to data channels: Delivered ÷ ChannelWrites events a write
	Gaps            int64 `json:"gaps"`
	Heartbeats      int64 `json:"heartbeats"`
	Nacks           int64 `json:"nacks"`
	// Relayed counts requests for sessions of other nodes relayed to them
	// (Config.Cluster).
	Relayed int64 `json:"relayed_to_home"`
	// The history (Config.Window and the byte limits): the bytes of slabs
	// the hub holds, the references sessions hold into them, and how many
	// slabs it let go because nothing held them any more, for the resume
	// horizon, or for HistoryBytes.
	HistoryBytes    int64 `json:"history_bytes"`
	HistoryOffHeap  int64 `json:"history_offheap_bytes"` // of the slabs' memory, what is mapped outside the Go heap and resident (internal/history)
	HistoryRefs     int64 `json:"history_references"`
	HistoryReleased int64 `json:"history_slabs_released"`
	HistoryExpired  int64 `json:"history_slabs_expired"`
	HistoryEvicted  int64 `json:"history_slabs_evicted"`
	FanoutStats
}

// Stats returns a snapshot of the hub's figures.
func (h *Hub) Stats() Stats {
	h.mu.RLock()
	n := len(h.sessions)
	h.mu.RUnlock()
	hs := h.store.Stats()
	return Stats{
		FanoutStats:     h.fan.stats(),
		HistoryBytes:    hs.Bytes,
		HistoryOffHeap:  hs.Resident,
		HistoryRefs:     hs.Refs,
		HistoryReleased: hs.Released,
		HistoryExpired:  hs.Expired,
		HistoryEvicted:  hs.Evicted,
		Sessions:        n,
		StreamListeners: h.stats.listenersStream.Load(),
		PullListeners:   h.stats.listenersPull.Load(),
		Joins:           h.stats.joins.Load(),
		Leaves:          h.stats.leaves.Load(),
		Published:       h.stats.published.Load(),
		Delivered:       h.stats.delivered.Load(),
		ChannelWrites:   h.stats.writes.Load(),
		Gaps:            h.stats.gaps.Load(),
		Heartbeats:      h.stats.heartbeats.Load(),
		Nacks:           h.stats.nacks.Load(),
		Relayed:         h.stats.relayed.Load(),
	}
}

// Lengths of the two parts of a session id.
const (
	pubIDLen    = 11 // 8 random bytes, base64url
	secretIDLen = 22 // 16 random bytes (128 bits), base64url
)

// Session returns the live session with the given secret id (p_id), or nil.
func (h *Hub) Session(id string) *Session {
	if len(id) != pubIDLen+secretIDLen {
		return nil
	}
	h.mu.RLock()
	s := h.sessions[id[:pubIDLen]]
	h.mu.RUnlock()
	if s == nil || subtle.ConstantTimeCompare([]byte(s.id[pubIDLen:]), []byte(id[pubIDLen:])) != 1 {
		return nil
	}
	return s
}

// sessionByAnyID returns the live session id names by its public or its
// secret id, or nil.
func (h *Hub) sessionByAnyID(id string) *Session {
	if s := h.SessionByPublicID(id); s != nil {
		return s
	}
	return h.Session(id)
}

// SessionByPublicID returns the live session with the given public id, or nil.
func (h *Hub) SessionByPublicID(pub string) *Session {
	if len(pub) != pubIDLen {
		return nil
	}
	h.mu.RLock()
	s := h.sessions[pub]
	h.mu.RUnlock()
	return s
}

// Sessions returns the live sessions, in no particular order.
func (h *Hub) Sessions() []*Session {
	h.mu.RLock()
	defer h.mu.RUnlock()
	all := make([]*Session, 0, len(h.sessions))
	for _, s := range h.sessions {
		all = append(all, s)
	}
	return all
}

// NumSessions returns the number of live sessions.
func (h *Hub) NumSessions() int {
	h.mu.RLock()
	defer h.mu.RUnlock()
	return len(h.sessions)
}

// Errors of newSession.
var (
	// ErrTooManySessions: MaxSessions is reached.
	ErrTooManySessions = errors.New("comet: too many sessions")
	// ErrTooManySessionsFromAddr: MaxSessionsPerAddr is reached for the address.
	ErrTooManySessionsFromAddr = errors.New("comet: too many sessions from this address")
)

// newID returns n random bytes, base64url encoded without padding.
func newID(n int) string {
	b := make([]byte, n)
	rand.Read(b) // never fails (crypto/rand, Go 1.24+)
	return base64.RawURLEncoding.EncodeToString(b)
}

// newSession creates and registers a session.
func (h *Hub) newSession(f Format, addr netip.Addr) (*Session, error) {
	s := &Session{hub: h, format: f, addr: addr, modeSlot: modeNone}
	s.lastActive.Store(time.Now().UnixNano())
	// The secret: 16 random bytes, 128 bits, beyond the 122 of a UUIDv4.
	secret := newID(16)
	h.mu.Lock()
	if len(h.sessions) >= h.cfg.MaxSessions {
		h.mu.Unlock()
		return nil, ErrTooManySessions
	}
	if addr.IsValid() && !h.perAddr.Take(netaddr.Key(addr), h.cfg.MaxSessionsPerAddr) {
		h.mu.Unlock()
		return nil, ErrTooManySessionsFromAddr
	}
	for {
		pub := newID(8)
		if h.cfg.Cluster != nil {
			// The home node's tag begins the public id (54 random bits
			// follow): any node knows where the session lives.
			pub = h.cfg.Cluster.Tag() + pub[TagLen:]
		}
		if _, dup := h.sessions[pub]; !dup {
			s.id = pub + secret
			break
		}
	}
	h.sessions[s.id[:pubIDLen]] = s
	h.mu.Unlock()
	h.stats.joins.Add(1)
	if h.janitorOn.CompareAndSwap(false, true) {
		h.srv.Timers().ScheduleFirer(&h.janitor, janitorPeriod, (*hubJanitor)(h))
	}
	h.stats.sessions[modeNone][f].Add(1)
	s.mu.Lock()
	s.armLocked(h.cfg.SessionTimeout)
	s.mu.Unlock()
	h.events.push(SessionEvent{Kind: SessionJoined, Session: s})
	return s, nil
}

// Join creates a session from Go (for tests and server-side bots). It has
// no listener until one connects with its id.
func (h *Hub) Join(f Format) (*Session, error) { return h.newSession(f, netip.Addr{}) }

func (h *Hub) unregister(s *Session) {
	h.mu.Lock()
	if h.sessions[s.id[:pubIDLen]] == s {
		delete(h.sessions, s.id[:pubIDLen])
		if s.addr.IsValid() {
			h.perAddr.Give(netaddr.Key(s.addr))
		}
	}
	h.mu.Unlock()
}

// Publish sends a data event to every session subscribed to subject, from
// the server (no p_from). kv are name, value pairs of its fields. It
// returns once the event is in its sessions' queues, or, for more than
// DeferFanout sessions (or while such a fan-out waits), once it is queued
// for the hub's fan-out goroutine, which pushes events in the order they
// were published (fanout.go). Only when 1,024 of them already wait does the
// caller push them itself first; a SubjectHandler, which runs on an event
// loop, should hand its publishing to another goroutine if it publishes to
// many.
func (h *Hub) Publish(subject string, kv ...string) error {
	return h.PublishFrom("", subject, kv...)
}

// PublishFrom is Publish for a named producer: its events reach each
// session in the order it published them, and wait for no other
// producer's (Publish and Send are the hub's default producer, ""). A
// producer is any string: the games package names the lobby and each room.
func (h *Hub) PublishFrom(producer, subject string, kv ...string) error {
	if !validSubject(subject) {
		return ErrBadSubject
	}
	fb := dataFields(subject, kv)
	_ = h.multicast(producer, subject, fb.fs, true) // it may wait: never refused
	fb.put()
	return nil
}

// fieldsBuf holds a server event's fields while it is put in the history
// (which copies them into a record): a room's every move and ack publishes
// one, and the fields need not outlive the call.
type fieldsBuf struct{ fs []Field }

var fieldsPool = sync.Pool{New: func() any { return new(fieldsBuf) }}

// dataFields returns the fields of a data event on subject from the server:
// p_event, p_time, p_subject, then kv's name, value pairs, in a pooled
// buffer the caller puts back once the event is held.
func dataFields(subject string, kv []string) *fieldsBuf {
	fb := fieldsPool.Get().(*fieldsBuf)
	fs := append(fb.fs[:0], Field{"p_event", "data"}, Field{"p_time", unixTime()}, Field{"p_subject", subject})
	for i := 0; i+1 < len(kv); i += 2 {
		fs = append(fs, Field{kv[i], kv[i+1]})
	}
	fb.fs = fs
	return fb
}

// put gives fb back to the pool, holding no strings.
func (fb *fieldsBuf) put() {
	clear(fb.fs)
	if cap(fb.fs) <= 64 {
		fb.fs = fb.fs[:0]
		fieldsPool.Put(fb)
	}
}

// ErrBadSubject reports an empty, too long or malformed subject.
var ErrBadSubject = errors.New("comet: invalid subject")

// Send sends a data event to one session (by secret or public id), whatever
// its subscriptions. It reports whether the session exists.
func (h *Hub) Send(id, subject string, kv ...string) bool {
	return h.SendFrom("", id, subject, kv...)
}

// SendFrom is Send for a named producer (see PublishFrom).
func (h *Hub) SendFrom(producer, id, subject string, kv ...string) bool {
	s := h.sessionByAnyID(id)
	if s == nil {
		return false
	}
	fb := dataFields(subject, kv)
	_ = s.sendFields(producer, fb.fs, true) // it may wait: never refused
	fb.put()
	return true
}

// SendAllFrom sends one data event to each of the sessions ids names (by
// secret or public id; unknown ones are skipped), held once for all of them,
// from a named producer (see PublishFrom). It returns how many it reached.
func (h *Hub) SendAllFrom(producer string, ids []string, subject string, kv ...string) int {
	tos := make([]*Session, 0, len(ids))
	for _, id := range ids {
		if s := h.sessionByAnyID(id); s != nil {
			tos = append(tos, s)
		}
	}
	if len(tos) == 0 {
		return 0
	}
	fb := dataFields(subject, kv)
	rb := records.Get().(*recordBuf)
	rb.b = record(rb.b[:0], fb.fs)
	size := uint32(eventSize(fb.fs))
	fb.put()
	job := fanoutJob{producer: producer, tos: tos, size: size}
	if queued, _ := h.fan.push(h, job, rb.b, len(tos) > DeferFanout, true); !queued {
		h.sendAllRecord(tos, rb.b, size, nil)
	}
	rb.put()
	return len(tos)
}

// sendAllRecord pushes the event of record rec into each of tos now. With
// gather, the wake-ups of a fan-out larger than urgentFanout are added to
// it for the caller to post (fanoutQueue.drain: several events at once).
func (h *Hub) sendAllRecord(tos []*Session, rec []byte, size uint32, gather *wakeups) {
	ref, err := h.store.Put(rec, len(tos))
	if err != nil {
		h.srv.Logger().Error("comet: event not held", "err", err)
		return
	}
	buf := subsPool.Get().(*subsBuf)
	wake := &buf.wake
	if wake.urgent = len(tos) <= urgentFanout; !wake.urgent && gather != nil {
		wake = gather
	}
	for _, s := range tos {
		if !s.pushRef(ref, size, nil, wake) {
			h.store.Release(ref)
		}
	}
	if wake != gather {
		wake.flush()
	}
	subsPool.Put(buf)
}

// multicast delivers an event of fields fs to every session subscribed to
// subject: it is put in the history once, with a reference for each. A
// large fan-out, or any while its producer has one queued, is pushed by the
// hub's fan-out goroutine (fanout.go). A caller that may not wait (an event
// loop) gets errFanoutBusy while that queue is full.
func (h *Hub) multicast(producer, subject string, fs []Field, mayWait bool) error {
	rb := records.Get().(*recordBuf)
	rb.b = record(rb.b[:0], fs)
	size := uint32(eventSize(fs))
	job := fanoutJob{producer: producer, subject: subject, size: size}
	queued, err := h.fan.push(h, job, rb.b, h.index.estimate(subject) > DeferFanout, mayWait)
	if !queued {
		h.multicastRecord(subject, rb.b, size, time.Now(), nil)
	}
	rb.put()
	if err == nil {
		h.stats.published.Add(1)
	}
	return err
}

// multicastRecord pushes the event of record rec into the sessions
// subscribed to subject now; start is when it was published. gather: as
// for sendAllRecord.
func (h *Hub) multicastRecord(subject string, rec []byte, size uint32, start time.Time, gather *wakeups) {
	buf := subsPool.Get().(*subsBuf)
	buf.subs = h.index.collect(buf.subs[:0], subject, buf.seen)
	n := len(buf.subs)
	if n > 0 {
		ref, err := h.store.Put(rec, n)
		if err != nil {
			h.srv.Logger().Error("comet: event not held", "subject", subject, "err", err)
			n = 0
		}
		wake := &buf.wake
		if wake.urgent = n <= urgentFanout; !wake.urgent && gather != nil {
			wake = gather
		}
		for _, sub := range buf.subs[:n] {
			if !sub.sess.pushRef(ref, size, sub, wake) {
				h.store.Release(ref)
			}
		}
		if wake != gather {
			wake.flush()
		}
	}
	h.obs.observe(start, n) // fan-out latency and size (metrics)
	clear(buf.subs)
	if cap(buf.subs) > 1<<16 {
		buf.subs = nil
	}
	subsPool.Put(buf)
}

// unicastRecord pushes the event of record rec into session s alone.
func (h *Hub) unicastRecord(s *Session, rec []byte, size uint32) {
	ref, err := h.store.Put(rec, 1)
	if err != nil {
		h.srv.Logger().Error("comet: event not held", "err", err)
		return
	}
	if !s.pushRef(ref, size, nil, nil) {
		h.store.Release(ref)
	}
}

// janitorPeriod is how often the janitor runs.
const janitorPeriod = time.Second

// hubJanitor is the Hub seen as the janitor's timer callback.
type hubJanitor Hub

// Fire runs on the wheel's goroutine: a short critical section of the
// store, then the next turn.
func (j *hubJanitor) Fire() {
	h := (*Hub)(j)
	h.store.Expire()
	if !h.closed.Load() {
		h.srv.Timers().ScheduleFirer(&h.janitor, janitorPeriod, j)
	}
}

// recordBuf is a buffer a record is encoded in before the store copies it.
type recordBuf struct{ b []byte }

var records = sync.Pool{New: func() any { return new(recordBuf) }}

func (rb *recordBuf) put() {
	if cap(rb.b) <= 64<<10 {
		records.Put(rb)
	}
}

type subsBuf struct {
	wake wakeups // the listeners to wake, by loop
	subs []*subscription
	seen map[*Session]struct{}
}

var subsPool = sync.Pool{New: func() any { return &subsBuf{seen: make(map[*Session]struct{})} }}

// SubjectHandler receives publishes to a claimed subject prefix instead of
// its subscribers. HandlePublish runs on an event loop: it must return at
// once (queue the work elsewhere) and must not call back into the hub while
// holding locks of its own. A non-nil error is answered to the publisher as a
// nack with the error's text as p_reason; nil is answered publish-ack.
type SubjectHandler interface {
	HandlePublish(p Publish) error
}

// AsyncSubjectHandler is a SubjectHandler that may answer later: a node of
// a cluster hands a publish to the node that runs its subject's handler
// and learns the outcome from it. When a claim's handler implements it,
// the hub calls HandlePublishAsync instead of HandlePublish, on the loop
// (it must not block), and answers the publish (publish-ack, or nack with
// the error) when done is called, once, from any goroutine. The request
// waits meanwhile; the client's other requests do not.
type AsyncSubjectHandler interface {
	SubjectHandler
	HandlePublishAsync(p Publish, done func(error))
}

// Publish is one client publish to a claimed subject. Fields are the
// publisher's own fields (no p_* control fields), owned by the handler.
type Publish struct {
	Session *Session
	Subject string
	Fields  []Field
	// RemoteAddr is the publisher's address; Header holds the request's
	// Cookie, Authorization and User-Agent headers when present (nil if
	// none), for authentication hooks.
	RemoteAddr string
	Header     http.Header
}

// Get returns the value of the named field ("" if absent).
func (p Publish) Get(name string) string {
	for _, f := range p.Fields {
		if f.Name == name {
			return f.Value
		}
	}
	return ""
}

// Claim routes client publishes to subjects under prefix (same matching as
// subscriptions) to handler. The longest matching claim wins.
func (h *Hub) Claim(prefix string, handler SubjectHandler) error {
	if !validSubject(prefix) {
		return ErrBadSubject
	}
	c := claim{prefix: prefix, h: handler}
	if len(prefix) > 1 && strings.HasSuffix(prefix, "/") {
		c.prefix, c.childrenOnly = prefix[:len(prefix)-1], true
	}
	h.claimMu.Lock()
	defer h.claimMu.Unlock()
	for _, old := range h.claims {
		if old.prefix == c.prefix && old.childrenOnly == c.childrenOnly {
			return fmt.Errorf("comet: subject prefix %q already claimed", prefix)
		}
	}
	h.claims = append(h.claims, c)
	// Longest first, so the most specific claim wins.
	for i := len(h.claims) - 1; i > 0 && len(h.claims[i].prefix) > len(h.claims[i-1].prefix); i-- {
		h.claims[i], h.claims[i-1] = h.claims[i-1], h.claims[i]
	}
	return nil
}

// Reserve forbids clients to subscribe to prefix and everything below it
// (segment matching): only the server subscribes sessions there
// (Session.Subscribe), as rooms do with their players.
func (h *Hub) Reserve(prefix string) error {
	if !validSubject(prefix) {
		return ErrBadSubject
	}
	h.claimMu.Lock()
	h.reserves = append(h.reserves, strings.TrimSuffix(prefix, "/"))
	h.claimMu.Unlock()
	return nil
}

// reserved reports whether a client subscription to subject (maybe a comma
// list) touches a reserved prefix, or is a prefix of one (subscribing to "/"
// would otherwise receive everything).
func (h *Hub) reserved(subject string) bool {
	h.claimMu.RLock()
	defer h.claimMu.RUnlock()
	if len(h.reserves) == 0 {
		return false
	}
	for part := range strings.SplitSeq(subject, ",") {
		part = strings.TrimSuffix(part, "/")
		for _, r := range h.reserves {
			if segmentPrefix(part, r) || segmentPrefix(r, part) || part == "" {
				return true
			}
		}
	}
	return false
}

// segmentPrefix reports whether p is s or a segment-wise prefix of s.
func segmentPrefix(p, s string) bool {
	return s == p || strings.HasPrefix(s, p+"/")
}

// claimFor returns the handler claiming subject, or nil.
func (h *Hub) claimFor(subject string) SubjectHandler {
	h.claimMu.RLock()
	defer h.claimMu.RUnlock()
	for _, c := range h.claims {
		if c.prefix == "/" && c.childrenOnly {
			if strings.HasPrefix(subject, "/") {
				return c.h
			}
			continue
		}
		if !strings.HasPrefix(subject, c.prefix) {
			continue
		}
		rest := subject[len(c.prefix):]
		if rest == "" && !c.childrenOnly || strings.HasPrefix(rest, "/") {
			return c.h
		}
	}
	return nil
}

// abortAll sends abort to every listener: the server is shutting down.
func (h *Hub) abortAll() {
	h.closed.Store(true)
	h.srv.Timers().Cancel(&h.janitor)
	h.mu.RLock()
	all := make([]*Session, 0, len(h.sessions))
	for _, s := range h.sessions {
		all = append(all, s)
	}
	h.mu.RUnlock()
	for _, s := range all {
		s.stop(ReasonShutdown)
	}
}

// OnSessionEvent registers fn to receive session lifecycle events. fn runs
// on the hub's event goroutine, one event at a time in the order they
// happened, never on an event loop; it should return promptly.
func (h *Hub) OnSessionEvent(fn func(SessionEvent)) {
	h.events.subscribe(fn, false)
}
