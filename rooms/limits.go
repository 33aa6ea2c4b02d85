package rooms

import (
	"fmt"
	"net/netip"
	"sync"
)

// What one client may hold: the waiting rooms it created.
//
// A room costs memory (its mailbox, seats, timers: about 2 KiB with its
// creator seated) and a place in every lobby list until someone plays in it
// or it is disposed. Without a bound, one client creating rooms as fast as
// it can publish made 5,000 rooms in 5 s from 40 sessions. A waiting room
// counts against its creator's player id and client address
// (PlayerInfo.Addr) from Create until the game starts or the room is
// disposed; past ManagerOptions.MaxWaitingPerPlayer or MaxWaitingPerAddr,
// Create returns ErrTooManyRooms.

// Waiting-room caps.
const (
	// DefaultMaxWaitingPerPlayer: a player waits for opponents in a few
	// rooms at most (one per game and variant it offers).
	DefaultMaxWaitingPerPlayer = 4
	// DefaultMaxWaitingPerAddr: the players behind one address (a family, a
	// school behind NAT) together; far below what fills a lobby.
	DefaultMaxWaitingPerAddr = 32
)

// AddrKey returns the key the per-address limits count a client address
// under: an IPv4 address, or the /64 prefix of an IPv6 address (one
// subscriber's network: an IPv6 client picks any of 2^64 addresses of its
// own). addr is an IP address, with or without a port; "" (a session from
// server code) and anything unparsable are returned as they are. Safe for
// concurrent use.
func AddrKey(addr string) string {
	ip, err := netip.ParseAddr(addr)
	if err != nil {
		ap, err := netip.ParseAddrPort(addr)
		if err != nil {
			return addr
		}
		ip = ap.Addr()
	}
	ip = ip.Unmap()
	if ip.Is4() {
		return ip.String()
	}
	p, _ := ip.WithZone("").Prefix(64) // a valid IPv6 address: cannot fail
	return p.String()
}

// waitingCount counts the waiting rooms created per player and per address.
type waitingCount struct {
	mu       sync.Mutex
	byPlayer map[string]int
	byAddr   map[string]int
}

// charge is what a waiting room counts against.
type charge struct {
	player, addr string
}

// take counts one more waiting room for c, or refuses it. A limit of -1
// means no cap; an addr of "" is not counted per address.
func (w *waitingCount) take(c charge, perPlayer, perAddr int) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if perPlayer >= 0 && w.byPlayer[c.player] >= perPlayer {
		return fmt.Errorf("%w (at most %d per player)", ErrTooManyRooms, perPlayer)
	}
	if c.addr != "" && perAddr >= 0 && w.byAddr[c.addr] >= perAddr {
		return fmt.Errorf("%w (at most %d from one address)", ErrTooManyRooms, perAddr)
	}
	if w.byPlayer == nil {
		w.byPlayer, w.byAddr = make(map[string]int), make(map[string]int)
	}
	w.byPlayer[c.player]++
	if c.addr != "" {
		w.byAddr[c.addr]++
	}
	return nil
}

// release undoes take.
func (w *waitingCount) release(c charge) {
	w.mu.Lock()
	defer w.mu.Unlock()
	dec(w.byPlayer, c.player)
	if c.addr != "" {
		dec(w.byAddr, c.addr)
	}
}

func dec(m map[string]int, k string) {
	if m[k] <= 1 {
		delete(m, k)
	} else {
		m[k]--
	}
}
