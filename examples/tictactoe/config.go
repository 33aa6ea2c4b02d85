package main

// The command line: every limit, timeout and default of the engine, the
// Comet hub, the rooms runtime, the lobby and the operations layer, as a
// flag with an environment variable equivalent (-max-conns and
// COMETPLAY_MAX_CONNS; the flag wins). Values are checked before anything
// starts; an error names the flag (and the variable, when the value came
// from it). docs/OPERATIONS.md lists them all.

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/cometplay/cometplay/comet"
	"github.com/cometplay/cometplay/engine"
	"github.com/cometplay/cometplay/games"
	"github.com/cometplay/cometplay/httpcodec"
	"github.com/cometplay/cometplay/lobby"
	"github.com/cometplay/cometplay/rooms"
)

// browserHeartbeatTimeout is cometplay.js's default heartbeatTimeout: the
// site's pages reopen a data channel silent for that long, so the server's
// heartbeat must come sooner.
const browserHeartbeatTimeout = 45 * time.Second

// envPrefix starts the environment variable of every flag.
const envPrefix = "COMETPLAY_"

// envName is the environment variable of flag name: -max-conns is
// COMETPLAY_MAX_CONNS.
func envName(name string) string {
	return envPrefix + strings.ToUpper(strings.ReplaceAll(name, "-", "_"))
}

// settings are the parsed command line.
type settings struct {
	server  config
	profile string
	// The garbage collector: 0 leaves the runtime's (GOGC, GOMEMLIMIT).
	gcPercent   int
	memoryLimit int64
	logFormat   string
	logLevel    slog.Level

	// Set from durations, converted to the hub's milliseconds.
	pullWaitMin, pullWaitMax, pollWaitMin, pollWaitMax, pollWaitFloor time.Duration
	// Sets both lobby.Options.PresenceShown and RoomsShown.
	lobbyShown int

	fs      *flag.FlagSet
	fromEnv map[string]string // flag name → the variable its value came from
}

