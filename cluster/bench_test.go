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

// One event across nodes: a client of node B publishes, a session of node
// A (its stream read on A) receives it; against the same with both on A.
func BenchmarkPublishToAnotherNode(b *testing.B) {
	nodes := startCluster(b, 3)
	for _, c := range []struct {
		name string
		pub  *testNode
	}{{"same node", nodes[0]}, {"other node", nodes[1]}} {
		b.Run(c.name, func(b *testing.B) {
			ca := dial(b, nodes[0].addr())
			_, evs := ca.do("p_event=join&p_format=json")
			sub := evs[0]["p_id"]
			ca.do("p_event=subscribe&p_id=" + sub + "&p_subject=/b")
			s := openStream(b, nodes[0].addr(), "p_event=listen&p_mode=stream&p_id="+sub)
			s.next()
			cp := dial(b, c.pub.addr())
			_, evs = cp.do("p_event=join&p_format=json")
			pub := evs[0]["p_id"]
			b.ResetTimer()
			for range b.N {
				cp.do("p_event=publish&p_id=" + pub + "&p_subject=/b&k=v")
				s.next()
			}
		})
	}
}
