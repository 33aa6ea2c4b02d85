package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/cometplay/cometplay/internal/balancer"
	"github.com/cometplay/cometplay/internal/testkit"
)

// The SIGKILL test: three tictactoe processes, a cluster, behind the
// per-request balancer; 100 games played by Go clients through it; one
// node that is not the games node (so it runs rooms and is home to
// sessions) killed with SIGKILL mid-game.

// killGames is how many games the SIGKILL test plays at once.
const killGames = 100

// killDeadline bounds the SIGKILL test's games, from the first join to the
// last result: a liveness bound (leases are seconds long), not a measure.
const killDeadline = 2 * time.Minute

// nodeProc is a tictactoe process, a node of a cluster.
type nodeProc struct {
	tag, addr string
	cmd       *exec.Cmd
	exited    chan struct{}
}

// buildTictactoe builds this command into dir and returns the binary.
func buildTictactoe(t *testing.T, dir string) string {
	t.Helper()
	bin := filepath.Join(dir, "tictactoe")
	cmd := exec.Command("go", "build", "-o", bin, ".")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// freePorts returns n addresses on 127.0.0.1 free a moment ago (each node
// is told the others' route addresses before they listen).
func freePorts(t *testing.T, n int) []string {
	t.Helper()
	addrs := make([]string, n)
	for i := range addrs {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addrs[i] = l.Addr().String()
		l.Close()
	}
	return addrs
}

// startNodeProcs starts n tictactoe processes, nodes n1…, each with its own
// JetStream store under dir and the flags extra; their logs go to
// dir/<tag>.log.
func startNodeProcs(t *testing.T, bin, dir string, n int, extra ...string) []*nodeProc {
	t.Helper()
	routes := freePorts(t, n)
	procs := make([]*nodeProc, n)
	for i := range procs {
		tag := "n" + strconv.Itoa(i+1)
		var others []string
		for j, r := range routes {
			if j != i {
				others = append(others, r)
			}
		}
		store := filepath.Join(dir, tag)
		logf, err := os.Create(filepath.Join(dir, tag+".log"))
		if err != nil {
			t.Fatal(err)
		}
		// Every client is 127.0.0.1: no per-address caps.
		cmd := exec.Command(bin, "-addr", "127.0.0.1:0", "-node", tag, "-cluster-listen", routes[i],
			"-cluster-routes", strings.Join(others, ","), "-store-dir", store,
			"-max-conns-per-addr", "-1", "-max-sessions-per-addr", "-1", "-publish-rate", "-1", "-subscribe-rate", "-1",
			"-max-waiting-per-addr", "-1", "-lobby-queue-per-addr", "1024")
		cmd.Args = append(cmd.Args, extra...)
		cmd.Stderr = logf
		// The kernel kills the child if this process dies first.
		cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
		stdout, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		p := &nodeProc{tag: tag, cmd: cmd, exited: make(chan struct{})}
		procs[i] = p
		go func() { cmd.Wait(); logf.Close(); close(p.exited) }()
		t.Cleanup(func() { p.stop() })
		addrc := make(chan string, 1)
		go func() {
			sc := bufio.NewScanner(stdout)
			for sc.Scan() {
				if a, ok := strings.CutPrefix(sc.Text(), "cometplay is running: open http://"); ok {
					addrc <- strings.TrimSuffix(a, "/")
				}
			}
			io.Copy(io.Discard, stdout)
		}()
		select {
		case p.addr = <-addrc:
		case <-p.exited:
			b, _ := os.ReadFile(logf.Name())
			t.Fatalf("%s exited at start: %s", tag, b)
		case <-time.After(testkit.Timeout * 3):
			t.Fatalf("%s did not start", tag)
		}
	}
	// Ready when every node hears of the other two and holds its lease.
	for _, p := range procs {
		testkit.EventuallyWithin(t, time.Minute, p.tag+" in the cluster", func() bool {
			var st struct {
				Cluster struct {
					Peers []string `json:"peers"`
					Lease bool     `json:"lease"`
				} `json:"cluster"`
			}
			resp, err := http.Get("http://" + p.addr + "/debug/stats")
			if err != nil {
				return false
			}
			defer resp.Body.Close()
			json.NewDecoder(resp.Body).Decode(&st)
			return len(st.Cluster.Peers) == n-1 && st.Cluster.Lease
		})
	}
	return procs
}

// startBalancer starts the per-request balancer in front of procs and
// returns its address.
func startBalancer(t *testing.T, procs []*nodeProc) string {
	t.Helper()
	var bs []balancer.Backend
	for _, p := range procs {
		bs = append(bs, balancer.Backend{Name: p.tag, Addr: p.addr})
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	hs := &http.Server{Handler: balancer.New(bs)}
	go hs.Serve(l)
	t.Cleanup(func() { hs.Close() })
	return l.Addr().String()
}

// stop ends the process gently (SIGTERM), or kills it.
func (p *nodeProc) stop() {
	select {
	case <-p.exited:
		return
	default:
	}
	p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.exited:
	case <-time.After(15 * time.Second):
		p.cmd.Process.Kill()
		<-p.exited
	}
}

// killer is a tictactoe player, a Go client doing what cometplay.js and
// rooms.js do through a balancer whose nodes may die: a request the
// balancer could not forward (502) is sent again; a stream that ends is
// opened again with p_last; a session that is gone (400) is replaced by a
// new one, which says hello with the seat's token and so gets the seat
// back; a move answered "not available, try again" (its room's node died,
// another has not taken the room yet) is sent again, with its id and
// sequence number, so that it is applied once.
type killer struct {
	name, lb string
	hc       *http.Client
	deadline time.Time

	id, me, room, token string
	mark                string
	seq                 int // the seat's last move applied
	board               [9]string
	pending             *pendingMove
	acked               map[int]int // the cells of the moves applied, by sequence number
	evs                 chan map[string]string
	stopStream          context.CancelFunc

	homes   []string // the nodes the player's sessions lived on
	rejoins int
	// helloRetries: hellos with the seat's token refused (the seat's room
	// not found yet) and said again.
	helloRetries int
	helloErr     string   // the last refusal
	last         []string // the last events, for a failure's message
	stuck        string   // why the game did not finish
	result       string
	faults       []string // what should not have happened
	gaps         atomic.Int64
}

type pendingMove struct{ cell, seq, tries int }

func (k *killer) fault(format string, args ...any) {
	k.faults = append(k.faults, fmt.Sprintf(format, args...))
}

// control sends a control request through the balancer until a node
// answers it (a 502: the balancer's node is dead).
func (k *killer) control(q string) (int, []map[string]string) {
	for {
		resp, err := k.hc.Get("http://" + k.lb + "/comet?p_format=json&" + q)
		if err == nil {
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusBadGateway {
				var evs []map[string]string
				json.Unmarshal(b, &evs)
				return resp.StatusCode, evs
			}
		}
		if time.Now().After(k.deadline) {
			return 0, nil
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func (k *killer) publish(kv ...string) (int, []map[string]string) {
	q := "p_event=publish&p_id=" + k.id
	for i := 0; i+1 < len(kv); i += 2 {
		q += "&" + kv[i] + "=" + url.QueryEscape(kv[i+1])
	}
	return k.control(q)
}

// session joins a new session, listens on it, and says hello (with the
// seat's token if it holds one).
func (k *killer) session() error {
	if k.stopStream != nil {
		k.stopStream()
	}
	st, evs := k.control("p_event=join")
	if st != 200 || len(evs) == 0 || evs[0]["p_id"] == "" {
		return fmt.Errorf("%s: join: %d %v", k.name, st, evs)
	}
	k.id = evs[0]["p_id"]
	k.homes = append(k.homes, k.id[:2])
	ctx, cancel := context.WithCancel(context.Background())
	k.stopStream = cancel
	k.evs = make(chan map[string]string, 64)
	go k.stream(ctx, k.id, k.evs)
	kv := []string{"p_subject", "/lobby", "action", "hello", "name", k.name}
	if k.token != "" {
		kv = append(kv, "token", k.token)
	}
	if st, evs := k.publish(kv...); st != 200 || len(evs) == 0 || evs[0]["p_event"] != "publish-ack" {
		return fmt.Errorf("%s: hello: %d %v", k.name, st, evs)
	}
	return nil
}

// stream reads the session's events into evs, listening again (with
// p_last) when the stream ends; once the session is gone (400) it sends
// a "_gone" event and returns.
func (k *killer) stream(ctx context.Context, id string, evs chan<- map[string]string) {
	var last uint64
	for ctx.Err() == nil {
		req, _ := http.NewRequestWithContext(ctx, "GET", fmt.Sprintf("http://%s/comet?p_event=listen&p_mode=stream&p_format=json&p_id=%s&p_last=%d", k.lb, id, last), nil)
		resp, err := k.hc.Do(req)
		if err != nil {
			time.Sleep(50 * time.Millisecond)
			continue
		}
		if resp.StatusCode == http.StatusBadRequest {
			resp.Body.Close()
			select {
			case evs <- map[string]string{"p_event": "_gone"}:
			case <-ctx.Done():
			}
			return
		}
		if resp.StatusCode != 200 {
			resp.Body.Close()
			time.Sleep(50 * time.Millisecond)
			continue
		}
		br := bufio.NewReader(resp.Body)
		for {
			line, err := br.ReadString('\n')
			if err != nil {
				break
			}
			var ev map[string]string
			if json.Unmarshal([]byte(strings.TrimSpace(line)), &ev) != nil || ev["p_event"] == "hb" || ev["p_event"] == "listen-ack" {
				continue
			}
			if seq, err := strconv.ParseUint(ev["p_seq"], 10, 64); err == nil && seq > 0 {
				if seq != last+1 {
					k.gaps.Add(1)
				}
				last = seq
			}
			if ev["p_event"] == "gap" {
				k.gaps.Add(1)
			}
			select {
			case evs <- ev:
			case <-ctx.Done():
				resp.Body.Close()
				return
			}
		}
		resp.Body.Close()
	}
}

// play plays one game to its end.
func (k *killer) play(started, moved *atomic.Int64) {
	k.acked = map[int]int{}
	if err := k.session(); err != nil {
		k.fault("%v", err)
		return
	}
	defer func() { k.stopStream() }()
	queued := false
	for time.Now().Before(k.deadline) {
		var ev map[string]string
		select {
		case ev = <-k.evs:
		case <-time.After(100 * time.Millisecond):
			if k.pending != nil && k.pending.tries > 0 {
				k.sendMove() // answered "try again"
			}
			continue
		}
		k.last = append(k.last, ev["p_event"]+" "+ev["type"]+" "+ev["data"])
		if len(k.last) > 12 {
			k.last = k.last[1:]
		}
		switch ev["p_event"] {
		case "_gone":
			// The session died with its node: a new one, hello with the
			// seat's token.
			k.rejoins++
			if err := k.session(); err != nil {
				k.fault("%v", err)
				return
			}
			continue
		}
		switch ev["type"] {
		case "welcome":
			var w struct {
				Player struct {
					ID string `json:"id"`
				} `json:"player"`
			}
			json.Unmarshal([]byte(ev["data"]), &w)
			k.me = w.Player.ID
			if !queued {
				queued = true
				if st, evs := k.publish("p_subject", "/lobby", "action", "quickplay", "game", "tictactoe"); st != 200 || len(evs) == 0 || evs[0]["p_event"] != "publish-ack" {
					k.fault("quickplay: %d %v", st, evs)
					return
				}
			}
		case "joined":
			var j struct {
				Room  string `json:"room"`
				Token string `json:"token"`
				Seq   int    `json:"seq"`
				Turn  *struct {
					Player *struct {
						ID string `json:"id"`
					} `json:"player"`
				} `json:"turn"`
				Reconnected bool `json:"reconnected"`
			}
			json.Unmarshal([]byte(ev["data"]), &j)
			if k.room == "" {
				started.Add(1)
			} else if j.Room != k.room {
				k.fault("joined room %s, playing in %s", j.Room, k.room)
			}
			k.room, k.token = j.Room, j.Token
			if j.Reconnected {
				// The seat is back: its sequence number says whether the
				// move sent to the old session was applied (if not, it is
				// sent again once the "state" that follows says the board).
				if k.pending != nil && j.Seq >= k.pending.seq {
					k.acked[k.pending.seq] = k.pending.cell
				}
				k.pending, k.seq = nil, j.Seq
			}
		case "ack":
			var a struct {
				Seq int `json:"seq"`
			}
			json.Unmarshal([]byte(ev["data"]), &a)
			if k.pending != nil && a.Seq == k.pending.seq {
				k.acked[a.Seq] = k.pending.cell
				k.pending = nil
			}
			k.seq = a.Seq
		case "start", "state":
			var s struct {
				Board [9]string `json:"board"`
				Turn  string    `json:"turn"`
				State string    `json:"state"`
			}
			json.Unmarshal([]byte(ev["data"]), &s)
			k.see(s.Board, -1)
			if ev["type"] == "state" && s.State == "playing" && s.Turn == k.me {
				k.move()
			}
		case "move":
			var m struct {
				Board  [9]string `json:"board"`
				Cell   int       `json:"cell"`
				Mark   string    `json:"mark"`
				Player string    `json:"player"`
			}
			json.Unmarshal([]byte(ev["data"]), &m)
			if m.Player == k.me {
				k.mark = m.Mark
				moved.Add(1)
			}
			k.see(m.Board, m.Cell)
		case "turn":
			var tu struct {
				Player *struct {
					ID string `json:"id"`
				} `json:"player"`
			}
			json.Unmarshal([]byte(ev["data"]), &tu)
			if tu.Player != nil && tu.Player.ID == k.me {
				k.move()
			}
		case "join-rejected":
			k.fault("join-rejected: %s", ev["data"])
		case "error":
			var e struct {
				Action string `json:"action"`
			}
			json.Unmarshal([]byte(ev["data"]), &e)
			if e.Action == "hello" && k.token != "" {
				k.helloErr = ev["data"]
				// The seat's room is not found yet: its node died and
				// another is rebuilding it. A new session, in a moment,
				// says hello with the token again.
				k.helloRetries++
				time.Sleep(500 * time.Millisecond)
				if err := k.session(); err != nil {
					k.fault("%v", err)
					return
				}
				continue
			}
			k.fault("error event: %s", ev["data"])
		case "finished":
			k.result = ev["data"]
			return
		}
	}
	k.stuck = fmt.Sprintf("no result within %v (room %s, homes %v, board %q, hellos said again %d, the last refused: %s; the last events:\n%s)", killDeadline, k.room, k.homes, k.board, k.helloRetries, k.helloErr, strings.Join(k.last, "\n"))
}

// see takes a board the room sent (with the cell of a move, or -1): no
// cell set before may change, a move's cell must have been empty (a move
// applied twice would have it set already), and X leads O by 0 or 1.
func (k *killer) see(b [9]string, cell int) {
	if cell >= 0 && k.board[cell] != "" {
		k.fault("a move on cell %d, which held %q already", cell, k.board[cell])
	}
	x, o := 0, 0
	for i := range b {
		if k.board[i] != "" && b[i] != k.board[i] {
			k.fault("cell %d changed from %q to %q", i, k.board[i], b[i])
		}
		switch b[i] {
		case "X":
			x++
		case "O":
			o++
		}
	}
	if x-o != 0 && x-o != 1 {
		k.fault("board %q: %d X and %d O", b, x, o)
	}
	k.board = b
}

// move sends a move on the first empty cell, unless one is on its way.
func (k *killer) move() {
	if k.pending != nil {
		return
	}
	for cell, m := range k.board {
		if m == "" {
			k.pending = &pendingMove{cell: cell, seq: k.seq + 1}
			k.sendMove()
			return
		}
	}
}

// sendMove sends the pending move (again).
func (k *killer) sendMove() {
	p := k.pending
	p.tries++
	st, evs := k.publish("p_subject", "/room/"+k.room, "type", "move", "data", `{"cell":`+strconv.Itoa(p.cell)+`}`,
		"move", "m"+strconv.Itoa(p.seq), "seq", strconv.Itoa(p.seq))
	switch {
	case st == 200 && len(evs) > 0 && evs[0]["p_event"] == "publish-ack":
		p.tries = -1 // taken: its ack (or error) comes on the stream
	case st == 200 && len(evs) > 0 && strings.Contains(evs[0]["p_reason"], "try again"):
		// The room's node is gone and no node has rebuilt it yet: again
		// in a moment (play's tick).
	case st == 400:
		// The session is gone: its stream says so, and the new session's
		// joined says whether this move was applied.
		p.tries = -1
	default:
		k.fault("move %d: %d %v", p.seq, st, evs)
		p.tries = -1
	}
}

// TestGamesSurviveASIGKILLedNode: three tictactoe processes behind the
// per-request balancer, 100 games played through it by 200 Go clients; mid
// -game, n3 (which runs rooms and is home to sessions, but is not the games
// node) is killed with SIGKILL. Every game finishes: the rooms of n3 are
// rebuilt on n1 or n2 from their turn logs, the players whose sessions
// lived on n3 join again and reclaim their seats with their tokens, moves
// answered "try again" meanwhile are sent again. No move is applied twice:
// every board a player sees keeps every cell it had, no move lands on a
// taken cell, no move is refused (a move applied twice would be: its cell
// is taken), every move acknowledged to a player is on its final board,
// and no stream misses an event.
func TestGamesSurviveASIGKILLedNode(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the command and runs three processes")
	}
	dir := t.TempDir()
	bin := buildTictactoe(t, dir)
	procs := startNodeProcs(t, bin, dir, 3)
	lb := startBalancer(t, procs)

	hc := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 1024, DisableCompression: true}}
	t.Cleanup(hc.CloseIdleConnections)
	deadline := time.Now().Add(killDeadline)
	var started, moved atomic.Int64
	ps := make([]*killer, 2*killGames)
	var wg sync.WaitGroup
	for i := range ps {
		ps[i] = &killer{name: fmt.Sprintf("k%03d", i), lb: lb, hc: hc, deadline: deadline}
		wg.Add(1)
		go func() {
			defer wg.Done()
			ps[i].play(&started, &moved)
		}()
	}
	// Mid-game: every player seated, and about a third of the moves made.
	victim := procs[2]
	testkit.EventuallyWithin(t, killDeadline, "the games under way", func() bool {
		return started.Load() == 2*killGames && moved.Load() >= 2*killGames
	})
	if err := victim.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	killed := time.Now()
	<-victim.exited
	t.Logf("SIGKILL to %s after %d moves", victim.tag, moved.Load())
	wg.Wait()
	took := time.Since(killed)

	finished, rejoined, faults, retried := 0, 0, 0, 0
	for _, k := range ps {
		retried += k.helloRetries
		if k.result != "" {
			finished++
		}
		if k.rejoins > 0 {
			rejoined++
			if k.homes[0] != victim.tag {
				k.fault("a new session, its home %s alive", k.homes[0])
			}
		}
		if k.result != "" && k.mark != "" {
			for seq, cell := range k.acked {
				if k.board[cell] != k.mark {
					k.fault("move %d on cell %d acknowledged, its final board %q", seq, cell, k.board)
				}
			}
		}
		if g := k.gaps.Load(); g != 0 {
			k.fault("%d gaps in p_seq", g)
		}
		for _, f := range k.faults {
			if faults++; faults <= 20 {
				t.Errorf("%s (room %s, homes %v): %s", k.name, k.room, k.homes, f)
			}
		}
	}
	onVictim := 0
	rooms := map[string]bool{}
	for _, k := range ps {
		if strings.HasPrefix(k.room, victim.tag+"-") && !rooms[k.room] {
			rooms[k.room] = true
			onVictim++
		}
	}
	t.Logf("%d of %d players finished their game; %d rooms were on %s; %d players lived on it and reclaimed their seats from a new session (%d hellos with a token said again: the seat's room not rebuilt yet); the last result %v after the kill",
		finished, len(ps), onVictim, victim.tag, rejoined, retried, took.Round(time.Millisecond))
	// A survivor whose rooms the other took over while it was alive would
	// evict them (rooms_evicted), and a reclaim it accepted just then
	// could be lost: that was the ownership's fault after a death, a lease
	// judged gone by its age while JetStream took nobody's renewal
	// (leaseGone's healthySince now).
	var evicted int64
	for _, p := range procs {
		if p == victim {
			continue
		}
		var st struct {
			Cluster struct {
				LeasesLost     int64 `json:"leases_lost"`
				RoomsEvicted   int64 `json:"rooms_evicted"`
				RoomsTakenOver int64 `json:"rooms_taken_over"`
				RoomsRestored  int64 `json:"rooms_restored"`
				GoneEnded      int64 `json:"gone_sessions_ended"`
			} `json:"cluster"`
		}
		if resp, err := http.Get("http://" + p.addr + "/debug/stats"); err == nil {
			json.NewDecoder(resp.Body).Decode(&st)
			resp.Body.Close()
		}
		t.Logf("%s: %+v", p.tag, st.Cluster)
		evicted += st.Cluster.RoomsEvicted
	}
	if onVictim == 0 || rejoined == 0 {
		t.Errorf("%d rooms on %s and %d players reclaiming: the kill tested nothing", onVictim, victim.tag, rejoined)
	}
	if evicted > 0 {
		t.Errorf("the survivors evicted %d rooms: taken over from a live node", evicted)
	}
	if finished == len(ps) {
		return
	}
	report := t.Errorf
	shown := 0
	for _, k := range ps {
		if k.result != "" || shown >= 5 {
			continue
		}
		shown++
		report("%s: %s", k.name, k.stuck)
		for _, o := range ps {
			if o != k && o.room == k.room {
				report("%s's opponent %s (homes %v): result %s", k.name, o.name, o.homes, o.result)
			}
		}
	}
	t.Errorf("%d of %d players finished their game", finished, len(ps))
}
