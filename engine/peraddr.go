package engine

import "net/netip"

// Per-address caps (Config.MaxConnsPerAddr, HubConfig.MaxSessionsPerAddr)
// count a client by its address key: an IPv4 address, or the /64 prefix
// of an IPv6 address. An IPv6 subscriber is usually given a whole /64 and
// may use any address in it, so counting each /128 apart would let one
// client multiply every per-address cap by 2^64.

// addrKey returns the key a client address is counted under by the
// per-address caps: the address (IPv4, or IPv4-mapped IPv6, unmapped), or
// for IPv6 the first address of its /64.
func addrKey(a netip.Addr) netip.Addr {
	a = a.Unmap()
	if a.Is6() {
		p, _ := a.Prefix(64)
		return p.Addr()
	}
	return a
}

// addrCounts counts live connections or sessions per address key. It is
// not safe for concurrent use: its owner holds a lock around it.
type addrCounts map[netip.Addr]int32

// take counts one more for key unless limit is reached (a negative limit
// is no cap); it reports whether it counted.
func (m addrCounts) take(key netip.Addr, limit int) bool {
	n := m[key]
	if limit >= 0 && int(n) >= limit {
		return false
	}
	m[key] = n + 1
	return true
}

// give counts one less for key.
func (m addrCounts) give(key netip.Addr) {
	if n := m[key] - 1; n > 0 {
		m[key] = n
	} else {
		delete(m, key)
	}
}
