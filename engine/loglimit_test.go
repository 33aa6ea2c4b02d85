package engine

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"testing"
	"testing/fstest"
	"time"
)

// captureHandler keeps the records it handles.
type captureHandler struct {
	mu   sync.Mutex
	recs []string // "LEVEL message k=v…"
}

func (c *captureHandler) Enabled(context.Context, slog.Level) bool { return true }

func (c *captureHandler) Handle(_ context.Context, r slog.Record) error {
	s := r.Level.String() + " " + r.Message
	r.Attrs(func(a slog.Attr) bool {
		s += " " + a.String()
		return true
	})
	c.mu.Lock()
	c.recs = append(c.recs, s)
	c.mu.Unlock()
	return nil
}

func (c *captureHandler) WithAttrs([]slog.Attr) slog.Handler { return c }
func (c *captureHandler) WithGroup(string) slog.Handler      { return c }

func (c *captureHandler) lines() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]string(nil), c.recs...)
}

// TestLimitLogs: records at Warn and above pass at most perMinute times a
// minute per message, the first one after a pause says how many were
// dropped; other levels and other messages are not affected; messages past
// maxLogMessages share one allowance.
func TestLimitLogs(t *testing.T) {
	var c captureHandler
	h := LimitLogs(&c, 3)
	if LimitLogs(h, 5) != h {
		t.Fatal("LimitLogs wrapped a limited handler again")
	}
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	log := func(at time.Duration, level slog.Level, msg string) {
		h.Handle(context.Background(), slog.NewRecord(t0.Add(at), level, msg, 0))
	}
	for i := range 10 {
		log(time.Duration(i)*time.Millisecond, slog.LevelWarn, "flood")
		log(time.Duration(i)*time.Millisecond, slog.LevelInfo, "info")
	}
	log(0, slog.LevelError, "other")
	log(21*time.Second, slog.LevelWarn, "flood") // a token back (one each 20 s): passes, 7 dropped before it
	log(22*time.Second, slog.LevelWarn, "flood") // dropped
	log(2*time.Minute, slog.LevelWarn, "flood")  // passes, 1 dropped before it
	var want []string
	for range 3 {
		want = append(want, "WARN flood", "INFO info")
	}
	for range 7 {
		want = append(want, "INFO info")
	}
	want = append(want, "ERROR other", "WARN flood suppressed=7", "WARN flood suppressed=1")
	if got := c.lines(); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("records:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}

	var o captureHandler
	h = LimitLogs(&o, 1)
	for i := range maxLogMessages + 10 {
		h.Handle(context.Background(), slog.NewRecord(t0, slog.LevelWarn, fmt.Sprint("m", i), 0))
	}
	if got := len(o.lines()); got != maxLogMessages+1 {
		t.Errorf("%d distinct messages logged %d records; want %d (the rest share one allowance)", maxLogMessages+10, got, maxLogMessages+1)
	}
	if LimitLogs(&o, -1) != slog.Handler(&o) {
		t.Error("LimitLogs(h, -1) is not h")
	}
}

// TestLogFloodWrongAdminToken: a client sending wrong admin tokens, which
// the server logs as a warning, gets at most Config.LogLimit lines in a
// minute however many it sends.
func TestLogFloodWrongAdminToken(t *testing.T) {
	var c captureHandler
	th := newTestHub(t, HubConfig{}, Config{Logger: slog.New(&c)})
	if _, err := MountAdmin(th.srv, th.hub, AdminConfig{Token: testAdminToken, Assets: fstest.MapFS{"index.html": {Data: []byte("admin")}}}); err != nil {
		t.Fatal(err)
	}
	const n = 100
	start := time.Now()
	for range n {
		req, _ := http.NewRequest("GET", th.base+"/debug/pprof/", nil)
		req.Header.Set("Authorization", "Bearer wrong-token-0123456789")
		resp, err := th.hc.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusForbidden {
			t.Fatalf("wrong token: %d", resp.StatusCode)
		}
	}
	refused := 0
	for _, l := range c.lines() {
		if strings.Contains(l, "admin: refused a wrong credential") {
			refused++
		}
	}
	// The burst, and what refilled while the requests were sent.
	most := DefaultLogLimit + int(time.Since(start)*DefaultLogLimit/time.Minute) + 1
	if refused < DefaultLogLimit || refused > most {
		t.Errorf("%d wrong tokens logged %d times; want %d to %d", n, refused, DefaultLogLimit, most)
	}
}
