package engine

import (
	"cmp"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"net/netip"
	"runtime"
	"strconv"
	"time"

	"github.com/cometplay/cometplay/engine/internal/webfs"
	"github.com/cometplay/cometplay/httpcodec"
)

// Defaults of the HTTP layer. Each is documented in docs/OPERATIONS.md and
// README (the example server has a flag for each); tests pin the ones that
// guard against abuse.
const (
	// DefaultAddr is where a server listens when Config.Addr is empty.
	DefaultAddr = "127.0.0.1:8080"
	// DefaultHeaderTimeout bounds the time from the first byte of a request to
	// the end of its head and body (slowloris guard).
	DefaultHeaderTimeout = 10 * time.Second
	// DefaultIdleTimeout closes a keep-alive connection that has no request in
	// flight and sends nothing for this long.
	DefaultIdleTimeout = 60 * time.Second
	// DefaultMaxPipelined bounds the requests of one connection being served at
	// once; further pipelined requests wait in the inbound buffer.
	DefaultMaxPipelined = 16
	// DefaultMaxOutbound bounds the bytes queued for one connection (in gnet's
	// outbound buffer plus responses held back behind an earlier one; a
	// Stream's chunks waiting for the event loop are bounded by it too). A
	// peer that stops reading is closed when it is exceeded, so memory stays
	// bounded.
	DefaultMaxOutbound = 1 << 20
	// DefaultMaxInbound bounds the bytes buffered from one connection that the
	// server has not consumed yet: a request still arriving, and pipelined
	// requests beyond MaxPipelined. It is what a connection's input may cost
	// in memory (about 1.25 times it at most, see conn.appendIn).
	DefaultMaxInbound = 2 << 20
	// DefaultMaxConnsPerAddr bounds the connections open at once from one
	// client address (an IPv6 address counts with its whole /64). A session
	// keeps a data connection (a stream or a parked long-poll) and sends its
	// control requests on a second one, so the sessions of one address at
	// comet.Config's DefaultMaxSessionsPerAddr (128) need 256; a browser opens
	// at most 6 per host, so more come only from many browsers behind one
	// address (a NAT) or from a script.
	DefaultMaxConnsPerAddr = 256
	// DefaultKeepAlive is the TCP keep-alive period: a connection silent
	// for that long is probed every third of it, and dropped after three
	// probes go unanswered; data it does not acknowledge for twice the
	// period drops it too. A client that vanished without a word (a
	// laptop closed, a network gone) is therefore noticed within about
	// 2×30 s = 1 minute instead of the kernel's 15 minutes of
	// retransmissions, and its seat stops looking connected.
	DefaultKeepAlive = 30 * time.Second
	// keepAliveProbes is the number of unanswered probes that drop a connection.
	keepAliveProbes = 3
	// DefaultShutdownTimeout bounds a graceful shutdown.
	DefaultShutdownTimeout = 5 * time.Second
	// DefaultWorkQueue is the number of requests (a connection's pipelined
	// requests parsed together count once) waiting for a handler
	// goroutine before the server answers 503.
	DefaultWorkQueue = 4096
	// minInbound is the least MaxInbound: a connection must be able to
	// buffer a whole request head and a read's worth of pipelined bytes.
	minInbound = 64 << 10
	// fdReserve is kept free below the open-file limit for the process's own
	// files (listeners, pollers, event fds, static files, logs, profiles).
	fdReserve = 128
)

