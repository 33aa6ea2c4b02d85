//go:build !race

package main

import (
	"testing"
	"time"
)

// The load loop's per-response work must not allocate: a garbage-collecting
// load generator would disturb the servers it measures on a small machine.
func TestHotPathAllocations(t *testing.T) {
	for name, resp := range benchResponses {
		rr := NewResponseReader(&repeatReader{b: []byte(resp)})
		if n := testing.AllocsPerRun(1000, func() {
			if _, err := rr.Next(false); err != nil {
				t.Fatal(err)
			}
		}); n != 0 {
			t.Errorf("ResponseReader.Next (%s) allocates %v times per response; want 0", name, n)
		}
	}
	var h Histogram
	h.Record(1)
	if n := testing.AllocsPerRun(1000, func() { h.Record(123 * time.Microsecond) }); n != 0 {
		t.Errorf("Histogram.Record allocates %v times; want 0", n)
	}
}
