// Package cluster runs cometplay as one node of several, on NATS: an
// embedded NATS server routed to the other nodes' (or an external NATS),
// and what the nodes say to each other over it. It is the only package
// that imports NATS; without it (no cluster flags) a server is one process
// with no NATS, as before.
//
// # What works across nodes now
//
// Any node answers any request of a session (comet.Cluster): a session
// lives on its home node, the node that answered its join, whose tag
// begins the session's public id. A request for a session of another node
// is relayed there whole (engine.Exchange.Relay on this side,
// engine.Server.ServeRelayed on the other), served there as if it had come
// to it, and its response is written back as that node wrote it: control
// requests, and data channels of every transport (a stream's chunks keep
// coming through the relay until its client goes away here). A client
// behind a load balancer that picks a node per request, even one request
// of a keep-alive connection to one node and the next to another, works
// unmodified; resume with p_last works through any node, since the
// session's history is on its home node.
//
// A client's publish to a subject no claim handles reaches the subscribers
// of every node, and a unicast (p_to) its session on any node, in the
// order each producer sent them (publish.go).
//
// Not yet across nodes (docs/CLUSTER.md): Go's Hub.Publish and Send, and
// so the rooms' and the lobby's events, reach the sessions of their own
// node; the games server's rooms and lobby are still one per node.
//
// # Subjects
//
//	cp.n.<tag>.req          requests relayed to node tag, and "gone" notices
//	cp.n.<tag>.rel.<id>     the response to relayed request id of node tag
//	cp.pub                  client publishes, for every node's subscribers
//	cp.n.<tag>.pub          unicasts (p_to) to a session of node tag
//
// A relayed request carries the subject of its response as its reply
// subject, so NATS answers "no responders" at once when the node it is
// for is not there: the request is then answered here as one for an
// unknown session (400), and the client joins again, as after its session
// expired.
//
// # Goroutines
//
// A node adds a fixed number of goroutines, whatever the sessions,
// requests and relays: the embedded NATS server's own, one per
// subscription (four), and one sending what the event loops hand it (the
// loops never wait on NATS: they queue).
package cluster

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"

	"github.com/cometplay/cometplay/comet"
	"github.com/cometplay/cometplay/engine"
	"github.com/cometplay/cometplay/httpcodec"
)

// Options configure a node.
type Options struct {
	// Node is this node's tag: comet.TagLen (2) characters of A-Z a-z 0-9
	// - _, unique among the nodes. It begins the id of every session made
	// here.
	Node string
	// NATS is the URL of an external NATS server or cluster to connect to
	// ("nats://host:4222", several separated by commas). Empty: the node
	// runs its own NATS server, embedded, routed to the others' (Listen,
	// Routes).
	NATS string
	// Listen is the embedded NATS server's cluster (route) address,
	// host:port ("127.0.0.1:6222"; port 0 picks one: see RouteAddr).
	Listen string
	// Routes are the other nodes' route addresses (host:port). A node
	// needs one reachable node to join; listing them all is usual.
	Routes []string
	// Name is the NATS cluster's name (default "cometplay"): nodes of
	// another name refuse the routes.
	Name string
	// Games is the tag of the first games node, the node that runs the
	// lobby for all (games.Cluster; default "n1"). When it dies or stops,
	// another node takes the lobby over (lobby.go).
	Games string
	// StoreDir is where the embedded NATS server keeps JetStream's data
	// (the room ownership buckets). Empty: a new temporary directory,
	// removed at Close.
	StoreDir string
	// Replicas is how many NATS servers keep each copy of JetStream's data
	// (0: 3 with an embedded NATS routed to two nodes or more, as many as
	// the nodes listed otherwise; 1 with an external NATS).
	Replicas int
	// LeaseTTL is how long the node's lease lasts unrenewed (default
	// DefaultLeaseTTL): a node that died or stalled loses its rooms this
	// long after its last renewal.
	LeaseTTL time.Duration
	// NoTurnLog turns the rooms' turn log off (see turnlog.go): their
	// items are not appended to JetStream before their output goes out,
	// and a room whose node dies is lost instead of taken over with its
	// state (the lobby drops it). For measuring what the log costs.
	NoTurnLog bool
	// Logger (default slog.Default()).
	Logger *slog.Logger
}

