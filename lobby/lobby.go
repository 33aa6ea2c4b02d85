package lobby

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/cometplay/cometplay/rooms"
)

// Topics. Unicast replies carry TopicLobby; a session is subscribed to the
// three others while it is in the lobby (see "Who hears the lobby" in the
// package documentation).
const (
	TopicLobby    = "/lobby"
	TopicPresence = "/lobby/presence"
	TopicRooms    = "/lobby/rooms"
	TopicChat     = "/lobby/chat"
)

// Options configures a Lobby. Zero fields take the defaults given.
type Options struct {
	// Games lists the games offered for create and quickplay, and whose
	// rooms are listed (default: every game registered when New is called).
	Games []string
	// ChatMaxLen bounds a chat message, in runes (default 280).
	ChatMaxLen int
	// ChatRate and ChatPer bound chat per player: at most ChatRate messages
	// in any ChatPer (default 5 per 10 s).
	ChatRate int
	ChatPer  time.Duration
	// ChatLobbyRate bounds the chat of the whole lobby: at most this many
	// messages in any second, whoever sends them (default 20). Each message
	// goes to every player in the lobby, so this bounds what chat costs
	// however many players there are.
	ChatLobbyRate int
	// ChatHistory is how many of the last chat messages the lobby keeps and
	// sends to a session arriving in the lobby (hello, sync) or coming back
	// to it from a game, as one "chat-history" event (default 50, at most
	// MaxChatHistory): nobody finds an empty chat right after others
	// talked. The messages are encoded once for all the sessions they go to.
	ChatHistory int
	// Auth turns a hello into an identity (default rooms.Guest).
	Auth rooms.Authenticator
	// AuthTimeout bounds one Authenticate call (default 5 s).
	AuthTimeout time.Duration
	// AuthWorkers is the number of goroutines running Auth (default 4);
	// AuthQueue bounds the hellos waiting for one (default 256).
	AuthWorkers int
	AuthQueue   int
	// AwayGrace is how long a session whose listen connection went away
	// stays online in the presence list (default 30 s, the rooms' reconnect
	// window).
	AwayGrace time.Duration
	// QueueSize bounds the actions waiting for the lobby goroutine (default
	// 1024); past it Handle returns ErrBusy.
	QueueSize int
	// QueuePerAddr bounds the actions of the sessions of one client address
	// (Request.RemoteAddr, grouped by rooms.AddrKey) waiting for the lobby
	// goroutine or, for hellos, for the Authenticator (default QueueSize/16,
	// at least 1): past it Handle returns ErrAddrBusy. One address flooding
	// the lobby then fills at most that share of the queue, and everyone
	// else's actions (a new player's hello) still find room.
	QueuePerAddr int
	// ListRate and ListPer bound the "list" actions of one session: at most
	// ListRate in any ListPer (default 20 per 5 s: a "Show more" of the
	// site asks for up to 20 pages at once). Past it Handle returns
	// ErrRateLimited.
	ListRate int
	ListPer  time.Duration
	// PresenceShown and RoomsShown bound the players and rooms a lobby
	// subscriber is shown and kept up to date about (default 30 each); the
	// totals come with them, and the "list" action pages through the rest.
	// Each snapshot costs a session about 250 bytes per room shown and 40
	// per player, kept in its event window.
	PresenceShown int
	RoomsShown    int
	// Tick is how often changes of the shown lists are published, each
	// kind coalesced into one delta event (default 500 ms, at least
	// MinTick).
	Tick time.Duration
	// QuickplayWait bounds a wait in the quick-play queue (default 2
	// minutes): a player nobody was matched with by then leaves the queue
	// with an error (ErrNoOpponent) saying so, instead of waiting forever —
	// for a player alone on the server, or whose "opponent" is another
	// window of the same player.
	QuickplayWait time.Duration
	// Logger receives the lobby's logs (default slog.Default()).
	Logger *slog.Logger
	// Clock is the source of time (default rooms.RealClock).
	Clock rooms.Clock
}

// Defaults and limits.
const (
	DefaultChatMaxLen  = 280
	DefaultChatRate    = 5
	DefaultChatLobby   = 20
	DefaultChatPer     = 10 * time.Second
	DefaultChatHistory = 50
	DefaultAuthTimeout = 5 * time.Second
	DefaultAuthWorkers = 4
	DefaultAuthQueue   = 256
	DefaultAwayGrace   = 30 * time.Second
	DefaultQueueSize   = 1024
	DefaultListRate    = 20
	DefaultListPer     = 5 * time.Second
	DefaultShown       = 30
	DefaultTick        = 500 * time.Millisecond
	DefaultQuickplay   = 2 * time.Minute
	// MaxShown bounds PresenceShown and RoomsShown.
	MaxShown = 1000
	// MaxChatHistory bounds ChatHistory: at most ChatMaxLen runes each, a
	// history of 500 is at most about 600 KB in every arriving session's
	// event window.
	MaxChatHistory = 500
	// MinTick bounds Tick from below: each tick publishes the changes of
	// every shown list to every lobby subscriber, and more often than this
	// the events cost more than the coalescing saves.
	MinTick = 10 * time.Millisecond
	// MaxBrowseTabs bounds the tabs a session may have browsing the lobby.
	MaxBrowseTabs = 16
	// MaxFields bounds a request's fields, MaxFieldLen each value (bytes),
	// MaxReqLen the "req" correlation id.
	MaxFields   = 32
	MaxFieldLen = 4096
	MaxReqLen   = 64
)

// Errors Handle returns (sent back as a nack) and reasons of "error" events.
var (
	ErrUnknownAction = errors.New("lobby: unknown action")
	ErrHelloFirst    = errors.New("lobby: say hello first")
	ErrAlreadyHello  = errors.New("lobby: hello already said")
	ErrMalformed     = errors.New("lobby: malformed request")
	ErrChatTooLong   = errors.New("lobby: chat message too long")
	ErrRateLimited   = errors.New("lobby: too many messages, slow down")
	ErrChatBusy      = errors.New("lobby: the chat is busy, try again in a moment")
	ErrBusy          = errors.New("lobby: busy, try again")
	ErrAddrBusy      = errors.New("lobby: too many requests from your address, slow down")
	ErrClosed        = errors.New("lobby: closed")
	ErrAlreadyQueued = errors.New("lobby: already waiting for a match")
	ErrNotQueued     = errors.New("lobby: not waiting for a match")
	ErrNoOpponent    = errors.New("lobby: no opponent found")
	ErrNameTaken     = errors.New("lobby: name taken: another player online is called that (names must differ in more than case); choose another")
	ErrTokenOwner    = errors.New("lobby: reconnection token belongs to another player")
	ErrTooManyTabs   = fmt.Errorf("lobby: more than %d tabs browsing", MaxBrowseTabs)
)