// newFlagSet defines every flag on s, with its default.
func newFlagSet(s *settings) *flag.FlagSet {
	fs := flag.NewFlagSet("tictactoe", flag.ContinueOnError)
	fs.SetOutput(io.Discard) // errors are reported by main, usage by printUsage
	c := &s.server
	e := &c.HTTP

	// Server
	fs.StringVar(&c.HTTP.Addr, "addr", engine.DefaultAddr, "listen address host:port (port 0: any free port)")
	fs.StringVar(&c.HTTP.Webroot, "webroot", "", "directory whose files override and extend the embedded static/ site")
	fs.StringVar(&e.WebrootCSP, "webroot-csp", "", "Content-Security-Policy sent with the -webroot files (default: none, as Pushlet's pages need inline script; the embedded site's files always carry engine.DefaultPageCSP)")
	fs.IntVar(&e.Loops, "loops", 0, "event loops (0: GOMAXPROCS)")
	fs.IntVar(&e.Workers, "workers", 0, "goroutines running handlers (0: max(16, 8×GOMAXPROCS))")
	fs.IntVar(&e.WorkQueue, "work-queue", engine.DefaultWorkQueue, "requests waiting for a worker; past it: 503")
	fs.IntVar(&e.MaxConns, "max-conns", 0, "open connections (0: the open-file limit minus a reserve); past it: 503 and close")
	fs.IntVar(&e.MaxConnsPerAddr, "max-conns-per-addr", engine.DefaultMaxConnsPerAddr, "open connections from one IP address, IPv6 by /64 (-1: no cap); past it: 503 and close")
	fs.IntVar(&e.MaxPipelined, "max-pipelined", engine.DefaultMaxPipelined, "requests of one connection served at once; more wait in its buffer")
	sizeVar(fs, &e.MaxOutbound, "max-outbound", engine.DefaultMaxOutbound, "bytes queued for one connection; past it the connection closes (a peer that does not read)")
	sizeVar(fs, &e.MaxInbound, "max-inbound", engine.DefaultMaxInbound, "unconsumed bytes buffered from one connection (at least 64KiB); past it: close")
	fs.DurationVar(&e.HeaderTimeout, "header-timeout", engine.DefaultHeaderTimeout, "time from a request's first byte to its end; past it: 408 and close")
	fs.DurationVar(&e.IdleTimeout, "idle-timeout", engine.DefaultIdleTimeout, "idle keep-alive connections close after this")
	fs.DurationVar(&e.KeepAlive, "tcp-keepalive", engine.DefaultKeepAlive, "TCP keep-alive period (at least 3s; negative: off): a vanished client is dropped within about twice it")
	fs.DurationVar(&e.ShutdownTimeout, "shutdown-timeout", engine.DefaultShutdownTimeout, "graceful shutdown (SIGINT, SIGTERM) bound; then connections are closed")
	sizeVar(fs, &e.Limits.MaxRequestLine, "max-request-line", httpcodec.DefaultMaxRequestLine, "request line bytes; past it: 414")
	sizeVar(fs, &e.Limits.MaxHeadBytes, "max-head-bytes", httpcodec.DefaultMaxHeadBytes, "request head bytes; past it: 431")
	fs.IntVar(&e.Limits.MaxHeaders, "max-headers", httpcodec.DefaultMaxHeaders, "request header fields; past it: 431")
	size64Var(fs, &e.Limits.MaxBodyBytes, "max-body-bytes", httpcodec.DefaultMaxBodyBytes, "request body bytes; past it: 413")
	sizeVar(fs, &e.Limits.MaxChunkExtBytes, "max-chunk-ext-bytes", httpcodec.DefaultMaxChunkExtBytes, "chunk-extension and trailer bytes of a chunked body; past it: 400")

	// Comet
	fs.Var((*formatValue)(&c.Comet.DefaultFormat), "default-format", "format of a join that names none: js, xml, xml-strict, json, sse")
	fs.DurationVar(&c.Comet.SessionTimeout, "session-timeout", comet.DefaultSessionTimeout, "session lease, renewed by every request and open stream")
	fs.DurationVar(&c.Comet.Heartbeat, "heartbeat", comet.DefaultHeartbeat, "silence after which a stream gets an hb event, and a parked long-poll is answered")
	fs.DurationVar(&c.Comet.PullRefreshTimeout, "pull-refresh-timeout", comet.DefaultPullRefreshTimeout, "a long-poll session whose client does not come back within this ends")
	fs.DurationVar(&c.Comet.PollRefreshTimeout, "poll-refresh-timeout", comet.DefaultPollRefreshTimeout, "a poll session whose client does not come back within this ends")
	fs.DurationVar(&s.pullWaitMin, "pull-wait-min", 2*time.Second, "least p_wait sent to Pushlet long-poll clients")
	fs.DurationVar(&s.pullWaitMax, "pull-wait-max", 6*time.Second, "greatest p_wait sent to Pushlet long-poll clients")
	fs.DurationVar(&s.pollWaitMin, "poll-wait-min", 6*time.Second, "least wait between two polls")
	fs.DurationVar(&s.pollWaitMax, "poll-wait-max", 10*time.Second, "greatest wait between two polls")
	fs.DurationVar(&s.pollWaitFloor, "poll-wait-floor", comet.DefaultPollWaitFloor*time.Millisecond, "least wait between two polls of a client that asks for shorter waits (a page during a game)")
	fs.IntVar(&c.Comet.Window, "window", comet.DefaultWindow, "recent events each session keeps for resume (1..65536); older ones are reported as a gap")
	sizeVar(fs, &c.Comet.SessionHistoryBytes, "session-history-bytes", comet.DefaultSessionHistoryBytes, "bytes of events each session keeps for resume (at least -max-event-bytes); the oldest go first")
	fs.DurationVar(&c.Comet.ResumeHorizon, "resume-horizon", comet.DefaultResumeHorizon, "age past which an event kept for resume goes, acknowledged or not (at least 1s)")
	size64Var(fs, &c.Comet.HistoryBytes, "history-bytes", comet.DefaultHistoryBytes, "bytes of events the server keeps for resume, all sessions together (at least 64 × -max-event-bytes); past it the oldest go")
	fs.IntVar(&c.Comet.MaxSessions, "max-sessions", comet.DefaultMaxSessions, "live sessions; a join past it: 503")
	fs.IntVar(&c.Comet.MaxSessionsPerAddr, "max-sessions-per-addr", comet.DefaultMaxSessionsPerAddr, "live sessions joined from one IP address (-1: no cap); past it: 503")
	fs.IntVar(&c.Comet.MaxSubscriptions, "max-subscriptions", comet.DefaultMaxSubscriptions, "subscriptions of one session")
	fs.IntVar(&c.Comet.MaxSubscribedSegments, "max-subscribed-segments", comet.DefaultMaxSubscribedSegments, "subject segments of the subscriptions one client makes (each may add a node to the subject index); past it: nack")
	fs.IntVar(&c.Comet.SubscribeRate, "subscribe-rate", comet.DefaultSubscribeRate, "subscribes and unsubscribes per second per session, sustained (-1: no limit); past it: nack")
	fs.IntVar(&c.Comet.SubscribeBurst, "subscribe-burst", 0, "subscribes and unsubscribes per session at once (0: the larger of 64 and -subscribe-rate)")
	fs.IntVar(&c.Comet.MaxFields, "max-fields", comet.DefaultMaxFields, "fields of one published event")
	sizeVar(fs, &c.Comet.MaxEventBytes, "max-event-bytes", comet.DefaultMaxEventBytes, "names and values of one published event")
	fs.IntVar(&c.Comet.MaxParams, "max-params", 0, "parameters of one protocol request, query and body, repeats included (0: the larger of 64 and twice -max-fields); past it: 400")
	fs.IntVar(&c.Comet.PublishRate, "publish-rate", comet.DefaultPublishRate, "publishes per second per session, sustained (-1: no limit); past it: nack")
	fs.IntVar(&c.Comet.PublishBurst, "publish-burst", 0, "publishes per session at once (0: the larger of 40 and -publish-rate)")
	fs.DurationVar(&c.Comet.StallTimeout, "stall-timeout", comet.DefaultStallTimeout, "a stream whose connection takes no more bytes while events wait, for this long, is closed as a slow reader")
	listVar(fs, &c.Comet.AllowedOrigins, "allowed-origins", "comma-separated origins (https://example.com) allowed cross-origin requests; * allows any (default: same origin only)")
	fs.BoolVar(&c.Comet.ForcePullAll, "force-pull-all", false, "force every listen to long-poll")
	listVar(fs, &c.Comet.ForcePullAgents, "force-pull-agents", "comma-separated User-Agent substrings whose listens are forced to long-poll")
	fs.DurationVar(&c.Comet.DetachGrace, "detach-grace", comet.DefaultDetachGrace, "how long a lost listen must stay lost before rooms and lobby hear of it")

	// Rooms and lobby
	fs.IntVar(&c.Rooms.Executors, "executors", 0, "goroutines running room hooks (0: 2×GOMAXPROCS)")
	fs.IntVar(&c.Rooms.MailboxSize, "mailbox-size", rooms.DefaultMailboxSize, "client items waiting in one room; past it the room answers busy")
	fs.IntVar(&c.Rooms.MaxWaitingPerPlayer, "max-waiting-per-player", rooms.DefaultMaxWaitingPerPlayer, "rooms a player created that wait for players (-1: no cap); past it create is refused")
	fs.IntVar(&c.Rooms.MaxWaitingPerAddr, "max-waiting-per-addr", rooms.DefaultMaxWaitingPerAddr, "rooms the players of one IP address (an IPv6 /64) created that wait for players (-1: no cap); past it create is refused")
	sizeVar(fs, &c.Rooms.MaxMessageBytes, "max-message-bytes", rooms.DefaultMaxMessageBytes, "data of one room message")
	fs.DurationVar(&c.ReconnectWindow, "reconnect-window", rooms.DefaultReconnectWindow, "how long a player's seat is held after its connection went away (negative: not held)")
	fs.DurationVar(&c.EmptyGrace, "empty-grace", rooms.DefaultEmptyGrace, "how long a room nobody sits in lives (negative: closed at once)")
	fs.IntVar(&c.Lobby.ChatMaxLen, "chat-max-len", lobby.DefaultChatMaxLen, "characters of one chat message")
	fs.IntVar(&c.Lobby.ChatRate, "chat-rate", lobby.DefaultChatRate, "chat messages per player within -chat-per")
	fs.DurationVar(&c.Lobby.ChatPer, "chat-per", lobby.DefaultChatPer, "the window of -chat-rate")
	fs.IntVar(&c.Lobby.ChatLobbyRate, "chat-lobby-rate", lobby.DefaultChatLobby, "chat messages per second in the whole lobby (each goes to every player there)")
	fs.IntVar(&c.Lobby.ChatHistory, "chat-history", lobby.DefaultChatHistory, "the last chat messages a player arriving in the lobby (or back from a game) is sent")
	fs.DurationVar(&c.Lobby.AwayGrace, "away-grace", lobby.DefaultAwayGrace, "how long a player whose connection went away stays online in the lobby")
	fs.IntVar(&c.Lobby.QueueSize, "lobby-queue", lobby.DefaultQueueSize, "lobby actions waiting for the lobby; past it: busy")
	fs.IntVar(&c.Lobby.QueuePerAddr, "lobby-queue-per-addr", 0, "lobby actions of one IP address (an IPv6 /64) waiting for the lobby, hellos until their welcome (0: -lobby-queue/16); past it: too many requests from your address")
	fs.IntVar(&c.Lobby.ListRate, "list-rate", lobby.DefaultListRate, "lobby list pages per session within -list-per")
	fs.DurationVar(&c.Lobby.ListPer, "list-per", lobby.DefaultListPer, "the window of -list-rate")
	fs.IntVar(&s.lobbyShown, "lobby-shown", lobby.DefaultShown, "players online and rooms a lobby page is shown and kept live about (the rest: by page, on demand)")
	fs.DurationVar(&c.Lobby.Tick, "lobby-tick", lobby.DefaultTick, "how often the lobby publishes the changes of its shown lists, coalesced")
	fs.DurationVar(&c.Lobby.QuickplayWait, "quickplay-wait", lobby.DefaultQuickplay, "a player nobody is matched with by then leaves the quick-play queue, told no opponent was found")

	// Operations
	fs.StringVar(&c.Admin.Token, "admin-token", "", "token of the admin console (/admin/) and pprof (/debug/pprof/), at least 16 characters; unset: both off (prefer the environment variable: flags show in ps)")
	fs.DurationVar(&c.Admin.Interval, "admin-interval", games.DefaultAdminInterval, "period of the figures pushed to the admin console")
	fs.BoolVar(&c.Metrics, "metrics", true, "serve Prometheus metrics at /metrics")
	fs.BoolVar(&c.MetricsAuth, "metrics-auth", false, "require the admin token (Authorization: Bearer) on /metrics")
	fs.StringVar(&s.logFormat, "log-format", "text", "log format: text or json")
	fs.Var((*levelValue)(&s.logLevel), "log-level", "log level: debug, info, warn or error")
	fs.BoolVar(&e.AccessLog, "access-log", false, "log every request (at debug level: needs -log-level debug)")
	fs.IntVar(&e.LogLimit, "log-limit", engine.DefaultLogLimit, "warnings and errors with the same message logged a minute, the rest counted (-1: no limit)")
	fs.IntVar(&s.gcPercent, "gc-percent", 0, "the garbage collector's target heap growth in percent, as GOGC (-1: off, then -memory-limit is needed; 0: GOGC's, default 100); higher trades memory for a shorter latency tail (docs/OPERATIONS.md)")
	size64Var(fs, &s.memoryLimit, "memory-limit", 0, "soft limit of the Go heap, as GOMEMLIMIT (0: GOMEMLIMIT's, default none); the collector works harder near it")
	fs.BoolVar(&c.DemoClock, "demo-clock", false, "serve the demo stream /demo/clock (a chunk per second, from one goroutine for all clients; it needs no session, so it is off unless asked for)")
	fs.IntVar(&c.ClockDemo.MaxStreams, "demo-clock-streams", engine.DefaultClockStreams, "clock streams open at once; past it: 503")
	fs.IntVar(&c.ClockDemo.MaxPerAddr, "demo-clock-per-addr", engine.DefaultClockPerAddr, "clock streams of one IP address (an IPv6 /64) open at once; past it: 503")
	fs.DurationVar(&c.ClockDemo.Lifetime, "demo-clock-lifetime", engine.DefaultClockLifetime, "a clock stream ends after this long")
	fs.StringVar(&s.profile, "profile", "", "profile the run with pkg/profile: cpu, mem, block, mutex or trace (written to ./ at exit)")
	return fs
}

