package main

// The command line: every limit, timeout and default of the engine, the
// Comet hub, the rooms runtime, the lobby and the operations layer, as a
// flag with an environment variable equivalent (-max-conns and
// COMETPLAY_MAX_CONNS; the flag wins). Each flag's Value points at a field
// of the server's configuration (config, a games.Config); the layers
// validate their own fields (games.Config.Validate), and their errors,
// which name the field ("HTTP.MaxConnsPerAddr"), are told with the flag
// that sets it: the flags' Values' addresses say which (flagFields). Only
// what this command adds is checked here. Values are checked before
// anything starts; an error names the flag (and the variable, when the
// value came from it). docs/OPERATIONS.md lists them all.

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/netip"
	"reflect"
	"regexp"
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
	// cluster: the node's options; Node empty: one process, no NATS.
	cluster clusterFlags

	fs      *flag.FlagSet
	fromEnv map[string]string // flag name → the variable its value came from
	bad     []error           // values that did not parse (checkedValue)
	flags   map[string]string // path of a field of server → the flag that sets it (flagFields)
}

// zeroIsAValue lists the flags whose default is not 0 but for which 0 is a
// value of its own, not the Go API's "the default": the least p_wait may
// be 0 (the client may come back at once).
var zeroIsAValue = map[string]bool{"pull-wait-min": true, "poll-wait-min": true}

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
	intVar(fs, &e.Loops, "loops", 0, "event loops (0: GOMAXPROCS; with -node or -nats, GOMAXPROCS-1, at least 1)")
	intVar(fs, &e.Workers, "workers", 0, "goroutines running handlers (0: max(16, 8×GOMAXPROCS))")
	intVar(fs, &e.WorkQueue, "work-queue", engine.DefaultWorkQueue, "requests waiting for a worker; past it: 503")
	intVar(fs, &e.MaxConns, "max-conns", 0, "open connections (0: the open-file limit minus a reserve); past it: 503 and close")
	intVar(fs, &e.MaxConnsPerAddr, "max-conns-per-addr", engine.DefaultMaxConnsPerAddr, "open connections from one IP address, IPv6 by /64 (-1: no cap); past it: 503 and close")
	fs.Var((*prefixList)(&e.TrustedProxies), "trusted-proxies", "comma-separated addresses or prefixes (10.0.0.0/8, 192.0.2.7) of load balancers and proxies whose X-Forwarded-For is believed: their requests count against the per-address limits under the client's address (default: none, the header is ignored)")
	intVar(fs, &e.MaxPipelined, "max-pipelined", engine.DefaultMaxPipelined, "requests of one connection served at once; more wait in its buffer")
	sizeVar(fs, &e.MaxOutbound, "max-outbound", engine.DefaultMaxOutbound, "bytes queued for one connection; past it the connection closes (a peer that does not read)")
	sizeVar(fs, &e.MaxInbound, "max-inbound", engine.DefaultMaxInbound, "unconsumed bytes buffered from one connection (at least 64KiB); past it: close")
	durationVar(fs, &e.HeaderTimeout, "header-timeout", engine.DefaultHeaderTimeout, "time from a request's first byte to its end; past it: 408 and close")
	durationVar(fs, &e.IdleTimeout, "idle-timeout", engine.DefaultIdleTimeout, "idle keep-alive connections close after this")
	durationVar(fs, &e.KeepAlive, "tcp-keepalive", engine.DefaultKeepAlive, "TCP keep-alive period (at least 3s; negative: off): a vanished client is dropped within about twice it")
	durationVar(fs, &e.ShutdownTimeout, "shutdown-timeout", engine.DefaultShutdownTimeout, "graceful shutdown (SIGINT, SIGTERM) bound; then connections are closed")
	sizeVar(fs, &e.Limits.MaxRequestLine, "max-request-line", httpcodec.DefaultMaxRequestLine, "request line bytes; past it: 414")
	sizeVar(fs, &e.Limits.MaxHeadBytes, "max-head-bytes", httpcodec.DefaultMaxHeadBytes, "request head bytes; past it: 431")
	intVar(fs, &e.Limits.MaxHeaders, "max-headers", httpcodec.DefaultMaxHeaders, "request header fields; past it: 431")
	size64Var(fs, &e.Limits.MaxBodyBytes, "max-body-bytes", httpcodec.DefaultMaxBodyBytes, "request body bytes; past it: 413")
	sizeVar(fs, &e.Limits.MaxChunkExtBytes, "max-chunk-ext-bytes", httpcodec.DefaultMaxChunkExtBytes, "chunk-extension and trailer bytes of a chunked body; past it: 400")

	// Comet
	fs.Var((*formatValue)(&c.Comet.DefaultFormat), "default-format", "format of a join that names none: js, xml, xml-strict, json, sse")
	durationVar(fs, &c.Comet.SessionTimeout, "session-timeout", comet.DefaultSessionTimeout, "session lease, renewed by every request and open stream")
	durationVar(fs, &c.Comet.Heartbeat, "heartbeat", comet.DefaultHeartbeat, "silence after which a stream gets an hb event, and a parked long-poll is answered")
	durationVar(fs, &c.Comet.PullRefreshTimeout, "pull-refresh-timeout", comet.DefaultPullRefreshTimeout, "a long-poll session whose client does not come back within this ends")
	durationVar(fs, &c.Comet.PollRefreshTimeout, "poll-refresh-timeout", comet.DefaultPollRefreshTimeout, "a poll session whose client does not come back within this ends")
	msVar(fs, &c.Comet.PullWaitMin, "pull-wait-min", 2*time.Second, "least p_wait sent to Pushlet long-poll clients")
	msVar(fs, &c.Comet.PullWaitMax, "pull-wait-max", 6*time.Second, "greatest p_wait sent to Pushlet long-poll clients")
	msVar(fs, &c.Comet.PollWaitMin, "poll-wait-min", 6*time.Second, "least wait between two polls")
	msVar(fs, &c.Comet.PollWaitMax, "poll-wait-max", 10*time.Second, "greatest wait between two polls")
	msVar(fs, &c.Comet.PollWaitFloor, "poll-wait-floor", comet.DefaultPollWaitFloor*time.Millisecond, "least wait between two polls of a client that asks for shorter waits (a page during a game)")
	intVar(fs, &c.Comet.Window, "window", comet.DefaultWindow, "recent events each session keeps for resume (1..65536); older ones are reported as a gap")
	sizeVar(fs, &c.Comet.SessionHistoryBytes, "session-history-bytes", comet.DefaultSessionHistoryBytes, "bytes of events each session keeps for resume (at least -max-event-bytes); the oldest go first")
	durationVar(fs, &c.Comet.ResumeHorizon, "resume-horizon", comet.DefaultResumeHorizon, "age past which an event kept for resume goes, acknowledged or not (at least 1s)")
	size64Var(fs, &c.Comet.HistoryBytes, "history-bytes", comet.DefaultHistoryBytes, "bytes of events the server keeps for resume, all sessions together (at least 64 × -max-event-bytes); past it the oldest go")
	intVar(fs, &c.Comet.MaxSessions, "max-sessions", comet.DefaultMaxSessions, "live sessions; a join past it: 503")
	intVar(fs, &c.Comet.MaxSessionsPerAddr, "max-sessions-per-addr", comet.DefaultMaxSessionsPerAddr, "live sessions joined from one IP address (-1: no cap); past it: 503")
	intVar(fs, &c.Comet.MaxSubscriptions, "max-subscriptions", comet.DefaultMaxSubscriptions, "subscriptions of one session")
	intVar(fs, &c.Comet.MaxSubscribedSegments, "max-subscribed-segments", comet.DefaultMaxSubscribedSegments, "subject segments of the subscriptions one client makes (each may add a node to the subject index); past it: nack")
	intVar(fs, &c.Comet.SubscribeRate, "subscribe-rate", comet.DefaultSubscribeRate, "subscribes and unsubscribes per second per session, sustained (-1: no limit); past it: nack")
	intVar(fs, &c.Comet.SubscribeBurst, "subscribe-burst", 0, "subscribes and unsubscribes per session at once (0: the larger of 64 and -subscribe-rate)")
	intVar(fs, &c.Comet.MaxFields, "max-fields", comet.DefaultMaxFields, "fields of one published event")
	sizeVar(fs, &c.Comet.MaxEventBytes, "max-event-bytes", comet.DefaultMaxEventBytes, "names and values of one published event")
	intVar(fs, &c.Comet.MaxParams, "max-params", 0, "parameters of one protocol request, query and body, repeats included (0: the larger of 64 and twice -max-fields); past it: 400")
	intVar(fs, &c.Comet.PublishRate, "publish-rate", comet.DefaultPublishRate, "publishes per second per session, sustained (-1: no limit); past it: nack")
	intVar(fs, &c.Comet.PublishBurst, "publish-burst", 0, "publishes per session at once (0: the larger of 40 and -publish-rate)")
	durationVar(fs, &c.Comet.StallTimeout, "stall-timeout", comet.DefaultStallTimeout, "a stream whose connection takes no more bytes while events wait, for this long, is closed as a slow reader")
	listVar(fs, &c.Comet.AllowedOrigins, "allowed-origins", "comma-separated origins (https://example.com) allowed cross-origin requests; * allows any (default: same origin only)")
	boolVar(fs, &c.Comet.ForcePullAll, "force-pull-all", false, "force every listen to long-poll")
	listVar(fs, &c.Comet.ForcePullAgents, "force-pull-agents", "comma-separated User-Agent substrings whose listens are forced to long-poll")
	durationVar(fs, &c.Comet.DetachGrace, "detach-grace", comet.DefaultDetachGrace, "how long a lost listen must stay lost before rooms and lobby hear of it (negative: at once)")

	// Rooms and lobby
	intVar(fs, &c.Rooms.Executors, "executors", 0, "goroutines running room hooks (0: 2×GOMAXPROCS)")
	intVar(fs, &c.Rooms.MailboxSize, "mailbox-size", rooms.DefaultMailboxSize, "client items waiting in one room; past it the room answers busy")
	intVar(fs, &c.Rooms.MaxWaitingPerPlayer, "max-waiting-per-player", rooms.DefaultMaxWaitingPerPlayer, "rooms a player created that wait for players (-1: no cap); past it create is refused")
	intVar(fs, &c.Rooms.MaxWaitingPerAddr, "max-waiting-per-addr", rooms.DefaultMaxWaitingPerAddr, "rooms the players of one IP address (an IPv6 /64) created that wait for players (-1: no cap); past it create is refused")
	intVar(fs, &c.Rooms.SnapshotEvery, "snapshot-every", rooms.DefaultSnapshotEvery, "with the cluster's turn log, a room is written down whole every this many entries and its log purged before it (-1: never)")
	sizeVar(fs, &c.Rooms.MaxMessageBytes, "max-message-bytes", rooms.DefaultMaxMessageBytes, "data of one room message")
	durationVar(fs, &c.ReconnectWindow, "reconnect-window", rooms.DefaultReconnectWindow, "how long a player's seat is held after its connection went away (negative: not held)")
	durationVar(fs, &c.EmptyGrace, "empty-grace", rooms.DefaultEmptyGrace, "how long a waiting room nobody sits in lives (negative: closed at once; a game started or over closes at once)")
	intVar(fs, &c.Lobby.ChatMaxLen, "chat-max-len", lobby.DefaultChatMaxLen, "characters of one chat message")
	intVar(fs, &c.Lobby.ChatRate, "chat-rate", lobby.DefaultChatRate, "chat messages per player within -chat-per")
	durationVar(fs, &c.Lobby.ChatPer, "chat-per", lobby.DefaultChatPer, "the window of -chat-rate")
	intVar(fs, &c.Lobby.ChatLobbyRate, "chat-lobby-rate", lobby.DefaultChatLobby, "chat messages per second in the whole lobby (each goes to every player there)")
	intVar(fs, &c.Lobby.ChatHistory, "chat-history", lobby.DefaultChatHistory, "the last chat messages a player arriving in the lobby (or back from a game) is sent")
	durationVar(fs, &c.Lobby.AwayGrace, "away-grace", lobby.DefaultAwayGrace, "how long a player whose connection went away stays online in the lobby")
	intVar(fs, &c.Lobby.QueueSize, "lobby-queue", lobby.DefaultQueueSize, "lobby actions waiting for the lobby; past it: busy")
	intVar(fs, &c.Lobby.QueuePerAddr, "lobby-queue-per-addr", 0, "lobby actions of one IP address (an IPv6 /64) waiting for the lobby, hellos until their welcome (0: -lobby-queue/16); past it: too many requests from your address")
	intVar(fs, &c.Lobby.ListRate, "list-rate", lobby.DefaultListRate, "lobby list pages per session within -list-per")
	durationVar(fs, &c.Lobby.ListPer, "list-per", lobby.DefaultListPer, "the window of -list-rate")
	pairVar(fs, &c.Lobby.PresenceShown, &c.Lobby.RoomsShown, "lobby-shown", lobby.DefaultShown, "players online and rooms a lobby page is shown and kept live about (the rest: by page, on demand)")
	durationVar(fs, &c.Lobby.Tick, "lobby-tick", lobby.DefaultTick, "how often the lobby publishes the changes of its shown lists, coalesced")
	durationVar(fs, &c.Lobby.QuickplayWait, "quickplay-wait", lobby.DefaultQuickplay, "a player nobody is matched with by then leaves the quick-play queue, told no opponent was found")

	// Operations
	fs.StringVar(&c.Admin.Token, "admin-token", "", "token of the admin console (/admin/) and pprof (/debug/pprof/), at least 16 bytes; unset: both off (prefer the environment variable: flags show in ps)")
	durationVar(fs, &c.Admin.Interval, "admin-interval", games.DefaultAdminInterval, "period of the figures pushed to the admin console")
	boolVar(fs, &c.Metrics, "metrics", true, "serve Prometheus metrics at /metrics")
	boolVar(fs, &c.MetricsAuth, "metrics-auth", false, "require the admin token (Authorization: Bearer) on /metrics")
	fs.StringVar(&s.logFormat, "log-format", "text", "log format: text or json")
	fs.Var((*levelValue)(&s.logLevel), "log-level", "log level: debug, info, warn or error")
	boolVar(fs, &e.AccessLog, "access-log", false, "log every request (at debug level: needs -log-level debug)")
	intVar(fs, &e.LogLimit, "log-limit", engine.DefaultLogLimit, "warnings and errors with the same message logged a minute, the rest counted (-1: no limit)")
	intVar(fs, &s.gcPercent, "gc-percent", 0, "the garbage collector's target heap growth in percent, as GOGC (-1: off, then -memory-limit is needed; 0: GOGC's, default 100); higher trades memory for a shorter latency tail (docs/OPERATIONS.md)")
	size64Var(fs, &s.memoryLimit, "memory-limit", 0, "soft limit of the Go heap, as GOMEMLIMIT (0: GOMEMLIMIT's, default none); the collector works harder near it")
	boolVar(fs, &c.DemoClock, "demo-clock", false, "serve the demo stream /demo/clock (a chunk per second, from one goroutine for all clients; it needs no session, so it is off unless asked for)")
	intVar(fs, &c.ClockDemo.MaxStreams, "demo-clock-streams", engine.DefaultClockStreams, "clock streams open at once; past it: 503")
	intVar(fs, &c.ClockDemo.MaxPerAddr, "demo-clock-per-addr", engine.DefaultClockPerAddr, "clock streams of one IP address (an IPv6 /64) open at once; past it: 503")
	durationVar(fs, &c.ClockDemo.Lifetime, "demo-clock-lifetime", engine.DefaultClockLifetime, "a clock stream ends after this long")
	fs.StringVar(&s.profile, "profile", "", "profile the run with pkg/profile: cpu, mem, block, mutex or trace (written to ./ at exit)")

	// Cluster (docs/CLUSTER.md)
	fs.StringVar(&s.cluster.node, "node", "", "this node's tag (2 characters of A-Z a-z 0-9 - _) in a cluster; unset: one process, no NATS")
	fs.StringVar(&s.cluster.listen, "cluster-listen", "127.0.0.1:6222", "the embedded NATS server's route address host:port (port 0: any free port)")
	listVar(fs, &s.cluster.routes, "cluster-routes", "comma-separated route addresses (host:port) of the other nodes' embedded NATS servers")
	fs.StringVar(&s.cluster.nats, "nats", "", "URL of an external NATS to use instead of the embedded server (nats://host:4222, comma-separated for several)")
	fs.StringVar(&s.cluster.games, "cluster-games", "n1", "tag of the first games node, which runs the lobby for every node (another node takes it over when it dies or stops)")
	fs.StringVar(&s.cluster.storeDir, "store-dir", "", "directory of the embedded NATS server's JetStream data (who owns each room); empty: a temporary directory removed at exit")
	fs.IntVar(&s.cluster.replicas, "cluster-replicas", 0, "NATS servers keeping each copy of JetStream's data (0: 3 with an embedded NATS routed to two nodes or more, else 1 per node listed)")
	boolVar(fs, &s.cluster.turnLog, "cluster-turn-log", true, "append every room item to JetStream before its output goes out, so that another node rebuilds a room whose node died (false: such a room is lost)")
	return fs
}

