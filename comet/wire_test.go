package comet

import (
	"fmt"
	"sync/atomic"
	"testing"
)

// TestPlainEventsAreThisSecond: a shared plain event carries its name and
// the p_time of the second it is written in, and is the same event within
// that second.
func TestPlainEventsAreThisSecond(t *testing.T) {
	var p atomic.Pointer[plainEvent]
	for {
		at := unixTime()
		e1, e2 := plain(&p, "hb-ack"), plain(&p, "hb-ack")
		if unixTime() != at {
			continue // a second boundary fell between: again
		}
		if e1 != e2 {
			t.Fatal("two plain events within one second")
		}
		if got := fmt.Sprint(e1.fields); got != "[{p_event hb-ack} {p_time "+at+"}]" {
			t.Fatalf("fields %s; want p_event hb-ack, p_time %s", got, at)
		}
		return
	}
}
