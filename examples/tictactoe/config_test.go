package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"github.com/cometplay/cometplay/comet"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/cometplay/cometplay/engine"
	"github.com/cometplay/cometplay/lobby"
	"github.com/cometplay/cometplay/rooms"
)

// TestMain lets a test run this package's main as the binary would be
// run: the test binary re-executes itself with TICTACTOE_RUN_MAIN set.
func TestMain(m *testing.M) {
	if os.Getenv("TICTACTOE_RUN_MAIN") == "1" {
		os.Args = append([]string{"tictactoe"}, strings.Fields(os.Getenv("TICTACTOE_ARGS"))...)
		main()
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// env returns a lookup over kv (name, value pairs).
func env(kv ...string) func(string) (string, bool) {
	m := map[string]string{}
	for i := 0; i+1 < len(kv); i += 2 {
		m[kv[i]] = kv[i+1]
	}
	return func(k string) (string, bool) { v, ok := m[k]; return v, ok }
}

// TestParseSettingsValues: defaults, flags, environment variables (the
// flag wins), sizes, durations and lists end up in the server's config.
func TestParseSettingsValues(t *testing.T) {
	for _, tc := range []struct {
		name  string
		args  []string
		env   []string
		check func(t *testing.T, s *settings)
	}{
		{"defaults", nil, nil, func(t *testing.T, s *settings) {
			c := s.server
			if c.DemoClock || c.Rooms.MaxWaitingPerPlayer != rooms.DefaultMaxWaitingPerPlayer || c.Rooms.MaxWaitingPerAddr != rooms.DefaultMaxWaitingPerAddr ||
				c.Lobby.QueuePerAddr != 0 || c.Lobby.ListRate != lobby.DefaultListRate || c.Lobby.ListPer != lobby.DefaultListPer {
				t.Errorf("defaults: demo clock %v, rooms %+v, lobby %+v", c.DemoClock, c.Rooms, c.Lobby)
			}
			if c.HTTP.Addr != engine.DefaultAddr || c.HTTP.MaxConns != 0 || c.HTTP.MaxOutbound != engine.DefaultMaxOutbound ||
				c.Comet.Heartbeat != comet.DefaultHeartbeat || c.Comet.Window != comet.DefaultWindow || !c.Metrics || c.MetricsAuth ||
				c.Admin.Token != "" || c.Comet.PullWaitMin != 2000 || c.Comet.PollWaitMax != 10000 || s.logLevel != slog.LevelInfo || s.logFormat != "text" {
				t.Errorf("defaults: %+v", c)
			}
		}},
		{"lobby", []string{"-lobby-shown=5", "-chat-lobby-rate=7", "-chat-history=9"}, []string{"COMETPLAY_LOBBY_TICK", "250ms", "COMETPLAY_QUICKPLAY_WAIT", "30s"}, func(t *testing.T, s *settings) {
			if l := s.server.Lobby; l.PresenceShown != 5 || l.RoomsShown != 5 || l.Tick != 250*time.Millisecond || l.ChatLobbyRate != 7 || l.ChatHistory != 9 || l.QuickplayWait != 30*time.Second {
				t.Errorf("lobby options %+v; want 5 shown, 250ms tick, 7 chat/s, 9 kept, 30s in the queue", l)
			}
		}},
		{"lobby defaults", nil, nil, func(t *testing.T, s *settings) {
			if l, h := s.server.Lobby, s.server.Comet; l.ChatHistory != lobby.DefaultChatHistory || l.QuickplayWait != lobby.DefaultQuickplay || h.PollWaitFloor != comet.DefaultPollWaitFloor {
				t.Errorf("chat history %d, quick-play wait %v, poll wait floor %d", l.ChatHistory, l.QuickplayWait, h.PollWaitFloor)
			}
		}},
		{"what one address may hold", []string{"-max-waiting-per-player=2", "-max-waiting-per-addr=-1", "-lobby-queue-per-addr=10", "-list-rate=7", "-demo-clock"},
			[]string{"COMETPLAY_LIST_PER", "3s", "COMETPLAY_DEMO_CLOCK_PER_ADDR", "2", "COMETPLAY_DEMO_CLOCK_LIFETIME", "1m"}, func(t *testing.T, s *settings) {
				c := s.server
				if c.Rooms.MaxWaitingPerPlayer != 2 || c.Rooms.MaxWaitingPerAddr != -1 || c.Lobby.QueuePerAddr != 10 || c.Lobby.ListRate != 7 || c.Lobby.ListPer != 3*time.Second {
					t.Errorf("rooms %+v lobby %+v", c.Rooms, c.Lobby)
				}
				if !c.DemoClock || c.ClockDemo.MaxStreams != engine.DefaultClockStreams || c.ClockDemo.MaxPerAddr != 2 || c.ClockDemo.Lifetime != time.Minute {
					t.Errorf("demo clock %v %+v", c.DemoClock, c.ClockDemo)
				}
			}},
		{"history", []string{"-session-history-bytes=64KiB", "-resume-horizon=10s"}, []string{"COMETPLAY_HISTORY_BYTES", "32MiB"}, func(t *testing.T, s *settings) {
			h := s.server.Comet
			if h.SessionHistoryBytes != 64<<10 || h.ResumeHorizon != 10*time.Second || h.HistoryBytes != 32<<20 {
				t.Errorf("session history %d, horizon %v, history %d", h.SessionHistoryBytes, h.ResumeHorizon, h.HistoryBytes)
			}
		}},
		{"abuse limits", []string{"-max-conns-per-addr=10", "-tcp-keepalive=1m", "-max-subscribed-segments=100", "-subscribe-rate=5", "-subscribe-burst=7"},
			[]string{"COMETPLAY_MAX_PARAMS", "80", "COMETPLAY_LOG_LIMIT", "3"}, func(t *testing.T, s *settings) {
				e, h := s.server.HTTP, s.server.Comet
				if e.MaxConnsPerAddr != 10 || e.KeepAlive != time.Minute || e.LogLimit != 3 || h.MaxSubscribedSegments != 100 ||
					h.SubscribeRate != 5 || h.SubscribeBurst != 7 || h.MaxParams != 80 {
					t.Errorf("engine %+v hub %+v", e, h)
				}
			}},
		{"abuse limits' defaults", nil, nil, func(t *testing.T, s *settings) {
			e, h := s.server.HTTP, s.server.Comet
			if e.MaxConnsPerAddr != engine.DefaultMaxConnsPerAddr || e.KeepAlive != engine.DefaultKeepAlive || e.LogLimit != engine.DefaultLogLimit ||
				h.MaxSubscribedSegments != comet.DefaultMaxSubscribedSegments || h.SubscribeRate != comet.DefaultSubscribeRate || h.MaxParams != 0 {
				t.Errorf("engine %+v hub %+v", e, h)
			}
		}},
		{"garbage collector", []string{"-gc-percent=-1"}, []string{"COMETPLAY_MEMORY_LIMIT", "4GiB"}, func(t *testing.T, s *settings) {
			if s.gcPercent != -1 || s.memoryLimit != 4<<30 {
				t.Errorf("gc-percent %d, memory-limit %d; want -1, 4GiB", s.gcPercent, s.memoryLimit)
			}
		}},
		{"negative means at once", []string{"-detach-grace=-1s", "-empty-grace=-1s"}, nil, func(t *testing.T, s *settings) {
			if s.server.Comet.DetachGrace != -time.Second || s.server.EmptyGrace != -time.Second {
				t.Errorf("detach grace %v, empty grace %v; want -1s", s.server.Comet.DetachGrace, s.server.EmptyGrace)
			}
		}},
		{"flag", []string{"-max-conns", "500", "-heartbeat=15s"}, nil, func(t *testing.T, s *settings) {
			if s.server.HTTP.MaxConns != 500 || s.server.Comet.Heartbeat != 15*time.Second {
				t.Errorf("MaxConns %d Heartbeat %v; want 500 15s", s.server.HTTP.MaxConns, s.server.Comet.Heartbeat)
			}
		}},
		{"environment", nil, []string{"COMETPLAY_MAX_CONNS", "300", "COMETPLAY_LOG_LEVEL", "debug", "COMETPLAY_ACCESS_LOG", "true"}, func(t *testing.T, s *settings) {
			if s.server.HTTP.MaxConns != 300 || s.logLevel != slog.LevelDebug || !s.server.HTTP.AccessLog {
				t.Errorf("MaxConns %d level %v access log %v; want 300 debug true", s.server.HTTP.MaxConns, s.logLevel, s.server.HTTP.AccessLog)
			}
		}},
		{"flag wins over environment", []string{"-max-conns=500"}, []string{"COMETPLAY_MAX_CONNS", "300"}, func(t *testing.T, s *settings) {
			if s.server.HTTP.MaxConns != 500 {
				t.Errorf("MaxConns %d; want the flag's 500", s.server.HTTP.MaxConns)
			}
		}},
		{"sizes", []string{"-max-outbound", "512KiB", "-max-event-bytes=32768"}, []string{"COMETPLAY_MAX_BODY_BYTES", "2MiB"}, func(t *testing.T, s *settings) {
			e := s.server.HTTP
			if e.MaxOutbound != 512<<10 || e.Limits.MaxBodyBytes != 2<<20 || s.server.Comet.MaxEventBytes != 32<<10 {
				t.Errorf("MaxOutbound %d MaxBodyBytes %d MaxEventBytes %d", e.MaxOutbound, e.Limits.MaxBodyBytes, s.server.Comet.MaxEventBytes)
			}
		}},
		{"webroot policy", []string{"-webroot", "."}, []string{"COMETPLAY_WEBROOT_CSP", "default-src 'self'"}, func(t *testing.T, s *settings) {
			if s.server.HTTP.Webroot != "." || s.server.HTTP.WebrootCSP != "default-src 'self'" {
				t.Errorf("webroot %q policy %q; want . and default-src 'self'", s.server.HTTP.Webroot, s.server.HTTP.WebrootCSP)
			}
		}},
		{"lists and waits", []string{"-allowed-origins", "https://a.example, https://b.example", "-poll-wait-min=50ms", "-poll-wait-max=150ms", "-poll-wait-floor=20ms", "-default-format", "json"}, nil, func(t *testing.T, s *settings) {
			h := s.server.Comet
			if len(h.AllowedOrigins) != 2 || h.AllowedOrigins[1] != "https://b.example" || h.PollWaitMin != 50 || h.PollWaitMax != 150 || h.PollWaitFloor != 20 || h.DefaultFormat != comet.FormatJSON {
				t.Errorf("origins %q poll wait %d..%d (floor %d) format %v", h.AllowedOrigins, h.PollWaitMin, h.PollWaitMax, h.PollWaitFloor, h.DefaultFormat)
			}
		}},
		{"trusted proxies", nil, []string{"COMETPLAY_TRUSTED_PROXIES", "10.0.0.0/8, 192.0.2.7,::ffff:127.0.0.1, 2001:db8::/32"}, func(t *testing.T, s *settings) {
			got := fmt.Sprint(s.server.HTTP.TrustedProxies)
			if want := "[10.0.0.0/8 192.0.2.7/32 127.0.0.1/32 2001:db8::/32]"; got != want {
				t.Errorf("trusted proxies %s; want %s", got, want)
			}
		}},
		{"operations", []string{"-metrics-auth", "-log-format=json", "-reconnect-window=-1s"}, []string{"COMETPLAY_ADMIN_TOKEN", "0123456789abcdef"}, func(t *testing.T, s *settings) {
			c := s.server
			if !c.MetricsAuth || c.Admin.Token != "0123456789abcdef" || s.logFormat != "json" || c.ReconnectWindow != -time.Second {
				t.Errorf("metrics-auth %v token %q format %q window %v", c.MetricsAuth, c.Admin.Token, s.logFormat, c.ReconnectWindow)
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, err := parseSettings(tc.args, env(tc.env...))
			if err != nil {
				t.Fatal(err)
			}
			tc.check(t, s)
		})
	}
}

// TestParseSettingsErrors: bad values are refused with a message naming
// the flag (and the variable when the value came from one).
func TestParseSettingsErrors(t *testing.T) {
	for _, tc := range []struct {
		args []string
		env  []string
		want string
	}{
		{[]string{"-heartbeat=-1s"}, nil, "-heartbeat: must be positive, got -1s"},
		{nil, []string{"COMETPLAY_HEARTBEAT", "-1s"}, "-heartbeat (from COMETPLAY_HEARTBEAT): must be positive, got -1s"},
		{[]string{"-heartbeat=50s"}, nil, "-heartbeat: must be shorter than 45s"},
		{[]string{"-heartbeat=10m"}, []string{"COMETPLAY_SESSION_TIMEOUT", "5m"}, "-heartbeat: must be shorter than 45s"},
		{[]string{"-max-conns=lots"}, nil, `-max-conns: invalid value "lots": want a whole number`},
		{nil, []string{"COMETPLAY_MAX_CONNS", "lots"}, `-max-conns (from COMETPLAY_MAX_CONNS): invalid value "lots"`},
		{[]string{"-max-conns=-1"}, nil, "-max-conns: must not be negative (0: automatic), got -1"},
		{[]string{"-work-queue=0"}, nil, "-work-queue: must not be 0: leave it unset for its default (4096)"},
		{[]string{"-work-queue=-5"}, nil, "-work-queue: must be positive, got -5"},
		{[]string{"-max-inbound=1KiB"}, nil, "-max-inbound: must be at least 64KiB (65536), got 1024"},
		{[]string{"-max-outbound=lots"}, nil, `-max-outbound: invalid value "lots": want a whole number of bytes`},
		{[]string{"-max-head-bytes=1KiB"}, nil, "-max-head-bytes: must be at least -max-request-line (8192), got 1024"},
		{[]string{"-idle-timeout=0s"}, nil, "-idle-timeout: must not be 0: leave it unset for its default (1m0s)"},
		{[]string{"-idle-timeout=-1s"}, nil, "-idle-timeout: must be positive, got -1s"},
		{[]string{"-window=0"}, nil, "-window: must not be 0"},
		{[]string{"-window=70000"}, nil, "-window: must be within 1..65536, got 70000"},
		{[]string{"-max-sessions-per-addr=0"}, nil, "-max-sessions-per-addr: must not be 0"},
		{[]string{"-max-sessions-per-addr=-3"}, nil, "-max-sessions-per-addr: must be positive, or -1 for no cap, got -3"},
		{[]string{"-publish-rate=0"}, nil, "-publish-rate: must not be 0"},
		{[]string{"-publish-rate=-2"}, nil, "-publish-rate: must be positive, or -1 for no limit, got -2"},
		{[]string{"-max-conns-per-addr=0"}, nil, "-max-conns-per-addr: must not be 0: leave it unset for its default (256)"},
		{nil, []string{"COMETPLAY_MAX_CONNS_PER_ADDR", "-2"}, "-max-conns-per-addr (from COMETPLAY_MAX_CONNS_PER_ADDR): must be positive, or -1 for no cap, got -2"},
		{[]string{"-tcp-keepalive=1s"}, nil, "-tcp-keepalive: must be at least 3s, or negative for off, got 1s"},
		{[]string{"-max-subscribed-segments=0"}, nil, "-max-subscribed-segments: must not be 0"},
		{[]string{"-max-subscribed-segments=-1"}, nil, "-max-subscribed-segments: must be positive, got -1"},
		{nil, []string{"COMETPLAY_SUBSCRIBE_RATE", "0"}, "-subscribe-rate (from COMETPLAY_SUBSCRIBE_RATE): must not be 0"},
		{nil, []string{"COMETPLAY_SUBSCRIBE_RATE", "-7"}, "-subscribe-rate (from COMETPLAY_SUBSCRIBE_RATE): must be positive, or -1 for no limit, got -7"},
		{[]string{"-max-params=10"}, nil, "-max-params: must be at least -max-fields (32), got 10"},
		{[]string{"-log-limit=0"}, nil, "-log-limit: must not be 0"},
		{[]string{"-log-limit=-2"}, nil, "-log-limit: must be positive, or -1 for no limit, got -2"},
		{[]string{"-poll-wait-min=2s", "-poll-wait-max=1s"}, nil, "-poll-wait-max: must be at least -poll-wait-min (2s), got 1s"},
		{[]string{"-poll-wait-max=90s"}, nil, "-poll-wait-max: must be shorter than -poll-refresh-timeout (1m0s)"},
		{[]string{"-pull-wait-max=50s"}, nil, "-pull-wait-max: must be shorter than -pull-refresh-timeout (45s)"},
		{[]string{"-allowed-origins=example.com"}, nil, `-allowed-origins: "example.com" is not an origin`},
		{[]string{"-trusted-proxies=10.0.0.0/8,balancer.internal"}, nil, `-trusted-proxies: invalid value "10.0.0.0/8,balancer.internal": "balancer.internal" is not an IP address or prefix`},
		{[]string{"-default-format=yaml"}, nil, `-default-format: invalid value "yaml": want js, xml`},
		{[]string{"-reconnect-window=0s"}, nil, "-reconnect-window: must not be 0"},
		{[]string{"-mailbox-size=0"}, nil, "-mailbox-size: must not be 0"},
		{[]string{"-mailbox-size=-1"}, nil, "-mailbox-size: must be positive, got -1"},
		{[]string{"-chat-per=-5s"}, nil, "-chat-per: must be positive, got -5s"},
		{[]string{"-gc-percent=-2"}, nil, "-gc-percent: must be -1 (off), 0 (GOGC's) or positive, got -2"},
		{[]string{"-gc-percent=-1"}, nil, "-gc-percent: -1 turns the collector off: give -memory-limit too"},
		{[]string{"-memory-limit=lots"}, nil, `-memory-limit: invalid value "lots"`},
		{[]string{"-chat-lobby-rate=0"}, nil, "-chat-lobby-rate: must not be 0"},
		{[]string{"-chat-lobby-rate=-1"}, nil, "-chat-lobby-rate: must be positive, got -1"},
		{[]string{"-chat-history=501"}, nil, "-chat-history: must be within 1..500, got 501"},
		{[]string{"-quickplay-wait=0s"}, nil, "-quickplay-wait: must not be 0"},
		{[]string{"-quickplay-wait=-1s"}, nil, "-quickplay-wait: must be positive, got -1s"},
		{[]string{"-poll-wait-floor=0s"}, nil, "-poll-wait-floor: must not be 0"},
		{[]string{"-poll-wait-floor=-5ms"}, nil, "-poll-wait-floor: must be positive, got -5ms"},
		{[]string{"-lobby-shown=0"}, nil, "-lobby-shown: must not be 0"},
		{[]string{"-lobby-shown=-1"}, nil, "-lobby-shown: must be within 1..1000, got -1"},
		{nil, []string{"COMETPLAY_LOBBY_SHOWN", "5000"}, "-lobby-shown (from COMETPLAY_LOBBY_SHOWN): must be within 1..1000, got 5000"},
		{[]string{"-lobby-tick=1ms"}, nil, "-lobby-tick: must be at least 10ms, got 1ms"},
		{[]string{"-max-waiting-per-player=0"}, nil, "-max-waiting-per-player: must not be 0"},
		{[]string{"-max-waiting-per-player=-9"}, nil, "-max-waiting-per-player: must be positive, or -1 for no cap, got -9"},
		{[]string{"-max-waiting-per-addr=-2"}, nil, "-max-waiting-per-addr: must be positive, or -1 for no cap, got -2"},
		{[]string{"-lobby-queue-per-addr=2000"}, nil, "-lobby-queue-per-addr: must be at most -lobby-queue (1024), got 2000"},
		{[]string{"-lobby-queue-per-addr=-1"}, nil, "-lobby-queue-per-addr: must not be negative"},
		{[]string{"-list-rate=0"}, nil, "-list-rate: must not be 0"},
		{[]string{"-list-rate=-1"}, nil, "-list-rate: must be positive, got -1"},
		{[]string{"-demo-clock-streams=0"}, nil, "-demo-clock-streams: must not be 0"},
		{[]string{"-demo-clock-streams=-1"}, nil, "-demo-clock-streams: must be positive, got -1"},
		{nil, []string{"COMETPLAY_DEMO_CLOCK_LIFETIME", "0s"}, "-demo-clock-lifetime (from COMETPLAY_DEMO_CLOCK_LIFETIME): must not be 0"},
		{nil, []string{"COMETPLAY_DEMO_CLOCK_LIFETIME", "-1m"}, "-demo-clock-lifetime (from COMETPLAY_DEMO_CLOCK_LIFETIME): must be positive, got -1m0s"},
		{[]string{"-admin-token=short"}, nil, "-admin-token: must have at least 16 bytes, got 5"},
		{[]string{"-admin-interval=1ms"}, nil, "-admin-interval: must be at least 100ms, got 1ms"},
		{[]string{"-metrics-auth"}, nil, "-metrics-auth: needs -admin-token"},
		{[]string{"-log-format=xml"}, nil, `-log-format: want text or json, got "xml"`},
		{[]string{"-log-level=verbose"}, nil, `-log-level: invalid value "verbose": want debug, info, warn or error`},
		{[]string{"-access-log"}, nil, "-access-log: requests are logged at debug level: add -log-level debug"},
		{[]string{"-addr=nowhere"}, nil, `-addr: want host:port, got "nowhere"`},
		{[]string{"-addr=127.0.0.1:99999"}, nil, `-addr: invalid port "99999"`},
		{[]string{"-webroot=/no/such/dir"}, nil, `-webroot: not a directory: "/no/such/dir"`},
		{[]string{"-webroot-csp=default-src 'self'"}, nil, "-webroot-csp: needs -webroot"},
		{[]string{"-webroot=.", "-webroot-csp=default-src 'self'\r\nX: y"}, nil, "-webroot-csp: control characters"},
		{[]string{"-profile=heap"}, nil, `-profile: want cpu, mem, block, mutex or trace, got "heap"`},
		// What only a layer, or the combination of layers, knows: told
		// with the flags, the settings it compares with included.
		{[]string{"-heartbeat=40s", "-session-timeout=30s"}, nil, "-heartbeat: must be shorter than -session-timeout (30s), got 40s"},
		{[]string{"-executors=-1"}, nil, "-executors: must not be negative (0: automatic), got -1"},
		{[]string{"-lobby-queue=100", "-lobby-queue-per-addr=200"}, nil, "-lobby-queue-per-addr: must be at most -lobby-queue (100), got 200"},
		{[]string{"-metrics=false", "-metrics-auth", "-admin-token=0123456789abcdef"}, nil, "-metrics-auth: needs -metrics"},
		{[]string{"-max-params=-1"}, nil, "-max-params: must not be negative (0: automatic), got -1"},
		{[]string{"-max-body-bytes=-1"}, nil, "-max-body-bytes: must be positive, got -1"},
		{[]string{"-nope"}, nil, "flag provided but not defined: -nope"},
		{[]string{"extra"}, nil, `unexpected argument "extra"`},
	} {
		t.Run(strings.Join(append(tc.args, tc.env...), " "), func(t *testing.T) {
			_, err := parseSettings(tc.args, env(tc.env...))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("parseSettings(%q, env %q) = %v; want an error containing %q", tc.args, tc.env, err, tc.want)
			}
		})
	}
	// Every error at once, one per line: values that do not parse, zeros,
	// the layers' rules and this command's.
	_, err := parseSettings([]string{"-window=0", "-heartbeat=5", "-work-queue=-1", "-log-format=xml"}, env("COMETPLAY_MAX_CONNS", "x"))
	if err == nil || strings.Count(err.Error(), "\n") != 4 {
		t.Fatalf("five bad flags: %v; want five lines", err)
	}
}

// TestParseSettingsSyntax: a value that does not parse is refused with
// the flag, the value, and what the flag wants.
func TestParseSettingsSyntax(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"-heartbeat", "5"}, `-heartbeat: invalid value "5": a duration needs a unit, e.g. 5s or 500ms`},
		{[]string{"-heartbeat=1.5"}, `-heartbeat: invalid value "1.5": a duration needs a unit, e.g. 5s or 500ms`},
		{[]string{"-idle-timeout=soon"}, `-idle-timeout: invalid value "soon": want a duration such as 500ms, 20s or 1m30s`},
		{[]string{"-pull-wait-max=1500us"}, `-pull-wait-max: invalid value "1500us": want whole milliseconds`},
		{[]string{"-max-outbound=64k"}, `-max-outbound: invalid value "64k": unknown unit "k": want a whole number of bytes, with B, KiB, MiB or GiB`},
		{[]string{"-max-outbound=1.5MiB"}, `-max-outbound: invalid value "1.5MiB": want a whole number of bytes`},
		{[]string{"-max-event-bytes=MiB"}, `-max-event-bytes: invalid value "MiB": want a whole number of bytes`},
		{[]string{"-max-outbound=99999999999GiB"}, `-max-outbound: invalid value "99999999999GiB": too large`},
		{[]string{"-max-conns=1e3"}, `-max-conns: invalid value "1e3": want a whole number, such as 64 or -1`},
		{[]string{"-max-conns=99999999999999999999"}, `-max-conns: invalid value "99999999999999999999": out of range`},
		{[]string{"-metrics=maybe"}, `-metrics: invalid value "maybe": want true or false`},
	} {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			_, err := parseSettings(tc.args, env())
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("parseSettings(%q) = %v; want an error containing %q", tc.args, err, tc.want)
			}
		})
	}
	// Sizes and durations that do parse.
	s, err := parseSettings([]string{"-max-outbound=64kib", "-max-body-bytes= 2 MB", "-pull-wait-min=0", "-pull-wait-max=1.5s"}, env())
	if err != nil {
		t.Fatal(err)
	}
	if c := s.server; c.HTTP.MaxOutbound != 64<<10 || c.HTTP.Limits.MaxBodyBytes != 2e6 || c.Comet.PullWaitMin != 0 || c.Comet.PullWaitMax != 1500 {
		t.Errorf("max-outbound %d, max-body-bytes %d, pull-wait %d..%d ms; want 64KiB, 2MB, 0..1500",
			c.HTTP.MaxOutbound, c.HTTP.Limits.MaxBodyBytes, c.Comet.PullWaitMin, c.Comet.PullWaitMax)
	}
}

