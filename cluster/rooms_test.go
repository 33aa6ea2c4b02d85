package cluster

import (
	"errors"
	"testing"
	"time"
)

// TestPlaceRoom: a new room goes to the home node of its creator (or, for
// a quick-match, of the less loaded of its players' homes) while that node
// holds at most placementSlack more rooms than the least loaded one,
// else to the least loaded node.
func TestPlaceRoom(t *testing.T) {
	for _, c := range []struct {
		name  string
		loads map[string]int
		homes []string
		want  string
	}{
		{"the creator's home is the least loaded", map[string]int{"n1": 5, "n2": 3, "n3": 4}, []string{"n2"}, "n2"},
		{"the creator's home within the slack", map[string]int{"n1": 10, "n2": 12, "n3": 11}, []string{"n2"}, "n2"},
		{"the creator's home past the slack", map[string]int{"n1": 10, "n2": 13, "n3": 11}, []string{"n2"}, "n1"},
		{"the slack grows with the counts", map[string]int{"n1": 320, "n2": 330, "n3": 331}, []string{"n2"}, "n2"},
		{"… by a 32nd", map[string]int{"n1": 320, "n2": 331, "n3": 331}, []string{"n3"}, "n1"},
		{"an empty cluster", map[string]int{"n1": 0, "n2": 0, "n3": 0}, []string{"n3"}, "n3"},
		{"a creator of a node that is gone", map[string]int{"n1": 4, "n2": 2, "n3": 3}, []string{"n4"}, "n2"},
		{"two players: the less loaded of their homes", map[string]int{"n1": 10, "n2": 12, "n3": 11}, []string{"n2", "n3"}, "n3"},
		{"two players, both homes past the slack", map[string]int{"n1": 10, "n2": 13, "n3": 14}, []string{"n3", "n2"}, "n1"},
		{"two players of one node", map[string]int{"n1": 1, "n2": 0, "n3": 0}, []string{"n1", "n1"}, "n1"},
		{"no creator's home: the least loaded, the smallest tag among equals", map[string]int{"n1": 4, "n2": 2, "n3": 2}, nil, "n2"},
	} {
		if got := placeRoom(c.loads, c.homes...); got != c.want {
			t.Errorf("%s: placeRoom(%v, %q) = %q, want %q", c.name, c.loads, c.homes, got, c.want)
		}
	}
}

// TestLobbyCallsWaitForNoQuietNode: the lobby's calls on another node's
// rooms run on its goroutine; one for a node not heard of lately is
// answered "not available" at once, not after a request's timeout (this
// node has no NATS connection: a request would fail the test).
func TestLobbyCallsWaitForNoQuietNode(t *testing.T) {
	n := &Node{peers: map[string]time.Time{"n2": time.Now().Add(-2 * peerTimeout)}}
	d := &directory{n: n}
	for _, tag := range []string{"n2", "n3"} {
		if _, err := d.call(tag, roomCall{Op: "join", Room: tag + "-r"}); !errors.Is(err, errNodeUnavailable) {
			t.Errorf("a call on quiet node %s: %v, want %v", tag, err, errNodeUnavailable)
		}
	}
}
