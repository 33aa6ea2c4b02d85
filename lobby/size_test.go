package lobby

import (
	"testing"
	"unsafe"
)

// The lobby keeps a session struct for every player online (ten thousand
// and more): a field that makes it cross its size class (112 bytes) should
// be a considered choice. A wait in the quick-play queue lives apart
// (quickWait), allocated for its few seconds.
func TestSessionStaysInItsSizeClass(t *testing.T) {
	if got := unsafe.Sizeof(session{}); got > 112 {
		t.Errorf("unsafe.Sizeof(session{}) = %d; want at most 112", got)
	}
}