// TestFlagFields: every flag that sets a field of the server's
// configuration is found by that field's path, the path the layers' errors
// name it by; so is each field -lobby-shown sets.
func TestFlagFields(t *testing.T) {
	s := &settings{fromEnv: map[string]string{}}
	s.fs = newFlagSet(s)
	flags := s.flagFields()
	for path, want := range map[string]string{
		"HTTP.MaxConnsPerAddr":     "max-conns-per-addr",
		"HTTP.TrustedProxies":      "trusted-proxies",
		"HTTP.Limits.MaxHeadBytes": "max-head-bytes",
		"HTTP.Addr":                "addr",
		"Comet.Heartbeat":          "heartbeat",
		"Comet.PollWaitMax":        "poll-wait-max",
		"Comet.AllowedOrigins":     "allowed-origins",
		"Comet.DefaultFormat":      "default-format",
		"Rooms.MailboxSize":        "mailbox-size",
		"Lobby.ChatRate":           "chat-rate",
		"Lobby.PresenceShown":      "lobby-shown",
		"Lobby.RoomsShown":         "lobby-shown",
		"Admin.Token":              "admin-token",
		"MetricsAuth":              "metrics-auth",
		"ReconnectWindow":          "reconnect-window",
		"ClockDemo.Lifetime":       "demo-clock-lifetime",
	} {
		if got := flags[path]; got != want {
			t.Errorf("flag of %s = %q; want %q", path, got, want)
		}
	}
	// Every flag's Value points at a field its path names, whatever its
	// type, but for the settings of the command itself.
	mapped := map[string]bool{}
	for _, name := range flags {
		mapped[name] = true
	}
	own := map[string]bool{"profile": true, "gc-percent": true, "memory-limit": true, "log-format": true, "log-level": true,
		"node": true, "cluster-listen": true, "cluster-routes": true, "nats": true, "cluster-games": true,
		"store-dir": true, "cluster-replicas": true, "cluster-turn-log": true}
	s.fs.VisitAll(func(f *flag.Flag) {
		if mapped[f.Name] == own[f.Name] {
			t.Errorf("-%s: mapped to a field %v; want %v", f.Name, mapped[f.Name], !own[f.Name])
		}
	})
}

