package games

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/cometplay/cometplay/engine"
	"github.com/cometplay/cometplay/internal/testkit"

	dto "github.com/prometheus/client_model/go"
)

// TestMetricsWhileAGameIsPlayed scrapes /metrics, plays a game of Nim over
// loopback with two Go clients (lobby quick-play, a refused move, the game
// to its end), scrapes again, and checks that the figures moved as the game
// did.
func TestMetricsWhileAGameIsPlayed(t *testing.T) {
	gs := newGamesServer(t, 30*time.Second)
	m := NewMetrics(gs.srv, gs.hub)
	m.AddRooms(gs.m)
	m.AddLobby(gs.lb)
	gs.srv.HandleHTTP("/metrics", m.Handler())

	before := testkit.Scrape(t, gs.base)
	if v := before.Get(t, "cometplay_games_started_total", "game", "nim"); v != 0 {
		t.Fatalf("games started before any game = %v", v)
	}
	if _, ok := before.Value("go_goroutines"); !ok {
		t.Fatal("no go_goroutines: the Go collector is missing")
	}
	if _, ok := before.Value("process_cpu_seconds_total"); !ok {
		t.Fatal("no process_cpu_seconds_total: the process collector is missing")
	}

	ann, bob := gs.newPlayer("Ann"), gs.newPlayer("Bob")
	for _, p := range []*player{ann, bob} {
		if err := p.lobby("action", "quickplay", "game", "nim"); err != nil {
			t.Fatal(err)
		}
	}
	ann.joined()
	bob.joined()
	players := []*player{ann, bob}
	cur := 0
	if ann.wait("/room/", "turn").m()["player"].(map[string]any)["id"] == bob.id {
		cur = 1
	}
	bob.wait("/room/", "turn")
	// The player whose turn it is not tries to move: refused.
	other := players[1-cur]
	if err := other.move(1, "too-early"); err != nil {
		t.Fatal(err)
	}
	other.wait("/room/", "error")
	other.seq--
	mid := testkit.Scrape(t, gs.base)
	if v := mid.Get(t, "cometplay_rooms", "state", "playing"); v != 1 {
		t.Errorf("rooms playing mid-game = %v; want 1", v)
	}
	if v := mid.Get(t, "cometplay_comet_sessions", "mode", "stream", "format", "json"); v != 2 {
		t.Errorf("json stream sessions = %v; want 2", v)
	}
	if v := mid.Get(t, "cometplay_comet_listeners", "mode", "stream"); v < 2 {
		t.Errorf("stream listeners = %v; want at least 2", v)
	}
	if v := mid.Get(t, "cometplay_lobby_players_online"); v != 2 {
		t.Errorf("players online = %v; want 2", v)
	}
	moves := 0
	for heap := 15; heap > 0; moves++ {
		n := min(3, heap)
		p := players[cur]
		if err := p.move(n, fmt.Sprintf("m%d", heap)); err != nil {
			t.Fatal(err)
		}
		p.wait("/room/", "ack")
		heap -= n
		cur = 1 - cur
	}
	ann.wait("/room/", "finished")
	bob.wait("/room/", "finished")

	after := testkit.Scrape(t, gs.base)
	delta := func(name string, kv ...string) float64 {
		b, _ := before.Value(name, kv...)
		return after.Get(t, name, kv...) - b
	}
	for _, c := range []struct {
		name string
		kv   []string
		want func(float64) bool
		what string
	}{
		{"cometplay_games_started_total", []string{"game", "nim"}, eq(1), "1"},
		{"cometplay_games_finished_total", []string{"game", "nim"}, eq(1), "1"},
		{"cometplay_moves_total", nil, eq(float64(moves)), fmt.Sprint(moves)},
		{"cometplay_moves_rejected_total", []string{"reason", "not_your_turn"}, eq(1), "1"},
		{"cometplay_rooms_created_total", nil, eq(1), "1"},
		{"cometplay_comet_sessions_started_total", nil, eq(2), "2"},
		{"cometplay_connections_accepted_total", nil, atLeast(2), ">= 2"},
		{"cometplay_http_requests_total", []string{"route", "/comet", "code", "200"}, atLeast(2 * float64(moves)), ">= 2 per move (publish and listen)"},
		{"cometplay_http_requests_total", []string{"route", "/metrics", "code", "200"}, eq(2), "2 (the scrapes before)"},
		{"cometplay_http_received_bytes_total", nil, atLeast(1000), ">= 1000"},
		{"cometplay_http_sent_bytes_total", nil, atLeast(1000), ">= 1000"},
		{"cometplay_comet_events_published_total", nil, atLeast(float64(moves)), ">= moves"},
		{"cometplay_comet_events_delivered_total", nil, atLeast(2 * float64(moves)), ">= 2 per move"},
		{"cometplay_comet_heartbeats_total", nil, atLeast(2), ">= 2 (one per stream opened)"},
		{"cometplay_comet_fanout_duration_seconds", nil, atLeast(float64(moves)), ">= moves observations"},
		{"cometplay_http_handler_duration_seconds", []string{"route", "/metrics"}, eq(2), "2 observations"},
	} {
		if d := delta(c.name, c.kv...); !c.want(d) {
			t.Errorf("%s%v moved by %v; want %s", c.name, c.kv, d, c.what)
		}
	}
	if v := after.Get(t, "cometplay_rooms", "state", "finished"); v != 1 {
		t.Errorf("rooms finished = %v; want 1", v)
	}
	if v := after.Get(t, "cometplay_rooms_mailbox_items"); v != 0 {
		t.Errorf("mailbox items after the game = %v; want 0", v)
	}

	// A session that leaves is counted by reason, and leaves the gauges.
	if err := ann.c.Leave(context.Background()); err != nil {
		t.Fatal(err)
	}
	final := testkit.Scrape(t, gs.base)
	if d := final.Get(t, "cometplay_comet_sessions_ended_total", "reason", "leave"); d != 1 {
		t.Errorf("sessions ended by leave = %v; want 1", d)
	}
	if v := final.Get(t, "cometplay_comet_sessions", "mode", "stream", "format", "json"); v != 1 {
		t.Errorf("json stream sessions after a leave = %v; want 1", v)
	}
	checkConventions(t, final, gs.srv)
}

