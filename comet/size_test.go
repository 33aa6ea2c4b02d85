package comet

import (
	"testing"
	"unsafe"
)

// A Session and a subscription are what every listener costs while it
// lives (tens of thousands of them): their fields are ordered to pack, and
// a field that makes one cross its size class (320 and 112 bytes) should
// be a considered choice, not an accident.
func TestStructSizesStayInTheirSizeClasses(t *testing.T) {
	for _, c := range []struct {
		name      string
		got, most uintptr
	}{
		{"Session", unsafe.Sizeof(Session{}), 320},
		{"subscription", unsafe.Sizeof(subscription{}), 112},
	} {
		if c.got > c.most {
			t.Errorf("unsafe.Sizeof(%s{}) = %d; want at most %d", c.name, c.got, c.most)
		}
	}
}
