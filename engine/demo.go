package engine

import (
	"errors"
	"fmt"
	"net/http"
	"net/netip"
	"sync"
	"time"

	"github.com/cometplay/cometplay/internal/netaddr"
)

// ClockDemo configures MountClockDemo. Zero fields take the defaults given.
//
// A clock stream needs no session and would never end on its own: without
// these bounds, 300 of them from one client held that many connections
// open, and every other client got "503 server at connection cap".
type ClockDemo struct {
	// MaxStreams bounds the clock streams open at once (default 64), and
	// MaxPerAddr those of one client address, an IPv6 /64 counting as one
	// (default 4). A request over either is answered 503 with Retry-After.
	MaxStreams int
	MaxPerAddr int
	// Lifetime ends a stream this long after it started, at the next tick
	// (default 5 minutes); a client that wants more asks again, and is
	// counted again.
	Lifetime time.Duration
}

// Clock demo defaults.
const (
	DefaultClockStreams  = 64
	DefaultClockPerAddr  = 4
	DefaultClockLifetime = 5 * time.Minute
)

// clockRetryAfter is the Retry-After of a clock request over a cap: about
// when a stream may have ended (a tick), with room to spare.
const clockRetryAfter = "5"

// Validate reports what is wrong with c as Config.Validate does: an error
// joining a *ConfigError per invalid field, or nil. MountClockDemo takes
// the default for an invalid value.
func (c ClockDemo) Validate() error {
	var errs []error
	bad := func(field string, v any) {
		errs = append(errs, &ConfigError{Field: field, Problem: fmt.Sprintf("must be positive, got %v", v)})
	}
	if c.MaxStreams < 0 {
		bad("MaxStreams", c.MaxStreams)
	}
	if c.MaxPerAddr < 0 {
		bad("MaxPerAddr", c.MaxPerAddr)
	}
	if c.Lifetime < 0 {
		bad("Lifetime", c.Lifetime)
	}
	return errors.Join(errs...)
}

// MountClockDemo registers GET /demo/clock: a response that streams one
// chunk per second (the seed's "infinite loop that flushes"), within the
// caps of c. It shows the parking API: the handler parks its Stream and
// returns; one goroutine for all clients writes a chunk to every parked
// stream each second, so the goroutine count does not grow with clients.
// A server mounts it on purpose: the example server does only with
// -demo-clock.
func MountClockDemo(s *Server, c ClockDemo) {
	if c.MaxStreams <= 0 {
		c.MaxStreams = DefaultClockStreams
	}
	if c.MaxPerAddr <= 0 {
		c.MaxPerAddr = DefaultClockPerAddr
	}
	if c.Lifetime <= 0 {
		c.Lifetime = DefaultClockLifetime
	}
	d := &clockDemo{c: c, clients: map[*Stream]clockClient{}, perAddr: map[netip.Addr]int{}}
	s.Handle("GET", "/demo/clock", d.serve)
}

type clockDemo struct {
	c    ClockDemo
	once sync.Once

	mu      sync.Mutex
	n       int // streams counted: started or starting
	clients map[*Stream]clockClient
	perAddr map[netip.Addr]int // streams counted by netaddr.Key
}

type clockClient struct {
	addr  netip.Addr
	until time.Time // end of its lifetime
}

func (d *clockDemo) serve(w *Stream, r *Request) {
	ap, _ := netip.ParseAddrPort(r.RemoteAddr) // "ip:port" (invalid: counted as one unknown client)
	addr := netaddr.Key(ap.Addr())
	d.mu.Lock()
	var refusal string
	switch {
	case d.n >= d.c.MaxStreams:
		refusal = "503 too many clock streams\n"
	case d.perAddr[addr] >= d.c.MaxPerAddr:
		refusal = "503 too many clock streams from this address\n"
	default:
		d.n++
		d.perAddr[addr]++
	}
	d.mu.Unlock()
	if refusal != "" {
		if w.SetHeader("Retry-After", clockRetryAfter) == nil {
			w.Respond(http.StatusServiceUnavailable, "text/plain; charset=utf-8", []byte(refusal))
		}
		return
	}
	d.once.Do(func() { go d.tick() })
	if err := w.Start(http.StatusOK, "text/plain; charset=utf-8"); err != nil {
		d.mu.Lock()
		d.releaseLocked(addr)
		d.mu.Unlock()
		return
	}
	w.Park()
	d.mu.Lock()
	d.clients[w] = clockClient{addr: addr, until: time.Now().Add(d.c.Lifetime)}
	d.mu.Unlock()
}

func (d *clockDemo) releaseLocked(addr netip.Addr) {
	d.n--
	if d.perAddr[addr]--; d.perAddr[addr] <= 0 {
		delete(d.perAddr, addr)
	}
}

// tick writes the time to every stream each second, ends the streams whose
// lifetime is over and forgets those whose client went away.
func (d *clockDemo) tick() {
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for now := range t.C {
		line := []byte(now.UTC().Format(time.RFC3339) + "\n")
		d.mu.Lock()
		for st, c := range d.clients {
			if now.Before(c.until) {
				if _, err := st.Write(line); err == nil {
					continue
				} // else the client went away
			} else {
				_ = st.End() // its lifetime is over; an error means the client went away first
			}
			delete(d.clients, st)
			d.releaseLocked(c.addr)
		}
		d.mu.Unlock()
	}
}
