package rooms_test

import (
	"context"
	"testing"
	"time"

	"github.com/cometplay/cometplay/rooms"
)

func contextWithTimeout() (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), 10*time.Second)
}

func shutdown(t testing.TB, m *rooms.Manager) {
	t.Helper()
	ctx, cancel := contextWithTimeout()
	defer cancel()
	if err := m.Shutdown(ctx); err != nil {
		t.Errorf("Shutdown = %v", err)
	}
}
