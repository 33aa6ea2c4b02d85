package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// The player simulation, run in a load process: each simulated player is a
// browser tab reduced to its protocol: join, a data channel (stream, sse,
// long-poll or poll), "hello" in the lobby, quick-match into tictactoe, and
// moves at a fixed pace until the scenario ends, rematching or queueing
// again after each game.

// Transports of the simulation, as docs/CLIENT.md names them.
const (
	transportStream   = "stream"
	transportSSE      = "sse"
	transportLongPoll = "long-poll"
	transportPoll     = "poll"
)

var transports = []string{transportLongPoll, transportStream, transportSSE, transportPoll}

// Lobby behaviours.
const (
	// lobbyQuiet: the player does what the example's page does once in a
	// game: nothing; the lobby stops broadcasting to a seated player by
	// itself, and resumes (with fresh snapshots) between games.
	lobbyQuiet = "quiet"
	// lobbyFull: after its welcome the player says it browses the lobby
	// (action browse, on=1), as a tab that keeps the lobby open beside the
	// game would: it hears the lobby's deltas (one per list per tick) and
	// chat all along.
	lobbyFull = "full"
)

// How players are matched.
const (
	matchLobby  = "lobby"
	matchDirect = "direct"
)

// playersConfig configures the players of one load process.
type playersConfig struct {
	Addr      string `json:"addr"`
	Transport string `json:"transport"`
	Players   int    `json:"players"` // even
	Game      string `json:"game"`    // game name for quickplay
	// Think is the time a player waits after its turn begins before it
	// moves: a game makes about one move per Think.
	Think time.Duration `json:"think"`
	Lobby string        `json:"lobby"`
	// Ramp is the number of players started per second.
	Ramp int `json:"ramp"`
	// CtrlConns is the number of shared control connections.
	CtrlConns int `json:"ctrl_conns"`
	// RequeueEvery: after this many games in a room the players leave it
	// and quick-match again (0: always rematch).
	RequeueEvery int    `json:"requeue_every"`
	Seed         uint64 `json:"seed"`
	// Name prefixes the players' names.
	Name string `json:"name"`
	// Match is how players meet: matchLobby (hello, quickplay) or
	// matchDirect (the games server's /bench/match, see mountDirectMatch).
	Match string `json:"match"`
	// SwitchSpread spreads a transport switch (default defaultSwitchSpread).
	SwitchSpread time.Duration `json:"switch_spread"`
	// HelloWindow bounds the hellos waiting for their welcome: the ramp
	// goes at the pace the lobby answers instead of flooding it with
	// requests it refuses ("busy, try again").
	HelloWindow int `json:"hello_window"`
}

// playersResult is what a load process reports; the parent merges them.
type playersResult struct {
	Players  int `json:"players"`
	Joined   int `json:"joined"`
	Welcomed int `json:"welcomed"`
	InGame   int `json:"in_game"`
	// In the measured window:
	MovesSent  int64 `json:"moves_sent"`
	MovesSeen  int64 `json:"moves_seen"` // opponents' moves received
	Games      int64 `json:"games"`      // games finished (counted once per game)
	Events     int64 `json:"events"`     // data events received
	Requests   int64 `json:"requests"`   // HTTP requests answered (control, listen, refresh)
	BytesIn    int64 `json:"bytes_in"`
	Unmatched  int64 `json:"unmatched"` // opponent moves without a known send time
	Retries    int64 `json:"retries"`   // control requests retried after "try again" (whole run)
	MoveLat    Histogram
	MoveLatSrv Histogram // send → kernel receive stamp (see tsReader)
	Publish    Histogram // control round trip of a move publish
	// During the ramp:
	JoinLat  Histogram
	HelloLat Histogram // hello sent → welcome received
	// Whole run:
	Errors      map[string]int64 `json:"errors"`
	ErrorSample []string         `json:"error_sample"`
	Stalled     int              `json:"stalled"` // players with no event for stallAfter at the end
}

// stallAfter is the silence after which a player counts as stalled.
const stallAfter = 15 * time.Second

