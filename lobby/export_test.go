package lobby

import (
	"context"
	"fmt"
	"maps"
	"slices"

	"github.com/cometplay/cometplay/rooms"
)

// Sync waits until everything reported to the lobby before the call (actions,
// session events, room changes) has been processed.
func (l *Lobby) Sync(ctx context.Context) error { return l.barrier(ctx, false, nil) }

// Drain is Sync without publishing the pending lists: that waits for the
// tick.
func (l *Lobby) Drain(ctx context.Context) error { return l.barrier(ctx, true, nil) }

// CheckLists is Sync, then checks on the lobby goroutine that the lists the
// tick keeps in order (and "list" pages through) are what sorting the
// lobby's players and rooms from scratch gives.
func (l *Lobby) CheckLists(ctx context.Context) error {
	var err error
	if berr := l.barrier(ctx, false, func() {
		var online []rooms.Identity
		for _, p := range l.players {
			if p.online > 0 {
				online = append(online, p.ident)
			}
		}
		slices.SortFunc(online, onlineOrder.cmp)
		if !slices.Equal(online, l.views.allOnline.all) {
			err = fmt.Errorf("players online, sorted: %v; kept: %v", online, l.views.allOnline.all)
			return
		}
		want := slices.SortedFunc(maps.Values(l.roomList), roomsOrder.cmp)
		if !slices.EqualFunc(want, l.views.allRooms.all, func(a, b *rooms.RoomInfo) bool { return fmt.Sprint(*a) == fmt.Sprint(*b) }) {
			err = fmt.Errorf("rooms, sorted: %v; kept: %v", want, l.views.allRooms.all)
		}
	}); berr != nil {
		return berr
	}
	return err
}

func (l *Lobby) barrier(ctx context.Context, noFlush bool, inspect func()) error {
	done := make(chan struct{})
	select {
	case l.in <- job{action: "sync", f: map[string]string{}, done: done, noFlush: noFlush, inspect: inspect}:
	case <-ctx.Done():
		return ctx.Err()
	}
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Options returns the options in effect, defaults filled in.
func (l *Lobby) Options() Options { return l.o }

// NumListed returns the number of rooms the lobby lists (lobby goroutine's
// state, read at a barrier).
func (l *Lobby) NumListed(ctx context.Context) (n int, err error) {
	err = l.barrier(ctx, true, func() { n = len(l.roomList) })
	return n, err
}