// Node is one node of a cluster: it implements comet.Cluster. Create it
// with Start before the hub (comet.Config.Cluster); NewHub attaches it to
// the server.
type Node struct {
	opts Options
	log  *slog.Logger
	ns   *server.Server // embedded; nil with an external NATS
	nc   *nats.Conn
	out  *outbox

	srv *engine.Server // set by Attach
	hub *comet.Hub

	nextID atomic.Uint64
	mu     sync.Mutex
	relays map[uint64]*relay     // this node's requests out, by id
	served map[string]servedConn // requests in, by their response subject
	subs   []*nats.Subscription

	games      gamesSide
	gamesTag   atomic.Pointer[string] // the games node (lobby.go)
	gamesMu    sync.Mutex
	gamesEpoch uint32 // the lobby record's epoch gamesTag is from
	own        *ownership
	ownWG      sync.WaitGroup
	tlog       *turnLog  // the rooms' Journal (nil: NoTurnLog)
	moved      roomNodes // rooms taken over: their node now

	rtt atomic.Int64 // the last round trip to NATS, in nanoseconds

	peersMu   sync.Mutex
	peers     map[string]time.Time // other nodes, by tag: when each last said hello
	routed    map[string]bool      // nodes whose NATS routes were up once (routes.go)
	routeDown map[string]time.Time // of those, the ones whose routes are down: since when
	stop      chan struct{}
	stopped   chan struct{}

	stats stats
}

type stats struct {
	relaysOut, relaysIn, noHome, bytesIn, bytesOut atomic.Int64
	pubsOut, pubsIn                                atomic.Int64
	claimsOut, claimsIn, opsOut, opsIn             atomic.Int64
	roomCallsOut, roomCallsIn                      atomic.Int64
	reaped                                         atomic.Int64
	lobbyMoves                                     atomic.Int64
	homeSessionsEnded                              atomic.Int64 // sessions of dead nodes ended in this node's rooms (homes.go)
}

// Start starts the node's NATS (embedded, or connects to Options.NATS) and
// returns the node, ready for the hub.
func Start(o Options) (*Node, error) {
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.Name == "" {
		o.Name = "cometplay"
	}
	if o.Games == "" {
		o.Games = "n1"
	}
	if !comet.ValidTag(o.Games) {
		return nil, fmt.Errorf("cluster: games node tag must be %d characters of A-Z a-z 0-9 - _, got %q", comet.TagLen, o.Games)
	}
	if !comet.ValidTag(o.Node) {
		return nil, fmt.Errorf("cluster: node tag must be %d characters of A-Z a-z 0-9 - _, got %q", comet.TagLen, o.Node)
	}
	n := &Node{opts: o, log: o.Logger.With("node", o.Node), relays: make(map[uint64]*relay), served: make(map[string]servedConn),
		peers: make(map[string]time.Time), routed: make(map[string]bool), routeDown: make(map[string]time.Time),
		stop: make(chan struct{}), stopped: make(chan struct{})}
	n.games.pending = make(map[uint64]pendingClaim)
	n.gamesTag.Store(&o.Games)
	n.own = newOwnership(n, o.LeaseTTL)
	var err error
	if o.NATS == "" {
		store := o.StoreDir
		if store == "" {
			if store, err = tempStore(o.Node); err != nil {
				return nil, fmt.Errorf("cluster: JetStream store: %w", err)
			}
			n.own.storeDir = store
		}
		if n.ns, err = startEmbedded(o, store, n.log); err != nil {
			n.removeStore()
			return nil, err
		}
		n.nc, err = nats.Connect("", nats.InProcessServer(n.ns), nats.Name("cometplay-"+o.Node), nats.MaxReconnects(-1))
	} else {
		n.nc, err = nats.Connect(o.NATS, nats.Name("cometplay-"+o.Node), nats.MaxReconnects(-1))
	}
	if err != nil {
		n.shutdownNATS()
		n.removeStore()
		return nil, fmt.Errorf("cluster: connecting to NATS: %w", err)
	}
	n.out = newOutbox(n.nc, n.log)
	n.subscribe(map[string]nats.MsgHandler{"cp.nodes": n.onHello, subjMoved: n.onMoved})
	if !o.NoTurnLog {
		n.tlog = newTurnLog(n)
		n.subscribe(map[string]nats.MsgHandler{"cp.n." + o.Node + ".jack.*": n.tlog.onAck})
	}
	go n.sayHello()
	n.ownWG.Add(2)
	go func() {
		defer n.ownWG.Done()
		n.own.run(n.stop)
	}()
	go func() {
		defer n.ownWG.Done()
		n.restorer(n.stop)
	}()
	return n, nil
}

// helloEvery is how often a node tells the others it is there; a node not
// heard of for peerTimeout is taken as gone (Peers).
const (
	helloEvery  = time.Second
	peerTimeout = 3 * helloEvery
)