// playerSim runs the players of one load process.
type playerSim struct {
	cfg    playersConfig
	host   string
	ctrl   []*ctrlConn
	ctx    context.Context
	cancel context.CancelFunc

	winStart, winEnd atomic.Int64 // measured window, unix ns
	transport        atomic.Pointer[string]

	roomsMu sync.Mutex
	rooms   map[string]*simGame

	joined, welcomed, inGame                 atomic.Int64
	movesSent, movesSeen, games, events, req atomic.Int64
	bytesIn, unmatched, retries              atomic.Int64

	rmu sync.Mutex
	rng *rand.Rand // guarded by rmu

	hmu                                          sync.Mutex
	moveLat, moveLatSrv, publish, joinLat, hello Histogram
	errs                                         map[string]int64
	errSample                                    []string

	hellos chan struct{} // a token per hello waiting for its welcome

	pmu     sync.Mutex
	players []*simPlayer // guarded by pmu
	wg      sync.WaitGroup
}

// simGame is what both players of a room share in this process: the send
// time of the move in flight (one at a time: the game is turn-based).
type simGame struct {
	mu        sync.Mutex
	pendingNo int   // marks on the board once the move is applied
	pendingAt int64 // unix ns the move's publish was written
}

func (g *simGame) setPending(no int, at int64) {
	g.mu.Lock()
	g.pendingNo, g.pendingAt = no, at
	g.mu.Unlock()
}

// take returns the send time of move no and forgets it (0: unknown).
func (g *simGame) take(no int) int64 {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.pendingNo != no {
		return 0
	}
	at := g.pendingAt
	g.pendingNo, g.pendingAt = 0, 0
	return at
}

func newPlayerSim(ctx context.Context, cfg playersConfig) (*playerSim, error) {
	switch {
	case cfg.Players <= 0 || cfg.Players%2 != 0:
		return nil, fmt.Errorf("bench: players must be a positive even number, got %d", cfg.Players)
	case cfg.Think <= 0:
		return nil, errors.New("bench: think time must be positive")
	case cfg.Lobby != lobbyQuiet && cfg.Lobby != lobbyFull:
		return nil, fmt.Errorf("bench: lobby must be %s or %s", lobbyQuiet, lobbyFull)
	case cfg.Match != matchLobby && cfg.Match != matchDirect:
		return nil, fmt.Errorf("bench: match must be %s or %s", matchLobby, matchDirect)
	}
	if cfg.Match == matchDirect {
		cfg.RequeueEvery = 0 // a new match would race the events of the room with the answer
	}
	switch cfg.Transport {
	case transportStream, transportSSE, transportLongPoll, transportPoll:
	default:
		return nil, fmt.Errorf("bench: unknown transport %q", cfg.Transport)
	}
	cfg.Ramp = max(cfg.Ramp, 1)
	cfg.CtrlConns = max(cfg.CtrlConns, 1)
	cfg.HelloWindow = max(cfg.HelloWindow, 1)
	if cfg.Name == "" {
		cfg.Name = "p"
	}
	s := &playerSim{cfg: cfg, host: cfg.Addr, rooms: map[string]*simGame{}, errs: map[string]int64{}, rng: rand.New(rand.NewPCG(cfg.Seed, 0))}
	s.ctx, s.cancel = context.WithCancel(ctx)
	s.winStart.Store(1<<63 - 1)
	s.transport.Store(&cfg.Transport)
	s.hellos = make(chan struct{}, cfg.HelloWindow)
	for range cfg.CtrlConns {
		s.ctrl = append(s.ctrl, newCtrlConn(cfg.Addr, func(err error) { s.fail("control connection", err) }))
	}
	return s, nil
}

// jitter returns a random number in [0, n).
func (s *playerSim) jitter(n int) int {
	s.rmu.Lock()
	defer s.rmu.Unlock()
	return s.rng.IntN(n)
}

// inWindow reports whether unix time ns lies in the measured window.
func (s *playerSim) inWindow(ns int64) bool { return ns >= s.winStart.Load() && ns < s.winEnd.Load() }

// fail counts an error under kind.
func (s *playerSim) fail(kind string, err error) {
	s.hmu.Lock()
	defer s.hmu.Unlock()
	s.errs[kind]++
	if len(s.errSample) < 10 {
		msg := kind
		if err != nil {
			msg += ": " + err.Error()
		}
		s.errSample = append(s.errSample, msg)
	}
}

func (s *playerSim) record(h *Histogram, d time.Duration) {
	s.hmu.Lock()
	h.Record(d)
	s.hmu.Unlock()
}

func (s *playerSim) game(room string) *simGame {
	s.roomsMu.Lock()
	defer s.roomsMu.Unlock()
	g := s.rooms[room]
	if g == nil {
		g = &simGame{}
		s.rooms[room] = g
	}
	return g
}

