package lobby_test

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/cometplay/cometplay/internal/testkit"
	"github.com/cometplay/cometplay/lobby"
	"github.com/cometplay/cometplay/rooms"
	"github.com/cometplay/cometplay/rooms/roomstest"
)

// TestOptionsValidate: every rule of the lobby's settings, with the field
// it names; zero fields are valid.
func TestOptionsValidate(t *testing.T) {
	check := testkit.ConfigChecker[lobby.Options](t)
	check("zero", lobby.Options{}, "", "")
	check("set", lobby.Options{ChatRate: 1, ChatPer: time.Second, QueueSize: 10, QueuePerAddr: 10, PresenceShown: 1, RoomsShown: lobby.MaxShown, Tick: lobby.MinTick}, "", "")
	check("chat length", lobby.Options{ChatMaxLen: -1}, "ChatMaxLen", "must be positive, got -1")
	check("chat rate", lobby.Options{ChatRate: -1}, "ChatRate", "must be positive, got -1")
	check("chat window", lobby.Options{ChatPer: -5 * time.Second}, "ChatPer", "must be positive, got -5s")
	check("lobby chat rate", lobby.Options{ChatLobbyRate: -1}, "ChatLobbyRate", "must be positive, got -1")
	check("auth timeout", lobby.Options{AuthTimeout: -time.Second}, "AuthTimeout", "must be positive, got -1s")
	check("auth workers", lobby.Options{AuthWorkers: -1}, "AuthWorkers", "must be positive, got -1")
	check("auth queue", lobby.Options{AuthQueue: -1}, "AuthQueue", "must be positive, got -1")
	check("away grace", lobby.Options{AwayGrace: -time.Second}, "AwayGrace", "must be positive, got -1s")
	check("queue", lobby.Options{QueueSize: -1}, "QueueSize", "must be positive, got -1")
	check("queue per address", lobby.Options{QueuePerAddr: -1}, "QueuePerAddr", "must not be negative (0: automatic), got -1")
	check("queue per address past the default queue", lobby.Options{QueuePerAddr: 2000}, "QueuePerAddr", "must be at most QueueSize (1024), got 2000")
	check("queue per address past the queue", lobby.Options{QueueSize: 100, QueuePerAddr: 200}, "QueuePerAddr", "must be at most QueueSize (100), got 200")
	check("list rate", lobby.Options{ListRate: -1}, "ListRate", "must be positive, got -1")
	check("list window", lobby.Options{ListPer: -time.Second}, "ListPer", "must be positive, got -1s")
	check("presence shown", lobby.Options{PresenceShown: -1}, "PresenceShown", "must be within 1..1000, got -1")
	check("rooms shown", lobby.Options{RoomsShown: 5000}, "RoomsShown", "must be within 1..1000, got 5000")
	check("chat history", lobby.Options{ChatHistory: lobby.MaxChatHistory + 1}, "ChatHistory", "must be within 1..500, got 501")
	check("negative chat history", lobby.Options{ChatHistory: -1}, "ChatHistory", "must be within 1..500, got -1")
	check("quick-play wait", lobby.Options{QuickplayWait: -time.Minute}, "QuickplayWait", "must be positive, got -1m0s")
	check("tick", lobby.Options{Tick: time.Millisecond}, "Tick", "must be at least 10ms, got 1ms")
	check("negative tick", lobby.Options{Tick: -time.Second}, "Tick", "must be at least 10ms, got -1s")
}

// TestNewInvalidOptions: New, which cannot fail, logs the problems of its
// options and takes the defaults (or the bounds) instead.
func TestNewInvalidOptions(t *testing.T) {
	var buf bytes.Buffer
	tr := roomstest.NewTransport()
	m := rooms.NewManager(tr, rooms.ManagerOptions{Logger: roomstest.DiscardLogger})
	t.Cleanup(func() { m.Shutdown(t.Context()) })
	l := lobby.New(m, tr, lobby.Options{ChatRate: -1, RoomsShown: 5000, Tick: time.Millisecond, Logger: slog.New(slog.NewTextHandler(&buf, nil))})
	t.Cleanup(l.Close)
	if o := l.Options(); o.ChatRate != lobby.DefaultChatRate || o.RoomsShown != lobby.MaxShown || o.Tick != lobby.MinTick {
		t.Errorf("options in effect %+v; want the default chat rate, MaxShown rooms shown, a MinTick tick", o)
	}
	for _, want := range []string{"level=ERROR", "ChatRate: must be positive, got -1", "RoomsShown: must be within 1..1000, got 5000", "Tick: must be at least 10ms"} {
		if !strings.Contains(buf.String(), want) {
			t.Errorf("log %q lacks %q", buf.String(), want)
		}
	}
}