// parseSettings parses args, then takes each flag not given from its
// environment variable (lookup, usually os.LookupEnv), then checks every
// value. The errors name the flag. flag.ErrHelp is returned for -h.
func parseSettings(args []string, lookup func(string) (string, bool)) (*settings, error) {
	s := &settings{fromEnv: map[string]string{}, logLevel: slog.LevelInfo}
	s.fs = newFlagSet(s)
	if err := s.fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return s, err
		}
		return nil, err
	}
	if s.fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected argument %q (flags start with -)", s.fs.Arg(0))
	}
	given := map[string]bool{}
	s.fs.Visit(func(f *flag.Flag) { given[f.Name] = true })
	var errs []error
	s.fs.VisitAll(func(f *flag.Flag) {
		if given[f.Name] {
			return
		}
		env := envName(f.Name)
		v, ok := lookup(env)
		if !ok {
			return
		}
		if err := s.fs.Set(f.Name, v); err != nil {
			errs = append(errs, fmt.Errorf("%s (for -%s): invalid value %q: %v", env, f.Name, v, err))
			return
		}
		s.fromEnv[f.Name] = env
	})
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	if err := s.check(); err != nil {
		return nil, err
	}
	s.server.Lobby.PresenceShown, s.server.Lobby.RoomsShown = s.lobbyShown, s.lobbyShown
	s.server.Comet.PullWaitMin, s.server.Comet.PullWaitMax = int(s.pullWaitMin.Milliseconds()), int(s.pullWaitMax.Milliseconds())
	s.server.Comet.PollWaitMin, s.server.Comet.PollWaitMax = int(s.pollWaitMin.Milliseconds()), int(s.pollWaitMax.Milliseconds())
	s.server.Comet.PollWaitFloor = int(s.pollWaitFloor.Milliseconds())
	return s, nil
}

