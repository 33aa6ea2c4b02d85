//go:build !race

package timewheel

import (
	"testing"
	"time"
)

func TestScheduleDoesNotAllocate(t *testing.T) {
	w := New(time.Millisecond, 64)
	t.Cleanup(w.Stop)
	type conn struct {
		heartbeat Timer
		beats     int
	}
	c := &conn{}
	fn := func() { c.beats++ }
	tests := []struct {
		name string
		op   func()
	}{
		{"schedule+cancel", func() {
			w.Schedule(&c.heartbeat, time.Hour, fn)
			w.Cancel(&c.heartbeat)
		}},
		{"move pending", func() {
			w.Schedule(&c.heartbeat, time.Hour, fn)
			w.Schedule(&c.heartbeat, 2*time.Hour, fn)
		}},
	}
	for _, tt := range tests {
		if got := testing.AllocsPerRun(1000, tt.op); got != 0 {
			t.Errorf("%s: AllocsPerRun = %v; want 0", tt.name, got)
		}
	}
}