// start launches the players at the ramp rate.
func (s *playerSim) start() {
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		every := time.Second / time.Duration(s.cfg.Ramp)
		next := time.Now()
		for i := range s.cfg.Players {
			if s.ctx.Err() != nil {
				return
			}
			p := &simPlayer{s: s, idx: i, ctrl: s.ctrl[i%len(s.ctrl)], rng: rand.New(rand.NewPCG(s.cfg.Seed, uint64(i)))}
			s.pmu.Lock()
			s.players = append(s.players, p)
			s.pmu.Unlock()
			s.wg.Add(1)
			go func() {
				defer s.wg.Done()
				p.run()
			}()
			next = next.Add(every)
			if d := time.Until(next); d > 0 {
				select {
				case <-time.After(d):
				case <-s.ctx.Done():
				}
			}
		}
	}()
}

// stop ends every player and waits for them.
func (s *playerSim) stop() {
	s.cancel()
	s.wg.Wait()
	for _, c := range s.ctrl {
		c.close()
	}
}

// playersProgress is a load process's report while it runs.
type playersProgress struct {
	Joined     int64  `json:"joined"`
	Welcomed   int64  `json:"welcomed"`
	InGame     int64  `json:"in_game"`
	Errors     int64  `json:"errors"`
	MovesSeen  int64  `json:"moves_seen"`
	Retries    int64  `json:"retries"`
	FirstError string `json:"first_error,omitempty"`
}

func (s *playerSim) progress() playersProgress {
	p := playersProgress{Joined: s.joined.Load(), Welcomed: s.welcomed.Load(), InGame: s.inGame.Load(), MovesSeen: s.movesSeen.Load(), Retries: s.retries.Load()}
	s.hmu.Lock()
	for _, n := range s.errs {
		p.Errors += n
	}
	if len(s.errSample) > 0 {
		p.FirstError = s.errSample[0]
	}
	s.hmu.Unlock()
	return p
}

// reset clears the counters of a phase (a report was sent).
func (s *playerSim) reset() {
	for _, a := range []*atomic.Int64{&s.movesSent, &s.movesSeen, &s.games, &s.events, &s.req, &s.bytesIn, &s.unmatched, &s.retries} {
		a.Store(0)
	}
	s.hmu.Lock()
	defer s.hmu.Unlock()
	s.moveLat, s.moveLatSrv, s.publish, s.joinLat, s.hello = Histogram{}, Histogram{}, Histogram{}, Histogram{}, Histogram{}
	s.errs, s.errSample = map[string]int64{}, nil
}

// defaultSwitchSpread spreads the players' moves to another transport over
// this long, as clients do not all fall back at the same instant: a
// stampede of reconnections would hold some data channels closed longer
// than the engine's detach grace (2 s), and their opponents would see them
// dropped.
const defaultSwitchSpread = 2 * time.Second

// switchTransport moves every player's data channel to transport t: each
// closes its connection and listens again with p_last, as a client falling
// back to another transport does.
func (s *playerSim) switchTransport(t string) {
	s.transport.Store(&t)
	spread := s.cfg.SwitchSpread
	if spread <= 0 {
		spread = defaultSwitchSpread
	}
	for _, p := range s.started() {
		time.AfterFunc(time.Duration(s.jitter(max(1, int(spread/time.Millisecond))))*time.Millisecond, func() {
			p.mu.Lock()
			defer p.mu.Unlock()
			if p.conn != nil {
				p.switching.Store(true)
				p.conn.Close()
			}
		})
	}
}

func (s *playerSim) started() []*simPlayer {
	s.pmu.Lock()
	defer s.pmu.Unlock()
	return slices.Clone(s.players)
}

func (s *playerSim) result() playersResult {
	now := time.Now().UnixNano()
	stalled := 0
	for _, p := range s.started() {
		if now-p.lastEvent.Load() > int64(stallAfter) {
			stalled++
		}
	}
	s.hmu.Lock()
	defer s.hmu.Unlock()
	return playersResult{
		Players: s.cfg.Players, Joined: int(s.joined.Load()), Welcomed: int(s.welcomed.Load()), InGame: int(s.inGame.Load()),
		MovesSent: s.movesSent.Load(), MovesSeen: s.movesSeen.Load(), Games: s.games.Load(), Events: s.events.Load(),
		Requests: s.req.Load(), BytesIn: s.bytesIn.Load(), Unmatched: s.unmatched.Load(), Retries: s.retries.Load(),
		MoveLat: s.moveLat.Clone(), MoveLatSrv: s.moveLatSrv.Clone(), Publish: s.publish.Clone(), JoinLat: s.joinLat.Clone(), HelloLat: s.hello.Clone(),
		Errors: maps.Clone(s.errs), ErrorSample: slices.Clone(s.errSample), Stalled: stalled,
	}
}