// ref names a flag in an error: "-heartbeat", or "-heartbeat (from
// COMETPLAY_HEARTBEAT)".
func (s *settings) ref(name string) string {
	if env, ok := s.fromEnv[name]; ok {
		return "-" + name + " (from " + env + ")"
	}
	return "-" + name
}

// check validates every value, and returns all the errors at once.
func (s *settings) check() error {
	c := &s.server
	e := &c.HTTP
	var errs []error
	fail := func(name, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s: %s", s.ref(name), fmt.Sprintf(format, args...)))
	}
	positive := func(name string, v int) {
		if v <= 0 {
			fail(name, "must be positive, got %d", v)
		}
	}
	notNegative := func(name string, v int) {
		if v < 0 {
			fail(name, "must not be negative (0: automatic), got %d", v)
		}
	}
	positiveDur := func(name string, d time.Duration) {
		if d <= 0 {
			fail(name, "must be positive, got %v", d)
		}
	}
	nonZeroDur := func(name string, d time.Duration) {
		if d == 0 {
			fail(name, "must not be 0 (a negative value means at once)")
		}
	}

	if _, port, err := net.SplitHostPort(c.HTTP.Addr); err != nil {
		fail("addr", "want host:port, got %q", c.HTTP.Addr)
	} else if n, err := strconv.Atoi(port); err != nil || n < 0 || n > 65535 {
		fail("addr", "invalid port %q", port)
	}
	if c.HTTP.Webroot != "" {
		if fi, err := os.Stat(c.HTTP.Webroot); err != nil || !fi.IsDir() {
			fail("webroot", "not a directory: %q", c.HTTP.Webroot)
		}
	}
	if strings.ContainsFunc(e.WebrootCSP, func(r rune) bool { return r < 0x20 || r == 0x7f }) {
		fail("webroot-csp", "control characters in %q", e.WebrootCSP)
	} else if e.WebrootCSP != "" && c.HTTP.Webroot == "" {
		fail("webroot-csp", "needs -webroot")
	}
	notNegative("loops", e.Loops)
	notNegative("workers", e.Workers)
	positive("work-queue", e.WorkQueue)
	notNegative("max-conns", e.MaxConns)
	if e.MaxConnsPerAddr == 0 || e.MaxConnsPerAddr < -1 {
		fail("max-conns-per-addr", "must be positive, or -1 for no cap, got %d", e.MaxConnsPerAddr)
	}
	positive("max-pipelined", e.MaxPipelined)
	positive("max-outbound", e.MaxOutbound)
	if e.MaxInbound < 64<<10 {
		fail("max-inbound", "must be at least 64KiB, got %s", sizeString(int64(e.MaxInbound)))
	}
	positiveDur("header-timeout", e.HeaderTimeout)
	positiveDur("idle-timeout", e.IdleTimeout)
	positiveDur("shutdown-timeout", e.ShutdownTimeout)
	if e.KeepAlive >= 0 && e.KeepAlive < 3*time.Second {
		fail("tcp-keepalive", "must be at least 3s, or negative for off, got %v", e.KeepAlive)
	}
	positive("max-request-line", e.Limits.MaxRequestLine)
	positive("max-head-bytes", e.Limits.MaxHeadBytes)
	if e.Limits.MaxRequestLine > 0 && e.Limits.MaxHeadBytes > 0 && e.Limits.MaxHeadBytes < e.Limits.MaxRequestLine {
		fail("max-head-bytes", "must be at least -max-request-line (%s), got %s", sizeString(int64(e.Limits.MaxRequestLine)), sizeString(int64(e.Limits.MaxHeadBytes)))
	}
	positive("max-headers", e.Limits.MaxHeaders)
	if e.Limits.MaxBodyBytes <= 0 {
		fail("max-body-bytes", "must be positive, got %d", e.Limits.MaxBodyBytes)
	}
	positive("max-chunk-ext-bytes", e.Limits.MaxChunkExtBytes)

	h := &c.Comet
	positiveDur("session-timeout", h.SessionTimeout)
	positiveDur("heartbeat", h.Heartbeat)
	positiveDur("stall-timeout", h.StallTimeout)
	positiveDur("pull-refresh-timeout", h.PullRefreshTimeout)
	positiveDur("poll-refresh-timeout", h.PollRefreshTimeout)
	if s.pollWaitFloor < time.Millisecond {
		fail("poll-wait-floor", "must be at least 1ms, got %v", s.pollWaitFloor)
	}
	for _, w := range []struct {
		lo, hi         string
		min, max       time.Duration
		refreshTimeout string
		timeout        time.Duration
	}{
		{"pull-wait-min", "pull-wait-max", s.pullWaitMin, s.pullWaitMax, "pull-refresh-timeout", h.PullRefreshTimeout},
		{"poll-wait-min", "poll-wait-max", s.pollWaitMin, s.pollWaitMax, "poll-refresh-timeout", h.PollRefreshTimeout},
	} {
		switch {
		case w.min < 0:
			fail(w.lo, "must not be negative, got %v", w.min)
		case w.max <= 0:
			fail(w.hi, "must be positive, got %v", w.max)
		case w.max < w.min:
			fail(w.hi, "must be at least -%s (%v), got %v", w.lo, w.min, w.max)
		case w.timeout > 0 && w.max >= w.timeout:
			fail(w.hi, "must be shorter than -%s (%v), or clients expire between polls, got %v", w.refreshTimeout, w.timeout, w.max)
		}
	}
	switch {
	case h.Heartbeat >= browserHeartbeatTimeout:
		fail("heartbeat", "must be shorter than %v, after which the site's browser client deems a silent connection dead, got %v", browserHeartbeatTimeout, h.Heartbeat)
	case h.Heartbeat > 0 && h.SessionTimeout > 0 && h.Heartbeat >= h.SessionTimeout:
		fail("heartbeat", "must be shorter than -session-timeout (%v), got %v", h.SessionTimeout, h.Heartbeat)
	}
	if h.Window < 1 || h.Window > 1<<16 {
		fail("window", "must be within 1..65536, got %d", h.Window)
	}
	positive("max-sessions", h.MaxSessions)
	if h.MaxSessionsPerAddr == 0 || h.MaxSessionsPerAddr < -1 {
		fail("max-sessions-per-addr", "must be positive, or -1 for no cap, got %d", h.MaxSessionsPerAddr)
	}
	positive("max-subscriptions", h.MaxSubscriptions)
	positive("max-subscribed-segments", h.MaxSubscribedSegments)
	if h.SubscribeRate == 0 || h.SubscribeRate < -1 {
		fail("subscribe-rate", "must be positive, or -1 for no limit, got %d", h.SubscribeRate)
	}
	notNegative("subscribe-burst", h.SubscribeBurst)
	notNegative("max-params", h.MaxParams)
	if h.MaxParams > 0 && h.MaxParams < h.MaxFields {
		fail("max-params", "must be at least -max-fields (%d), got %d", h.MaxFields, h.MaxParams)
	}
	positive("max-fields", h.MaxFields)
	positive("max-event-bytes", h.MaxEventBytes)
	if h.PublishRate == 0 || h.PublishRate < -1 {
		fail("publish-rate", "must be positive, or -1 for no limit, got %d", h.PublishRate)
	}
	notNegative("publish-burst", h.PublishBurst)
	for _, o := range h.AllowedOrigins {
		if o != "*" && !strings.Contains(o, "://") {
			fail("allowed-origins", "%q is not an origin like https://example.com (or *)", o)
		}
	}
	positiveDur("detach-grace", c.Comet.DetachGrace)

	notNegative("executors", c.Rooms.Executors)
	positive("mailbox-size", c.Rooms.MailboxSize)
	positiveOrNone := func(name string, v int) {
		if v == 0 || v < -1 {
			fail(name, "must be positive, or -1 for no cap, got %d", v)
		}
	}
	positiveOrNone("max-waiting-per-player", c.Rooms.MaxWaitingPerPlayer)
	positiveOrNone("max-waiting-per-addr", c.Rooms.MaxWaitingPerAddr)
	positive("max-message-bytes", c.Rooms.MaxMessageBytes)
	nonZeroDur("reconnect-window", c.ReconnectWindow)
	nonZeroDur("empty-grace", c.EmptyGrace)
	positive("chat-max-len", c.Lobby.ChatMaxLen)
	positive("chat-rate", c.Lobby.ChatRate)
	positive("chat-lobby-rate", c.Lobby.ChatLobbyRate)
	if c.Lobby.ChatHistory < 1 || c.Lobby.ChatHistory > lobby.MaxChatHistory {
		fail("chat-history", "must be within 1..%d, got %d", lobby.MaxChatHistory, c.Lobby.ChatHistory)
	}
	positiveDur("chat-per", c.Lobby.ChatPer)
	positiveDur("away-grace", c.Lobby.AwayGrace)
	positive("lobby-queue", c.Lobby.QueueSize)
	notNegative("lobby-queue-per-addr", c.Lobby.QueuePerAddr)
	if c.Lobby.QueueSize > 0 && c.Lobby.QueuePerAddr > c.Lobby.QueueSize {
		fail("lobby-queue-per-addr", "must be at most -lobby-queue (%d), got %d", c.Lobby.QueueSize, c.Lobby.QueuePerAddr)
	}
	positive("list-rate", c.Lobby.ListRate)
	positiveDur("list-per", c.Lobby.ListPer)
	positiveDur("quickplay-wait", c.Lobby.QuickplayWait)
	if s.lobbyShown < 1 || s.lobbyShown > lobby.MaxShown {
		fail("lobby-shown", "must be within 1..%d, got %d", lobby.MaxShown, s.lobbyShown)
	}
	if c.Lobby.Tick < 10*time.Millisecond {
		fail("lobby-tick", "must be at least 10ms, got %v", c.Lobby.Tick)
	}

	if t := c.Admin.Token; t != "" && len(t) < games.MinAdminTokenLen {
		fail("admin-token", "must have at least %d characters, got %d", games.MinAdminTokenLen, len(t)) // never the token itself
	}
	if c.Admin.Interval < 100*time.Millisecond {
		fail("admin-interval", "must be at least 100ms, got %v", c.Admin.Interval)
	}
	if c.MetricsAuth && c.Admin.Token == "" {
		fail("metrics-auth", "needs -admin-token (the token /metrics will require)")
	}
	if c.MetricsAuth && !c.Metrics {
		fail("metrics-auth", "needs -metrics")
	}
	positive("demo-clock-streams", c.ClockDemo.MaxStreams)
	positive("demo-clock-per-addr", c.ClockDemo.MaxPerAddr)
	positiveDur("demo-clock-lifetime", c.ClockDemo.Lifetime)
	if s.logFormat != "text" && s.logFormat != "json" {
		fail("log-format", "want text or json, got %q", s.logFormat)
	}
	if e.LogLimit == 0 || e.LogLimit < -1 {
		fail("log-limit", "must be positive, or -1 for no limit, got %d", e.LogLimit)
	}
	if e.AccessLog && s.logLevel > slog.LevelDebug {
		fail("access-log", "requests are logged at debug level: add -log-level debug")
	}
	switch {
	case s.gcPercent < -1:
		fail("gc-percent", "must be -1 (off), 0 (GOGC's) or positive, got %d", s.gcPercent)
	case s.gcPercent == -1 && s.memoryLimit <= 0:
		fail("gc-percent", "-1 turns the collector off: give -memory-limit too, or the heap grows without bound")
	}
	if s.memoryLimit < 0 {
		fail("memory-limit", "must not be negative, got %d", s.memoryLimit)
	}
	if _, ok := profileModes[s.profile]; s.profile != "" && !ok {
		fail("profile", "want cpu, mem, block, mutex or trace, got %q", s.profile)
	}
	return errors.Join(errs...)
}

