package games

import (
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/cometplay/cometplay/comet"
	"github.com/cometplay/cometplay/engine"
	"github.com/cometplay/cometplay/httpcodec"
	"github.com/cometplay/cometplay/internal/testkit"
	"github.com/cometplay/cometplay/lobby"
	"github.com/cometplay/cometplay/rooms"
	"github.com/cometplay/cometplay/rooms/example/nim"
)

// TestConfigValidate: games.Config reports every layer's problems at once,
// each under its path in Config, with what only the combination tells.
func TestConfigValidate(t *testing.T) {
	c := Config{
		HTTP:        engine.Config{MaxConnsPerAddr: -2, Limits: httpcodec.Limits{MaxHeadBytes: 1024}},
		Comet:       comet.Config{Heartbeat: time.Hour},
		Rooms:       rooms.ManagerOptions{MailboxSize: -1, TopicPrefix: "/games/"},
		Lobby:       lobby.Options{ChatRate: -1},
		Admin:       AdminConfig{Token: "short", Interval: time.Millisecond},
		MetricsAuth: true,
	}
	got := testkit.ConfigProblems(t, c.Validate())
	for field, want := range map[string]string{
		"HTTP.MaxConnsPerAddr":     "must be positive, or -1 for no cap, got -2",
		"HTTP.Limits.MaxHeadBytes": "must be at least Limits.MaxRequestLine",
		"Comet.Heartbeat":          "must be shorter than SessionTimeout (5m0s), got 1h0m0s",
		"Rooms.MailboxSize":        "must be positive, got -1",
		"Rooms.TopicPrefix":        `must be "/room/" (or empty), got "/games/"`,
		"Lobby.ChatRate":           "must be positive, got -1",
		"Admin.Token":              "must have at least 16 bytes, got 5",
		"Admin.Interval":           "must be at least 100ms, got 1ms",
		"Admin.Assets":             "the console needs its page",
		"MetricsAuth":              "needs Metrics",
		"Games":                    "no game to run",
	} {
		if ps := got[field]; len(ps) != 1 || !strings.Contains(ps[0], want) {
			t.Errorf("%s: %q; want one problem containing %q", field, ps, want)
		}
		delete(got, field)
	}
	if len(got) != 0 {
		t.Errorf("other problems: %v", got)
	}
	// New reports the same, before building anything.
	if _, err := New(c); err == nil || !strings.Contains(err.Error(), "Rooms.MailboxSize: must be positive, got -1") ||
		!strings.Contains(err.Error(), "\nComet.Heartbeat: ") {
		t.Errorf("New: %v; want every problem, one per line", err)
	}
}

// TestConfigValidateCombinations: the rules about the combination of the
// layers, alone.
func TestConfigValidateCombinations(t *testing.T) {
	games := []rooms.Game{nim.Game}
	site := fstest.MapFS{"admin/index.html": {Data: []byte("admin")}}
	const token = "0123456789abcdef"
	check := testkit.ConfigChecker[Config](t)
	check("valid", Config{Games: games}, "", "")
	check("no lobby: its options are not used", Config{Games: games, NoLobby: true, Lobby: lobby.Options{ChatRate: -1}}, "", "")
	check("metrics behind the token", Config{Games: games, Metrics: true, MetricsAuth: true, Admin: AdminConfig{Token: token}, HTTP: engine.Config{Static: site}}, "", "")
	check("no game", Config{}, "Games", "no game to run")
	check("metrics auth without a token", Config{Games: games, Metrics: true, MetricsAuth: true}, "MetricsAuth", "needs Admin.Token")
	check("metrics auth without metrics", Config{Games: games, MetricsAuth: true, Admin: AdminConfig{Token: token}, HTTP: engine.Config{Static: site}}, "MetricsAuth", "needs Metrics")
	check("console without a page", Config{Games: games, Admin: AdminConfig{Token: token}}, "Admin.Assets", "the console needs its page")
	check("topic prefix", Config{Games: games, Rooms: rooms.ManagerOptions{TopicPrefix: "/x/"}}, "Rooms.TopicPrefix", `must be "/room/"`)
}

// TestAdminConfigValidate: the console's settings; MountAdmin refuses what
// Validate reports.
func TestAdminConfigValidate(t *testing.T) {
	check := testkit.ConfigChecker[AdminConfig](t)
	check("off", AdminConfig{}, "", "")
	check("set", AdminConfig{Token: "0123456789abcdef", Interval: MinAdminInterval, MaxRooms: 5}, "", "")
	check("short token", AdminConfig{Token: "0123456789abcde"}, "Token", "must have at least 16 bytes, got 15")
	check("interval", AdminConfig{Interval: 99 * time.Millisecond}, "Interval", "must be at least 100ms, got 99ms")
	check("negative interval", AdminConfig{Interval: -time.Second}, "Interval", "must be at least 100ms, got -1s")
	check("rooms", AdminConfig{MaxRooms: -1}, "MaxRooms", "must be positive, got -1")
	if err := (AdminConfig{Token: "a-secret"}).Validate(); err == nil || strings.Contains(err.Error(), "a-secret") {
		t.Errorf("a short token's error %v: want one without the token", err)
	}
}
