package rooms_test

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"testing"

	"github.com/cometplay/cometplay/internal/testkit"
	"github.com/cometplay/cometplay/rooms"
	"github.com/cometplay/cometplay/rooms/roomstest"
)

// TestManagerOptionsValidate: every rule of the runtime's settings, with
// the field it names; zero fields and the sentinels are valid.
func TestManagerOptionsValidate(t *testing.T) {
	check := testkit.ConfigChecker[rooms.ManagerOptions](t)
	check("zero", rooms.ManagerOptions{}, "", "")
	check("no caps", rooms.ManagerOptions{MaxWaitingPerPlayer: -1, MaxWaitingPerAddr: -1}, "", "")
	check("set", rooms.ManagerOptions{Executors: 2, MailboxSize: 8, MaxMessageBytes: 64, MaxWaitingPerPlayer: 1, MaxWaitingPerAddr: 2}, "", "")
	check("executors", rooms.ManagerOptions{Executors: -1}, "Executors", "must not be negative (0: automatic), got -1")
	check("mailbox", rooms.ManagerOptions{MailboxSize: -1}, "MailboxSize", "must be positive, got -1")
	check("message bytes", rooms.ManagerOptions{MaxMessageBytes: -1}, "MaxMessageBytes", "must be positive, got -1")
	check("waiting per player", rooms.ManagerOptions{MaxWaitingPerPlayer: -2}, "MaxWaitingPerPlayer", "must be positive, or -1 for no cap, got -2")
	check("waiting per address", rooms.ManagerOptions{MaxWaitingPerAddr: -3}, "MaxWaitingPerAddr", "must be positive, or -1 for no cap, got -3")
	err := rooms.ManagerOptions{Executors: -1, MailboxSize: -1}.Validate()
	if got := testkit.ConfigProblems(t, err); len(got) != 2 {
		t.Errorf("problems %v; want Executors and MailboxSize", got)
	}
}

// TestNewManagerInvalidOptions: NewManager, which cannot fail, logs the
// problems of its options and takes the defaults instead.
func TestNewManagerInvalidOptions(t *testing.T) {
	var buf bytes.Buffer
	m := rooms.NewManager(roomstest.NewTransport(), rooms.ManagerOptions{MailboxSize: -1, MaxWaitingPerAddr: -5,
		Logger: slog.New(slog.NewTextHandler(&buf, nil))})
	t.Cleanup(func() { m.Shutdown(context.Background()) })
	if o := m.Options(); o.MailboxSize != rooms.DefaultMailboxSize || o.MaxWaitingPerAddr != rooms.DefaultMaxWaitingPerAddr {
		t.Errorf("options in effect %+v; want the defaults for the invalid ones", o)
	}
	for _, want := range []string{"level=ERROR", "MailboxSize: must be positive, got -1", "MaxWaitingPerAddr: must be positive, or -1 for no cap, got -5"} {
		if !strings.Contains(buf.String(), want) {
			t.Errorf("log %q lacks %q", buf.String(), want)
		}
	}
}
