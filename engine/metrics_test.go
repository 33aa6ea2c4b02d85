package engine

import (
	"math"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"

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

// The handler-duration histogram: a tally puts each duration in the first
// bucket whose bound it does not pass, switching histograms flushes the
// previous one, and the metric is cumulative with the count and sum.
func TestHandlerTally(t *testing.T) {
	var a, b handlerHist
	var tally handlerTally
	for _, d := range []time.Duration{50 * time.Microsecond, 100 * time.Microsecond, 3 * time.Millisecond, 2 * time.Minute} {
		tally.add(&a, d)
	}
	if a.count.Load() != 0 {
		t.Fatal("a tally reached its histogram before flushing")
	}
	tally.add(&b, time.Millisecond) // another route: a is flushed
	tally.add(nil, time.Second)     // a route without a histogram: b is flushed
	tally.flush()
	if n := a.count.Load(); n != 4 {
		t.Fatalf("a: %d observations, want 4", n)
	}
	if n := b.count.Load(); n != 1 || b.counts[3].Load() != 1 {
		t.Fatalf("b: %d observations, bucket ≤1ms %d", n, b.counts[3].Load())
	}
	var m dto.Metric
	if err := a.metric("/x").Write(&m); err != nil {
		t.Fatal(err)
	}
	h := m.GetHistogram()
	if h.GetSampleCount() != 4 || math.Abs(h.GetSampleSum()-(120.00315)) > 1e-9 {
		t.Errorf("count %d sum %v", h.GetSampleCount(), h.GetSampleSum())
	}
	want := map[float64]uint64{0.0001: 2, 0.0025: 2, 0.005: 3, 60: 3} // 2 minutes is past every bound
	for _, bk := range h.GetBucket() {
		if w, ok := want[bk.GetUpperBound()]; ok && bk.GetCumulativeCount() != w {
			t.Errorf("bucket ≤%v: %d, want %d", bk.GetUpperBound(), bk.GetCumulativeCount(), w)
		}
	}
	if len(h.GetBucket()) != len(handlerBounds) {
		t.Errorf("%d buckets, want %d", len(h.GetBucket()), len(handlerBounds))
	}
}