// sayHello tells the other nodes this one is there, now and every
// helloEvery, and measures the round trip to NATS, until Close. One
// goroutine per node.
func (n *Node) sayHello() {
	defer close(n.stopped)
	t := time.NewTicker(helloEvery)
	defer t.Stop()
	homes := make(map[string]bool)
	for {
		n.sayHelloOnce()
		if rtt, err := n.nc.RTT(); err == nil {
			n.rtt.Store(int64(rtt))
		}
		select {
		case <-t.C:
			n.watchRoutes()
			n.reap()
			n.sweepHomes(homes)
			if n.tlog != nil {
				n.tlog.retry()
			}
		case <-n.stop:
			return
		}
	}
}

// byePrefix begins a node's goodbye on cp.nodes (its tag follows).
const byePrefix = "bye "

// sayHelloOnce tells the other nodes this one is there.
func (n *Node) sayHelloOnce() {
	n.out.push(msg{subj: "cp.nodes", data: []byte(n.opts.Node)})
}

func (n *Node) onHello(m *nats.Msg) {
	if tag, ok := strings.CutPrefix(string(m.Data), byePrefix); ok {
		// A node stopping (HandOver): gone now, not a peerTimeout later.
		n.peersMu.Lock()
		delete(n.peers, tag)
		n.peersMu.Unlock()
		if tag != n.opts.Node {
			n.own.suspect(tag)
		}
		return
	}
	tag := string(m.Data)
	if tag == n.opts.Node || !comet.ValidTag(tag) {
		return
	}
	n.peersMu.Lock()
	_, known := n.peers[tag]
	n.peers[tag] = time.Now()
	n.peersMu.Unlock()
	if !known {
		// Answer a newcomer at once rather than at the next tick.
		n.sayHelloOnce()
	}
}

// isPeer reports whether node tag was heard of in the last peerTimeout.
func (n *Node) isPeer(tag string) bool {
	n.peersMu.Lock()
	seen, ok := n.peers[tag]
	n.peersMu.Unlock()
	return ok && time.Since(seen) <= peerTimeout
}

// Peers returns the tags of the other nodes heard of in the last
// peerTimeout.
func (n *Node) Peers() []string {
	now := time.Now()
	n.peersMu.Lock()
	tags := make([]string, 0, len(n.peers))
	for tag, seen := range n.peers {
		if now.Sub(seen) > peerTimeout {
			// Not a suspect (ownership.suspect) for that alone: on a
			// starved machine hellos come late all the time, and each
			// suspect costs the ownership goroutine reads of the bucket
			// that the records' writes then wait behind.
			delete(n.peers, tag)
			continue
		}
		tags = append(tags, tag)
	}
	n.peersMu.Unlock()
	return tags
}

// replicas is the replication of the ownership buckets (Options.Replicas).
func (n *Node) replicas() int {
	switch {
	case n.opts.Replicas > 0:
		return n.opts.Replicas
	case n.ns == nil:
		return 1
	}
	return min(3, 1+len(n.opts.Routes))
}

// Ready returns a channel closed once the node holds its lease (JetStream
// is up and the node's tag is its own): the rooms it makes are then
// recorded as its own.
func (n *Node) Ready() <-chan struct{} { return n.own.ready }

func (n *Node) removeStore() {
	if n.own.storeDir != "" {
		os.RemoveAll(n.own.storeDir)
	}
}

// natsReadyWait bounds the embedded NATS server's start: its listeners,
// and JetStream recovering its store (seconds for a large store, more on a
// busy machine). A liveness bound: a server not ready by then is broken.
const natsReadyWait = time.Minute

