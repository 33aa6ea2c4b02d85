package cluster

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/cometplay/cometplay/comet"
	"github.com/cometplay/cometplay/engine"
	"github.com/cometplay/cometplay/examples/tictactoe/ttt"
	"github.com/cometplay/cometplay/games"
	"github.com/cometplay/cometplay/internal/testkit"
	"github.com/cometplay/cometplay/lobby"
	"github.com/cometplay/cometplay/rooms"
)

var _ games.Cluster = (*Node)(nil)

type gamesNode struct {
	node *Node
	gs   *games.Server
}

func (g *gamesNode) addr() string { return g.gs.Addr() }

// startGamesCluster starts n games servers running tictactoe, each a node
// of one cluster whose games node is n1.
func startGamesCluster(t *testing.T, n int) ([]*gamesNode, []*testNode) {
	t.Helper()
	return startGamesClusterWith(t, n, nil)
}

// startGamesClusterWith is startGamesCluster with each node's Options
// changed by opt (nil: none).
func startGamesClusterWith(t *testing.T, n int, opt func(*Options)) ([]*gamesNode, []*testNode) {
	t.Helper()
	return startGamesClusterRooms(t, n, opt, rooms.ManagerOptions{})
}

// startGamesClusterRooms is startGamesClusterWith with the rooms' options
// ro (MaxWaitingPerAddr is set to -1).
func startGamesClusterRooms(t *testing.T, n int, opt func(*Options), ro rooms.ManagerOptions) ([]*gamesNode, []*testNode) {
	t.Helper()
	ro.MaxWaitingPerAddr = -1
	nodes := make([]*gamesNode, n)
	plain := make([]*testNode, n) // the same nodes, for the balancers
	var first string
	for i := range nodes {
		o := Options{Node: fmt.Sprintf("n%d", i+1), Listen: "127.0.0.1:0", Replicas: min(3, n), Logger: testkit.Logger()}
		if i > 0 {
			o.Routes = []string{first}
		}
		if opt != nil {
			opt(&o)
		}
		node, err := Start(o)
		if err != nil {
			t.Fatal(err)
		}
		if i == 0 {
			first = node.RouteAddr().String()
		}
		gs, err := games.New(games.Config{
			HTTP:    engine.Config{Addr: "127.0.0.1:0", Loops: 2},
			Comet:   comet.Config{MaxSessionsPerAddr: -1, PublishRate: -1},
			Metrics: true,
			Games:   []rooms.Game{ttt.Game},
			// Every player comes from 127.0.0.1: no per-address share.
			Rooms:   ro,
			Lobby:   lobby.Options{QueuePerAddr: lobby.DefaultQueueSize},
			Logger:  testkit.Logger(),
			Cluster: node,
		})
		if err != nil {
			t.Fatal(err)
		}
		if err := gs.Start(); err != nil {
			t.Fatal(err)
		}
		gn := &gamesNode{node: node, gs: gs}
		nodes[i] = gn
		plain[i] = &testNode{node: node, srv: gs.HTTP(), hub: gs.Hub()}
		t.Cleanup(func() {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			gs.Shutdown(ctx)
			node.Close()
		})
		for range 4 {
			testkit.Get(t, gs.Addr(), "/")
		}
	}
	testkit.Eventually(t, "every node routed and heard of the others", func() bool {
		for _, gn := range nodes {
			if gn.node.Routes() < n-1 || len(gn.node.Peers()) < n-1 {
				return false
			}
		}
		return true
	})
	for _, gn := range nodes {
		testkit.RecvWithin(t, time.Minute, gn.node.Ready(), "the lease of "+gn.node.Tag()) // JetStream elects its leaders first
	}
	return nodes, plain
}

// tttPlayer plays tictactoe through addr (a balancer): it joins, listens,
// says hello, quick-matches and moves on its turns until the game ends.
type tttPlayer struct {
	t    *testing.T
	name string
	ctl  *client
	s    events
	id   string
	// transport: stream (the default), sse, long-poll or poll.
	transport string

	me, room string
	seq      int
	board    [9]string
	lastSeq  uint64
	gaps     int
}