// Request is one client action published to "/lobby".
type Request struct {
	// Action is the action's name (if empty, Fields["action"]).
	Action string
	// Fields are the event's fields. Handle copies what it keeps.
	Fields map[string]string
	// RemoteAddr is the client's IP address: the per-address limits
	// (Options.QueuePerAddr, the rooms' MaxWaitingPerAddr through the
	// session's hello) count under it, "" not at all. RemoteAddr and
	// Header are passed to the Authenticator on hello.
	RemoteAddr string
	Header     http.Header
}

// Lobby is where players meet: presence, the live room list, room
// creation and joining, quick-match and chat. It runs on one goroutine of
// its own plus AuthWorkers; its exported methods are safe for concurrent
// use and never block, so the games bridge calls them from the Comet hub's event loops.
type Lobby struct {
	m       RoomService
	t       rooms.Transport
	o       Options
	log     *slog.Logger
	clock   rooms.Clock
	offered map[string]bool

	in      chan job        // actions from Handle
	authq   chan job        // hellos waiting for the Authenticator
	authed  chan authResult // identities back from the Authenticator
	wake    chan struct{}   // coalesced inputs are pending
	done    chan struct{}
	cancel  context.CancelFunc
	authCtx context.Context
	wg      sync.WaitGroup
	closed  atomic.Bool
	once    sync.Once
	nOnline atomic.Int64 // players online, for Stats

	// gate is what Handle checks synchronously.
	gmu    sync.Mutex
	gate   map[string]string      // session → player id, once hello succeeded
	chat   map[string]*rateWindow // player id → its recent chat messages
	all    rateWindow             // the lobby's recent chat messages
	lists  map[string]*rateWindow // session → its recent "list" actions
	queued map[string]int         // address key → its actions in the queues

	// Inputs that are coalesced rather than queued, so they are never
	// refused: room changes by id, session events by session, away timers.
	pmu      sync.Mutex
	changed  map[string]bool
	sessEvts map[string]sessEvent
	awayFire []sessionFire
	qpFire   []sessionFire // quick-play waits run out
	tickFire bool
	forgets  []func() bool // Forget's, to run (their keep)

	// Owned by the lobby goroutine.
	sessions map[string]*session
	players  map[string]*player         // online players by id
	roomList map[string]*rooms.RoomInfo // the rooms listed (see listed); never changed in place: views.allRooms shares them
	queues   map[string][]*session      // quickplay, by game
	seats    map[string]int             // player id → seats held in waiting or playing rooms
	views    views
	names    map[string]nameHolders // nameKey → who holds it: see holdName
	chatLog  []chatData             // the last ChatHistory messages, oldest first
	chatEnc  []byte                 // chatLog's chat-history event, encoded (nil: to encode)
}

type job struct {
	session string
	action  string
	f       map[string]string
	req     Request
	at      time.Time     // when Handle accepted it (chat)
	addr    string        // the client address's key, counted in queued until done
	done    chan struct{} // tests' Sync barrier
	noFlush bool          // tests' Drain barrier: no flush
	inspect func()        // tests' look at the lobby goroutine's state, at the barrier
}

type authResult struct {
	job
	id  rooms.Identity
	err error
}

type sessEvent uint8

const (
	evDetached sessEvent = iota + 1
	evAttached
	evEnded
)

// sessionFire is a timer of a session that fired: its away grace, or its
// quick-play wait. gen tells a timer stopped too late from the current one.
type sessionFire struct {
	session string
	gen     int32
}

type session struct {
	id       string
	addr     string // the client's address (hello's RemoteAddr), for rooms' limits
	ident    rooms.Identity
	awayGen  int32
	queueGen int32 // counts the waits in the queue, for qpFire
	away     rooms.Stopper
	q        *quickWait      // its wait in a quick-play queue; nil: none
	browsing map[string]bool // tabs showing the lobby
	pending  bool            // hello being authenticated
	online   bool            // counted in its player's presence
	detached bool
	hearing  bool // subscribed to the lobby's broadcasts
}

// quickWait is a session's wait in a quick-play queue: apart from the
// session, which is seated or browsing far longer than it waits (a
// session is 112 bytes for it instead of 160).
type quickWait struct {
	game, req string
	end       rooms.Stopper // the wait's QuickplayWait timer
}

type player struct {
	ident    rooms.Identity
	online   int        // online sessions
	sessions []*session // sessions said hello (most players have one: a slice, not a map)
}

// Validate reports what is wrong with o, all of it at once: an error
// joining one *rooms.ConfigError per invalid setting, or nil. Zero fields
// are valid (they take their defaults). New, which cannot fail, logs what
// Validate reports and takes the default for each invalid value: options
// that come from users should be validated first (games.New does).
func (o Options) Validate() error {
	var errs []error
	bad := func(field, format string, args ...any) {
		errs = append(errs, &rooms.ConfigError{Field: field, Problem: fmt.Sprintf(format, args...)})
	}
	for _, v := range []struct {
		field string
		v     int
	}{{"ChatMaxLen", o.ChatMaxLen}, {"ChatRate", o.ChatRate}, {"ChatLobbyRate", o.ChatLobbyRate}, {"AuthWorkers", o.AuthWorkers},
		{"AuthQueue", o.AuthQueue}, {"QueueSize", o.QueueSize}, {"ListRate", o.ListRate}} {
		if v.v < 0 {
			bad(v.field, "must be positive, got %d", v.v)
		}
	}
	for _, d := range []struct {
		field string
		v     time.Duration
	}{{"ChatPer", o.ChatPer}, {"AuthTimeout", o.AuthTimeout}, {"AwayGrace", o.AwayGrace}, {"ListPer", o.ListPer}, {"QuickplayWait", o.QuickplayWait}} {
		if d.v < 0 {
			bad(d.field, "must be positive, got %v", d.v)
		}
	}
	if o.QueuePerAddr < 0 {
		bad("QueuePerAddr", "must not be negative (0: automatic), got %d", o.QueuePerAddr)
	} else if queue := cmp.Or(o.QueueSize, DefaultQueueSize); queue > 0 && o.QueuePerAddr > queue {
		bad("QueuePerAddr", "must be at most QueueSize (%d), got %d", queue, o.QueuePerAddr)
	}
	for _, v := range []struct {
		field string
		v     int
		most  int
	}{{"PresenceShown", o.PresenceShown, MaxShown}, {"RoomsShown", o.RoomsShown, MaxShown}, {"ChatHistory", o.ChatHistory, MaxChatHistory}} {
		if v.v < 0 || v.v > v.most {
			bad(v.field, "must be within 1..%d, got %d", v.most, v.v)
		}
	}
	if o.Tick < 0 || (o.Tick > 0 && o.Tick < MinTick) {
		bad("Tick", "must be at least %v, got %v", MinTick, o.Tick)
	}
	return errors.Join(errs...)
}