// runPlayersChild is a load process of the player simulation.
func runPlayersChild(ctx context.Context, cfg playersConfig, cmds <-chan string, out *lineWriter) error {
	s, err := newPlayerSim(ctx, cfg)
	if err != nil {
		return err
	}
	s.start()
	defer s.stop()
	tick := time.NewTicker(250 * time.Millisecond)
	defer tick.Stop()
	ready := false
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-tick.C:
			pr := s.progress()
			out.send("progress", pr)
			if !ready && pr.InGame == int64(cfg.Players) {
				ready = true
				out.send("ready", pr)
			}
		case cmd, ok := <-cmds:
			if !ok {
				return nil
			}
			f := strings.Fields(cmd)
			switch {
			case len(f) == 3 && f[0] == "window":
				a, err1 := strconv.ParseInt(f[1], 10, 64)
				b, err2 := strconv.ParseInt(f[2], 10, 64)
				if err := errors.Join(err1, err2); err != nil {
					return err
				}
				s.winEnd.Store(b)
				s.winStart.Store(a)
			case len(f) == 2 && f[0] == "transport":
				s.switchTransport(f[1])
			case len(f) == 1 && f[0] == "report":
				out.send("result", s.result())
				s.reset()
			case len(f) == 1 && f[0] == "finish":
				return nil
			default:
				return fmt.Errorf("bench: players: unknown command %q", cmd)
			}
		}
	}
}

// simPlayer is one simulated player.
type simPlayer struct {
	s       *playerSim
	idx     int
	ctrl    *ctrlConn
	rng     *rand.Rand // guarded by mu
	scratch []byte     // guarded by mu: a room event's data, unescaped (fastData)

	id   string // p_id, set before the data channel opens
	last uint64 // last p_seq received (data channel goroutine)
	// seen is last, for the control requests' p_ack: every request of
	// the session acknowledges what the data channel delivered, as
	// static/js/cometplay.js does, so that the server lets go of it.
	seen      atomic.Uint64
	lastEvent atomic.Int64
	switching atomic.Bool // the data channel is being closed for another transport
	helloHeld atomic.Bool // holds a place in the hello window

	mu       sync.Mutex
	pub      string // player id from welcome
	helloAt  time.Time
	room     string
	g        *simGame
	seat     int
	seq      int // last applied move of this seat
	board    [9]bool
	marks    int
	rounds   int // games finished in this room
	started  bool
	timer    *time.Timer
	moving   bool // a move is scheduled
	sentNo   int  // marks on the board once this player's last move is applied
	pollWait time.Duration
	conn     *wireConn // the data channel's connection
}

func (p *simPlayer) target(event string, kv ...string) string {
	var b strings.Builder
	b.WriteString("/comet?p_event=")
	b.WriteString(event)
	if p.id != "" {
		b.WriteString("&p_id=")
		b.WriteString(p.id)
		if n := p.seen.Load(); n > 0 && event != "listen" && event != "refresh" {
			b.WriteString("&p_ack=")
			b.WriteString(strconv.FormatUint(n, 10))
		}
	}
	for i := 0; i+1 < len(kv); i += 2 {
		b.WriteByte('&')
		b.WriteString(kv[i])
		b.WriteByte('=')
		b.WriteString(kv[i+1]) // callers pass URL-safe values
	}
	return b.String()
}

// control sends a control request; its failure is counted under what. A
// nack that asks to try again (the lobby's or a room's queue is full) is
// retried after a random pause, as a client should, and counted apart.
func (p *simPlayer) control(what, target string, wrote func(int64), done func(time.Duration)) {
	p.controlTry(what, target, wrote, done, 0)
}

// maxRetries bounds the retries of one control request (with pauses of up
// to 4 s, several minutes).
const maxRetries = 100