// logAttrs returns every setting as name, value pairs for the start-up log
// line; the admin token is only "set" or "unset".
func (s *settings) logAttrs() []any {
	var attrs []any
	s.fs.VisitAll(func(f *flag.Flag) {
		v := f.Value.String()
		if f.Name == "admin-token" {
			v = "unset"
			if s.server.Admin.Token != "" {
				v = "set"
			}
		}
		attrs = append(attrs, f.Name, v)
	})
	if len(s.fromEnv) > 0 {
		var names []string
		s.fs.VisitAll(func(f *flag.Flag) {
			if env, ok := s.fromEnv[f.Name]; ok {
				names = append(names, env)
			}
		})
		attrs = append(attrs, "from_env", strings.Join(names, ","))
	}
	return attrs
}

// printUsage writes the flags with their defaults and variables.
func (s *settings) printUsage(w io.Writer) {
	fmt.Fprintf(w, "Usage: tictactoe [flags]\n\nRuns the cometplay example server. Every flag may also be set by the\nenvironment variable shown (the flag wins). See docs/OPERATIONS.md.\n\n")
	s.fs.VisitAll(func(f *flag.Flag) {
		name, usage := flag.UnquoteUsage(f)
		switch f.Value.(type) {
		case intSize, sizeValue:
			name = "size"
		case listValue:
			name = "list"
		case *formatValue:
			name = "format"
		case *levelValue:
			name = "level"
		}
		fmt.Fprintf(w, "  -%s", f.Name)
		if name != "" {
			fmt.Fprintf(w, " %s", name)
		}
		fmt.Fprintf(w, "  [$%s]\n    \t%s", envName(f.Name), strings.ReplaceAll(usage, "\n", "\n    \t"))
		if f.DefValue != "" && f.DefValue != "0" && f.DefValue != "false" {
			fmt.Fprintf(w, " (default %s)", f.DefValue)
		}
		fmt.Fprintln(w)
	})
}

