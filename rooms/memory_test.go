package rooms

import (
	"fmt"
	"testing"
	"unsafe"
)

// What every room and every player costs while it lives: the structs are
// ordered to pack, and a field that makes one of them cross its size class
// (512, 128 and 112 bytes; the mailbox keeps two items) should be a
// considered choice, not an accident.
func TestStructSizesStayInTheirSizeClasses(t *testing.T) {
	for _, c := range []struct {
		name      string
		got, most uintptr
	}{
		{"room", unsafe.Sizeof(room{}), 512},
		{"Player", unsafe.Sizeof(Player{}), 128},
		{"item", unsafe.Sizeof(item{}), 112},
		{"tokenRef", unsafe.Sizeof(tokenRef{}), 16},
	} {
		if c.got > c.most {
			t.Errorf("unsafe.Sizeof(%s{}) = %d; want at most %d", c.name, c.got, c.most)
		}
	}
}

func TestMoveLogFindsTheSeqOfEachRememberedMove(t *testing.T) {
	for _, applied := range []int{1, 5, moveMemory - 1, moveMemory, moveMemory + 1, 3*moveMemory + 7} {
		t.Run(fmt.Sprintf("applied=%d", applied), func(t *testing.T) {
			var l moveLog
			for seq := 1; seq <= applied; seq++ {
				l.add(fmt.Sprintf("m%d", seq))
			}
			for seq := 1; seq <= applied; seq++ {
				got, ok := l.find(fmt.Sprintf("m%d", seq), applied)
				remembered := seq > applied-moveMemory
				if ok != remembered || (ok && got != seq) {
					t.Errorf("find(m%d) = %d, %v; want %d, %v", seq, got, ok, seq, remembered)
				}
			}
			l.reset()
			if _, ok := l.find(fmt.Sprintf("m%d", applied), applied); ok {
				t.Errorf("find after reset found m%d", applied)
			}
		})
	}
}

func TestGatesMoveToAMapPastSmallRoom(t *testing.T) {
	var x gates
	const n = 3 * smallRoom
	for i := range n {
		x.set(fmt.Sprint(i), gate{spectator: i%2 == 0})
		if i == smallRoom-1 && x.m != nil {
			t.Fatalf("gates use a map at %d members; want a slice up to %d", i+1, smallRoom)
		}
	}
	if x.m == nil {
		t.Fatalf("gates use no map at %d members", n)
	}
	for i := range n {
		g := x.get(fmt.Sprint(i))
		if g == nil || g.spectator != (i%2 == 0) {
			t.Fatalf("get(%d) = %+v", i, g)
		}
	}
	for i := 0; i < n; i += 2 {
		x.del(fmt.Sprint(i))
	}
	for i := range n {
		if g := x.get(fmt.Sprint(i)); (g != nil) != (i%2 == 1) {
			t.Errorf("after deleting the even members, get(%d) = %+v", i, g)
		}
	}
}

func TestGatesInASliceSurviveDeletes(t *testing.T) {
	var x gates
	for i := range smallRoom {
		x.set(fmt.Sprint(i), gate{presence: true})
	}
	x.del("0")
	x.del("5")
	x.get("3").leaving = true
	for i := range smallRoom {
		g := x.get(fmt.Sprint(i))
		switch {
		case i == 0 || i == 5:
			if g != nil {
				t.Errorf("get(%d) = %+v after del; want nil", i, g)
			}
		case g == nil || !g.presence || g.leaving != (i == 3):
			t.Errorf("get(%d) = %+v", i, g)
		}
	}
	if x.m != nil {
		t.Error("gates moved to a map below smallRoom members")
	}
}

// TestCloneTogether: a player's strings are copied (the caller may alias
// a buffer it reuses) into one allocation.
func TestCloneTogether(t *testing.T) {
	src := []byte("s123g-playerAlice127.0.0.1:5000")
	alias := func(from, to int) string { return unsafe.String(&src[from], to-from) }
	a, b, c, d, e := alias(0, 4), alias(4, 12), alias(12, 17), "", alias(17, len(src))
	cloneTogether(&a, &b, &c, &d, &e)
	for i := range src {
		src[i] = 'x'
	}
	if a != "s123" || b != "g-player" || c != "Alice" || d != "" || e != "127.0.0.1:5000" {
		t.Fatalf("clones %q %q %q %q %q changed with their source", a, b, c, d, e)
	}
	if n := testing.AllocsPerRun(10, func() {
		x, y, z := a, b, c
		cloneTogether(&x, &y, &z)
	}); n != 1 {
		t.Fatalf("%.0f allocations; want 1", n)
	}
}
