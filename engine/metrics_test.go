package engine

import (
	"strings"
	"testing"

	"github.com/cometplay/cometplay/internal/testkit"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// TestMetricsRoutesAndStatuses: requests are counted by route label and
// status: a registered pattern, the static site, no route at all, and a
// request refused before routing.
func TestMetricsRoutesAndStatuses(t *testing.T) {
	s := hStart(t, Config{}, func(s *Server) {
		s.Handle("GET", "/hello", func(w *Stream, _ *Request) { w.Respond(200, "", nil) })
		reg := prometheus.NewRegistry()
		reg.MustRegister(s.Collectors()...)
		s.HandleHTTP("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	})
	c := testkit.Dial(t, s.Addr())
	c.Send("GET /hello HTTP/1.1\r\nHost: t\r\n\r\nPOST /hello HTTP/1.1\r\nHost: t\r\nContent-Length: 0\r\n\r\nGET /nowhere HTTP/1.1\r\nHost: t\r\n\r\n")
	for _, want := range []int{200, 405, 404} {
		if resp, err := c.TryNext("GET"); err != nil || resp.StatusCode != want {
			t.Fatalf("got %v %v; want %d", resp.Status, err, want)
		}
	}
	bad := testkit.Dial(t, s.Addr())
	bad.Send("GET / HTTP/1.1\r\n\r\n") // no Host: refused by the parser
	if resp := bad.Next("GET"); resp.StatusCode != 400 {
		t.Fatalf("no Host: %s", resp.Status)
	}
	m := testkit.Scrape(t, "http://"+s.Addr())
	for _, c := range [][]string{
		{"route", "/hello", "code", "200"},
		{"route", "/hello", "code", "405"},
		{"route", "notfound", "code", "404"},
		{"route", "unrouted", "code", "400"},
	} {
		if v := m.Get(t, "cometplay_http_requests_total", c...); v != 1 {
			t.Errorf("requests %v = %v; want 1", c, v)
		}
	}
	if v := m.Get(t, "cometplay_http_bad_requests_total"); v != 1 {
		t.Errorf("bad requests = %v; want 1", v)
	}
	for name := range m {
		if !strings.HasPrefix(name, "cometplay_http_") && !strings.HasPrefix(name, "cometplay_connections_") && !strings.HasPrefix(name, "cometplay_worker") {
			t.Errorf("the HTTP server's collectors export %s, not an HTTP family", name)
		}
	}
}