// RoomService is what the lobby uses of the rooms runtime: a
// *rooms.Manager, or on a cluster's games node the rooms of every node
// (the cluster package). Its methods are the Manager's, with the same
// contracts.
type RoomService interface {
	Games() []string
	Game(name string) (rooms.Game, bool)
	Create(game string, creator rooms.PlayerInfo, opts rooms.Options) (string, error)
	Join(roomID string, p rooms.PlayerInfo) error
	Spectate(roomID string, p rooms.PlayerInfo) error
	Leave(roomID, sessionID string) error
	Reclaim(token string, p rooms.PlayerInfo) error
	TokenOwner(token string) (roomID string, who rooms.Identity, ok bool)
	Resync(sessionID string) error
	Room(id string) (rooms.RoomInfo, bool)
	Rooms(game string) []rooms.RoomInfo
	OnRoomChange(fn func(info rooms.RoomInfo, removed bool))
	Attached(sessionID string)
	Detached(sessionID string)
	SessionEnded(sessionID string)
}

var _ RoomService = (*rooms.Manager)(nil)

// TokenFinder is what a RoomService also implements whose TokenOwner may
// fail for a while (the cluster's: the token's room is on a node that did
// not answer in time). FindToken answers rooms.ErrBadToken for a token no
// seat holds, and another error for a lookup that failed: the lobby then
// refuses a hello with the token with that error ("try again"), and the
// session may say hello again, instead of being welcomed without its seat.
type TokenFinder interface {
	FindToken(token string) (roomID string, who rooms.Identity, err error)
}

// tokenOwner returns the identity of the seat a token reclaims
// (rooms.ErrBadToken: none; another error: the lookup failed, see
// TokenFinder).
func (l *Lobby) tokenOwner(token string) (rooms.Identity, error) {
	if f, ok := l.m.(TokenFinder); ok {
		_, who, err := f.FindToken(token)
		return who, err
	}
	if _, who, ok := l.m.TokenOwner(token); ok {
		return who, nil
	}
	return rooms.Identity{}, rooms.ErrBadToken
}

// A GroupPlacer is a RoomService that can place a new room near the
// sessions that will play in it (a cluster: on one of their nodes, which
// saves a hop on their moves and events). Quick-match creates its rooms
// with CreateFor when the service has it; the room is made as by Create
// with an empty creator, and its players join it after.
type GroupPlacer interface {
	CreateFor(game string, sessionIDs []string, opts rooms.Options) (string, error)
}

// A GroupJoiner is a RoomService that joins several players to a room in
// one go, in their order (a cluster: one call to the room's node instead
// of one a player, each waited for on the lobby's goroutine). Quick-match
// seats its groups with JoinAll when the service has it; errs[i] is
// players[i]'s error (nil: the join was taken, as by Join).
type GroupJoiner interface {
	JoinAll(roomID string, players []rooms.PlayerInfo) (errs []error)
}

// New returns a Lobby over the rooms (a *rooms.Manager) and the Transport
// and starts its goroutines; Close stops them. It registers with
// m.OnRoomChange to keep the room list live. Invalid options (see
// Validate) are logged and replaced by their defaults.
func New(m RoomService, t rooms.Transport, o Options) *Lobby {
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if err := o.Validate(); err != nil {
		o.Logger.Error("lobby: invalid Options, defaults used instead", "err", err)
	}
	if len(o.Games) == 0 {
		o.Games = m.Games()
	}
	if o.ChatMaxLen <= 0 {
		o.ChatMaxLen = DefaultChatMaxLen
	}
	if o.ChatRate <= 0 {
		o.ChatRate = DefaultChatRate
	}
	if o.ChatPer <= 0 {
		o.ChatPer = DefaultChatPer
	}
	if o.ChatHistory <= 0 {
		o.ChatHistory = DefaultChatHistory
	}
	o.ChatHistory = min(o.ChatHistory, MaxChatHistory)
	if o.ChatLobbyRate <= 0 {
		o.ChatLobbyRate = DefaultChatLobby
	}
	if o.AuthTimeout <= 0 {
		o.AuthTimeout = DefaultAuthTimeout
	}
	if o.AuthWorkers <= 0 {
		o.AuthWorkers = DefaultAuthWorkers
	}
	if o.AuthQueue <= 0 {
		o.AuthQueue = DefaultAuthQueue
	}
	if o.AwayGrace <= 0 {
		o.AwayGrace = DefaultAwayGrace
	}
	if o.QueueSize <= 0 {
		o.QueueSize = DefaultQueueSize
	}
	if o.QueuePerAddr <= 0 {
		o.QueuePerAddr = max(1, o.QueueSize/16)
	}
	if o.ListRate <= 0 {
		o.ListRate = DefaultListRate
	}
	if o.ListPer <= 0 {
		o.ListPer = DefaultListPer
	}
	if o.PresenceShown <= 0 {
		o.PresenceShown = DefaultShown
	}
	if o.RoomsShown <= 0 {
		o.RoomsShown = DefaultShown
	}
	o.PresenceShown, o.RoomsShown = min(o.PresenceShown, MaxShown), min(o.RoomsShown, MaxShown)
	if o.Tick <= 0 {
		o.Tick = DefaultTick
	}
	if o.QuickplayWait <= 0 {
		o.QuickplayWait = DefaultQuickplay
	}
	o.Tick = max(o.Tick, MinTick)
	if o.Clock == nil {
		o.Clock = rooms.RealClock{}
	}
	l := &Lobby{
		m: m, t: t, o: o, log: o.Logger, clock: o.Clock,
		offered:  make(map[string]bool, len(o.Games)),
		in:       make(chan job, o.QueueSize),
		authq:    make(chan job, o.AuthQueue),
		authed:   make(chan authResult, o.AuthQueue+o.AuthWorkers),
		wake:     make(chan struct{}, 1),
		done:     make(chan struct{}),
		gate:     make(map[string]string),
		chat:     make(map[string]*rateWindow),
		lists:    make(map[string]*rateWindow),
		queued:   make(map[string]int),
		changed:  make(map[string]bool),
		sessEvts: make(map[string]sessEvent),
		sessions: make(map[string]*session),
		players:  make(map[string]*player),
		roomList: make(map[string]*rooms.RoomInfo),
		queues:   make(map[string][]*session),
		seats:    make(map[string]int),
		names:    make(map[string]nameHolders),
	}
	for _, g := range o.Games {
		l.offered[g] = true
	}
	l.authCtx, l.cancel = context.WithCancel(context.Background())
	m.OnRoomChange(l.roomChanged)
	for _, info := range m.Rooms("") {
		if l.offered[info.Game] && listed(info) {
			l.roomList[info.ID] = &info
			l.countSeats(info, 1)
		}
	}
	// The rooms there are now are published from the start, as a tick would.
	l.views.allOnline, l.views.allRooms = onlineOrder, roomsOrder
	all := make(map[string]bool, len(l.roomList))
	for id := range l.roomList {
		all[id] = true
	}
	l.views.allRooms.update(all, func(id string) (*rooms.RoomInfo, bool) { info, ok := l.roomList[id]; return info, ok })
	l.views.rooms, l.views.roomsN = l.views.allRooms.first(o.RoomsShown), len(l.roomList)
	l.wg.Add(1 + o.AuthWorkers)
	go l.loop()
	for range o.AuthWorkers {
		go l.authWorker()
	}
	return l
}

