package netaddr

import (
	"net/netip"
	"testing"
)

// TestKey: IPv4 addresses count apart, IPv6 ones by /64, and an
// IPv4-mapped IPv6 address as its IPv4 address.
func TestKey(t *testing.T) {
	for _, tc := range []struct{ a, b string }{
		{"2001:db8::1", "2001:db8::ffff:ffff:ffff:ffff"},
		{"2001:db8:0:7::1", "2001:db8:0:7:8000::"},
		{"::ffff:192.0.2.1", "192.0.2.1"},
		{"fe80::1%eth0", "fe80::2%eth1"},
	} {
		if ka, kb := Key(netip.MustParseAddr(tc.a)), Key(netip.MustParseAddr(tc.b)); ka != kb {
			t.Errorf("Key(%s) = %v, Key(%s) = %v; want one key", tc.a, ka, tc.b, kb)
		}
	}
	for _, tc := range []struct{ a, b string }{
		{"2001:db8::1", "2001:db8:0:1::1"},
		{"192.0.2.1", "192.0.2.2"},
		{"::1", "::2:0:0:0:1"},
	} {
		if ka, kb := Key(netip.MustParseAddr(tc.a)), Key(netip.MustParseAddr(tc.b)); ka == kb {
			t.Errorf("Key(%s) = Key(%s) = %v; want two keys", tc.a, tc.b, ka)
		}
	}
}