// clusterFlags are the -node, -cluster-* and -nats flags.
type clusterFlags struct {
	node, listen, nats, games, storeDir string
	routes                              []string
	replicas                            int
	turnLog                             bool
}

// parseSettings parses args, then takes each flag not given from its
// environment variable (lookup, usually os.LookupEnv), then checks every
// value. The errors name the flag. flag.ErrHelp is returned for -h.
func parseSettings(args []string, lookup func(string) (string, bool)) (*settings, error) {
	s := &settings{fromEnv: map[string]string{}, logLevel: slog.LevelInfo}
	s.fs = newFlagSet(s)
	s.flags = s.flagFields()
	nonZero := map[string]bool{} // flags whose default is a number other than 0
	s.fs.VisitAll(func(f *flag.Flag) {
		if v, ok := number(f.Value); ok && v != 0 {
			nonZero[f.Name] = true
		}
		f.Value = &checkedValue{Value: f.Value, name: f.Name, s: s}
	})
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
	s.fs.VisitAll(func(f *flag.Flag) {
		if given[f.Name] {
			return
		}
		env := envName(f.Name)
		if v, ok := lookup(env); ok {
			s.fromEnv[f.Name] = env
			s.fs.Set(f.Name, v) // a bad value is in s.bad
			given[f.Name] = true
		}
	})
	errs := s.bad
	// The Go API takes 0 for "the default"; a flag shows its default, so a
	// 0 given for one whose default is another number is a mistake.
	s.fs.VisitAll(func(f *flag.Flag) {
		if v, _ := number(f.Value); given[f.Name] && nonZero[f.Name] && v == 0 && !zeroIsAValue[f.Name] {
			errs = append(errs, fmt.Errorf("%s: must not be 0: leave it unset for its default (%s)", s.ref(f.Name), f.DefValue))
		}
	})
	errs = append(errs, s.check()...)
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
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

// check validates the values: the server's configuration by the layers'
// own rules (games.Config.Validate, engine.ClockDemo.Validate), then what
// only this command knows. Each error names its flag; all are returned.
func (s *settings) check() []error {
	c := &s.server
	problems := engine.ConfigErrors("", c.gamesConfig().Validate())
	problems = append(problems, engine.ConfigErrors("ClockDemo", c.ClockDemo.Validate())...)
	var errs []error
	seen := map[string]bool{}
	for _, p := range problems {
		err := s.flagError(p)
		if !seen[err.Error()] { // -lobby-shown sets two fields: one error for both
			seen[err.Error()] = true
			errs = append(errs, err)
		}
	}
	fail := func(name, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s: %s", s.ref(name), fmt.Sprintf(format, args...)))
	}
	if c.Comet.Heartbeat >= browserHeartbeatTimeout {
		fail("heartbeat", "must be shorter than %v, after which the site's browser client deems a silent connection dead, got %v", browserHeartbeatTimeout, c.Comet.Heartbeat)
	}
	if k := s.cluster; k.node == "" {
		for _, name := range []string{"cluster-routes", "nats", "store-dir", "cluster-replicas", "cluster-turn-log"} {
			if f := s.fs.Lookup(name); f != nil && f.Value.String() != f.DefValue {
				fail(name, "needs -node (this node's tag)")
			}
		}
	} else if !comet.ValidTag(k.node) {
		fail("node", "want 2 characters of A-Z a-z 0-9 - _, got %q", k.node)
	} else if !comet.ValidTag(k.games) {
		fail("cluster-games", "want 2 characters of A-Z a-z 0-9 - _, got %q", k.games)
	} else if k.replicas < 0 || k.replicas > 5 {
		fail("cluster-replicas", "want 0 (automatic) to 5, got %d", k.replicas)
	} else if k.nats != "" && k.storeDir != "" {
		fail("store-dir", "is the embedded NATS server's: an external NATS (-nats) keeps its own")
	}
	if s.logFormat != "text" && s.logFormat != "json" {
		fail("log-format", "want text or json, got %q", s.logFormat)
	}
	if c.HTTP.AccessLog && s.logLevel > slog.LevelDebug {
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
	return errs
}

// flagError tells a layer's problem with a field as one with the flag that
// sets it, and the settings the problem names by their fields' paths as
// flags too: "HTTP.Limits.MaxHeadBytes: must be at least
// Limits.MaxRequestLine (8192), got 1024" is "-max-head-bytes: must be at
// least -max-request-line (8192), got 1024".
func (s *settings) flagError(p *engine.ConfigError) error {
	name, ok := s.flags[p.Field]
	if !ok {
		return p // a setting no flag sets
	}
	return fmt.Errorf("%s: %s", s.ref(name), s.withFlagNames(p.Field, p.Problem))
}

// fieldName matches what may be a field's path in a problem's text.
var fieldName = regexp.MustCompile(`\b[A-Z][A-Za-z0-9]*(?:\.[A-Z][A-Za-z0-9]*)*\b`)

// withFlagNames replaces, in problem (about field), the paths of other
// fields that a flag sets by the flag. A problem names them by their path
// in the configuration of field's layer, so each enclosing path of field is
// tried. Quoted values are left as they are.
func (s *settings) withFlagNames(field, problem string) string {
	parts := strings.Split(problem, `"`)
	for i := 0; i < len(parts); i += 2 {
		parts[i] = fieldName.ReplaceAllStringFunc(parts[i], func(word string) string {
			for scope := field; ; {
				i := strings.LastIndexByte(scope, '.')
				path := word
				if i >= 0 {
					scope = scope[:i]
					path = scope + "." + word
				}
				if name, ok := s.flags[path]; ok {
					return "-" + name
				}
				if i < 0 {
					return word
				}
			}
		})
	}
	return strings.Join(parts, `"`)
}

// flagFields maps the path of each field of the server's configuration that
// a flag sets ("HTTP.MaxConnsPerAddr", the path games.Config.Validate names
// it by) to the flag's name. A flag's Value points at its field, so the
// addresses tell: no table repeats the flags.
func (s *settings) flagFields() map[string]string {
	paths := map[uintptr]string{}
	fieldPaths(reflect.ValueOf(&s.server).Elem(), "", paths)
	flags := map[string]string{}
	s.fs.VisitAll(func(f *flag.Flag) {
		for _, p := range targets(f.Value) {
			if path, ok := paths[p]; ok {
				flags[path] = f.Name
			}
		}
	})
	return flags
}

// fieldPaths adds the address and path of every exported field of the
// struct v, and of the structs within it, to paths. An embedded struct's
// fields have no name of their own in the path (config embeds
// games.Config). Only the leaves are added: a struct shares its address
// with its first field.
func fieldPaths(v reflect.Value, prefix string, paths map[uintptr]string) {
	t := v.Type()
	for i := range t.NumField() {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		if fv := v.Field(i); fv.Kind() == reflect.Struct {
			inner := prefix + f.Name + "."
			if f.Anonymous {
				inner = prefix
			}
			fieldPaths(fv, inner, paths)
		} else {
			paths[fv.Addr().Pointer()] = prefix + f.Name
		}
	}
}

// targets returns the addresses of the fields a flag's Value sets.
func targets(v flag.Value) []uintptr {
	if c, ok := v.(*checkedValue); ok {
		v = c.Value
	}
	if m, ok := v.(interface{ targets() []uintptr }); ok {
		return m.targets()
	}
	if rv := reflect.ValueOf(v); rv.Kind() == reflect.Pointer {
		return []uintptr{rv.Pointer()}
	}
	return nil
}

// number returns the value of a flag that holds a number (an int, a size,
// a duration).
func number(v flag.Value) (int64, bool) {
	g, ok := v.(flag.Getter)
	if !ok {
		return 0, false
	}
	switch n := g.Get().(type) {
	case int:
		return int64(n), true
	case int64:
		return n, true
	case time.Duration:
		return int64(n), true
	}
	return 0, false
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
		v := f.Value
		if c, ok := v.(*checkedValue); ok {
			v = c.Value
		}
		name, usage := flag.UnquoteUsage(&flag.Flag{Usage: f.Usage, Value: v})
		switch v.(type) {
		case *intValue, *intPair:
			name = "int"
		case *durationValue, *msValue:
			name = "duration"
		case *boolValue:
			name = ""
		case *intSize, *sizeValue:
			name = "size"
		case *listValue:
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
		if f.DefValue != "" && f.DefValue != "0" && f.DefValue != "0s" && f.DefValue != "false" {
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

// checkedValue is a flag's Value as parseSettings uses it: a value that
// does not parse is kept in settings.bad, said with the flag (and the
// variable it came from) and why, and the parse goes on, so that every bad
// value is reported at once.
type checkedValue struct {
	flag.Value
	name string
	s    *settings
}

func (c *checkedValue) Set(v string) error {
	if err := c.Value.Set(v); err != nil {
		c.s.bad = append(c.s.bad, fmt.Errorf("%s: invalid value %q: %v", c.s.ref(c.name), v, err))
	}
	return nil
}

func (c *checkedValue) Get() any { return c.Value.(flag.Getter).Get() }

// IsBoolFlag lets a boolean flag go without a value (-metrics-auth).
func (c *checkedValue) IsBoolFlag() bool {
	b, ok := c.Value.(interface{ IsBoolFlag() bool })
	return ok && b.IsBoolFlag()
}

// The flags' values. Each is a pointer to the field it sets (flagFields
// relies on it) and a flag.Getter; its errors say what it wants.

// intValue is a whole number.
type intValue int

func intVar(fs *flag.FlagSet, p *int, name string, def int, usage string) {
	*p = def
	fs.Var((*intValue)(p), name, usage)
}

func (v *intValue) String() string { return strconv.Itoa(int(*v)) }
func (v *intValue) Get() any       { return int(*v) }

func (v *intValue) Set(s string) error { return set((*int)(v), s, parseInt) }

// set stores what parse makes of s in *p, or returns its error.
func set[T any](p *T, s string, parse func(string) (T, error)) error {
	v, err := parse(s)
	if err == nil {
		*p = v
	}
	return err
}

func parseInt(s string) (int, error) {
	n, err := strconv.ParseInt(strings.TrimSpace(s), 10, strconv.IntSize)
	if errors.Is(err, strconv.ErrRange) {
		return 0, errors.New("out of range")
	}
	if err != nil {
		return 0, errors.New("want a whole number, such as 64 or -1")
	}
	return int(n), nil
}

// intPair sets two int fields to one value: -lobby-shown sets
// lobby.Options's PresenceShown and RoomsShown.
type intPair struct{ a, b *int }

func pairVar(fs *flag.FlagSet, a, b *int, name string, def int, usage string) {
	*a, *b = def, def
	fs.Var(&intPair{a, b}, name, usage)
}

func (v *intPair) String() string {
	if v == nil || v.a == nil {
		return "0"
	}
	return strconv.Itoa(*v.a)
}

func (v *intPair) Get() any { return *v.a }

func (v *intPair) Set(s string) error {
	err := set(v.a, s, parseInt)
	*v.b = *v.a
	return err
}

func (v *intPair) targets() []uintptr {
	return []uintptr{reflect.ValueOf(v.a).Pointer(), reflect.ValueOf(v.b).Pointer()}
}

// boolValue is true or false; the flag alone means true.
type boolValue bool

func boolVar(fs *flag.FlagSet, p *bool, name string, def bool, usage string) {
	*p = def
	fs.Var((*boolValue)(p), name, usage)
}

func (v *boolValue) String() string   { return strconv.FormatBool(bool(*v)) }
func (v *boolValue) Get() any         { return bool(*v) }
func (v *boolValue) IsBoolFlag() bool { return true }

func (v *boolValue) Set(s string) error {
	return set((*bool)(v), s, func(s string) (bool, error) {
		b, err := strconv.ParseBool(s)
		if err != nil {
			return false, errors.New("want true or false")
		}
		return b, nil
	})
}

// durationValue is a Go duration: 500ms, 20s, 1m30s.
type durationValue time.Duration

func durationVar(fs *flag.FlagSet, p *time.Duration, name string, def time.Duration, usage string) {
	*p = def
	fs.Var((*durationValue)(p), name, usage)
}

func (v *durationValue) String() string { return time.Duration(*v).String() }
func (v *durationValue) Get() any       { return time.Duration(*v) }

func (v *durationValue) Set(s string) error { return set((*time.Duration)(v), s, parseDuration) }

func parseDuration(s string) (time.Duration, error) {
	d, err := time.ParseDuration(strings.TrimSpace(s))
	if err == nil {
		return d, nil
	}
	if _, nerr := strconv.ParseFloat(strings.TrimSpace(s), 64); nerr == nil {
		return 0, errors.New("a duration needs a unit, e.g. 5s or 500ms")
	}
	return 0, errors.New("want a duration such as 500ms, 20s or 1m30s")
}

// msValue is a duration kept in whole milliseconds, as comet.Config's
// p_wait bounds are.
type msValue int

func msVar(fs *flag.FlagSet, p *int, name string, def time.Duration, usage string) {
	*p = int(def.Milliseconds())
	fs.Var((*msValue)(p), name, usage)
}

func (v *msValue) String() string { return v.duration().String() }
func (v *msValue) Get() any       { return v.duration() }

func (v *msValue) duration() time.Duration { return time.Duration(*v) * time.Millisecond }

func (v *msValue) Set(s string) error {
	return set((*int)(v), s, func(s string) (int, error) {
		d, err := parseDuration(s)
		if err == nil && d%time.Millisecond != 0 {
			err = errors.New("want whole milliseconds (Pushlet's p_wait is in ms)")
		}
		return int(d.Milliseconds()), err
	})
}

// sizeValue is a byte count: 1048576, 1MiB, 64KiB, 1GiB (or KB, MB as
// powers of 1000).
type sizeValue int64

func size64Var(fs *flag.FlagSet, p *int64, name string, def int64, usage string) {
	*p = def
	fs.Var((*sizeValue)(p), name, usage)
}

func (v *sizeValue) String() string { return sizeString(int64(*v)) }
func (v *sizeValue) Get() any       { return int64(*v) }

func (v *sizeValue) Set(s string) error { return set((*int64)(v), s, parseSize) }

// intSize is sizeValue for an int.
type intSize int

func sizeVar(fs *flag.FlagSet, p *int, name string, def int, usage string) {
	*p = def
	fs.Var((*intSize)(p), name, usage)
}

func (v *intSize) String() string { return sizeString(int64(*v)) }
func (v *intSize) Get() any       { return int(*v) }

func (v *intSize) Set(s string) error {
	return set((*int)(v), s, func(s string) (int, error) {
		n, err := parseSize(s)
		if err == nil && int64(int(n)) != n {
			err = errors.New("too large")
		}
		return int(n), err
	})
}

var sizeUnits = []struct {
	suffix string
	mult   int64
}{{"GiB", 1 << 30}, {"MiB", 1 << 20}, {"KiB", 1 << 10}, {"GB", 1e9}, {"MB", 1e6}, {"KB", 1e3}, {"B", 1}}

// sizeSyntax is what parseSize takes, for its errors.
const sizeSyntax = "a whole number of bytes, with B, KiB, MiB or GiB (KB, MB, GB: powers of 1000) or no unit, e.g. 65536 or 64KiB"

func parseSize(s string) (int64, error) {
	t := strings.TrimSpace(s)
	digits := strings.TrimLeft(t, "+-0123456789")
	num, unit := t[:len(t)-len(digits)], strings.TrimSpace(digits)
	mult := int64(1)
	if unit != "" {
		mult = 0
		for _, u := range sizeUnits {
			if strings.EqualFold(u.suffix, unit) {
				mult = u.mult
			}
		}
	}
	switch {
	case num == "" || mult == 0 && (unit[0] == '.' || unit[0] == ','):
		return 0, errors.New("want " + sizeSyntax)
	case mult == 0:
		return 0, fmt.Errorf("unknown unit %q: want %s", unit, sizeSyntax)
	}
	n, err := strconv.ParseInt(num, 10, 64)
	if err != nil {
		return 0, errors.New("want " + sizeSyntax)
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
type listValue []string

func listVar(fs *flag.FlagSet, p *[]string, name, usage string) { fs.Var((*listValue)(p), name, usage) }

func (v *listValue) String() string { return strings.Join(*v, ",") }
func (v *listValue) Get() any       { return []string(*v) }

func (v *listValue) Set(s string) error {
	*v = nil
	for part := range strings.SplitSeq(s, ",") {
		if part = strings.TrimSpace(part); part != "" {
			*v = append(*v, part)
		}
	}
	return nil
}

// prefixList is a comma-separated list of IP prefixes; a bare address is
// a prefix of its whole length.
type prefixList []netip.Prefix

func (v *prefixList) String() string {
	parts := make([]string, len(*v))
	for i, p := range *v {
		parts[i] = p.String()
	}
	return strings.Join(parts, ",")
}

func (v *prefixList) Get() any { return []netip.Prefix(*v) }

func (v *prefixList) Set(s string) error {
	var ps []netip.Prefix
	for part := range strings.SplitSeq(s, ",") {
		if part = strings.TrimSpace(part); part == "" {
			continue
		}
		if a, err := netip.ParseAddr(part); err == nil {
			ps = append(ps, netip.PrefixFrom(a.Unmap(), a.Unmap().BitLen()))
			continue
		}
		p, err := netip.ParsePrefix(part)
		if err != nil {
			return fmt.Errorf("%q is not an IP address or prefix", part)
		}
		if p.Addr().Is4In6() {
			p = netip.PrefixFrom(p.Addr().Unmap(), max(p.Bits()-96, 0))
		}
		ps = append(ps, p.Masked())
	}
	*v = ps
	return nil
}

// formatValue is a Comet format name.
type formatValue comet.Format

func (v *formatValue) String() string { return comet.Format(*v).String() }
func (v *formatValue) Get() any       { return comet.Format(*v) }

func (v *formatValue) Set(s string) error {
	return set((*comet.Format)(v), s, func(s string) (comet.Format, error) {
		if f, ok := comet.ParseFormat(s); ok {
			return f, nil
		}
		return 0, errors.New("want js, xml, xml-strict, json or sse")
	})
}

// levelValue is a slog level name.
type levelValue slog.Level

func (v *levelValue) String() string { return strings.ToLower(slog.Level(*v).String()) }
func (v *levelValue) Get() any       { return slog.Level(*v) }

func (v *levelValue) Set(s string) error {
	return set((*slog.Level)(v), s, func(s string) (l slog.Level, err error) {
		if l.UnmarshalText([]byte(s)) != nil {
			err = errors.New("want debug, info, warn or error")
		}
		return l, err
	})
}