// Close stops the lobby's goroutines. Handle then returns ErrClosed.
// It does not close rooms (Manager.Shutdown does).
func (l *Lobby) Close() {
	l.once.Do(func() {
		l.closed.Store(true)
		l.cancel()
		close(l.done)
		l.wg.Wait()
		for _, s := range l.sessions {
			if s.away != nil {
				s.away.Stop()
			}
			s.leftQueue()
		}
		if l.views.timer != nil {
			l.views.timer.Stop()
		}
	})
}

// Handle processes one client action. It is called on an event
// loop: it validates cheaply (action, field sizes, hello first, chat length
// and rate, list rate, the address's share of the queue), enqueues, and
// returns; the Authenticator and everything else run on the lobby's
// goroutines, and their outcome reaches the session as events. The
// returned error is for the caller (the games bridge) to send back as a nack.
func (l *Lobby) Handle(sessionID string, req Request) (err error) {
	if l.closed.Load() {
		return ErrClosed
	}
	action := req.Action
	if action == "" {
		action = req.Fields["action"]
	}
	if len(req.Fields) > MaxFields {
		return fmt.Errorf("%w: more than %d fields", ErrMalformed, MaxFields)
	}
	for _, v := range req.Fields {
		if len(v) > MaxFieldLen {
			return fmt.Errorf("%w: field longer than %d bytes", ErrMalformed, MaxFieldLen)
		}
	}
	if len(req.Fields["req"]) > MaxReqLen {
		return fmt.Errorf("%w: req longer than %d bytes", ErrMalformed, MaxReqLen)
	}
	f := req.Fields
	var now time.Time
	l.gmu.Lock()
	pid, hello := l.gate[sessionID]
	l.gmu.Unlock()
	switch action {
	case "hello":
		if hello {
			return ErrAlreadyHello
		}
		if l.o.Auth == nil { // the guest Authenticator only checks the name
			if _, err := rooms.ValidateName(f["name"]); err != nil {
				return err
			}
		}
	case "create", "join", "spectate", "leave-room", "quickplay", "cancel-quickplay", "chat", "name", "sync", "browse", "list", "reclaim":
		if !hello {
			return ErrHelloFirst
		}
	default:
		return ErrUnknownAction
	}
	addr := rooms.AddrKey(req.RemoteAddr)
	if err := l.reserve(addr); err != nil {
		return err
	}
	defer func() {
		if err != nil {
			l.unreserve(addr)
		}
	}()
	switch action {
	case "create", "quickplay":
		if !l.offered[f["game"]] {
			return rooms.ErrUnknownGame
		}
		if _, err := parseOptions(f["options"]); err != nil {
			return err
		}
	case "join", "spectate", "leave-room":
		if r := f["room"]; r == "" || len(r) > rooms.MaxIDLen {
			return fmt.Errorf("%w: room missing", ErrMalformed)
		}
	case "reclaim":
		if f["token"] == "" {
			return fmt.Errorf("%w: token missing", ErrMalformed)
		}
		if _, err := parseOptions(f["options"]); err != nil {
			return err
		}
	case "chat":
		// The rates first: a message over them costs no validation (280
		// runes of Unicode tables each).
		now = l.clock.Now()
		if err := l.chatRate(pid, now, false); err != nil {
			return err
		}
		text, err := l.chatText(f["text"])
		if err != nil {
			return err
		}
		if err := l.chatRate(pid, now, true); err != nil {
			return err
		}
		f = map[string]string{"text": text, "req": f["req"]}
	case "name":
		if _, err := rooms.ValidateName(f["name"]); err != nil {
			return err
		}
	case "browse":
		if _, err := parseBrowse(f); err != nil {
			return err
		}
	case "list":
		if _, _, err := parseList(f); err != nil {
			return err
		}
		now := l.clock.Now()
		l.gmu.Lock()
		w := windowLocked(l.lists, sessionID)
		ok := w.fits(now, l.o.ListRate, l.o.ListPer)
		if ok {
			w.add(now, l.o.ListRate)
		}
		l.gmu.Unlock()
		if !ok {
			return ErrRateLimited
		}
	}
	j := job{session: strings.Clone(sessionID), action: action, f: cloneFields(f), at: now, addr: addr}
	if action == "hello" {
		j.req = Request{Action: action, Fields: j.f, RemoteAddr: strings.Clone(req.RemoteAddr), Header: req.Header.Clone()}
	}
	select {
	case l.in <- j:
		return nil
	default:
		return ErrBusy
	}
}

// reserve counts an action of a client address (its rooms.AddrKey) in the
// queues, or refuses it when the address has QueuePerAddr there already.
// Actions of sessions without an address (joined from server code) are not
// counted.
func (l *Lobby) reserve(addr string) error {
	if addr == "" {
		return nil
	}
	l.gmu.Lock()
	defer l.gmu.Unlock()
	n := l.queued[addr]
	if n >= l.o.QueuePerAddr {
		return ErrAddrBusy
	}
	if n == 0 {
		addr = strings.Clone(addr)
	}
	l.queued[addr] = n + 1
	return nil
}

// unreserve undoes reserve once the action is done.
func (l *Lobby) unreserve(addr string) {
	if addr == "" {
		return
	}
	l.gmu.Lock()
	defer l.gmu.Unlock()
	if n := l.queued[addr]; n <= 1 {
		delete(l.queued, addr)
	} else {
		l.queued[addr] = n - 1
	}
}

// Detached reports that the session's listen connection went away: after
// AwayGrace without Attached the session counts as offline. The Manager is
// told too (Manager.Detached is idempotent, so a caller that also calls
// it directly does no harm). Never blocks.
func (l *Lobby) Detached(sessionID string) {
	l.m.Detached(sessionID)
	l.sessionEvent(sessionID, evDetached)
}

// Attached reports that the session listens again. Never blocks.
func (l *Lobby) Attached(sessionID string) {
	l.m.Attached(sessionID)
	l.sessionEvent(sessionID, evAttached)
}

// SessionEnded reports that the session is gone: it is offline at once and
// leaves the quickplay queue. Never blocks.
func (l *Lobby) SessionEnded(sessionID string) {
	l.m.SessionEnded(sessionID)
	l.sessionEvent(sessionID, evEnded)
}