// TestPrintUsage: -h lists each flag with the kind of value it takes, its
// variable and its default.
func TestPrintUsage(t *testing.T) {
	s, err := parseSettings([]string{"-h"}, env())
	if !errors.Is(err, flag.ErrHelp) {
		t.Fatalf("parseSettings(-h) = %v; want flag.ErrHelp", err)
	}
	var buf bytes.Buffer
	s.printUsage(&buf)
	for _, want := range []string{
		"  -heartbeat duration  [$COMETPLAY_HEARTBEAT]\n", "(default 20s)",
		"  -max-outbound size  [$COMETPLAY_MAX_OUTBOUND]\n", "(default 1MiB)",
		"  -metrics  [$COMETPLAY_METRICS]\n", "  -lobby-shown int  [$COMETPLAY_LOBBY_SHOWN]\n",
		"  -pull-wait-min duration  [$COMETPLAY_PULL_WAIT_MIN]\n", "(default 2s)",
		"  -allowed-origins list", "  -default-format format", "  -log-level level", "  -addr string",
	} {
		if !strings.Contains(buf.String(), want) {
			t.Errorf("usage lacks %q:\n%s", want, buf.String())
		}
	}
}

// TestSettingsLogAttrs: the start-up line lists every flag, with the admin
// token only as set or unset.
func TestSettingsLogAttrs(t *testing.T) {
	const secret = "a-very-secret-admin-token"
	s, err := parseSettings([]string{"-max-conns=7"}, env("COMETPLAY_ADMIN_TOKEN", secret))
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	slog.New(slog.NewTextHandler(&buf, nil)).Info("configuration", s.logAttrs()...)
	line := buf.String()
	for _, want := range []string{"admin-token=set", "max-conns=7", "heartbeat=20s", "max-outbound=1MiB", "from_env=COMETPLAY_ADMIN_TOKEN"} {
		if !strings.Contains(line, want) {
			t.Errorf("start-up line lacks %s: %s", want, line)
		}
	}
	if strings.Contains(line, secret) {
		t.Fatalf("the token is in the log: %s", line)
	}
	n := 0
	s.fs.VisitAll(func(*flag.Flag) { n++ })
	if got := strings.Count(line, "="); got < n {
		t.Errorf("%d values for %d flags", got, n)
	}
}

