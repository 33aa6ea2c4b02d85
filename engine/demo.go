package engine

import (
	"net/http"
	"sync"
	"time"
)

// MountClockDemo registers GET /demo/clock: a response that streams one
// chunk per second and never ends (the seed's "infinite loop that flushes").
// It shows the parking API: the handler parks its Stream and returns; one
// goroutine for all clients writes a chunk to every parked stream each
// second, so the goroutine count does not grow with clients.
func MountClockDemo(s *Server) {
	var (
		mu      sync.Mutex
		clients = map[*Stream]struct{}{}
		once    sync.Once
	)
	tick := func() {
		t := time.NewTicker(time.Second)
		defer t.Stop()
		for now := range t.C {
			line := []byte(now.UTC().Format(time.RFC3339) + "\n")
			mu.Lock()
			for st := range clients {
				if _, err := st.Write(line); err != nil {
					delete(clients, st) // the client went away
				}
			}
			mu.Unlock()
		}
	}
	s.Handle("GET", "/demo/clock", func(w *Stream, _ *Request) {
		once.Do(func() { go tick() })
		if err := w.Start(http.StatusOK, "text/plain; charset=utf-8"); err != nil {
			return
		}
		w.Park()
		mu.Lock()
		clients[w] = struct{}{}
		mu.Unlock()
	})
}
