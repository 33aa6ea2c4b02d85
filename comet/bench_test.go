package comet

import (
	"fmt"
	"log/slog"
	"runtime"
	"testing"

	"github.com/cometplay/cometplay/engine"
)

// benchHub is a hub on an unstarted server: enough for the publish path
// without listeners (sessions queue the events in their windows).
func benchHub(b testing.TB, sessions int) *Hub {
	b.Helper()
	srv, err := engine.New(engine.Config{Addr: "127.0.0.1:0", Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		b.Fatal(err)
	}
	if err := srv.Start(); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { srv.Shutdown(b.Context()) })
	h, _ := NewHub(srv, Config{MaxSessionsPerAddr: -1})
	for i := 0; i < sessions; i++ {
		s, err := h.Join(FormatJSON)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := s.Subscribe(fmt.Sprintf("/bench/%d", i%10), ""); err != nil {
			b.Fatal(err)
		}
		if _, err := s.Subscribe("/all", ""); err != nil {
			b.Fatal(err)
		}
	}
	return h
}

// BenchmarkPublishFanout publishes one event to every subscribed session
// and waits until every session holds it (past DeferFanout recipients the
// hub's fan-out goroutine pushes it): the cost per publish grows with the
// recipients, not with all sessions.
func BenchmarkPublishFanout(b *testing.B) {
	for _, n := range []int{100, 1000, 10000} {
		b.Run(fmt.Sprintf("recipients=%d", n), func(b *testing.B) {
			h := benchHub(b, n)
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				h.Publish("/all", "k", "v")
				for h.fan.stats().Queued > 0 {
					runtime.Gosched()
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/delivery")
		})
	}
}

// BenchmarkPublishSelective publishes to a subject that a tenth of the
// sessions subscribe to, with 10,000 sessions in the hub.
func BenchmarkPublishSelective(b *testing.B) {
	h := benchHub(b, 10000)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		h.Publish("/bench/3", "k", "v")
	}
}

// BenchmarkSessionQueue gives one session events held in the history (the
// per-recipient cost of a push with no listener attached: the event is
// put once per iteration, as a unicast's is).
func BenchmarkSessionQueue(b *testing.B) {
	h := benchHub(b, 1)
	s, _ := h.Join(FormatJSON)
	ev := NewEvent("data", "p_subject", "/x", "k", "v")
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		s.SendEvent(ev)
	}
}

// BenchmarkEventEncode writes one shared event for one recipient in each
// format (the shared part is encoded once and cached).
func BenchmarkEventEncode(b *testing.B) {
	ev := NewEvent("data", "p_subject", "/room/abc", "type", "move", "data", `{"cell":4,"mark":"X","board":["X","","","","O","","","",""]}`)
	r := &recipient{seq: 12345, withSeq: true, sid: "qiluw"}
	for f := range numFormats {
		b.Run("format="+f.String(), func(b *testing.B) {
			buf := make([]byte, 0, 1024)
			b.ReportAllocs()
			for i := 0; i < b.N; i++ {
				buf = appendEvent(buf[:0], f, ev, r)
			}
			b.SetBytes(int64(len(buf)))
		})
	}
}
