package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"syscall"
	"testing"
	"time"

	"github.com/cometplay/cometplay/cluster"
	"github.com/cometplay/cometplay/internal/browsertest"
)

// TestBrowserGameOutlivesItsNode: two players in Chromium (one streams,
// the other long-polls) play through the per-request balancer in front of
// three tictactoe processes; the node running their room (not the games
// node) is killed with SIGKILL mid-game. Another node rebuilds the room
// from its turn log; a page whose session lived on the dead node joins
// again and gets its seat back with its token; the moves clicked after the
// kill are applied, and the game finishes on both pages with the right
// result.
func TestBrowserGameOutlivesItsNode(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the command and runs three processes")
	}
	b := browsertest.Start(t)
	dir := t.TempDir()
	bin := buildTictactoe(t, dir)
	// Poll answers within 50–150 ms and a lost listen reported after
	// 300 ms, as in startSite.
	procs := startNodeProcs(t, bin, dir, 3, "-poll-wait-min", "50ms", "-poll-wait-max", "150ms", "-detach-grace", "300ms")
	st := &site{t: t, base: "http://" + startBalancer(t, procs) + "/"}
	var ann, bob *player
	var room string
	for try := 1; ; try++ {
		ann = st.join(t, b.NewContext(t), fmt.Sprintf("Ann%d", try), "stream")
		bob = st.join(t, b.NewContext(t), fmt.Sprintf("Bob%d", try), "long-poll")
		room = quickMatch(t, ann, bob)
		if cluster.RoomOwner(room) != "n1" {
			break
		}
		// The games node is not to be killed here: another pair.
		if try == 5 {
			t.Fatalf("five rooms in a row on n1")
		}
		ann.p.Close()
		bob.p.Close()
	}
	board := play(t, [2]*player{ann, bob}, nil, nil, 4, 0)
	var victim *nodeProc
	for _, p := range procs {
		if p.tag == cluster.RoomOwner(room) {
			victim = p
		}
	}
	// Quick play puts the room on one of its players' nodes (the cluster
	// being empty otherwise): a page's session lives on the victim too.
	var st0 struct {
		Comet struct {
			Sessions int `json:"sessions"`
		} `json:"comet"`
	}
	if resp, err := http.Get("http://" + victim.addr + "/debug/stats"); err == nil {
		json.NewDecoder(resp.Body).Decode(&st0)
		resp.Body.Close()
	}
	if err := victim.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	killed := time.Now()
	<-victim.exited
	board = play(t, [2]*player{ann, bob}, nil, board, 2)
	t.Logf("room %s: its node %s (home to %d sessions) killed; the next move shown on both pages %v later", room, victim.tag, st0.Comet.Sessions, time.Since(killed).Round(time.Millisecond))
	play(t, [2]*player{ann, bob}, nil, board, 1, 6)
	for _, pl := range []*player{ann, bob} {
		pl.waitGame("the result", `g.state === 'finished'`)
	}
	if v := ann.view(); v.Result != "win" {
		t.Errorf("%s: result %q %q; want a win", ann.name, v.Result, v.ResultText)
	}
	if v := bob.view(); v.Result != "loss" {
		t.Errorf("%s: result %q %q; want a loss", bob.name, v.Result, v.ResultText)
	}
}