// runMain starts this package's main in a child process with args and
// environment variables kv.
func runMain(t *testing.T, args string, kv ...string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "TICTACTOE_RUN_MAIN=1", "TICTACTOE_ARGS="+args)
	for i := 0; i+1 < len(kv); i += 2 {
		cmd.Env = append(cmd.Env, kv[i]+"="+kv[i+1])
	}
	return cmd
}

// TestBinaryBadFlag: the command refuses a bad flag or variable with exit
// status 2 and a message naming it, before it starts anything.
func TestBinaryBadFlag(t *testing.T) {
	for _, tc := range []struct {
		args string
		env  []string
		want string
	}{
		{"-addr 127.0.0.1:0 -heartbeat=-1s", nil, "-heartbeat: must be positive, got -1s"},
		{"-addr 127.0.0.1:0", []string{"COMETPLAY_MAX_CONNS", "many"}, `-max-conns (from COMETPLAY_MAX_CONNS): invalid value "many": want a whole number`},
	} {
		cmd := runMain(t, tc.args, tc.env...)
		var stderr, stdout bytes.Buffer
		cmd.Stderr, cmd.Stdout = &stderr, &stdout
		err := cmd.Run()
		var ee *exec.ExitError
		if !errors.As(err, &ee) || ee.ExitCode() != 2 {
			t.Fatalf("%s: %v; want exit status 2 (stderr %q)", tc.args, err, stderr.String())
		}
		if !strings.Contains(stderr.String(), tc.want) || strings.Contains(stdout.String(), "running") {
			t.Fatalf("%s: stderr %q stdout %q; want %q and no server", tc.args, stderr.String(), stdout.String(), tc.want)
		}
	}
}