func (p *tttPlayer) publish(kv ...string) {
	q := "p_event=publish&p_format=json&p_id=" + p.id
	for i := 0; i+1 < len(kv); i += 2 {
		q += "&" + kv[i] + "=" + url.QueryEscape(kv[i+1])
	}
	st, evs := p.ctl.do(q)
	if st != 200 || len(evs) == 0 || evs[0]["p_event"] != "publish-ack" {
		p.t.Errorf("%s: publish %v: %d %v", p.name, kv, st, evs)
	}
}

// gameDeadline bounds a test game, from join to its end.
const gameDeadline = 2 * time.Minute

// events is where a player's events come from.
type events interface{ next() map[string]string }

// connect joins through lb and opens the data channel of the player's
// transport.
func (p *tttPlayer) connect(lb string) error { return p.connectVia(lb, lb) }

// connectVia sends the control requests to ctl and opens the data channel
// at data.
func (p *tttPlayer) connectVia(ctl, data string) error {
	format := "json"
	if p.transport == "sse" {
		format = "sse"
	}
	p.ctl = dial(p.t, ctl)
	_, evs := p.ctl.do("p_event=join&p_format=" + format)
	if len(evs) == 0 {
		return fmt.Errorf("%s: join failed", p.name)
	}
	p.id = evs[0]["p_id"]
	switch p.transport {
	case "", "stream":
		st := openStream(p.t, data, "p_event=listen&p_id="+p.id+"&p_mode=stream")
		st.next() // listen-ack
		p.s = st
	case "sse":
		st := openStream(p.t, data, "p_event=listen&p_id="+p.id)
		p.s = &sseEvents{st}
	case "long-poll", "poll":
		mode := map[string]string{"long-poll": "pull", "poll": "poll"}[p.transport]
		r := &refresher{t: p.t, cl: dial(p.t, data), id: p.id, poll: mode == "poll"}
		st, evs := r.cl.do("p_event=listen&p_format=json&p_mode=" + mode + "&p_id=" + p.id)
		if st != 200 || len(evs) == 0 || evs[0]["p_event"] != "listen-ack" {
			return fmt.Errorf("%s: listen: %d %v", p.name, st, evs)
		}
		r.buf = evs[1:]
		p.s = r
	default:
		return fmt.Errorf("unknown transport %q", p.transport)
	}
	return nil
}

// sseEvents reads an event stream's data lines.
type sseEvents struct{ s *stream }

func (e *sseEvents) next() map[string]string {
	for {
		e.s.c.SetReadDeadline(time.Now().Add(testkit.Timeout))
		line, err := e.s.br.ReadString('\n')
		if err != nil {
			e.s.t.Fatalf("sse: %v", err)
		}
		data, ok := strings.CutPrefix(strings.TrimRight(line, "\r\n"), "data: ")
		if !ok {
			continue
		}
		var ev map[string]string
		if err := json.Unmarshal([]byte(data), &ev); err != nil {
			e.s.t.Fatalf("sse data %q: %v", data, err)
		}
		if ev["p_event"] != "hb" {
			return ev
		}
	}
}

// refresher takes a long-poll or poll session's events with refreshes,
// each through the balancer.
type refresher struct {
	t    testing.TB
	cl   *client
	id   string
	poll bool
	buf  []map[string]string
}

func (r *refresher) next() map[string]string {
	for len(r.buf) == 0 {
		st, evs := r.cl.do("p_event=refresh&p_format=json&p_id=" + r.id)
		if st != 200 {
			r.t.Fatalf("refresh: %d", st)
		}
		for _, ev := range evs {
			if ev["p_event"] != "hb" && ev["p_event"] != "refresh-ack" {
				r.buf = append(r.buf, ev)
			}
		}
		if r.poll && len(r.buf) == 0 {
			time.Sleep(20 * time.Millisecond) // a poll client waits between polls
		}
	}
	ev := r.buf[0]
	r.buf = r.buf[1:]
	return ev
}

// hello says hello in the lobby and waits for the welcome (the lobby
// takes other actions only then).
func (p *tttPlayer) hello() {
	p.publish("p_subject", "/lobby", "action", "hello", "name", p.name)
	for {
		ev := p.s.next()
		p.count(ev)
		if ev["type"] == "welcome" {
			return
		}
	}
}

// count checks that p_seq goes up one by one.
func (p *tttPlayer) count(ev map[string]string) {
	if seq, err := strconv.ParseUint(ev["p_seq"], 10, 64); err == nil && seq > 0 {
		if seq != p.lastSeq+1 {
			p.gaps++
		}
		p.lastSeq = seq
	}
	if ev["p_event"] == "gap" {
		p.gaps++
	}
}

