package engine

import (
	"context"
	"errors"
	"net"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/cometplay/cometplay/internal/testkit"
)

// startOn starts a server with two loops on addr; it returns Start's error.
func startOn(t *testing.T, addr string) (*Server, error) {
	t.Helper()
	s, err := New(Config{Addr: addr, Loops: 2, Logger: testkit.Logger()})
	if err != nil {
		t.Fatal(err)
	}
	s.Handle("GET", "/x", hText("second"))
	err = s.Start()
	if err == nil {
		t.Cleanup(func() {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			s.Shutdown(ctx)
		})
	}
	return s, err
}

// wantAddrInUse fails the test unless err is a refusal naming addr.
func wantAddrInUse(t *testing.T, err error, addr string) {
	t.Helper()
	if err == nil {
		t.Fatalf("Start on %s, which another server holds: nil error; want EADDRINUSE", addr)
	}
	if !errors.Is(err, syscall.EADDRINUSE) || !strings.Contains(err.Error(), addr) {
		t.Fatalf("Start on %s: %v; want EADDRINUSE naming the address", addr, err)
	}
}

// TestStartRefusesHeldAddress: a server does not start on an address that
// another server (whose listeners set SO_REUSEPORT, which would let a
// second one join them) or a plain listener holds; the first keeps every
// connection. Port 0 keeps picking a free port.
func TestStartRefusesHeldAddress(t *testing.T) {
	first := hStart(t, Config{}, func(s *Server) { s.Handle("GET", "/x", hText("first")) })
	_, err := startOn(t, first.Addr())
	wantAddrInUse(t, err, first.Addr())
	for range 8 { // the kernel would spread these over both servers
		if r := testkit.Get(t, first.Addr(), "/x"); r.Text != "first" {
			t.Fatalf("GET /x on the first server's address: %q; want the first server's answer", r.Text)
		}
	}

	plain, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer plain.Close()
	_, err = startOn(t, plain.Addr().String())
	wantAddrInUse(t, err, plain.Addr().String())

	if s, err := startOn(t, "127.0.0.1:0"); err != nil || s.Addr() == first.Addr() {
		t.Fatalf("Start on port 0: %v, addr %s; want a free port", err, s.Addr())
	}
}