func (p *simPlayer) controlTry(what, target string, wrote func(int64), done func(time.Duration), try int) {
	s := p.s
	var at int64
	p.ctrl.send(&ctrlReq{
		buf: getRequest(nil, s.host, target),
		wrote: func(ns int64) {
			at = ns
			if wrote != nil {
				wrote(ns)
			}
		},
		done: func(status int, body []byte, err error) {
			now := time.Now().UnixNano()
			if s.inWindow(now) {
				s.req.Add(1)
			}
			if err := ctrlError(status, body, err); err != nil {
				if s.ctx.Err() != nil {
					return
				}
				if strings.Contains(err.Error(), "try again") && try < maxRetries {
					s.retries.Add(1)
					pause := time.Duration(100+p.s.jitter(400)) * time.Millisecond << min(try, 3)
					time.AfterFunc(pause, func() { p.controlTry(what, target, wrote, done, try+1) })
					return
				}
				if what == "hello" {
					p.releaseHello()
				}
				s.fail(what, err)
				return
			}
			if done != nil {
				done(time.Duration(now - at))
			}
		},
	})
}

func (p *simPlayer) run() {
	s := p.s
	// Join: a session of our own, answered on a shared connection.
	type joinAns struct {
		id  string
		err error
	}
	ans := make(chan joinAns, 1)
	t0 := time.Now()
	p.ctrl.send(&ctrlReq{buf: getRequest(nil, s.host, "/comet?p_event=join&p_format=json"), done: func(status int, body []byte, err error) {
		if err = ctrlError(status, body, err); err != nil {
			ans <- joinAns{err: err}
			return
		}
		if e := firstEvent(body); !rawIs(e.name, "join-ack") {
			ans <- joinAns{err: fmt.Errorf("unexpected answer %.100s", body)}
			return
		}
		ans <- joinAns{id: joinID(body)}
	}})
	var a joinAns
	select {
	case a = <-ans:
	case <-s.ctx.Done():
		return
	}
	if a.err == nil && a.id == "" {
		a.err = errors.New("join-ack without p_id")
	}
	if a.err != nil {
		s.fail("join", a.err)
		return
	}
	p.id = a.id
	s.record(&s.joinLat, time.Since(t0))
	s.joined.Add(1)
	p.lastEvent.Store(time.Now().UnixNano())
	// The data channel; reopened (with p_last) if it breaks.
	opened := false
	for s.ctx.Err() == nil {
		err := p.listen(func() {
			if !opened {
				opened = true
				if s.cfg.Match == matchDirect {
					p.matchDirect()
					return
				}
				// Wait for a place in the hello window (on another
				// goroutine: the data channel must be read meanwhile).
				go func() {
					select {
					case s.hellos <- struct{}{}:
						p.helloHeld.Store(true)
						p.hello()
					case <-s.ctx.Done():
					}
				}()
			}
		})
		if s.ctx.Err() != nil {
			return
		}
		if p.switching.Swap(false) || errors.Is(err, errSwitched) {
			continue
		}
		s.fail("data channel", err)
		select {
		case <-time.After(200 * time.Millisecond):
		case <-s.ctx.Done():
		}
	}
}

// joinID returns p_id of a join-ack answer.
func joinID(body []byte) string {
	var id string
	eachObject(body, func(obj []byte) {
		eachField(obj, func(name, raw []byte) bool {
			if string(name) == "p_id" {
				id = unq(raw)
				return false
			}
			return true
		})
	})
	return id
}

func (p *simPlayer) welcomedOnce() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.pub != ""
}

// matchDirect asks the games server's own matchmaker for a game (no
// lobby); the player picks its id.
func (p *simPlayer) matchDirect() {
	s := p.s
	id := s.cfg.Name + strconv.Itoa(p.idx)
	p.mu.Lock()
	p.pub = id
	p.helloAt = time.Now()
	p.mu.Unlock()
	p.control("match", "/bench/match?p_id="+p.id+"&game="+s.cfg.Game+"&player="+id, nil, func(time.Duration) {
		s.welcomed.Add(1)
	})
}

// releaseHello gives back the player's place in the hello window.
func (p *simPlayer) releaseHello() {
	if p.helloHeld.Swap(false) {
		<-p.s.hellos
	}
}

func (p *simPlayer) hello() {
	p.mu.Lock()
	if p.helloAt.IsZero() {
		p.helloAt = time.Now() // a retry keeps the first send's time
	}
	p.mu.Unlock()
	p.control("hello", p.target("publish", "p_subject", "/lobby", "action", "hello", "name", p.s.cfg.Name+strconv.Itoa(p.idx)), nil, nil)
}