// Forget drops every session the lobby knows, their players (their names
// are free again), the quick-match queues and the chat history, without a
// word to anyone and without ending the sessions in the rooms. It is for
// a cluster node whose lobby another node took over: what it knew goes
// stale (sessions end and players queue elsewhere), and it must not
// come back should the node get the lobby back. keep, if not nil, is
// called on the lobby's goroutine when it gets to it: true cancels it
// (the node got the lobby back meanwhile). Never blocks.
func (l *Lobby) Forget(keep func() bool) {
	if l.closed.Load() {
		return
	}
	l.pmu.Lock()
	l.forgets = append(l.forgets, keep)
	l.pmu.Unlock()
	l.poke()
}

// forgetAll is Forget's work, on the lobby goroutine.
func (l *Lobby) forgetAll() {
	n := len(l.sessions)
	for _, s := range l.sessions {
		l.dequeue(s)
		l.ended(s)
	}
	l.chatLog, l.chatEnc = nil, nil
	l.presenceView() // unpublished: nobody hears this lobby any more
	l.log.Info("lobby: forgot its sessions, its quick-match queues and its chat history", "sessions", n)
}

// EndSessions ends every session the lobby welcomed whose id match
// reports, as SessionEnded does for each, and returns how many: a
// cluster's games node ends those of a node that died, which cannot say
// so itself. Never blocks on the lobby goroutine.
func (l *Lobby) EndSessions(match func(sessionID string) bool) int {
	l.gmu.Lock()
	var ids []string
	for id := range l.gate {
		if match(id) {
			ids = append(ids, id)
		}
	}
	l.gmu.Unlock()
	for _, id := range ids {
		l.SessionEnded(id)
	}
	return len(ids)
}

func (l *Lobby) sessionEvent(s string, ev sessEvent) {
	if l.closed.Load() {
		return
	}
	l.pmu.Lock()
	if l.sessEvts[s] != evEnded { // ended is final
		l.sessEvts[s] = ev
	}
	l.pmu.Unlock()
	l.poke()
}

// roomChanged is the Manager's OnRoomChange callback (executor goroutines).
func (l *Lobby) roomChanged(info rooms.RoomInfo, _ bool) {
	if l.closed.Load() || !l.offered[info.Game] {
		return
	}
	l.pmu.Lock()
	l.changed[info.ID] = true
	l.pmu.Unlock()
	l.poke()
}

func (l *Lobby) poke() {
	select {
	case l.wake <- struct{}{}:
	default:
	}
}

func (l *Lobby) loop() {
	defer l.wg.Done()
	for {
		select {
		case <-l.done:
			return
		case j := <-l.in:
			if !l.do(j) {
				l.unreserve(j.addr)
			}
		case r := <-l.authed:
			l.unreserve(r.addr) // the hello's place, kept while it was authenticated
			l.welcome(r)
		case <-l.wake:
			l.drain()
		}
	}
}

func (l *Lobby) authWorker() {
	defer l.wg.Done()
	for {
		select {
		case <-l.done:
			return
		case j := <-l.authq:
			r := authResult{job: j}
			r.id, r.err = l.authenticate(j)
			select {
			case l.authed <- r:
			case <-l.done:
				return
			}
		}
	}
}

func (l *Lobby) authenticate(j job) (id rooms.Identity, err error) {
	defer func() {
		if v := recover(); v != nil {
			l.log.Error("lobby: panic in Authenticator", "panic", v)
			err = fmt.Errorf("%w: internal error", rooms.ErrAuthRefused)
		}
	}()
	ctx, cancel := context.WithTimeout(l.authCtx, l.o.AuthTimeout)
	defer cancel()
	auth := l.o.Auth
	if auth == nil {
		auth = rooms.Guest
	}
	return auth.Authenticate(ctx, rooms.AuthRequest{Name: j.f["name"], Fields: j.f, RemoteAddr: j.req.RemoteAddr, Header: j.req.Header})
}

// do runs one action on the lobby goroutine. It reports whether the action
// goes on elsewhere (a hello handed to the Authenticator).
func (l *Lobby) do(j job) (pending bool) {
	if j.done != nil {
		l.drain()
		if !j.noFlush {
			l.flush() // tests' Sync publishes what is pending, as the tick would
		}
		if j.inspect != nil {
			j.inspect()
		}
		close(j.done)
		return false
	}
	if j.action == "hello" {
		if s := l.sessions[j.session]; s != nil {
			l.fail(j, ErrAlreadyHello) // a second hello raced the first
			return false
		}
		l.sessions[j.session] = &session{id: j.session, addr: j.req.RemoteAddr, pending: true}
		select {
		case l.authq <- j:
			return true
		default:
			delete(l.sessions, j.session)
			l.fail(j, ErrBusy)
		}
		return false
	}
	s := l.sessions[j.session]
	if s == nil || s.pending {
		l.fail(j, ErrHelloFirst)
		return false
	}
	info := rooms.PlayerInfo{SessionID: s.id, PlayerID: s.ident.PlayerID, Name: s.ident.Name, Addr: s.addr}
	opts, _ := parseOptions(j.f["options"]) // checked by Handle
	req := j.f["req"]
	var err error
	switch j.action {
	case "create":
		game := j.f["game"]
		if label := j.f["label"]; label != "" {
			if opts == nil {
				opts = rooms.Options{}
			}
			opts["label"] = label
		}
		var id string
		if id, err = l.m.Create(game, info, opts); err == nil {
			l.send(s.id, "created", createdData{Room: id, Game: game, Req: req})
		}
	case "join":
		info.Options = opts
		if err = l.m.Join(j.f["room"], info); err == nil {
			l.send(s.id, "ok", okData{Action: j.action, Room: j.f["room"], Req: req})
		}
	case "spectate":
		info.Options = opts
		if err = l.m.Spectate(j.f["room"], info); err == nil {
			l.send(s.id, "ok", okData{Action: j.action, Room: j.f["room"], Req: req})
		}
	case "leave-room":
		if err = l.m.Leave(j.f["room"], s.id); err == nil {
			l.send(s.id, "ok", okData{Action: j.action, Room: j.f["room"], Req: req})
		}
	case "quickplay":
		err = l.enqueue(s, j.f["game"], req)
	case "cancel-quickplay":
		if s.q == nil {
			err = ErrNotQueued
		} else {
			l.dequeue(s)
			l.send(s.id, "ok", okData{Action: j.action, Req: req})
		}
	case "chat":
		c := chatData{From: s.ident, Text: j.f["text"], TS: j.at.UnixMilli()}
		l.publish(TopicChat, "chat", c)
		l.keepChat(c)
	case "name":
		err = l.rename(s, j.f["name"], req)
	case "reclaim":
		err = l.reclaim(s, j.f["token"])
	case "sync":
		// A client that lost track (a gap in its events, a tab opened
		// late) gets what hello gave it, then its rooms' joined and state.
		l.send(s.id, "welcome", welcomeData{Player: s.ident, Req: req})
		l.sendSnapshots(s.id)
		err = l.m.Resync(s.id)
	case "browse":
		err = l.browse(s, j.f, req)
	case "list":
		l.list(s, j.f, req)
	}
	if err != nil {
		l.fail(j, err)
	}
	return false
}