func startEmbedded(o Options, store string, log *slog.Logger) (*server.Server, error) {
	// A store NATS cannot write to makes its JetStream fail to start,
	// which shows only as a server never ready: say it plainly first.
	if err := writableDir(store); err != nil {
		return nil, fmt.Errorf("cluster: JetStream store %q: %w", store, err)
	}
	host, port := "127.0.0.1", -1
	if o.Listen != "" {
		h, p, err := net.SplitHostPort(o.Listen)
		if err != nil {
			return nil, fmt.Errorf("cluster: listen address %q: %w", o.Listen, err)
		}
		if port, err = strconv.Atoi(p); err != nil {
			return nil, fmt.Errorf("cluster: listen address %q: bad port", o.Listen)
		}
		host = h
	}
	if port <= 0 {
		// JetStream's cluster wants a route list even on the first node,
		// so the node names its own address among them (NATS drops a
		// route to itself): that needs the port before NATS listens.
		l, err := net.Listen("tcp", net.JoinHostPort(host, "0"))
		if err != nil {
			return nil, fmt.Errorf("cluster: listen address %q: %w", o.Listen, err)
		}
		port = l.Addr().(*net.TCPAddr).Port
		l.Close()
	}
	var routes []*url.URL
	seen := make(map[string]bool)
	for _, r := range append([]string{net.JoinHostPort(host, strconv.Itoa(port))}, o.Routes...) {
		if r == "" || seen[r] {
			continue
		}
		seen[r] = true
		if _, _, err := net.SplitHostPort(r); err != nil {
			return nil, fmt.Errorf("cluster: route %q: %w", r, err)
		}
		routes = append(routes, &url.URL{Scheme: "nats-route", Host: r})
	}
	ns, err := server.NewServer(&server.Options{
		ServerName: routePrefix + o.Node,
		// The node's own connection is in-process and nodes meet on routes;
		// NATS starts its routes only once its client port listens (its
		// DontListen never routes), so that one listens on loopback, on
		// any free port.
		Host:    "127.0.0.1",
		Port:    -1,
		NoSigs:  true,
		Cluster: server.ClusterOpts{Name: o.Name, Host: host, Port: port},
		Routes:  routes,
		// JetStream keeps who owns each room (lease.go).
		JetStream: true,
		StoreDir:  store,
	})
	if err != nil {
		return nil, fmt.Errorf("cluster: embedded NATS: %w", err)
	}
	ns.SetLoggerV2(natsLogger{log}, false, false, false)
	go ns.Start()
	if !ns.ReadyForConnections(natsReadyWait) {
		ns.Shutdown()
		return nil, fmt.Errorf("cluster: embedded NATS not ready in %v (its reason, if it gave one, is logged above)", natsReadyWait)
	}
	return ns, nil
}

// writableDir makes dir if need be and checks that files can be made in it.
func writableDir(dir string) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	f, err := os.CreateTemp(dir, ".probe-")
	if err != nil {
		return err
	}
	f.Close()
	return os.Remove(f.Name())
}

// natsLogger passes the embedded NATS server's fatal errors (why it does
// not start) to the node's log at error level, and the rest at debug
// level: NATS reports a route it cannot reach yet as an error every second
// while the other nodes start.
type natsLogger struct{ log *slog.Logger }

func (l natsLogger) Fatalf(format string, v ...any) {
	l.log.Error("cluster: embedded NATS: " + fmt.Sprintf(format, v...))
}
func (l natsLogger) Errorf(format string, v ...any)  { l.debug(format, v...) }
func (l natsLogger) Warnf(format string, v ...any)   { l.debug(format, v...) }
func (l natsLogger) Noticef(format string, v ...any) { l.debug(format, v...) }
func (l natsLogger) Debugf(string, ...any)           {}
func (l natsLogger) Tracef(string, ...any)           {}

func (l natsLogger) debug(format string, v ...any) {
	if l.log.Enabled(context.Background(), slog.LevelDebug) {
		l.log.Debug("cluster: embedded NATS: " + fmt.Sprintf(format, v...))
	}
}

// RouteAddr returns the embedded NATS server's route address (for the
// other nodes' Routes), or nil with an external NATS.
func (n *Node) RouteAddr() *net.TCPAddr {
	if n.ns == nil {
		return nil
	}
	return n.ns.ClusterAddr()
}

// Routes returns the embedded NATS server's route connections now (NATS
// pools several per other node; 0 with an external NATS).
func (n *Node) Routes() int {
	if n.ns == nil {
		return 0
	}
	return n.ns.NumRoutes()
}

// subscribe makes the node's subscriptions to subjects (subject, handler
// pairs), each bounded by bytes rather than by count (a burst of small
// messages must not be dropped as a slow consumer), then waits until the
// server has them. One goroutine each: the node has a fixed few.
func (n *Node) subscribe(subs map[string]nats.MsgHandler) {
	for subj, f := range subs {
		sub, err := n.nc.Subscribe(subj, f)
		if err != nil {
			n.log.Error("cluster: subscribing", "subject", subj, "err", err)
			continue
		}
		sub.SetPendingLimits(-1, 256<<20)
		n.mu.Lock()
		n.subs = append(n.subs, sub)
		n.mu.Unlock()
	}
	if err := n.nc.Flush(); err != nil {
		n.log.Error("cluster: subscribing", "err", err)
	}
}