// play returns the game's result, or an error.
func (p *tttPlayer) play(lb string) (string, error) {
	if err := p.connect(lb); err != nil {
		return "", err
	}
	p.hello()
	p.publish("p_subject", "/lobby", "action", "quickplay", "game", ttt.Name)
	// A liveness bound, not a measure: the race detector and a busy machine
	// slow a game down many times.
	deadline := time.Now().Add(gameDeadline)
	for time.Now().Before(deadline) {
		ev := p.s.next()
		p.count(ev)
		var data map[string]json.RawMessage
		json.Unmarshal([]byte(ev["data"]), &data)
		switch ev["type"] {
		case "joined":
			var j struct {
				Room   string `json:"room"`
				Seq    int    `json:"seq"`
				Player struct {
					ID string `json:"id"`
				} `json:"player"`
			}
			json.Unmarshal([]byte(ev["data"]), &j)
			p.room, p.seq, p.me = j.Room, j.Seq, j.Player.ID
		case "ack":
			var a struct {
				Seq int `json:"seq"`
			}
			json.Unmarshal([]byte(ev["data"]), &a)
			p.seq = a.Seq
		case "move", "start":
			var b struct {
				Board [9]string `json:"board"`
			}
			json.Unmarshal([]byte(ev["data"]), &b)
			p.board = b.Board
		case "turn":
			var tu struct {
				Player *struct {
					ID string `json:"id"`
				} `json:"player"`
			}
			json.Unmarshal([]byte(ev["data"]), &tu)
			if tu.Player == nil || tu.Player.ID != p.me {
				continue
			}
			for cell, m := range p.board {
				if m == "" {
					next := strconv.Itoa(p.seq + 1)
					p.publish("p_subject", "/room/"+p.room, "type", "move", "data", `{"cell":`+strconv.Itoa(cell)+`}`, "move", "m"+next, "seq", next)
					break
				}
			}
		case "finished":
			return ev["data"], nil
		}
	}
	return "", fmt.Errorf("%s: no finished game within %v", p.name, gameDeadline)
}

// Tictactoe through a per-request balancer in front of three nodes, 20
// games on each transport (stream, sse, long-poll, poll): the players'
// sessions live on every node, the rooms on every node, the lobby on the
// games node; every game is matched, played and finished, p_seq
// contiguous, and requests are relayed.
func TestTictactoeThroughAnyNode(t *testing.T) {
	nodes, plain := startGamesCluster(t, 3)
	lb := perRequestLB(t, plain)
	for _, tr := range []string{"stream", "sse", "long-poll", "poll"} {
		t.Run(tr, func(t *testing.T) {
			const players = 40 // 20 games
			var wg sync.WaitGroup
			results := make([]string, players)
			ps := make([]*tttPlayer, players)
			for i := range ps {
				ps[i] = &tttPlayer{t: t, name: tr[:2] + strconv.Itoa(i), transport: tr}
				wg.Add(1)
				go func() {
					defer wg.Done()
					r, err := ps[i].play(lb)
					if err != nil {
						t.Error(err)
					}
					results[i] = r
				}()
			}
			wg.Wait()
			homes := map[string]int{}
			for i, p := range ps {
				if results[i] == "" {
					continue
				}
				if p.gaps != 0 {
					t.Errorf("%s: %d gaps in p_seq", p.name, p.gaps)
				}
				homes[p.id[:2]]++
			}
			if len(homes) < 2 {
				t.Errorf("the players' sessions are on %v: want them spread over the nodes", homes)
			}
		})
	}
	var relayed, sent, joined int64
	for _, n := range nodes {
		s := n.node.Stats()
		relayed += s.RelaysOut
		sent += s.MessagesSent
		joined += s.MessagesJoined
	}
	if relayed == 0 {
		t.Error("no request was relayed")
	}
	t.Logf("NATS messages between the nodes: %d sent, %d more joined into them", sent, joined)
	// The figures are in /metrics too.
	m := testkit.Get(t, nodes[0].addr(), "/metrics")
	for _, want := range []string{`cometplay_cluster_claims_total{direction="in"}`, `cometplay_cluster_relays_total{direction="out"}`, "cometplay_cluster_nats_rtt_seconds", "cometplay_cluster_peers 2", `cometplay_cluster_messages_total{kind="joined"}`, `cometplay_cluster_turn_log_total{kind="appends"}`, "cometplay_cluster_rooms_restored_total"} {
		if !strings.Contains(m.Text, want) {
			t.Errorf("/metrics of n1 lacks %s", want)
		}
	}
	if s := nodes[1].node.Stats(); s.ClaimsOut == 0 || nodes[0].node.Stats().ClaimsIn == 0 || s.OpsIn == 0 {
		t.Errorf("n2 forwarded %d claims, n1 handled %d, n2 applied %d ops: want each > 0", s.ClaimsOut, nodes[0].node.Stats().ClaimsIn, s.OpsIn)
	}
}