// welcome completes a hello once the Authenticator answered.
func (l *Lobby) welcome(r authResult) {
	s := l.sessions[r.session]
	if s == nil || !s.pending {
		return // the session ended meanwhile
	}
	id, err := r.id, r.err
	if err == nil {
		id.Name, err = rooms.ValidateName(id.Name)
	}
	if err == nil && (id.PlayerID == "" || len(id.PlayerID) > rooms.MaxIDLen) {
		err = fmt.Errorf("%w: no player id", rooms.ErrAuthRefused)
	}
	if err != nil {
		delete(l.sessions, s.id)
		l.fail(r.job, err)
		return
	}
	token := r.f["token"]
	var tokenErr error
	if token != "" {
		owner, err := l.tokenOwner(token)
		switch {
		case errors.Is(err, rooms.ErrBadToken):
			tokenErr = err
		case err != nil:
			// Not known for now (TokenFinder): refused, so that the client
			// says hello again, its seat still held.
			delete(l.sessions, s.id)
			l.fail(r.job, err)
			return
		case l.o.Auth == nil:
			id = owner // a guest coming back is the player the token seats
		case owner.PlayerID != id.PlayerID:
			tokenErr = ErrTokenOwner
		}
	}
	// A player coming back to its seat keeps its name (its seat holds it,
	// but a finished game's does not).
	if (token == "" || tokenErr != nil) && l.nameTaken(id.Name, id.PlayerID) {
		delete(l.sessions, s.id)
		l.fail(r.job, ErrNameTaken)
		return
	}
	s.pending, s.ident = false, id
	p := l.players[id.PlayerID]
	if p == nil {
		p = &player{ident: id}
		l.players[id.PlayerID] = p
		l.holdName(id.Name, id.PlayerID, 1)
	}
	p.sessions = append(p.sessions, s)
	l.gmu.Lock()
	l.gate[s.id] = id.PlayerID
	l.gmu.Unlock()
	l.goOnline(s)
	l.send(s.id, "welcome", welcomeData{Player: id, Req: r.f["req"]})
	l.sendSnapshots(s.id)
	l.hear(s, false)
	if token != "" && tokenErr == nil {
		tokenErr = l.m.Reclaim(token, rooms.PlayerInfo{SessionID: s.id, PlayerID: id.PlayerID, Name: id.Name})
	}
	if tokenErr != nil {
		l.fail(r.job, tokenErr)
	}
}

// reclaim gives a welcomed session the seat a reconnection token holds, if
// the seat is its player's: for a hello whose token's seat could not be
// given back then (its room's node did not answer in time: "try again").
// The room answers with joined.
func (l *Lobby) reclaim(s *session, token string) error {
	owner, err := l.tokenOwner(token)
	switch {
	case err != nil:
		return err
	case owner.PlayerID != s.ident.PlayerID:
		return ErrTokenOwner
	}
	return l.m.Reclaim(token, rooms.PlayerInfo{SessionID: s.id, PlayerID: s.ident.PlayerID, Name: s.ident.Name})
}

func (l *Lobby) goOnline(s *session) {
	if s.online {
		return
	}
	s.online = true
	p := l.players[s.ident.PlayerID]
	if p.online++; p.online == 1 {
		l.nOnline.Add(1)
		l.presenceChanged(p.ident.PlayerID)
	}
}

func (l *Lobby) goOffline(s *session) {
	if !s.online {
		return
	}
	s.online = false
	l.dequeue(s)
	p := l.players[s.ident.PlayerID]
	if p.online--; p.online == 0 {
		l.nOnline.Add(-1)
		l.presenceChanged(p.ident.PlayerID)
	}
}

func (l *Lobby) rename(s *session, name, req string) error {
	name, err := rooms.ValidateName(name)
	if err != nil {
		return err
	}
	p := l.players[s.ident.PlayerID]
	if l.nameTaken(name, p.ident.PlayerID) {
		return ErrNameTaken
	}
	l.holdName(p.ident.Name, p.ident.PlayerID, -1)
	l.holdName(name, p.ident.PlayerID, 1)
	p.ident.Name = name
	for _, o := range p.sessions {
		o.ident.Name = name
	}
	l.send(s.id, "ok", okData{Action: "name", Player: &p.ident, Req: req})
	if p.online > 0 {
		l.presenceChanged(p.ident.PlayerID)
	}
	return nil
}

// nameKey is what names are compared by: Unicode simple case folding,
// each letter mapped to the first of its case orbit ("Dup", "dup" and
// "DUP" are one name; "ß" and "ẞ" too). Names are valid (rooms.ValidateName:
// trimmed, single spaces). Canonically equivalent spellings (é as one
// character, or e and a combining accent) and look-alike letters of other
// scripts are different names.
func nameKey(name string) string {
	var b strings.Builder
	b.Grow(len(name))
	for _, r := range name {
		low := r
		for f := unicode.SimpleFold(r); f != r; f = unicode.SimpleFold(f) {
			low = min(low, f)
		}
		b.WriteRune(low)
	}
	return b.String()
}

// nameHolders is who holds one name: nearly always a single player
// (names are unique; a second holder comes only with a reconnection token
// issued before the name was taken), held inline, any others in more.
type nameHolders struct {
	pid  string
	n    int            // pid's holds (0: pid is empty)
	more map[string]int // other players' holds
}

// holdName counts (delta +1 or -1) that the player pid holds name: a
// player holds its name while it has a session that said hello, and the
// name it sits under in a waiting or playing room while it holds that seat
// (so that a reload, whose old session ended, finds its name free).
func (l *Lobby) holdName(name, pid string, delta int) {
	k := nameKey(name)
	h := l.names[k]
	switch {
	case h.n > 0 && h.pid == pid:
		h.n += delta
	case h.more[pid]+delta > 0 && (h.n > 0 || h.more != nil):
		if h.more == nil {
			h.more = make(map[string]int, 1)
		}
		h.more[pid] += delta
	case h.more != nil:
		delete(h.more, pid)
	case delta > 0:
		h.pid, h.n = pid, delta
	default:
		return // not held: nothing to release
	}
	if h.n <= 0 { // the inline holder is gone: another takes its place
		h.pid, h.n = "", 0
		for p, n := range h.more {
			h.pid, h.n = p, n
			delete(h.more, p)
			break
		}
	}
	if len(h.more) == 0 {
		h.more = nil
	}
	if h.n == 0 {
		delete(l.names, k)
		return
	}
	l.names[k] = h
}