// Tag implements comet.Cluster.
func (n *Node) Tag() string { return n.opts.Node }

// Attach implements comet.Cluster: the node serves the requests other
// nodes relay here, and takes the responses to its own.
func (n *Node) Attach(srv *engine.Server, h *comet.Hub) {
	n.srv, n.hub = srv, h
	n.subscribe(map[string]nats.MsgHandler{
		"cp.n." + n.opts.Node + ".req":   n.onRequest,
		"cp.n." + n.opts.Node + ".rel.*": n.onResponse,
		"cp.pub":                         func(m *nats.Msg) { n.onPublish(m.Data) },
		"cp.n." + n.opts.Node + ".pub":   func(m *nats.Msg) { n.onPublish(m.Data) },
	})
	srv.AddStats("cluster", func() any { return n.Stats() })
	srv.RegisterOnShutdown(n.Close)
}

// Stats are a node's figures (in /debug/stats, section "cluster").
type Stats struct {
	Node string `json:"node"`
	// Routes: the embedded NATS server's route connections to the other
	// nodes' now (NATS pools several per node; 0: none, or external NATS).
	Routes int `json:"routes"`
	// RelaysOut: requests relayed to their session's home node; RelaysIn:
	// requests other nodes relayed here; NoHome: relayed requests whose
	// node was not there (answered as for an unknown session).
	RelaysOut int64 `json:"relays_out"`
	RelaysIn  int64 `json:"relays_in"`
	NoHome    int64 `json:"relays_no_home"`
	// BytesOut and BytesIn: response bytes sent to other nodes and
	// received from them.
	BytesOut int64 `json:"relay_bytes_out"`
	BytesIn  int64 `json:"relay_bytes_in"`
	// Open: relays in flight both ways (streams included). Reaped: relays
	// and forwarded publishes ended because the node at their other end
	// went quiet.
	Open   int   `json:"relays_open"`
	Reaped int64 `json:"relays_reaped"`
	// GoneSessionsEnded: sessions of nodes that died, ended in this
	// node's rooms on their behalf (their seats drop; homes.go).
	GoneSessionsEnded int64 `json:"gone_sessions_ended"`
	// NATSRoundTrip: the last round trip to the NATS server (measured
	// every second). Dropped: messages for other nodes dropped because
	// 64 MiB waited for NATS already (their relays break; see outbox).
	NATSRoundTrip time.Duration `json:"nats_rtt_ns"`
	Dropped       int64         `json:"dropped"`
	// MessagesSent: messages the node handed to NATS for other nodes;
	// MessagesJoined: messages joined into the one before them to the same
	// node instead (ops, a relayed response's bytes), which saved a NATS
	// message each.
	MessagesSent   int64 `json:"messages_sent"`
	MessagesJoined int64 `json:"messages_joined"`
	// PublishesOut: client publishes (and unicasts) sent to other nodes;
	// PublishesIn: theirs delivered here.
	PublishesOut int64 `json:"publishes_out"`
	PublishesIn  int64 `json:"publishes_in"`
	// GamesNode: the node running the lobby; LobbyMoves: how often it
	// changed since this node started; Peers: the other nodes heard of.
	GamesNode  string   `json:"games_node"`
	LobbyMoves int64    `json:"lobby_moves"`
	Peers      []string `json:"peers"`
	// ClaimsOut: room and lobby publishes forwarded to the room's node or
	// the games node; ClaimsIn: those handled here. OpsOut: rooms' and the
	// lobby's events and subscriptions sent to other nodes' sessions;
	// OpsIn: applied here.
	ClaimsOut int64 `json:"claims_out"`
	ClaimsIn  int64 `json:"claims_in"`
	OpsOut    int64 `json:"ops_out"`
	OpsIn     int64 `json:"ops_in"`
	// RoomCallsOut: the games node's lobby's calls on other nodes' rooms
	// (create, join, leave…); RoomCallsIn: those this node's rooms
	// answered. Rooms: this node's rooms now.
	RoomCallsOut int64 `json:"room_calls_out"`
	RoomCallsIn  int64 `json:"room_calls_in"`
	Rooms        int   `json:"rooms"`
	// Ownership (JetStream): Lease, whether the node holds its lease now;
	// LeaseRenewals and LeasesLost; OwnerRecords, the rooms' owner records
	// written (created) and deleted here; RoomsTakenOver, orphans' records
	// this node won (owner changes), TakeoversRefused, those another node
	// won first; OwnerRecordsSeen, the records in the node's watch now.
	Lease            bool  `json:"lease"`
	LeaseRenewals    int64 `json:"lease_renewals"`
	LeasesLost       int64 `json:"leases_lost"`
	OwnerRecords     int64 `json:"owner_records_created"`
	OwnerDeletes     int64 `json:"owner_records_deleted"`
	RoomsTakenOver   int64 `json:"rooms_taken_over"`
	TakeoversRefused int64 `json:"takeovers_refused"`
	// Turn log (turnlog.go): TurnLogAppends, the entries appended (the
	// rooms' items, and fences); TurnLogRetries, appends sent again after
	// no answer; TurnLogRefused, appends refused because another node had
	// written the log (their rooms evicted); TurnLogCompactions, purges of
	// a room's entries before its snapshot; RoomsRestored, rooms taken
	// over and rebuilt from their log; RoomsLost, rooms taken over that
	// could not be (the lobby dropped them).
	TurnLogAppends int64 `json:"turn_log_appends"`
	TurnLogRetries int64 `json:"turn_log_retries"`
	TurnLogRefused int64 `json:"turn_log_refused"`
	// TurnLogCompactions: see above.
	TurnLogCompactions int64 `json:"turn_log_compactions"`
	RoomsRestored      int64 `json:"rooms_restored"`
	RoomsLost          int64 `json:"rooms_lost"`
	// Without answers from JetStream (no quorum): TurnLogWaiting, the
	// appends waiting for their answer now, and TurnLogOldest, how long
	// the oldest of them has; TurnLogStalls, the times appends went
	// unanswered for rooms.DefaultJournalPatience (logged);
	// RoomItemsRefused, the client items (moves, joins…) this node's rooms
	// refused because their append had waited past
	// rooms.ManagerOptions.JournalPatience ("the game's store is
	// unavailable, try again").
	TurnLogWaiting   int           `json:"turn_log_waiting"`
	TurnLogOldest    time.Duration `json:"turn_log_oldest_ns"`
	TurnLogStalls    int64         `json:"turn_log_stalls"`
	RoomItemsRefused int64         `json:"room_items_refused"`
	// RoomsEvicted: rooms this node stopped because another took them
	// over (or its lease was lost).
	RoomsEvicted int64 `json:"rooms_evicted"`
}

