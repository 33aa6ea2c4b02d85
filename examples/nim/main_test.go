package main

import (
	"bytes"
	"context"
	"log"
	"net/http"
	"os"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cometplay/cometplay/internal/cometclient"
	"github.com/cometplay/cometplay/internal/testkit"
)

// syncBuffer collects the log.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestServeRunsNim: the guide's server starts, says where, welcomes a
// player in its lobby, seats it in a new Nim room, and stops when told.
func TestServeRunsNim(t *testing.T) {
	var logged syncBuffer
	log.SetOutput(&logged)
	t.Cleanup(func() { log.SetOutput(os.Stderr) })
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- serve(ctx, "127.0.0.1:0") }()
	running := regexp.MustCompile(`Nim is running: open http://(127\.0\.0\.1:\d+)/nim\.html`)
	var addr string
	testkit.Eventually(t, "the server to say where it runs", func() bool {
		if m := running.FindStringSubmatch(logged.String()); m != nil {
			addr = m[1]
			return true
		}
		return false
	})
	c, err := cometclient.Join(ctx, "http://"+addr, &http.Client{Timeout: testkit.Timeout})
	if err != nil {
		t.Fatal(err)
	}
	s, err := c.Listen(ctx, false)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := c.Publish(ctx, "/lobby", "action", "hello", "name", "Ann"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Until(testkit.Timeout, func(e cometclient.Event) bool { return e["type"] == "welcome" }); err != nil {
		t.Fatalf("no welcome: %v", err)
	}
	if err := c.Publish(ctx, "/lobby", "action", "create", "game", "nim"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Until(testkit.Timeout, func(e cometclient.Event) bool {
		return strings.HasPrefix(e["p_subject"], "/room/") && e["type"] == "joined"
	}); err != nil {
		t.Fatalf("creating a nim room: %v", err)
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("serve: %v", err)
		}
	case <-time.After(testkit.Timeout):
		t.Fatal("serve did not return once its context was done")
	}
}

// TestGuideShowsTheServer keeps docs/ROOMS.md's server listing identical
// to this program.
func TestGuideShowsTheServer(t *testing.T) {
	src, err := os.ReadFile("main.go")
	if err != nil {
		t.Fatal(err)
	}
	guide, err := os.ReadFile("../../docs/ROOMS.md")
	if err != nil {
		t.Fatal(err)
	}
	const begin, end = "<!-- begin examples/nim/main.go -->\n```go\n", "```\n<!-- end examples/nim/main.go -->"
	_, rest, ok1 := strings.Cut(string(guide), begin)
	listing, _, ok2 := strings.Cut(rest, end)
	if !ok1 || !ok2 {
		t.Fatalf("docs/ROOMS.md has no listing between %q and %q", begin, end)
	}
	if listing != string(src) {
		t.Errorf("docs/ROOMS.md's server listing differs from examples/nim/main.go; paste main.go into it")
	}
}
