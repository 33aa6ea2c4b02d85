package engine

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// scrape fetches /metrics and parses it with Prometheus's own text parser.
type scraped map[string]*dto.MetricFamily

func scrape(t *testing.T, base string) scraped {
	t.Helper()
	resp, err := http.Get(base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/plain; version=0.0.4") {
		t.Fatalf("/metrics: %s, Content-Type %q", resp.Status, resp.Header.Get("Content-Type"))
	}
	p := expfmt.NewTextParser(model.LegacyValidation)
	fams, err := p.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatalf("parsing /metrics: %v", err)
	}
	return fams
}

// value returns the value of the sample of family name whose labels
// include every name=value pair of kv (the sum over the samples that do),
// and whether there was one.
func (s scraped) value(name string, kv ...string) (float64, bool) {
	f := s[name]
	if f == nil {
		return 0, false
	}
	sum, found := 0.0, false
	for _, m := range f.Metric {
		if !hasLabels(m, kv) {
			continue
		}
		found = true
		switch {
		case m.Counter != nil:
			sum += m.Counter.GetValue()
		case m.Gauge != nil:
			sum += m.Gauge.GetValue()
		case m.Histogram != nil:
			sum += float64(m.Histogram.GetSampleCount())
		case m.Untyped != nil:
			sum += m.Untyped.GetValue()
		}
	}
	return sum, found
}

func hasLabels(m *dto.Metric, kv []string) bool {
	for i := 0; i+1 < len(kv); i += 2 {
		ok := false
		for _, l := range m.Label {
			if l.GetName() == kv[i] && l.GetValue() == kv[i+1] {
				ok = true
			}
		}
		if !ok {
			return false
		}
	}
	return true
}

func (s scraped) get(t *testing.T, name string, kv ...string) float64 {
	t.Helper()
	v, ok := s.value(name, kv...)
	if !ok {
		t.Fatalf("no sample %s%v", name, kv)
	}
	return v
}

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

	before := scrape(t, gs.base)
	if v := before.get(t, "cometplay_games_started_total", "game", "nim"); v != 0 {
		t.Fatalf("games started before any game = %v", v)
	}
	if _, ok := before.value("go_goroutines"); !ok {
		t.Fatal("no go_goroutines: the Go collector is missing")
	}
	if _, ok := before.value("process_cpu_seconds_total"); !ok {
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
	mid := scrape(t, gs.base)
	if v := mid.get(t, "cometplay_rooms", "state", "playing"); v != 1 {
		t.Errorf("rooms playing mid-game = %v; want 1", v)
	}
	if v := mid.get(t, "cometplay_comet_sessions", "mode", "stream", "format", "json"); v != 2 {
		t.Errorf("json stream sessions = %v; want 2", v)
	}
	if v := mid.get(t, "cometplay_comet_listeners", "mode", "stream"); v < 2 {
		t.Errorf("stream listeners = %v; want at least 2", v)
	}
	if v := mid.get(t, "cometplay_lobby_players_online"); v != 2 {
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

	after := scrape(t, gs.base)
	delta := func(name string, kv ...string) float64 {
		b, _ := before.value(name, kv...)
		return after.get(t, name, kv...) - b
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
	if v := after.get(t, "cometplay_rooms", "state", "finished"); v != 1 {
		t.Errorf("rooms finished = %v; want 1", v)
	}
	if v := after.get(t, "cometplay_rooms_mailbox_items"); v != 0 {
		t.Errorf("mailbox items after the game = %v; want 0", v)
	}

	// A session that leaves is counted by reason, and leaves the gauges.
	if err := ann.c.Leave(context.Background()); err != nil {
		t.Fatal(err)
	}
	final := scrape(t, gs.base)
	if d := final.get(t, "cometplay_comet_sessions_ended_total", "reason", "leave"); d != 1 {
		t.Errorf("sessions ended by leave = %v; want 1", d)
	}
	if v := final.get(t, "cometplay_comet_sessions", "mode", "stream", "format", "json"); v != 1 {
		t.Errorf("json stream sessions after a leave = %v; want 1", v)
	}
	checkConventions(t, final, gs.srv)
}

func eq(w float64) func(float64) bool      { return func(v float64) bool { return v == w } }
func atLeast(w float64) func(float64) bool { return func(v float64) bool { return v >= w } }

// checkConventions checks the engine's families against Prometheus's
// naming rules and the bounded label sets.
func checkConventions(t *testing.T, s scraped, srv *Server) {
	t.Helper()
	routes := []string{"static", "notfound", "unrouted"}
	for _, rc := range *srv.routeStats.table.Load() {
		routes = append(routes, rc.label)
	}
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

// TestMetricsRoutesAndStatuses: requests are counted by route label and
// status: a registered pattern, the static site, no route at all, and a
// request refused before routing.
func TestMetricsRoutesAndStatuses(t *testing.T) {
	s := adStart(t, Config{}, func(s *Server) {
		s.Handle("GET", "/hello", func(w *Stream, _ *Request) { w.Respond(200, "", nil) })
		s.HandleHTTP("/metrics", NewMetrics(s, nil).Handler())
	})
	c := adDial(t, s)
	c.send("GET /hello HTTP/1.1\r\nHost: t\r\n\r\nPOST /hello HTTP/1.1\r\nHost: t\r\nContent-Length: 0\r\n\r\nGET /nowhere HTTP/1.1\r\nHost: t\r\n\r\n")
	for _, want := range []int{200, 405, 404} {
		if resp, _, err := c.response("GET"); err != nil || resp.StatusCode != want {
			t.Fatalf("got %v %v; want %d", resp.Status, err, want)
		}
	}
	bad := adDial(t, s)
	bad.send("GET / HTTP/1.1\r\n\r\n") // no Host: refused by the parser
	if resp, _, _ := bad.response("GET"); resp.StatusCode != 400 {
		t.Fatalf("no Host: %s", resp.Status)
	}
	m := scrape(t, "http://"+s.Addr())
	for _, c := range [][]string{
		{"route", "/hello", "code", "200"},
		{"route", "/hello", "code", "405"},
		{"route", "notfound", "code", "404"},
		{"route", "unrouted", "code", "400"},
	} {
		if v := m.get(t, "cometplay_http_requests_total", c...); v != 1 {
			t.Errorf("requests %v = %v; want 1", c, v)
		}
	}
	if v := m.get(t, "cometplay_http_bad_requests_total"); v != 1 {
		t.Errorf("bad requests = %v; want 1", v)
	}
	if _, ok := m.value("cometplay_comet_sessions"); ok {
		t.Error("hub metrics without a hub")
	}
}