// Stats returns the node's figures.
func (n *Node) Stats() Stats {
	rooms := 0
	var refused int64
	n.games.mu.Lock()
	if m := n.games.rooms; m != nil {
		rooms = m.NumRooms()
	}
	n.games.mu.Unlock()
	if m := n.roomsManager(); m != nil {
		refused = m.Stats().JournalRefused
	}
	n.mu.Lock()
	open := len(n.relays) + len(n.served)
	n.mu.Unlock()
	st := Stats{
		Node: n.opts.Node, Routes: n.Routes(),
		RelaysOut: n.stats.relaysOut.Load(), RelaysIn: n.stats.relaysIn.Load(), NoHome: n.stats.noHome.Load(),
		BytesOut: n.stats.bytesOut.Load(), BytesIn: n.stats.bytesIn.Load(), Open: open, Reaped: n.stats.reaped.Load(),
		GoneSessionsEnded: n.stats.homeSessionsEnded.Load(),
		PublishesOut:      n.stats.pubsOut.Load(), PublishesIn: n.stats.pubsIn.Load(),
		GamesNode: n.gamesNode(), LobbyMoves: n.stats.lobbyMoves.Load(), Peers: n.Peers(), NATSRoundTrip: time.Duration(n.rtt.Load()), Dropped: n.out.droppedCount(),
		MessagesSent: n.out.sent.Load(), MessagesJoined: n.out.joined.Load(),
		ClaimsOut: n.stats.claimsOut.Load(), ClaimsIn: n.stats.claimsIn.Load(),
		OpsOut: n.stats.opsOut.Load(), OpsIn: n.stats.opsIn.Load(),
		RoomCallsOut: n.stats.roomCallsOut.Load(), RoomCallsIn: n.stats.roomCallsIn.Load(),
		Rooms: rooms,
		Lease: n.own.holding(), LeaseRenewals: n.own.stats.renewals.Load(), LeasesLost: n.own.stats.lost.Load(),
		OwnerRecords: n.own.stats.created.Load(), OwnerDeletes: n.own.stats.deleted.Load(),
		RoomsTakenOver: n.own.stats.adopted.Load(), TakeoversRefused: n.own.stats.refused.Load(),
		RoomsEvicted: n.own.stats.evicted.Load(),
	}
	if l := n.tlog; l != nil {
		st.TurnLogAppends, st.TurnLogRetries, st.TurnLogRefused = l.appends.Load(), l.retries.Load(), l.refused.Load()
		st.TurnLogCompactions = l.compactions.Load()
		st.RoomsRestored, st.RoomsLost = l.restored.Load(), l.restoreFailed.Load()
		st.TurnLogWaiting, st.TurnLogOldest = l.waiting()
		st.TurnLogStalls, st.RoomItemsRefused = l.stalls.Load(), refused
	}
	return st
}