// startMain starts the command with runMain's arguments and waits for its
// start line: it returns the command, the base URL it serves ("http://host:port")
// and its stderr. The test's cleanup kills it.
func startMain(t *testing.T, args string, kv ...string) (*exec.Cmd, string, *bytes.Buffer) {
	t.Helper()
	cmd := runMain(t, args, kv...)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	stderr := new(bytes.Buffer)
	cmd.Stderr = stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill() })
	lines := make(chan string, 4)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	var base string
	select {
	case l := <-lines:
		if _, err := fmt.Sscanf(l, "cometplay is running: open %s", &base); err != nil {
			t.Fatalf("first line %q; stderr %q", l, stderr.String())
		}
	case <-time.After(20 * time.Second):
		t.Fatalf("no start line; stderr %q", stderr.String())
	}
	return cmd, strings.TrimSuffix(base, "/"), stderr
}

// TestBinaryRefusesHeldAddress: a second server started on the address of a
// running one (or of any other listener) exits with status 1 and a message
// naming the address, instead of sharing the port with it (the kernel would
// split the players between the two); the first keeps serving.
func TestBinaryRefusesHeldAddress(t *testing.T) {
	_, base, _ := startMain(t, "-addr 127.0.0.1:0")
	first := strings.TrimPrefix(base, "http://")
	plain, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer plain.Close()
	for _, addr := range []string{first, plain.Addr().String()} {
		cmd := runMain(t, "-addr "+addr)
		var stderr, stdout bytes.Buffer
		cmd.Stderr, cmd.Stdout = &stderr, &stdout
		done := make(chan error, 1)
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		go func() { done <- cmd.Wait() }()
		select {
		case err = <-done:
		case <-time.After(20 * time.Second):
			cmd.Process.Kill()
			<-done
			t.Fatalf("second server on %s still running after 20 s; stdout %q", addr, stdout.String())
		}
		var ee *exec.ExitError
		if !errors.As(err, &ee) || ee.ExitCode() != 1 {
			t.Fatalf("second server on %s: %v; want exit status 1 (stdout %q, stderr %q)", addr, err, stdout.String(), stderr.String())
		}
		if msg := stderr.String(); !strings.Contains(msg, addr) || !strings.Contains(msg, "address already in use") || strings.Contains(stdout.String(), "running") {
			t.Fatalf("second server on %s: stderr %q, stdout %q; want a message naming the address and no start line", addr, msg, stdout.String())
		}
	}
	resp, err := http.Get(base + "/")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("the first server answers GET / with %d", resp.StatusCode)
	}
}