func eq(w float64) func(float64) bool      { return func(v float64) bool { return v == w } }
func atLeast(w float64) func(float64) bool { return func(v float64) bool { return v >= w } }

// checkConventions checks the engine's families against Prometheus's
// naming rules and the bounded label sets.
func checkConventions(t *testing.T, s testkit.Scraped, srv *engine.Server) {
	t.Helper()
	routes := srv.RouteLabels()
	n := 0
	for name, f := range s {
		if !strings.HasPrefix(name, "cometplay_") {
			continue
		}
		n++
		isCounter := f.GetType() == dto.MetricType_COUNTER
		if isCounter != strings.HasSuffix(name, "_total") {
			t.Errorf("%s: type %v; counters, and only they, end in _total", name, f.GetType())
		}
		if strings.Contains(name, "bytes") && !strings.HasSuffix(name, "_bytes") && !strings.HasSuffix(name, "_bytes_total") {
			t.Errorf("%s: a size must be in _bytes", name)
		}
		if strings.Contains(name, "duration") && !strings.HasSuffix(name, "_seconds") {
			t.Errorf("%s: a duration must be in _seconds", name)
		}
		if f.GetHelp() == "" {
			t.Errorf("%s: no help", name)
		}
		for _, m := range f.Metric {
			for _, l := range m.Label {
				switch l.GetName() {
				case "route":
					if !slices.Contains(routes, l.GetValue()) {
						t.Errorf("%s: route %q is not a registered pattern", name, l.GetValue())
					}
				case "code", "mode", "format", "state", "game", "reason":
				default:
					t.Errorf("%s: unexpected label %q", name, l.GetName())
				}
			}
		}
	}
	if n < 30 {
		t.Errorf("only %d cometplay_ families", n)
	}
}