// Close leaves the cluster: the subscriptions end, what is queued is sent,
// the NATS connection and the embedded server stop. Safe to call twice.
func (n *Node) Close() {
	select {
	case <-n.stop:
	default:
		close(n.stop)
		<-n.stopped
	}
	n.mu.Lock()
	subs := n.subs
	n.subs = nil
	n.mu.Unlock()
	for _, s := range subs {
		s.Unsubscribe()
	}
	if n.out != nil {
		n.out.close()
	}
	n.own.cancel()
	n.ownWG.Wait()
	if n.nc != nil {
		n.nc.Close()
	}
	n.shutdownNATS()
	n.removeStore()
}

func (n *Node) shutdownNATS() {
	if n.ns != nil {
		n.ns.Shutdown()
		n.ns.WaitForShutdown()
	}
}

// reap ends what waits on nodes that went quiet (no hello for
// peerTimeout): what this node serves for a client of a node that is gone
// (nobody reads it: a stream would hold its session's data channel
// forever), our requests whose home node is gone (their responses will
// never come: the client's connection is closed, and it reconnects), and
// publishes forwarded to a room's node or the games node that will not
// answer (answered "not available, try again").
func (n *Node) reap() {
	alive := map[string]bool{n.opts.Node: true}
	for _, t := range n.Peers() {
		alive[t] = true
	}
	old := time.Now().Add(-peerTimeout)
	var ins []engine.RelayConn
	var outs []*relay
	n.mu.Lock()
	for subj, sc := range n.served {
		if sc.since.Before(old) && !alive[originOf(subj)] {
			ins = append(ins, sc.rc)
			delete(n.served, subj)
		}
	}
	for id, r := range n.relays {
		if r.since.Before(old) && !alive[r.home] {
			outs = append(outs, r)
			delete(n.relays, id)
		}
	}
	n.mu.Unlock()
	var claims []pendingClaim
	n.games.mu.Lock()
	for id, pc := range n.games.pending {
		if pc.since.Before(old) && !alive[pc.dest] {
			claims = append(claims, pc)
			delete(n.games.pending, id)
		}
	}
	n.games.mu.Unlock()
	for _, rc := range ins {
		rc.Close()
	}
	for _, r := range outs {
		r.to.Abort()
	}
	for _, pc := range claims {
		pc.done(pc.unavailable())
	}
	n.stats.reaped.Add(int64(len(ins) + len(outs) + len(claims)))
}

// originOf returns the tag of the node a response subject
// (cp.n.<tag>.rel.<id>) goes to.
func originOf(subj string) string {
	if len(subj) >= 5+comet.TagLen {
		return subj[5 : 5+comet.TagLen]
	}
	return ""
}

// Message kinds, the first byte of each message's data.
const (
	kindRequest = 'q' // cp.n.<home>.req: a relayed request (remote address, request bytes)
	kindGone    = 'g' // cp.n.<home>.req: the client of relayed request went away (its response subject)
	kindData    = 'd' // cp.n.<from>.rel.<id>: bytes of the response
	kindEnd     = 'e' // cp.n.<from>.rel.<id>: bytes, the last of the response
)

// servedConn is a request served here for another node.
type servedConn struct {
	rc    engine.RelayConn
	since time.Time
}

// relay is a request of ours being served by another node.
type relay struct {
	n     *Node
	id    uint64
	home  string
	since time.Time
	to    engine.Relay
	// unknown answers on the loop when the home node is not there.
	unknown func(x *engine.Exchange)
}

// Relay implements comet.Cluster. On x's loop.
func (n *Node) Relay(tag string, x *engine.Exchange, req *httpcodec.Request, unknown func(x *engine.Exchange)) {
	r := &relay{n: n, id: n.nextID.Add(1), home: tag, to: x.Relay(), unknown: unknown, since: time.Now()}
	n.mu.Lock()
	n.relays[r.id] = r
	n.mu.Unlock()
	x.SetOwner(r)
	n.stats.relaysOut.Add(1)
	remote := netip.AddrPortFrom(x.ClientAddr(req), 0) // the client, not the balancer in front of this node
	b := make([]byte, 0, 1+32+len(req.Target)+256+len(req.Body))
	b = append(b, kindRequest)
	ab, _ := remote.MarshalBinary()
	b = append(b, byte(len(ab)))
	b = append(b, ab...)
	b = httpcodec.AppendRequest(b, req)
	n.out.push(msg{subj: "cp.n." + tag + ".req", reply: n.responseSubject(r.id), data: b})
}