// 100 players quick-matching at once through every node end in exactly 50
// rooms, none in two: the lobby is one for all nodes. The rooms are spread
// over the nodes, and the nodes' goroutines do not grow with the players.
func TestQuickMatchAcrossNodes(t *testing.T) {
	_, plain := startGamesCluster(t, 3)
	// Each player sends its control requests to one node and listens on
	// the next (no balancer in this process: net/http's goroutine per
	// connection would hide the nodes' count).
	addr := func(i int) string { return plain[i%len(plain)].addr() }
	// One session first, so that everything started once (the NATS
	// connections' request inboxes) is there.
	warm := &tttPlayer{t: t, name: "warm"}
	if err := warm.connectVia(addr(0), addr(1)); err != nil {
		t.Fatal(err)
	}
	warm.hello()
	time.Sleep(100 * time.Millisecond)
	before := runtime.NumGoroutine()
	const players = 100
	rooms := make([]string, players)
	homes := make([]string, players)
	var wg sync.WaitGroup
	for i := range players {
		wg.Add(1)
		go func() {
			defer wg.Done()
			p := &tttPlayer{t: t, name: "q" + strconv.Itoa(i)}
			if err := p.connectVia(addr(i), addr(i+1)); err != nil {
				t.Error(err)
				return
			}
			p.hello()
			homes[i] = home(p.id)
			p.publish("p_subject", "/lobby", "action", "quickplay", "game", ttt.Name)
			rooms[i] = p.joinedRoom()
		}()
	}
	wg.Wait()
	// 100 players more, each with its session, data channel and seat, in
	// 50 rooms on three nodes: no goroutine more (the players' own
	// goroutines have ended; their connections are open).
	after := runtime.NumGoroutine()
	t.Logf("goroutines: %d with one player, %d with 101", before, after)
	if after > before+10 {
		t.Errorf("goroutines: %d with one player, %d with 101 in 50 rooms", before, after)
	}
	seated := map[string]int{}
	for i, r := range rooms {
		if r == "" {
			t.Fatalf("q%d was not seated", i)
		}
		seated[r]++
	}
	if len(seated) != players/2 {
		t.Errorf("%d players in %d rooms, want %d", players, len(seated), players/2)
	}
	owners := map[string]int{}
	for r, n := range seated {
		if n != 2 {
			t.Errorf("room %s has %d players", r, n)
		}
		owners[RoomOwner(r)]++
	}
	// How many rooms went to one of their players' home nodes (placeRoom;
	// TestQuickMatchPlacesTheRoomOnAPlayersNode): the players of the games
	// node reach the queue first, so its rooms pass the slack early on.
	near := 0
	for r := range seated {
		for i, pr := range rooms {
			if pr == r && homes[i] == RoomOwner(r) {
				near++
				break
			}
		}
	}
	t.Logf("rooms on one of their players' homes: %d of %d; by node: %v", near, len(seated), owners)
	// The rooms are placed on the node with the fewest: every node has
	// some (the lobby hears of the others' counts every second, so not
	// exactly a third each).
	if len(owners) != 3 {
		t.Errorf("rooms by node: %v; want rooms on each of the three", owners)
	}
}