// TestBinaryRuns: the command starts with settings from flags and the
// environment, logs them as one JSON line without the token, serves the
// site, /metrics and (with the token) the console, and exits 0 on SIGTERM.
func TestBinaryRuns(t *testing.T) {
	const token = "binary-test-admin-token"
	cmd, base, stderr := startMain(t, "-addr 127.0.0.1:0 -log-format json -shutdown-timeout 3s -gc-percent 300", "COMETPLAY_ADMIN_TOKEN", token, "COMETPLAY_WINDOW", "128",
		"COMETPLAY_MEMORY_LIMIT", "2GiB")
	for path, want := range map[string]int{"/": 200, "/metrics": 200, "/admin/": 401, "/debug/pprof/": 401} {
		resp, err := http.Get(base + path)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != want {
			t.Errorf("GET %s: %d; want %d", path, resp.StatusCode, want)
		}
	}
	// The garbage collector's settings reached the runtime (the Go
	// collector's metrics report them).
	resp, err := http.Get(base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	metrics, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, want := range []string{"\ngo_gc_gogc_percent 300\n", "\ngo_gc_gomemlimit_bytes 2.147483648e+09\n"} {
		if !strings.Contains(string(metrics), want) {
			t.Errorf("/metrics lacks %q", strings.TrimSpace(want))
		}
	}
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("exit after SIGTERM: %v; stderr %s", err, stderr.String())
		}
	case <-time.After(20 * time.Second):
		t.Fatal("still running 20 s after SIGTERM")
	}
	var cfg map[string]any
	for l := range strings.SplitSeq(stderr.String(), "\n") {
		var rec map[string]any
		if json.Unmarshal([]byte(l), &rec) == nil && rec["msg"] == "configuration" {
			cfg = rec
		}
	}
	if cfg == nil || cfg["level"] != "INFO" || cfg["admin-token"] != "set" || cfg["window"] != "128" || cfg["addr"] != "127.0.0.1:0" {
		t.Fatalf("configuration line %v in %s", cfg, stderr.String())
	}
	if strings.Contains(stderr.String(), token) {
		t.Fatal("the admin token is in the log")
	}
}