// nameTaken reports whether another player than pid holds name.
func (l *Lobby) nameTaken(name, pid string) bool {
	h := l.names[nameKey(name)]
	if h.n > 0 && h.pid != pid {
		return true
	}
	for holder := range h.more {
		if holder != pid {
			return true
		}
	}
	return false
}

// enqueue puts a session in a game's quickplay queue and matches.
func (l *Lobby) enqueue(s *session, game, req string) error {
	if s.q != nil {
		return ErrAlreadyQueued
	}
	g, ok := l.m.Game(game)
	if !ok {
		return rooms.ErrUnknownGame
	}
	s.q = &quickWait{game: game, req: req}
	s.queueGen++
	sid, gen := s.id, s.queueGen
	s.q.end = l.clock.AfterFunc(l.o.QuickplayWait, func() {
		l.pmu.Lock()
		l.qpFire = append(l.qpFire, sessionFire{sid, gen})
		l.pmu.Unlock()
		l.poke()
	})
	l.queues[game] = append(l.queues[game], s)
	l.send(s.id, "queued", queuedData{Game: game, Waiting: len(l.queues[game]), Needed: g.MinPlayers, Req: req})
	for len(l.queues[game]) >= g.MinPlayers {
		group := slices.Clone(l.queues[game][:g.MinPlayers])
		l.queues[game] = slices.Delete(l.queues[game], 0, g.MinPlayers)
		l.match(game, group)
	}
	return nil
}

// match creates a room for a group and joins them in queue order: each
// gets "matched" before the room's "joined".
func (l *Lobby) match(game string, group []*session) {
	reqs := make([]string, len(group))
	for i, s := range group {
		reqs[i] = s.q.req
		s.leftQueue()
	}
	var id string
	var err error
	if gp, ok := l.m.(GroupPlacer); ok {
		ids := make([]string, len(group))
		for i, s := range group {
			ids[i] = s.id
		}
		id, err = gp.CreateFor(game, ids, nil)
	} else {
		id, err = l.m.Create(game, rooms.PlayerInfo{}, nil)
	}
	if err != nil {
		for i, s := range group {
			l.send(s.id, "error", errorData{Action: "quickplay", Reason: err.Error(), Req: reqs[i]})
		}
		return
	}
	for i, s := range group {
		l.send(s.id, "matched", matchedData{Room: id, Game: game, Req: reqs[i]})
	}
	infos := make([]rooms.PlayerInfo, len(group))
	for i, s := range group {
		infos[i] = rooms.PlayerInfo{SessionID: s.id, PlayerID: s.ident.PlayerID, Name: s.ident.Name}
	}
	var errs []error
	if gj, ok := l.m.(GroupJoiner); ok {
		errs = gj.JoinAll(id, infos)
	} else {
		errs = make([]error, len(infos))
		for i := range infos {
			errs[i] = l.m.Join(id, infos[i])
		}
	}
	for i, s := range group {
		if i < len(errs) && errs[i] != nil {
			l.send(s.id, "error", errorData{Action: "quickplay", Reason: errs[i].Error(), Req: reqs[i]})
		}
	}
}

func (l *Lobby) dequeue(s *session) {
	if s.q == nil {
		return
	}
	l.queues[s.q.game] = slices.DeleteFunc(l.queues[s.q.game], func(o *session) bool { return o == s })
	s.leftQueue()
}

// shortDuration formats d without its zero units: 2m, 90s as 1m30s, 1h.
func shortDuration(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}

// leftQueue forgets the session's wait in the quick-play queue.
func (s *session) leftQueue() {
	if s.q != nil && s.q.end != nil {
		s.q.end.Stop()
	}
	s.q = nil
}

// drain applies the coalesced inputs.
func (l *Lobby) drain() {
	l.pmu.Lock()
	changed, evts, fires, qpFires, tick := l.changed, l.sessEvts, l.awayFire, l.qpFire, l.tickFire
	l.changed, l.sessEvts, l.awayFire, l.qpFire, l.tickFire = make(map[string]bool), make(map[string]sessEvent), nil, nil, false
	forgets := l.forgets
	l.forgets = nil
	l.pmu.Unlock()
	for _, keep := range forgets {
		if keep == nil || !keep() {
			l.forgetAll()
		}
	}

	for _, id := range slices.Sorted(maps.Keys(changed)) {
		var old rooms.RoomInfo
		kept, was := l.roomList[id]
		if was {
			old = *kept
		}
		info, ok := l.m.Room(id)
		now := ok && listed(info)
		if !was && !now {
			if ok {
				l.reseat(old, info) // its players may hear the lobby again
			}
			continue
		}
		if was {
			l.countSeats(old, -1)
		}
		if now {
			l.roomList[id] = &info
			l.countSeats(info, 1)
		} else {
			delete(l.roomList, id)
		}
		l.roomChangedInView(id)
		l.reseat(old, info)
	}
	for sid, ev := range evts {
		s := l.sessions[sid]
		if s == nil {
			continue
		}
		switch {
		case ev == evEnded:
			l.ended(s)
		case s.pending:
		case ev == evDetached && !s.detached:
			s.detached = true
			s.awayGen++
			gen := s.awayGen
			s.away = l.clock.AfterFunc(l.o.AwayGrace, func() {
				l.pmu.Lock()
				l.awayFire = append(l.awayFire, sessionFire{sid, gen})
				l.pmu.Unlock()
				l.poke()
			})
		case ev == evAttached && s.detached:
			s.detached = false
			s.awayGen++
			if s.away != nil {
				s.away.Stop()
				s.away = nil
			}
			l.goOnline(s)
		}
	}
	for _, f := range fires {
		if s := l.sessions[f.session]; s != nil && s.awayGen == f.gen && s.detached {
			s.away = nil
			l.goOffline(s)
		}
	}
	for _, f := range qpFires {
		if s := l.sessions[f.session]; s != nil && s.q != nil && s.queueGen == f.gen {
			req := s.q.req
			l.dequeue(s)
			l.send(s.id, "error", errorData{Action: "quickplay", Reason: fmt.Errorf("%w within %s: nobody else asked for a game; try again, or create a room and send its address", ErrNoOpponent, shortDuration(l.o.QuickplayWait)).Error(), Req: req})
		}
	}
	if tick {
		l.views.armed = false
		l.flush()
	}
}

// listed reports whether the lobby lists a room: one can join it (waiting,
// with a player in it) or watch a game (playing). A game over is of no use
// to anyone else (a rematch lists it again), and an empty room only waits
// for its empty grace to end.
func listed(info rooms.RoomInfo) bool {
	return info.State == rooms.StatePlaying || info.State == rooms.StateWaiting && len(info.Players) > 0
}

