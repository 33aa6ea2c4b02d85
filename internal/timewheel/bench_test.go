package timewheel

import (
	"fmt"
	"testing"
	"time"
)

func BenchmarkScheduleCancel(b *testing.B) {
	for _, pending := range []int{0, 100_000} {
		b.Run(fmt.Sprintf("pending=%d", pending), func(b *testing.B) {
			w := New(50*time.Millisecond, 4096)
			defer w.Stop()
			fn := func() {}
			bg := make([]Timer, pending)
			for i := range bg {
				w.Schedule(&bg[i], time.Duration(i)*time.Millisecond+time.Hour, fn)
			}
			var tm Timer
			b.ReportAllocs()
			for b.Loop() {
				w.Schedule(&tm, 20*time.Second, fn)
				w.Cancel(&tm)
			}
		})
	}
}

func BenchmarkScheduleCancelParallel(b *testing.B) {
	w := New(50*time.Millisecond, 4096)
	defer w.Stop()
	fn := func() {}
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		var tm Timer
		for pb.Next() {
			w.Schedule(&tm, 20*time.Second, fn)
			w.Cancel(&tm)
		}
	})
}

// BenchmarkMove is the heartbeat pattern: a pending timer pushed back on
// every message.
func BenchmarkMove(b *testing.B) {
	w := New(50*time.Millisecond, 4096)
	defer w.Stop()
	fn := func() {}
	var tm Timer
	b.ReportAllocs()
	for b.Loop() {
		w.Schedule(&tm, 20*time.Second, fn)
	}
}