// listen opens the data channel of the configured transport and handles
// its events until it fails or the simulation ends; opened runs once the
// channel is open.
func (p *simPlayer) listen(opened func()) error {
	s := p.s
	w, err := dialWire(s.cfg.Addr, 5*time.Second, true)
	if err != nil {
		return err
	}
	stop := context.AfterFunc(s.ctx, func() { w.Close() })
	defer stop()
	defer w.Close()
	transport := *s.transport.Load()
	p.mu.Lock()
	p.conn = w
	p.mu.Unlock()
	defer func() {
		p.mu.Lock()
		p.conn = nil
		p.mu.Unlock()
	}()
	if transport != *s.transport.Load() {
		return errSwitched // switched while connecting
	}
	resume := ""
	if p.last > 0 {
		resume = strconv.FormatUint(p.last, 10)
	}
	var target string
	switch transport {
	case transportStream:
		target = p.target("listen", "p_mode", "stream", "p_format", "json")
	case transportSSE:
		target = p.target("listen", "p_format", "sse")
	case transportLongPoll:
		target = p.target("listen", "p_mode", "pull", "p_format", "json")
	case transportPoll:
		target = p.target("listen", "p_mode", "poll", "p_format", "json")
	}
	if resume != "" {
		target += "&p_last=" + resume
	}
	req := getRequest(nil, s.host, target)
	streaming := transport == transportStream || transport == transportSSE
	for {
		if _, err := w.c.Write(req); err != nil {
			return err
		}
		// A stream's events come at least every heartbeat (20 s); a parked
		// long-poll answers within it.
		w.c.SetReadDeadline(time.Now().Add(time.Minute))
		h, err := w.readHead()
		if err != nil {
			return err
		}
		if h.status != 200 {
			b, _ := w.readBody(h)
			return fmt.Errorf("listen: HTTP %d: %.100s", h.status, b)
		}
		if streaming {
			if !h.chunked {
				return errors.New("listen: stream is not chunked")
			}
			opened()
			sp := streamSplitter{sse: transport == transportSSE}
			for {
				w.c.SetReadDeadline(time.Now().Add(time.Minute))
				chunk, err := w.readChunk()
				if err != nil {
					return err
				}
				s.countIn(len(chunk))
				sp.feed(chunk, func(obj []byte) { p.handle(obj, w.ts.last) })
				w.release()
			}
		}
		body, err := w.readBody(h)
		if err != nil {
			return err
		}
		if now := time.Now().UnixNano(); s.inWindow(now) {
			s.req.Add(1)
		}
		s.countIn(len(body))
		eachObject(body, func(obj []byte) { p.handle(obj, w.ts.last) })
		w.release()
		opened()
		if transport == transportPoll {
			p.mu.Lock()
			wait := p.pollWait
			p.mu.Unlock()
			select {
			case <-time.After(wait):
			case <-s.ctx.Done():
				return s.ctx.Err()
			}
		}
		req = getRequest(req[:0], s.host, p.target("refresh", "p_last", strconv.FormatUint(p.last, 10)))
	}
}

// errSwitched ends a data channel whose transport changed.
var errSwitched = errors.New("bench: transport switched")

func (s *playerSim) countIn(n int) {
	if s.inWindow(time.Now().UnixNano()) {
		s.bytesIn.Add(int64(n))
	}
}

// Decoded data of the room and lobby events the players act on.
type (
	welcomeData struct {
		Player struct {
			ID string `json:"id"`
		} `json:"player"`
	}
	joinedData struct {
		Room string `json:"room"`
		Seat int    `json:"seat"`
		Seq  int    `json:"seq"`
	}
	turnData struct {
		Player *struct {
			ID string `json:"id"`
		} `json:"player"`
	}
	moveData struct {
		Player string    `json:"player"`
		Cell   int       `json:"cell"`
		Board  [9]string `json:"board"`
	}
	stateData struct {
		Board [9]string `json:"board"`
		Turn  string    `json:"turn"`
		State string    `json:"state"`
	}
	errorData struct {
		Action string `json:"action"`
		Reason string `json:"reason"`
	}
)