// ended forgets a session that is gone.
func (l *Lobby) ended(s *session) {
	delete(l.sessions, s.id)
	if s.away != nil {
		s.away.Stop()
	}
	if s.pending {
		return
	}
	l.goOffline(s)
	p := l.players[s.ident.PlayerID]
	if i := slices.Index(p.sessions, s); i >= 0 {
		p.sessions = slices.Delete(p.sessions, i, i+1)
	}
	if len(p.sessions) == 0 {
		delete(l.players, s.ident.PlayerID)
		l.holdName(p.ident.Name, p.ident.PlayerID, -1)
	}
	l.gmu.Lock()
	delete(l.gate, s.id)
	delete(l.lists, s.id)
	if len(p.sessions) == 0 {
		delete(l.chat, s.ident.PlayerID)
	}
	l.gmu.Unlock()
}

// keepChat adds a message to the chat history.
func (l *Lobby) keepChat(c chatData) {
	if len(l.chatLog) == l.o.ChatHistory {
		copy(l.chatLog, l.chatLog[1:])
		l.chatLog = l.chatLog[:len(l.chatLog)-1]
	}
	l.chatLog = append(l.chatLog, c)
	l.chatEnc = nil
}

func (l *Lobby) fail(j job, err error) {
	l.send(j.session, "error", errorData{Action: j.action, Reason: err.Error(), Req: j.f["req"]})
}

func (l *Lobby) send(s, typ string, data any) {
	if b, ok := l.encode(typ, data); ok {
		l.t.Send(s, rooms.Event{Topic: TopicLobby, Type: typ, Data: b})
	}
}

func (l *Lobby) publish(topic, typ string, data any) {
	if b, ok := l.encode(typ, data); ok {
		l.t.Publish(topic, rooms.Event{Topic: topic, Type: typ, Data: b})
	}
}

func (l *Lobby) encode(typ string, data any) ([]byte, bool) {
	b, err := json.Marshal(data)
	if err != nil {
		l.log.Error("lobby: cannot encode event, not sent", "type", typ, "err", err)
		return nil, false
	}
	return b, true
}

// chatRate checks that one more chat message of player pid fits in its
// rate and the lobby's, and with spend counts it.
func (l *Lobby) chatRate(pid string, now time.Time, spend bool) error {
	l.gmu.Lock()
	defer l.gmu.Unlock()
	w := windowLocked(l.chat, pid)
	switch {
	case !w.fits(now, l.o.ChatRate, l.o.ChatPer):
		return ErrRateLimited
	case !l.all.fits(now, l.o.ChatLobbyRate, time.Second):
		return ErrChatBusy
	}
	if spend {
		w.add(now, l.o.ChatRate)
		l.all.add(now, l.o.ChatLobbyRate)
	}
	return nil
}

// chatText validates a chat message and returns it trimmed. It refuses
// what names refuse as invisible (rooms.Invisible: controls, bidi
// overrides, zero-width characters, the BOM...), so that a message cannot
// hide text or reorder what follows it on the readers' screens, and more
// than rooms.MaxMarks combining marks in a row. Variation selectors (emoji)
// count as marks.
func (l *Lobby) chatText(s string) (string, error) {
	if !utf8.ValidString(s) {
		return "", fmt.Errorf("%w: chat text is not UTF-8", ErrMalformed)
	}
	s = strings.TrimSpace(s)
	switch {
	case s == "":
		return "", fmt.Errorf("%w: empty chat message", ErrMalformed)
	case utf8.RuneCountInString(s) > l.o.ChatMaxLen:
		return "", fmt.Errorf("%w (at most %d characters)", ErrChatTooLong, l.o.ChatMaxLen)
	}
	marks := 0
	for _, r := range s {
		switch {
		case unicode.IsControl(r):
			return "", fmt.Errorf("%w: control characters in chat text", ErrMalformed)
		case rooms.Invisible(r):
			return "", fmt.Errorf("%w: invisible or formatting characters in chat text", ErrMalformed)
		case r >= utf8.RuneSelf && unicode.Is(unicode.M, r):
			if marks++; marks > rooms.MaxMarks {
				return "", fmt.Errorf("%w: too many combining marks in a row in chat text", ErrMalformed)
			}
		default:
			marks = 0
		}
	}
	return s, nil
}

// parseOptions decodes the "options" field: a JSON object of strings.
func parseOptions(s string) (rooms.Options, error) {
	if s == "" {
		return nil, nil
	}
	var o rooms.Options
	if err := json.Unmarshal([]byte(s), &o); err != nil {
		return nil, fmt.Errorf("%w: options must be a JSON object of strings", ErrMalformed)
	}
	if len(o) > rooms.MaxOptions {
		return nil, fmt.Errorf("%w: more than %d options", ErrMalformed, rooms.MaxOptions)
	}
	return o, nil
}

func cloneFields(f map[string]string) map[string]string {
	c := make(map[string]string, len(f))
	for k, v := range f {
		c[strings.Clone(k)] = strings.Clone(v)
	}
	return c
}

// windowLocked returns the rate window of key in m, made on first use
// (gmu held).
func windowLocked(m map[string]*rateWindow, key string) *rateWindow {
	w := m[key]
	if w == nil {
		w = &rateWindow{}
		m[strings.Clone(key)] = w
	}
	return w
}

// rateWindow remembers the times of a player's last accepted messages.
type rateWindow struct {
	ts   []time.Time
	next int // oldest, once full
}

// fits reports whether one more message fits in n per period.
func (w *rateWindow) fits(now time.Time, n int, per time.Duration) bool {
	return len(w.ts) < n || now.Sub(w.ts[w.next]) >= per
}

// add records a message that fits (in n per period).
func (w *rateWindow) add(now time.Time, n int) {
	if len(w.ts) < n {
		w.ts = append(w.ts, now)
		return
	}
	w.ts[w.next] = now
	w.next = (w.next + 1) % n
}

// Event payloads (see docs/ROOMS.md, "What the browser sees").

type welcomeData struct {
	Player rooms.Identity `json:"player"`
	Req    string         `json:"req,omitempty"`
}

type createdData struct {
	Room string `json:"room"`
	Game string `json:"game"`
	Req  string `json:"req,omitempty"`
}

type okData struct {
	Action string          `json:"action"`
	Room   string          `json:"room,omitempty"`
	Player *rooms.Identity `json:"player,omitempty"`
	Req    string          `json:"req,omitempty"`
}

type queuedData struct {
	Game    string `json:"game"`
	Waiting int    `json:"waiting"`
	Needed  int    `json:"needed"`
	Req     string `json:"req,omitempty"`
}

type matchedData struct {
	Room string `json:"room"`
	Game string `json:"game"`
	Req  string `json:"req,omitempty"`
}

type chatData struct {
	From rooms.Identity `json:"from"`
	Text string         `json:"text"`
	TS   int64          `json:"ts"`
}

type chatHistoryData struct {
	Messages []chatData `json:"messages"`
}

type errorData struct {
	Action string `json:"action"`
	Reason string `json:"reason"`
	Req    string `json:"req,omitempty"`
}