// newLogger builds the logger the settings ask for, on w. Its warnings and
// errors are limited by -log-limit (engine.LimitLogs) for every part of
// the server alike: the engine, the rooms and the lobby log through it.
func (s *settings) newLogger(w io.Writer) *slog.Logger {
	opts := &slog.HandlerOptions{Level: s.logLevel}
	var h slog.Handler = slog.NewTextHandler(w, opts)
	if s.logFormat == "json" {
		h = slog.NewJSONHandler(w, opts)
	}
	return slog.New(engine.LimitLogs(h, s.server.HTTP.LogLimit))
}

// sizeValue is a byte count: 1048576, 1MiB, 64KiB, 1GiB (or KB, MB as
// powers of 1000).
type sizeValue struct{ p *int64 }

func (v sizeValue) String() string {
	if v.p == nil {
		return "0"
	}
	return sizeString(*v.p)
}

func (v sizeValue) Set(s string) error {
	n, err := parseSize(s)
	if err != nil {
		return err
	}
	*v.p = n
	return nil
}

// sizeVar defines an int byte-size flag (stored through an int64 mirror).
func sizeVar(fs *flag.FlagSet, p *int, name string, def int, usage string) {
	*p = def
	fs.Var(intSize{p}, name, usage)
}

func size64Var(fs *flag.FlagSet, p *int64, name string, def int64, usage string) {
	*p = def
	fs.Var(sizeValue{p}, name, usage)
}