// handle processes one event of the data channel; ts is the kernel's
// receive stamp of the bytes that carried it.
func (p *simPlayer) handle(obj []byte, ts int64) {
	s := p.s
	now := time.Now().UnixNano()
	e := scanEvent(obj)
	switch {
	case rawIs(e.name, "data"):
		p.lastEvent.Store(now)
		if seq := uint64(rawNum(e.seq)); seq != p.last+1 {
			s.fail("p_seq not contiguous", fmt.Errorf("got %d after %d", seq, p.last))
			p.last = max(p.last, seq)
		} else {
			p.last = seq
		}
		p.seen.Store(p.last)
		if s.inWindow(now) {
			s.events.Add(1)
		}
		p.data(e, now, ts)
	case rawIs(e.name, "gap"):
		s.fail("gap", fmt.Errorf("%s", obj))
		p.last = max(p.last, uint64(rawNum(e.seq)))
		// What a client does after a gap: ask the lobby for its state
		// and its rooms' again (welcome, joined, state).
		if p.helloHeld.Load() || p.welcomedOnce() {
			p.control("sync", p.target("publish", "p_subject", "/lobby", "action", "sync"), nil, nil)
		}
	case rawIs(e.name, "nack"):
		s.fail("nack on the data channel", errors.New(unq(e.reason)))
	case rawIs(e.name, "abort"):
		s.fail("abort", nil)
	case rawIs(e.name, "refresh"):
		if w := rawNum(e.wait); w >= 0 {
			p.mu.Lock()
			p.pollWait = time.Duration(w) * time.Millisecond
			p.mu.Unlock()
		}
	case rawIs(e.name, "hb"):
		p.lastEvent.Store(now)
	}
}

// fastData runs decode on the text of e's data, unescaped in the player's
// scratch buffer; false if the data is not a plain string or decode fails.
func (p *simPlayer) fastData(e event, decode func([]byte) bool) bool {
	b, ok := unqData(e.data, p.scratch)
	if !ok {
		return false
	}
	if cap(b) > cap(p.scratch) {
		p.scratch = b[:0]
	}
	return decode(b)
}

func decodeData(e event, v any) bool {
	return json.Unmarshal([]byte(unq(e.data)), v) == nil
}

// data acts on a data event.
func (p *simPlayer) data(e event, now, ts int64) {
	s := p.s
	subject := unq(e.subject)
	if subject == "/lobby" {
		switch {
		case rawIs(e.typ, "welcome"):
			var d welcomeData
			if !decodeData(e, &d) || d.Player.ID == "" {
				s.fail("welcome", fmt.Errorf("bad data %.100s", e.data))
				return
			}
			p.mu.Lock()
			defer p.mu.Unlock()
			if p.pub != "" {
				return // the answer to a sync: the rest follows
			}
			p.pub = d.Player.ID
			s.record(&s.hello, time.Since(p.helloAt))
			s.welcomed.Add(1)
			p.releaseHello()
			if s.cfg.Lobby == lobbyFull {
				p.control("browse", p.target("publish", "p_subject", "/lobby", "action", "browse", "on", "1", "tab", "bench"), nil, nil)
			}
			p.quickplayLocked()
		case rawIs(e.typ, "error"):
			var d errorData
			decodeData(e, &d)
			if strings.Contains(d.Reason, "try again") && (d.Action == "hello" || d.Action == "quickplay") {
				// Refused once queued (the lobby's queue for the
				// Authenticator was full): ask again later.
				s.retries.Add(1)
				retry := p.hello
				if d.Action == "quickplay" {
					retry = p.quickplay
				}
				time.AfterFunc(time.Duration(200+s.jitter(800))*time.Millisecond, retry)
				return
			}
			if d.Action == "hello" {
				p.releaseHello()
			}
			s.fail("lobby error", fmt.Errorf("%s: %s", d.Action, d.Reason))
		}
		return
	}
	if !strings.HasPrefix(subject, "/room/") {
		return // lobby broadcasts (full lobby)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	room := subject[len("/room/"):]
	if room != p.room && !rawIs(e.typ, "joined") {
		return // a room this player left
	}
	switch {
	case rawIs(e.typ, "joined"):
		var d joinedData
		if !decodeData(e, &d) || d.Room == "" || d.Seat < 0 {
			s.fail("joined", fmt.Errorf("bad data %.100s", e.data))
			return
		}
		if d.Room != p.room {
			p.rounds = 0
		}
		p.room, p.seat, p.seq = d.Room, d.Seat, d.Seq
		p.g = s.game(d.Room)
	case rawIs(e.typ, "start"):
		p.board, p.marks, p.sentNo = [9]bool{}, 0, 0
		if !p.started {
			p.started = true
			s.inGame.Add(1)
		}
	case rawIs(e.typ, "turn"):
		var d turnData
		if !p.fastData(e, func(b []byte) bool { return fastTurn(b, &d) }) && !decodeData(e, &d) {
			s.fail("turn", fmt.Errorf("bad data %.100s", e.data))
			return
		}
		if d.Player != nil && d.Player.ID == p.pub {
			p.scheduleMoveLocked()
		}
	case rawIs(e.typ, "state"):
		// After a sync (or a reconnection): the board and whose turn it is.
		var d stateData
		if !decodeData(e, &d) {
			s.fail("state", fmt.Errorf("bad data %.100s", e.data))
			return
		}
		p.marks = 0
		for i, c := range d.Board {
			p.board[i] = c != ""
			if c != "" {
				p.marks++
			}
		}
		// Unless the move this player sent is still on its way.
		if d.State == "playing" && d.Turn == p.pub && p.marks >= p.sentNo {
			p.scheduleMoveLocked()
		}
	case rawIs(e.typ, "move"):
		var d moveData
		if !p.fastData(e, func(b []byte) bool { return fastMove(b, &d) }) && !decodeData(e, &d) {
			s.fail("move", fmt.Errorf("bad data %.100s", e.data))
			return
		}
		marks := 0
		for i, c := range d.Board {
			p.board[i] = c != ""
			if c != "" {
				marks++
			}
		}
		p.marks = marks
		if d.Player == p.pub || p.g == nil {
			return
		}
		at := p.g.take(marks)
		switch {
		case at == 0:
			if s.inWindow(now) {
				s.unmatched.Add(1)
			}
		case s.inWindow(at):
			s.movesSeen.Add(1)
			s.record(&s.moveLat, time.Duration(now-at))
			if ts > 0 {
				s.record(&s.moveLatSrv, time.Duration(ts-at))
			}
		}
	case rawIs(e.typ, "finished"):
		p.rounds++
		if p.seat == 0 && s.inWindow(now) {
			s.games.Add(1)
		}
		if p.timer != nil && p.timer.Stop() {
			p.moving = false
		}
		if s.cfg.RequeueEvery > 0 && p.rounds%s.cfg.RequeueEvery == 0 {
			p.control("leave-room", p.target("publish", "p_subject", "/lobby", "action", "leave-room", "room", p.room), nil, nil)
			p.room, p.g = "", nil
			p.quickplayLocked()
			return
		}
		p.control("rematch", p.target("publish", "p_subject", "/room/"+p.room, "type", "rematch"), nil, nil)
	case rawIs(e.typ, "error"):
		var d errorData
		decodeData(e, &d)
		s.fail("room error", errors.New(d.Reason))
	case rawIs(e.typ, "kicked"), rawIs(e.typ, "closed"), rawIs(e.typ, "player-dropped"), rawIs(e.typ, "join-rejected"):
		s.fail("room "+unq(e.typ), fmt.Errorf("%.200s", unq(e.data)))
	}
}

func (p *simPlayer) quickplay() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.quickplayLocked()
}