// TestLoggerLimitsWarnings: the command's logger, which the engine, the
// rooms and the lobby all log through, lets a warning through -log-limit
// times and drops the rest; info lines are not limited.
func TestLoggerLimitsWarnings(t *testing.T) {
	s, err := parseSettings([]string{"-log-limit=2", "-log-format=json"}, env())
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	log := s.newLogger(&buf)
	for range 5 {
		log.Warn("rooms: something a client caused")
		log.With("part", "lobby").Warn("rooms: something a client caused")
		log.Info("ordinary")
	}
	if w, i := strings.Count(buf.String(), "something a client caused"), strings.Count(buf.String(), "ordinary"); w != 2 || i != 5 {
		t.Errorf("%d warnings and %d info lines logged; want 2 and 5:\n%s", w, i, buf.String())
	}
}

// The cluster flags: a tag is checked, and the others need -node.
func TestClusterFlags(t *testing.T) {
	for _, c := range []struct {
		args []string
		want string // "" for valid
	}{
		{[]string{"-node", "n1", "-cluster-routes", "127.0.0.1:6223"}, ""},
		{[]string{"-node", "n1", "-nats", "nats://127.0.0.1:4222"}, ""},
		{[]string{"-node", "n!"}, "-node"},
		{[]string{"-node", "abc"}, "-node"},
		{[]string{"-node", "n1", "-cluster-games", "x"}, "-cluster-games"},
		{[]string{"-cluster-routes", "127.0.0.1:6223"}, "-cluster-routes: needs -node"},
		{[]string{"-nats", "nats://h:4222"}, "-nats: needs -node"},
		{[]string{"-node", "n1", "-store-dir", "/tmp/x", "-cluster-replicas", "3"}, ""},
		{[]string{"-store-dir", "/tmp/x"}, "-store-dir: needs -node"},
		{[]string{"-cluster-replicas", "3"}, "-cluster-replicas: needs -node"},
		{[]string{"-node", "n1", "-cluster-replicas", "9"}, "-cluster-replicas"},
		{[]string{"-node", "n1", "-nats", "nats://h:4222", "-store-dir", "/tmp/x"}, "-store-dir"},
	} {
		_, err := parseSettings(c.args, env())
		switch {
		case c.want == "" && err != nil:
			t.Errorf("%v: %v", c.args, err)
		case c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want)):
			t.Errorf("%v: error %v, want one naming %q", c.args, err, c.want)
		}
	}
}
