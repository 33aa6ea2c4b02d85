// Package netaddr groups client addresses the way every per-address limit
// of cometplay counts them (connections, sessions, demo streams; rooms
// and the lobby, which import nothing of ours, group alike with
// rooms.AddrKey): by an IPv4 address, or by the /64
// prefix of an IPv6 address. An IPv6 subscriber is usually given a whole /64
// and may use any address in it, so counting each /128 apart would let one
// client multiply every per-address cap by 2^64.
package netaddr

import "net/netip"

// Key returns the key a client address is counted under: the address
// (IPv4, or IPv4-mapped IPv6, unmapped), or for IPv6 the first address of
// its /64 (zone dropped).
func Key(a netip.Addr) netip.Addr {
	a = a.Unmap()
	if a.Is6() {
		p, _ := a.WithZone("").Prefix(64) // a valid IPv6 address: cannot fail
		return p.Addr()
	}
	return a
}

// Counts counts live things (connections, sessions) per address key. It
// is not safe for concurrent use: its owner holds a lock around it.
type Counts map[netip.Addr]int32

// Take counts one more for key unless limit is reached (a negative limit
// is no cap); it reports whether it counted.
func (m Counts) Take(key netip.Addr, limit int) bool {
	n := m[key]
	if limit >= 0 && int(n) >= limit {
		return false
	}
	m[key] = n + 1
	return true
}

// Give counts one less for key.
func (m Counts) Give(key netip.Addr) {
	if n := m[key] - 1; n > 0 {
		m[key] = n
	} else {
		delete(m, key)
	}
}