// intSize is sizeValue for an int.
type intSize struct{ p *int }

func (v intSize) String() string {
	if v.p == nil {
		return "0"
	}
	return sizeString(int64(*v.p))
}

func (v intSize) Set(s string) error {
	n, err := parseSize(s)
	if err != nil {
		return err
	}
	if int64(int(n)) != n {
		return errors.New("too large")
	}
	*v.p = int(n)
	return nil
}

var sizeUnits = []struct {
	suffix string
	mult   int64
}{{"GiB", 1 << 30}, {"MiB", 1 << 20}, {"KiB", 1 << 10}, {"GB", 1e9}, {"MB", 1e6}, {"KB", 1e3}, {"B", 1}}

func parseSize(s string) (int64, error) {
	t := strings.TrimSpace(s)
	mult := int64(1)
	for _, u := range sizeUnits {
		if len(t) > len(u.suffix) && strings.EqualFold(t[len(t)-len(u.suffix):], u.suffix) {
			t, mult = strings.TrimSpace(t[:len(t)-len(u.suffix)]), u.mult
			break
		}
	}
	n, err := strconv.ParseInt(t, 10, 64)
	if err != nil {
		return 0, errors.New("want a byte count such as 65536, 64KiB or 1MiB")
	}
	if n != 0 && (n*mult/mult != n) {
		return 0, errors.New("too large")
	}
	return n * mult, nil
}

