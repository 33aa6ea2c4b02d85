package cluster

import (
	"testing"
)

// The cost of a relay: a control request (hb) of a session of node A,
// sent to A itself and sent to B, which relays it to A.
func BenchmarkControlRequest(b *testing.B) {
	nodes := startCluster(b, 3)
	for _, c := range []struct {
		name string
		via  *testNode
	}{{"direct", nodes[0]}, {"relayed", nodes[1]}} {
		b.Run(c.name, func(b *testing.B) {
			ca := dial(b, nodes[0].addr())
			_, evs := ca.do("p_event=join&p_format=json")
			id := evs[0]["p_id"]
			cl := dial(b, c.via.addr())
			b.ResetTimer()
			for range b.N {
				if st, _ := cl.do("p_event=hb&p_format=json&p_id=" + id); st != 200 {
					b.Fatal(st)
				}
			}
		})
	}
}
