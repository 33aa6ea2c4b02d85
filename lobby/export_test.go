package lobby

import "context"

// Sync waits until everything reported to the lobby before the call (actions,
// session events, room changes) has been processed.
func (l *Lobby) Sync(ctx context.Context) error {
	done := make(chan struct{})
	select {
	case l.in <- job{action: "sync", f: map[string]string{}, done: done}:
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