// TestQuickMatchPlacesTheRoomOnAPlayersNode: quick-match creates its room
// on one of its players' home nodes (the less loaded) when that is within
// placementSlack of the least loaded node, which saves the hops between
// those players' home and the room.
func TestQuickMatchPlacesTheRoomOnAPlayersNode(t *testing.T) {
	_, plain := startGamesCluster(t, 3)
	players := 0
	match := func(homes ...int) string {
		t.Helper()
		ps := make([]*tttPlayer, len(homes))
		for i, h := range homes {
			players++
			ps[i] = &tttPlayer{t: t, name: fmt.Sprintf("p%d", players)}
			if err := ps[i].connect(plain[h].addr()); err != nil {
				t.Fatal(err)
			}
			if got, want := home(ps[i].id), plain[h].node.Tag(); got != want {
				t.Fatalf("a session joined through %s is homed on %s", want, got)
			}
			ps[i].hello()
		}
		for _, p := range ps {
			p.publish("p_subject", "/lobby", "action", "quickplay", "game", ttt.Name)
		}
		room := ""
		for _, p := range ps {
			r := p.joinedRoom()
			if room != "" && r != room {
				t.Fatalf("the pair was seated in %s and %s", room, r)
			}
			room = r
		}
		return RoomOwner(room)
	}
	// Empty nodes: without the players' homes, n1 (the smallest tag).
	if got := match(2, 2); got != "n3" {
		t.Errorf("two players of n3: their room is on %s, want n3", got)
	}
	// n2 holds none, n3 one: the less loaded of the two homes.
	if got := match(2, 1); got != "n2" {
		t.Errorf("players of n3 and n2 (n3 holding a room): their room is on %s, want n2", got)
	}
}

// A publish forwarded to a room's node that took it and then went quiet
// (a crash) is answered "not available, try again" once the node has been
// silent for peerTimeout; one forwarded to a node nobody listens for is
// answered so at once.
func TestForwardedClaimOfAQuietNode(t *testing.T) {
	nodes := startCluster(t, 3)
	n1, n3 := nodes[0].node, nodes[2].node
	took := make(chan struct{}, 1)
	if _, err := n3.nc.Subscribe(inSubject(n3.Tag()), func(*nats.Msg) { took <- struct{}{} }); err != nil { // takes it, never answers
		t.Fatal(err)
	}
	n3.nc.Flush()
	testkit.Eventually(t, "n1 to see n3's interest", func() bool {
		if _, err := n1.nc.Request(inSubject(n3.Tag()), nil, 50*time.Millisecond); !errors.Is(err, nats.ErrTimeout) {
			return false // nobody listening yet
		}
		<-took // the probe
		return true
	})
	answer := make(chan error, 1)
	n1.ForwardClaim(games.ClaimCall{SessionID: "n1x", Subject: "/room/" + n3.Tag() + "-abc"}, func(err error) { answer <- err })
	testkit.Recv(t, took, "n3 taking the publish")
	n3.Close()
	if err := testkit.Recv(t, answer, "the answer once n3 is quiet"); !errors.Is(err, errNodeUnavailable) {
		t.Fatalf("answer %v, want %v", err, errNodeUnavailable)
	}
	n1.ForwardClaim(games.ClaimCall{SessionID: "n1x", Subject: "/room/n9-abc"}, func(err error) { answer <- err })
	if err := testkit.Recv(t, answer, "the answer for a node nobody listens for"); !errors.Is(err, errNodeUnavailable) {
		t.Fatalf("answer %v, want %v", err, errNodeUnavailable)
	}
}

// TestANodeLeavesAProcessorToNATS: a node's event loops are one fewer than
// GOMAXPROCS by default (each waits in epoll_wait holding its P, and the
// goroutines NATS's sockets wake need one), at least one; a count given is
// kept.
func TestANodeLeavesAProcessorToNATS(t *testing.T) {
	node, err := Start(Options{Node: "n1", Listen: "127.0.0.1:0", Replicas: 1, Logger: testkit.Logger()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(node.Close)
	for _, c := range []struct{ procs, loops, want int }{{4, 0, 3}, {1, 0, 1}, {4, 4, 4}} {
		prev := runtime.GOMAXPROCS(c.procs)
		gs, err := games.New(games.Config{
			HTTP:    engine.Config{Addr: "127.0.0.1:0", Loops: c.loops},
			Games:   []rooms.Game{ttt.Game},
			Logger:  testkit.Logger(),
			Cluster: node,
		})
		runtime.GOMAXPROCS(prev)
		if err != nil {
			t.Fatal(err)
		}
		if got := gs.HTTP().Config().Loops; got != c.want {
			t.Errorf("GOMAXPROCS %d, Loops %d: %d event loops, want %d", c.procs, c.loops, got, c.want)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		gs.Shutdown(ctx)
		cancel()
	}
}