// sizeString writes n in the largest binary unit that divides it.
func sizeString(n int64) string {
	for _, u := range sizeUnits[:3] {
		if n != 0 && n%u.mult == 0 {
			return strconv.FormatInt(n/u.mult, 10) + u.suffix
		}
	}
	return strconv.FormatInt(n, 10)
}

// listValue is a comma-separated list.
type listValue struct{ p *[]string }

func listVar(fs *flag.FlagSet, p *[]string, name, usage string) { fs.Var(listValue{p}, name, usage) }

func (v listValue) String() string {
	if v.p == nil {
		return ""
	}
	return strings.Join(*v.p, ",")
}

func (v listValue) Set(s string) error {
	*v.p = nil
	for part := range strings.SplitSeq(s, ",") {
		if part = strings.TrimSpace(part); part != "" {
			*v.p = append(*v.p, part)
		}
	}
	return nil
}

// formatValue is a Comet format name.
type formatValue comet.Format

func (v *formatValue) String() string { return comet.Format(*v).String() }

func (v *formatValue) Set(s string) error {
	f, ok := comet.ParseFormat(s)
	if !ok {
		return errors.New("want js, xml, xml-strict, json or sse")
	}
	*v = formatValue(f)
	return nil
}

// levelValue is a slog level name.
type levelValue slog.Level

func (v *levelValue) String() string { return strings.ToLower(slog.Level(*v).String()) }

func (v *levelValue) Set(s string) error {
	var l slog.Level
	if err := l.UnmarshalText([]byte(s)); err != nil {
		return errors.New("want debug, info, warn or error")
	}
	*v = levelValue(l)
	return nil
}
