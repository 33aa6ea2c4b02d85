//go:build !race

package games

import (
	"log/slog"
	"testing"

	"github.com/cometplay/cometplay/comet"
	"github.com/cometplay/cometplay/engine"
	"github.com/cometplay/cometplay/rooms"
)

// The race detector's instrumentation allocates, hence the build tag; make
// test runs these in a pass without it.

// TestBridgeEventsAllocateNothing: a room's event reaches the hub through
// the bridge without a copy of its data (rooms.Event's Data is never
// changed once passed), and the hub holds it without an allocation of its
// own: a room's every move costs the server nothing here.
func TestBridgeEventsAllocateNothing(t *testing.T) {
	srv, err := engine.New(engine.Config{Addr: "127.0.0.1:0", Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Shutdown(t.Context()) })
	hub, err := comet.NewHub(srv, comet.Config{MaxSessionsPerAddr: -1})
	if err != nil {
		t.Fatal(err)
	}
	b := NewBridge(hub)
	var ids []string
	for range 2 { // a room's two players
		s, err := hub.Join(comet.FormatJSON)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.Subscribe("/room/r1", ""); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, s.ID())
	}
	ev := rooms.Event{Topic: "/room/r1", Type: "move", Data: []byte(`{"player":"p1","cell":4}`)}
	ack := rooms.Event{Topic: "/room/r1", Type: "ack", Data: []byte(`{"move":"m1","seq":3}`)}
	for range 1000 { // the sessions' histories at their size, the store's slabs in use
		b.Publish(ev.Topic, ev)
		b.Send(ids[0], ack)
	}
	for _, tc := range []struct {
		name string
		f    func()
	}{
		{"Publish", func() { b.Publish(ev.Topic, ev) }},
		{"Send", func() { b.Send(ids[0], ack) }},
	} {
		if got := testing.AllocsPerRun(500, tc.f); got != 0 {
			t.Errorf("Bridge.%s: %.1f allocations; want none", tc.name, got)
		}
	}
}
