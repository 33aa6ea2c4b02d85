//go:build !race

package rooms

import (
	"testing"
	"unsafe"
)

// The race detector's instrumentation allocates, hence the build tag; make
// test runs these in a pass without it.

// TestAllocationsOfAJoinsStrings: a join's session id, player id, name and
// address are copied in one allocation (four cost 96 bytes for a typical
// player, one 80), and none of them shares the caller's memory.
func TestAllocationsOfAJoinsStrings(t *testing.T) {
	in := PlayerInfo{SessionID: "ABCDEFGHIJK0123456789abcdefghijkl", PlayerID: "g-5kq7d26pedperafn", Name: "p0-123", Addr: "127.0.0.1"}
	var out PlayerInfo
	if got := testing.AllocsPerRun(100, func() { out, _ = checkPlayer(in) }); got != 1 {
		t.Errorf("checkPlayer: %.0f allocations; want 1", got)
	}
	if out.SessionID != in.SessionID || out.PlayerID != in.PlayerID || out.Name != in.Name || out.Addr != in.Addr {
		t.Fatalf("checkPlayer(%+v) = %+v", in, out)
	}
	for _, pair := range [][2]string{{in.SessionID, out.SessionID}, {in.PlayerID, out.PlayerID}, {in.Name, out.Name}, {in.Addr, out.Addr}} {
		if unsafe.StringData(pair[0]) == unsafe.StringData(pair[1]) {
			t.Errorf("%q shares the caller's memory", pair[1])
		}
	}
}