// Config configures a Server. The zero value is usable: every zero field takes
// its default.
type Config struct {
	// Addr is the TCP address to listen on, "host:port"; port 0 picks a free
	// one. Start refuses an address that another socket listens on, with
	// an error wrapping syscall.EADDRINUSE (see listen.go).
	Addr string
	// Loops is the number of event loops (default GOMAXPROCS).
	Loops int
	// Workers is the number of goroutines that run Handlers (default
	// 8×GOMAXPROCS, at least 16). It does not grow with connections.
	Workers int
	// WorkQueue bounds the requests waiting for a worker (default
	// DefaultWorkQueue); a connection's pipelined requests parsed together
	// are one item, run by one worker in order.
	WorkQueue int
	// Limits bounds request parsing (see httpcodec.Limits for the defaults).
	Limits httpcodec.Limits
	// HeaderTimeout, IdleTimeout: see DefaultHeaderTimeout, DefaultIdleTimeout.
	HeaderTimeout time.Duration
	IdleTimeout   time.Duration
	// MaxConns caps open connections. 0 derives it from the process's
	// open-file limit (RLIMIT_NOFILE) minus a reserve; a larger value is
	// lowered to that. Connections over the cap are answered 503 and closed.
	MaxConns int
	// MaxConnsPerAddr caps the connections open at once from one client
	// address, an IPv6 address counting with its whole /64 (default
	// DefaultMaxConnsPerAddr; -1: no cap). Connections over it are answered
	// 503 and closed, as over MaxConns.
	MaxConnsPerAddr int
	// TrustedProxies are the reverse proxies and load balancers whose
	// X-Forwarded-For the server believes (an address, or a prefix: the
	// balancer's, a private network's). A request whose TCP peer lies in
	// one of them comes from the rightmost address of its X-Forwarded-For
	// fields that does not: Exchange.ClientAddr and a Handler's
	// Request.RemoteAddr say so, and the Comet layer's per-address limits
	// count it. Empty (the default): the header is never read, and every
	// client behind a proxy is the proxy. MaxConnsPerAddr counts the peer
	// whatever this says: a connection is counted before any request.
	TrustedProxies []netip.Prefix
	// MaxPipelined, MaxOutbound, MaxInbound: see the Default constants. A
	// request still arriving may hold more than MaxInbound when Limits
	// allow a larger one (head and body, plus 64 KiB); one whose bytes on
	// the wire exceed both is answered 413.
	MaxPipelined int
	MaxOutbound  int
	MaxInbound   int
	// KeepAlive is the TCP keep-alive period (default DefaultKeepAlive, at
	// least 3 s; negative: off, the operating system's defaults). A dead
	// peer is detected within about twice the period.
	KeepAlive time.Duration
	// ShutdownTimeout bounds Shutdown when its context has no deadline.
	ShutdownTimeout time.Duration
	// Static is the embedded site (usually static.FS()); nil serves none.
	Static fs.FS
	// StaticModTime is reported as Last-Modified for embedded files (zero: omitted).
	StaticModTime time.Time
	// Webroot is a directory whose files override and extend Static.
	Webroot string
	// PageCSP is the Content-Security-Policy sent with every file of
	// Static (default DefaultPageCSP): the embedded pages run only their
	// own origin's script and style files. A Static with inline script
	// needs a policy that allows it.
	PageCSP string
	// WebrootCSP is the Content-Security-Policy sent with every file of
	// Webroot ("": none). A webroot holds the operator's own pages, and
	// Pushlet's original clients, whose pages run inline script: they get
	// no policy unless one is set here.
	WebrootCSP string
	// Logger receives the server's logs (default slog.Default()).
	Logger *slog.Logger
	// AccessLog logs every request at debug level when set.
	AccessLog bool
	// LogLimit is how many records at Warn level and above with the same
	// message the server logs a minute (default DefaultLogLimit; -1: no
	// limit); see LimitLogs. Clients can cause some of them.
	LogLimit int
}

// requestHold is what one request still arriving may hold on the wire:
// MaxInbound, or more when the limits allow a larger request (its head and
// body, with room for a chunked body's framing and one read).
func requestHold(maxInbound int, l httpcodec.Limits) int {
	head, body := l.MaxHeadBytes, l.MaxBodyBytes
	if head <= 0 {
		head = httpcodec.DefaultMaxHeadBytes
	}
	if body <= 0 {
		body = httpcodec.DefaultMaxBodyBytes
	}
	return max(maxInbound, head+int(min(body, 1<<40))+64<<10)
}

