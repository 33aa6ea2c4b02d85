package lobby

import "context"

// Sync waits until everything reported to the lobby before the call (actions,
// session events, room changes) has been processed.
func (l *Lobby) Sync(ctx context.Context) error { return l.barrier(ctx, false) }

// Drain is Sync without publishing the pending lists: that waits for the
// tick.
func (l *Lobby) Drain(ctx context.Context) error { return l.barrier(ctx, true) }

func (l *Lobby) barrier(ctx context.Context, noFlush bool) error {
	done := make(chan struct{})
	select {
	case l.in <- job{action: "sync", f: map[string]string{}, done: done, noFlush: noFlush}:
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
