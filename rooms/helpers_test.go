package rooms_test

import (
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/cometplay/cometplay/rooms"
	"github.com/cometplay/cometplay/rooms/roomstest"
)

// hooks customizes the probe game; nil hooks accept everything.
type hooks struct {
	create  func(*rooms.Ctx, rooms.Options) error
	join    func(*rooms.Ctx, *rooms.Player) error
	message func(*rooms.Ctx, *rooms.Player, rooms.Message) error
	leave   func(*rooms.Ctx, *rooms.Player, rooms.LeaveReason)
	dispose func(*rooms.Ctx)
	log     calls
}

// calls records hook calls as strings, across the rooms of a game.
type calls struct {
	mu   sync.Mutex
	list []string
}

func (c *calls) add(format string, args ...any) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.list = append(c.list, fmt.Sprintf(format, args...))
}

func (c *calls) get() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.list)
}

func (c *calls) count(prefix string) int {
	n := 0
	for _, s := range c.get() {
		if strings.HasPrefix(s, prefix) {
			n++
		}
	}
	return n
}

type probe struct{ h *hooks }

func (p *probe) OnCreate(ctx *rooms.Ctx, o rooms.Options) error {
	p.h.log.add("create")
	if p.h.create != nil {
		return p.h.create(ctx, o)
	}
	return nil
}

func (p *probe) OnJoin(ctx *rooms.Ctx, pl *rooms.Player) error {
	p.h.log.add("join %s", pl.ID())
	if p.h.join != nil {
		return p.h.join(ctx, pl)
	}
	return nil
}

func (p *probe) OnMessage(ctx *rooms.Ctx, pl *rooms.Player, m rooms.Message) error {
	p.h.log.add("message %s %s %s", pl.ID(), m.Type, m.Data)
	if p.h.message != nil {
		return p.h.message(ctx, pl, m)
	}
	return nil
}

func (p *probe) OnLeave(ctx *rooms.Ctx, pl *rooms.Player, r rooms.LeaveReason) {
	p.h.log.add("leave %s %s", pl.ID(), r)
	if p.h.leave != nil {
		p.h.leave(ctx, pl, r)
	}
}

func (p *probe) OnDispose(ctx *rooms.Ctx) {
	p.h.log.add("dispose")
	if p.h.dispose != nil {
		p.h.dispose(ctx)
	}
}

// probeGame returns a game named "probe" running h, with 1 to 4 seats.
func probeGame(h *hooks) rooms.Game {
	return rooms.Game{Name: "probe", New: func() rooms.Room { return &probe{h} }, MinPlayers: 1, MaxPlayers: 4, Spectators: true}
}

// data decodes an event's data.
func data(t testing.TB, r roomstest.Record) map[string]any {
	t.Helper()
	m := r.Map()
	if m == nil {
		t.Fatalf("%s: data is not an object", r)
	}
	return m
}

// field returns a field of the named player's last event of a type.
func field(t testing.TB, h *roomstest.Harness, name, typ, key string) any {
	t.Helper()
	return data(t, h.Last(name, typ))[key]
}

func wantTypes(t testing.TB, got []roomstest.Record, want ...string) {
	t.Helper()
	if g := roomstest.Types(got); !slices.Equal(g, want) {
		t.Fatalf("event types = %v; want %v", g, want)
	}
}

func mustRoom(t testing.TB, h *roomstest.Harness, id string) rooms.RoomInfo {
	t.Helper()
	info, ok := h.M.Room(id)
	if !ok {
		t.Fatalf("Room(%s) not found", id)
	}
	return info
}

func do(t testing.TB, h *roomstest.Harness, id string, f func(*rooms.Ctx)) {
	t.Helper()
	if err := h.M.Do(id, f); err != nil {
		t.Fatalf("Do = %v", err)
	}
	h.Settle()
}