// withDefaults returns c with every zero field set to its default, and
// what is wrong with the rest (check).
func (c Config) withDefaults() (Config, error) {
	if c.Addr == "" {
		c.Addr = DefaultAddr
	}
	if c.Loops == 0 {
		c.Loops = runtime.GOMAXPROCS(0)
	}
	if c.Workers == 0 {
		c.Workers = max(16, 8*runtime.GOMAXPROCS(0))
	}
	if c.WorkQueue == 0 {
		c.WorkQueue = DefaultWorkQueue
	}
	if c.HeaderTimeout == 0 {
		c.HeaderTimeout = DefaultHeaderTimeout
	}
	if c.IdleTimeout == 0 {
		c.IdleTimeout = DefaultIdleTimeout
	}
	if c.MaxConnsPerAddr == 0 {
		c.MaxConnsPerAddr = DefaultMaxConnsPerAddr
	}
	if c.MaxPipelined == 0 {
		c.MaxPipelined = DefaultMaxPipelined
	}
	if c.MaxOutbound == 0 {
		c.MaxOutbound = DefaultMaxOutbound
	}
	if c.MaxInbound == 0 {
		c.MaxInbound = DefaultMaxInbound
	}

	if c.ShutdownTimeout == 0 {
		c.ShutdownTimeout = DefaultShutdownTimeout
	}
	if c.KeepAlive == 0 {
		c.KeepAlive = DefaultKeepAlive
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.PageCSP == "" {
		c.PageCSP = DefaultPageCSP
	}
	if c.LogLimit == 0 {
		c.LogLimit = DefaultLogLimit
	}
	return c, c.check()
}

// Validate reports what is wrong with c, all of it at once: an error
// joining one *ConfigError per invalid setting (ConfigErrors lists them),
// or nil. New validates too; Validate lets a program check a configuration
// before building anything (games.Config.Validate checks every layer's).
func (c Config) Validate() error {
	_, err := c.withDefaults()
	return err
}

// check applies every rule of the HTTP layer's settings to c, whose zero
// fields hold their defaults.
func (c Config) check() error {
	var errs []error
	bad := func(field, format string, args ...any) {
		errs = append(errs, &ConfigError{Field: field, Problem: fmt.Sprintf(format, args...)})
	}
	if _, port, err := net.SplitHostPort(c.Addr); err != nil {
		bad("Addr", "want host:port, got %q", c.Addr)
	} else if n, err := strconv.Atoi(port); err != nil || n < 0 || n > 65535 {
		bad("Addr", "invalid port %q (want 0..65535)", port)
	}
	if c.Webroot != "" {
		if err := webfs.CheckWebroot(c.Webroot); errors.Is(err, webfs.ErrWebrootNotDir) || errors.Is(err, fs.ErrNotExist) {
			bad("Webroot", "not a directory: %q", c.Webroot)
		} else if err != nil {
			bad("Webroot", "%v", err)
		}
	}
	for _, v := range []struct{ field, policy string }{{"PageCSP", c.PageCSP}, {"WebrootCSP", c.WebrootCSP}} {
		if !webfs.ValidCSP(v.policy) {
			bad(v.field, "control characters in %q", v.policy)
		}
	}
	if c.WebrootCSP != "" && c.Webroot == "" {
		bad("WebrootCSP", "needs Webroot (it is sent with the webroot's files only)")
	}
	const positive, automatic = "must be positive", "must not be negative (0: automatic)"
	for _, v := range []struct {
		field, problem string
		v              int64
	}{{"Loops", automatic, int64(c.Loops)}, {"Workers", automatic, int64(c.Workers)}, {"MaxConns", automatic, int64(c.MaxConns)},
		{"WorkQueue", positive, int64(c.WorkQueue)}, {"MaxPipelined", positive, int64(c.MaxPipelined)}, {"MaxOutbound", positive, int64(c.MaxOutbound)},
		{"Limits.MaxRequestLine", positive, int64(c.Limits.MaxRequestLine)}, {"Limits.MaxHeadBytes", positive, int64(c.Limits.MaxHeadBytes)},
		{"Limits.MaxHeaders", positive, int64(c.Limits.MaxHeaders)}, {"Limits.MaxBodyBytes", positive, c.Limits.MaxBodyBytes},
		{"Limits.MaxChunkExtBytes", positive, int64(c.Limits.MaxChunkExtBytes)}} {
		if v.v < 0 {
			bad(v.field, "%s, got %d", v.problem, v.v)
		}
	}
	for _, d := range []struct {
		field string
		v     time.Duration
	}{{"HeaderTimeout", c.HeaderTimeout}, {"IdleTimeout", c.IdleTimeout}, {"ShutdownTimeout", c.ShutdownTimeout}} {
		if d.v < 0 {
			bad(d.field, "must be positive, got %v", d.v)
		}
	}
	// httpcodec bounds the request line by the head when the head is
	// smaller: a longer line would be refused with the head's 431.
	if line, head := cmp.Or(c.Limits.MaxRequestLine, httpcodec.DefaultMaxRequestLine), cmp.Or(c.Limits.MaxHeadBytes, httpcodec.DefaultMaxHeadBytes); line > 0 && head > 0 && head < line {
		bad("Limits.MaxHeadBytes", "must be at least Limits.MaxRequestLine (%d), got %d", line, head)
	}
	if c.MaxInbound < minInbound {
		bad("MaxInbound", "must be at least 64KiB (%d), got %d", minInbound, c.MaxInbound)
	}
	if c.MaxConnsPerAddr < -1 {
		bad("MaxConnsPerAddr", "must be positive, or -1 for no cap, got %d", c.MaxConnsPerAddr)
	}
	for i, p := range c.TrustedProxies {
		if !p.IsValid() {
			bad(fmt.Sprintf("TrustedProxies[%d]", i), "must be a valid prefix, got %v", p)
		}
	}
	if c.LogLimit < -1 {
		bad("LogLimit", "must be positive, or -1 for no limit, got %d", c.LogLimit)
	}
	if c.KeepAlive >= 0 && c.KeepAlive < keepAliveProbes*time.Second {
		bad("KeepAlive", "must be at least %v, or negative for off, got %v", keepAliveProbes*time.Second, c.KeepAlive)
	}
	return errors.Join(errs...)
}

// ConfigError is what is wrong with one setting. Field is the path of its
// field in the configuration ("MaxConnsPerAddr", "Limits.MaxHeadBytes"; a
// configuration holding another names it from there: games.Config's
// "HTTP.MaxConnsPerAddr"); Problem says what is wrong, with the value
// ("must be positive, or -1 for no cap, got -2"). Another setting a
// problem compares with is named by its path in the same configuration.
// The engine's and the comet package's validation return them;
// rooms.ConfigError is their equivalent for the packages that import
// nothing of ours (rooms, lobby).
type ConfigError struct {
	Field   string
	Problem string
}

func (e *ConfigError) Error() string {
	if e.Field == "" {
		return e.Problem
	}
	return e.Field + ": " + e.Problem
}

// ConfigField returns the error's field and problem (rooms.ConfigError
// has the same method: ConfigErrors reads both).
func (e *ConfigError) ConfigField() (field, problem string) { return e.Field, e.Problem }

// ConfigErrors lists the problems err reports, one *ConfigError each, with
// path and a dot put before each Field (path "": the Fields as they are).
// err is what a Validate method returns, or several of them joined with
// errors.Join, at any depth. Its errors with a ConfigField method (this
// package's ConfigError, rooms.ConfigError) give their field and problem;
// any other becomes a ConfigError of Field path whose Problem is its text.
func ConfigErrors(path string, err error) []*ConfigError {
	if err == nil {
		return nil
	}
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		var out []*ConfigError
		for _, e := range j.Unwrap() {
			out = append(out, ConfigErrors(path, e)...)
		}
		return out
	}
	field, problem := "", err.Error()
	var fe interface{ ConfigField() (string, string) }
	if errors.As(err, &fe) {
		field, problem = fe.ConfigField()
	}
	switch {
	case path == "":
	case field == "":
		field = path
	default:
		field = path + "." + field
	}
	return []*ConfigError{{Field: field, Problem: problem}}
}
