package engine

// Helpers of the HTTP-layer tests (http_*_test.go). Every test talks to a
// real server over loopback sockets; where framing matters it writes raw
// bytes with net.Dial and parses the answer with net/http's ReadResponse,
// an independent parser, so that a framing mistake of ours cannot hide
// behind a matching mistake in a client of ours.

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/cometplay/cometplay/internal/testkit"
)

// hStart starts a server on 127.0.0.1:0 with cfg (Addr and Logger filled in,
// two loops unless set) after running setup on it, and shuts it down in
// t.Cleanup. Clients dialled later with hDial are closed before it.
func hStart(t testing.TB, cfg Config, setup func(*Server)) *Server {
	t.Helper()
	cfg.Addr = "127.0.0.1:0"
	if cfg.Logger == nil {
		cfg.Logger = testkit.Logger()
	}
	if cfg.Loops == 0 {
		cfg.Loops = 2
	}
	s, err := New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	if setup != nil {
		setup(s)
	}
	if err := s.Start(); err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := s.Shutdown(ctx); err != nil {
			t.Errorf("Shutdown: %v", err)
		}
	})
	return s
}

// hText is a handler answering 200 with body.
func hText(body string) Handler {
	return func(w *Stream, _ *Request) {
		w.Respond(http.StatusOK, "text/plain; charset=utf-8", []byte(body))
	}
}