func (p *simPlayer) quickplayLocked() {
	p.control("quickplay", p.target("publish", "p_subject", "/lobby", "action", "quickplay", "game", p.s.cfg.Game), nil, nil)
}

// scheduleMoveLocked plays a move after the think time, unless one is
// already on its way.
func (p *simPlayer) scheduleMoveLocked() {
	if p.moving {
		return
	}
	p.moving = true
	p.timer = time.AfterFunc(p.s.cfg.Think, p.move)
}

// move plays a random free cell (the timer's goroutine).
func (p *simPlayer) move() {
	s := p.s
	if s.ctx.Err() != nil {
		return
	}
	p.mu.Lock()
	p.moving = false
	if p.g == nil {
		p.mu.Unlock()
		return
	}
	free := make([]int, 0, 9)
	for i, taken := range p.board {
		if !taken {
			free = append(free, i)
		}
	}
	if len(free) == 0 {
		p.mu.Unlock()
		s.fail("move", errors.New("no free cell on my turn"))
		return
	}
	cell := free[p.rng.IntN(len(free))]
	p.seq++
	seq, room, g, no := p.seq, p.room, p.g, p.marks+1
	p.sentNo = no
	p.mu.Unlock()
	target := p.target("publish", "p_subject", "/room/"+room, "type", "move",
		"data", "%7B%22cell%22%3A"+strconv.Itoa(cell)+"%7D", "move", "m"+strconv.Itoa(seq), "seq", strconv.Itoa(seq))
	p.control("move", target, func(ns int64) {
		g.setPending(no, ns)
		if s.inWindow(ns) {
			s.movesSent.Add(1)
		}
	}, func(rtt time.Duration) {
		if s.inWindow(time.Now().UnixNano()) {
			s.record(&s.publish, rtt)
		}
	})
}