func (n *Node) responseSubject(id uint64) string {
	return "cp.n." + n.opts.Node + ".rel." + strconv.FormatUint(id, 36)
}

// ExchangeGone implements engine.ExchangeOwner: our client went away
// before the response ended; the home node ends its side.
func (r *relay) ExchangeGone(*engine.Exchange) {
	n := r.n
	n.mu.Lock()
	_, open := n.relays[r.id]
	delete(n.relays, r.id)
	n.mu.Unlock()
	if open {
		n.out.push(msg{subj: "cp.n." + r.home + ".req", data: append([]byte{kindGone}, n.responseSubject(r.id)...)})
	}
}

// lastID reads the id that ends a subject (….<id in base 36>).
func lastID(subj string) (uint64, bool) {
	i := strings.LastIndexByte(subj, '.')
	id, err := strconv.ParseUint(subj[i+1:], 36, 64)
	return id, err == nil
}

// onResponse takes the bytes of a response to one of our relays (NATS's
// goroutine of the subscription).
func (n *Node) onResponse(m *nats.Msg) {
	id, ok := lastID(m.Subject)
	if !ok {
		return
	}
	n.mu.Lock()
	r := n.relays[id]
	n.mu.Unlock()
	if r == nil {
		return // its client went away meanwhile
	}
	if len(m.Data) == 0 && m.Header.Get("Status") == "503" {
		// No responders: the home node is not there (it stopped, or the
		// id was never one of a live node's).
		n.mu.Lock()
		delete(n.relays, id)
		n.mu.Unlock()
		n.stats.noHome.Add(1)
		r.to.Do(r.unknown)
		return
	}
	if len(m.Data) == 0 {
		return
	}
	n.stats.bytesIn.Add(int64(len(m.Data) - 1))
	switch m.Data[0] {
	case kindData:
		r.to.Write(m.Data[1:], false)
	case kindEnd:
		n.mu.Lock()
		delete(n.relays, id)
		n.mu.Unlock()
		r.to.Write(m.Data[1:], true)
	}
}

// onRequest serves a request another node relayed here, or ends one whose
// client went away there (NATS's goroutine of the subscription).
func (n *Node) onRequest(m *nats.Msg) {
	if len(m.Data) == 0 || n.srv == nil {
		return
	}
	switch m.Data[0] {
	case kindRequest:
		if m.Reply == "" || len(m.Data) < 2 || len(m.Data) < 2+int(m.Data[1]) {
			return
		}
		var remote netip.AddrPort
		remote.UnmarshalBinary(m.Data[2 : 2+m.Data[1]])
		raw := m.Data[2+m.Data[1]:]
		n.stats.relaysIn.Add(1)
		out := &served{n: n, subj: m.Reply}
		// Registered before it can end: RelayEnd (on a loop) removes it.
		now := time.Now()
		n.mu.Lock()
		n.served[m.Reply] = servedConn{since: now}
		n.mu.Unlock()
		rc := n.srv.ServeRelayed(remote, raw, out)
		n.mu.Lock()
		if _, open := n.served[m.Reply]; open {
			n.served[m.Reply] = servedConn{rc: rc, since: now}
		}
		n.mu.Unlock()
	case kindGone:
		subj := string(m.Data[1:])
		n.mu.Lock()
		sc, ok := n.served[subj]
		delete(n.served, subj)
		n.mu.Unlock()
		if ok {
			sc.rc.Close()
		}
	}
}

// served is the RelayOut of a request served here for another node: what
// the handlers write goes to the response subject. On a loop.
type served struct {
	n    *Node
	subj string
}

func (s *served) RelayWrite(b []byte) {
	s.n.stats.bytesOut.Add(int64(len(b)))
	s.n.out.push(msg{subj: s.subj, data: append(append(make([]byte, 0, 1+len(b)), kindData), b...), join: joinRelay})
}

func (s *served) RelayEnd() {
	s.n.mu.Lock()
	delete(s.n.served, s.subj)
	s.n.mu.Unlock()
	s.n.out.push(msg{subj: s.subj, data: []byte{kindEnd}, join: joinRelay})
}
