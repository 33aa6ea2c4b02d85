package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"runtime"
	"runtime/pprof"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing/fstest"
	"time"

	"github.com/panjf2000/gnet/v2"
	"golang.org/x/sys/unix"

	"github.com/cometplay/cometplay/engine"
)

// The file every server of the HTTP comparison serves.
const (
	staticPath = "/hello.txt"
	staticBody = "hello, world\n"
	// handlerPath is served by the cometplay kind's Handler (on the engine's
	// workers) with the static file's bytes: the cost of user code's path
	// against the static path on the loop.
	handlerPath = "/hello-handler"
)

// staticModTime is the file's fixed modification time, so that every server
// sends the same Last-Modified.
var staticModTime = time.Date(2025, time.January, 1, 0, 0, 0, 0, time.UTC)

// Server kinds of `bench serve -kind`.
const (
	kindCometplay = "cometplay" // engine.Server serving Config.Static from memory (and handlerPath)
	kindNetHTTP   = "nethttp"   // net/http serving the same bytes and headers
	kindGnet      = "gnet"      // bare gnet answering every request with fixed bytes
)

var serverKinds = []string{kindCometplay, kindNetHTTP, kindGnet}

// allServerKinds are the kinds `bench serve` accepts: the HTTP
// comparison's, the real games stack and the net/http Comet baseline.
var allServerKinds = []string{kindCometplay, kindNetHTTP, kindGnet, kindGames, kindNetHTTPComet}

// staticHeaders returns the header fields cometplay's static server sends
// for staticBody, in its order (name, value pairs), without Date and
// Content-Length. The other servers send the same, so that the bytes on the
// wire match; the HTTP comparison checks that they do before measuring.
func staticHeaders() []string {
	sum := sha256.Sum256([]byte(staticBody))
	return []string{
		"Content-Type", "text/plain; charset=utf-8",
		"Cache-Control", "no-cache",
		"ETag", `"` + hex.EncodeToString(sum[:8]) + `"`,
		"X-Content-Type-Options", "nosniff",
		"Last-Modified", staticModTime.Format(http.TimeFormat),
	}
}

// runningServer is a server of one kind started in this process.
type runningServer struct {
	Kind string
	Addr string
	// stop shuts the server down, waiting at most until ctx ends.
	stop func(ctx context.Context) error
	// extra returns the server's own figures for the stats command (nil:
	// none).
	extra func() any
}

// Stop shuts the server down.
func (s *runningServer) Stop(ctx context.Context) error { return s.stop(ctx) }

// startServer starts a server of the given kind on addr ("host:port", port
// 0 picks one) in this process. The event-loop servers use GOMAXPROCS loops.
// A nil log discards the servers' logs.
func startServer(kind, addr string, log *slog.Logger, o serverOptions) (*runningServer, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	switch kind {
	case kindCometplay:
		return startCometplay(addr, log)
	case kindNetHTTP:
		return startNetHTTP(addr)
	case kindGnet:
		return startGnet(addr, log)
	case kindGames:
		return startGames(addr, log, o)
	case kindNetHTTPComet:
		return startNetHTTPComet(addr, o)
	}
	return nil, fmt.Errorf("bench: unknown server kind %q (want one of %v)", kind, allServerKinds)
}

func startCometplay(addr string, log *slog.Logger) (*runningServer, error) {
	srv, err := engine.New(engine.Config{
		Addr:            addr,
		MaxConnsPerAddr: -1, // the load generator is one address
		Static: fstest.MapFS{
			staticPath[1:]: &fstest.MapFile{Data: []byte(staticBody), ModTime: staticModTime},
		},
		Logger: log,
	})
	if err != nil {
		return nil, err
	}
	hdrs, body := staticHeaders(), []byte(staticBody)
	srv.Handle("GET", handlerPath, func(w *engine.Stream, _ *engine.Request) {
		for i := 2; i+1 < len(hdrs); i += 2 { // after Content-Type, which Respond sets
			_ = w.SetHeader(hdrs[i], hdrs[i+1]) // valid constants
		}
		_ = w.Respond(200, hdrs[1], body) // an error means the client left
	})
	if err := srv.Start(); err != nil {
		return nil, err
	}
	return &runningServer{Kind: kindCometplay, Addr: srv.Addr(), stop: srv.Shutdown}, nil
}

func startNetHTTP(addr string) (*runningServer, error) {
	hdrs := staticHeaders()
	body := []byte(staticBody)
	clen := []string{strconv.Itoa(len(body))}
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != staticPath {
			http.NotFound(w, r)
			return
		}
		wh := w.Header()
		// Pre-canonical keys: the assignments cost no canonicalization, as a
		// tuned net/http handler would do it.
		for i := 0; i+1 < len(hdrs); i += 2 {
			wh[hdrs[i]] = hdrs[i+1 : i+2]
		}
		wh["Content-Length"] = clen
		if r.Method != http.MethodHead {
			_, _ = w.Write(body) // a write error means the client left
		}
	})
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	hs := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 60 * time.Second}
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = hs.Serve(ln) // returns http.ErrServerClosed after Shutdown
	}()
	stop := func(ctx context.Context) error {
		err := hs.Shutdown(ctx)
		<-done
		return err
	}
	return &runningServer{Kind: kindNetHTTP, Addr: ln.Addr().String(), stop: stop}, nil
}

// fixedResponse is the bare gnet server's answer: cometplay's response with a
// fixed Date of the same length.
func fixedResponse() []byte {
	var b bytes.Buffer
	b.WriteString("HTTP/1.1 200 OK\r\nDate: ")
	b.WriteString(staticModTime.Format(http.TimeFormat))
	b.WriteString("\r\n")
	hdrs := staticHeaders()
	for i := 0; i+1 < len(hdrs); i += 2 {
		fmt.Fprintf(&b, "%s: %s\r\n", hdrs[i], hdrs[i+1])
	}
	fmt.Fprintf(&b, "Content-Length: %d\r\n\r\n%s", len(staticBody), staticBody)
	return b.Bytes()
}

// gnetFloor answers every request (anything ending in CRLF CRLF; request
// bodies are not supported) with the same fixed bytes: the cost of an event
// loop and the socket calls, with no HTTP work to speak of. For the
// listener scenarios it also holds connections and pushes to them:
//
//	GET /floor/hold          a chunked response that never ends
//	GET /floor/push?QUERY    one chunk {"p_event":"data",...QUERY's k and t}
//	                         to every held connection, then 200
//
// which is what any Comet server must do at least: keep the connections and
// write the same bytes to each when an event comes.
type gnetFloor struct {
	gnet.BuiltinEventEngine
	resp    []byte
	reserve net.Listener
	eng     gnet.Engine
	booted  chan struct{}

	mu    sync.Mutex
	loops map[gnet.EventLoop]*floorLoop
}

// floorLoop holds the connections of one event loop; only that loop
// touches held.
type floorLoop struct {
	held map[gnet.Conn]struct{}
}

// floorConn is a connection's context: its output buffer, reused for every
// batch, and whether it is held.
type floorConn struct {
	out  []byte
	held bool
}

// Paths of the floor's listener protocol.
var (
	floorHold = []byte("GET /floor/hold")
	floorPush = []byte("GET /floor/push?")
)

// floorHoldHead starts a held response; its first chunk plays the part of
// a listen-ack.
var floorHoldHead = "HTTP/1.1 200 OK\r\nContent-Type: application/x-ndjson;charset=UTF-8\r\nTransfer-Encoding: chunked\r\n\r\n" +
	string(appendChunk(nil, []byte(`{"p_event":"listen-ack"}`+"\n")))

// appendChunk appends p as one chunk of a chunked body.
func appendChunk(dst, p []byte) []byte {
	dst = strconv.AppendInt(dst, int64(len(p)), 16)
	dst = append(dst, "\r\n"...)
	dst = append(dst, p...)
	return append(dst, "\r\n"...)
}

// floorPushed answers a push.
const floorPushed = "HTTP/1.1 200 OK\r\nContent-Type: application/json;charset=UTF-8\r\nContent-Length: 2\r\n\r\n[]"

// OnBoot implements gnet.EventHandler.
func (g *gnetFloor) OnBoot(eng gnet.Engine) gnet.Action {
	g.eng = eng
	g.reserve.Close() // gnet's listeners are bound; see reservePort
	close(g.booted)
	return gnet.None
}

// OnOpen implements gnet.EventHandler.
func (g *gnetFloor) OnOpen(c gnet.Conn) ([]byte, gnet.Action) {
	c.SetContext(new(floorConn))
	return nil, gnet.None
}

// OnClose implements gnet.EventHandler: a held connection is let go.
func (g *gnetFloor) OnClose(c gnet.Conn, _ error) gnet.Action {
	if fc, _ := c.Context().(*floorConn); fc != nil && fc.held {
		delete(g.loop(c.EventLoop()).held, c)
	}
	return gnet.None
}

func (g *gnetFloor) loop(el gnet.EventLoop) *floorLoop {
	g.mu.Lock()
	defer g.mu.Unlock()
	fl := g.loops[el]
	if fl == nil {
		fl = &floorLoop{held: make(map[gnet.Conn]struct{})}
		g.loops[el] = fl
	}
	return fl
}

// OnTraffic implements gnet.EventHandler.
func (g *gnetFloor) OnTraffic(c gnet.Conn) gnet.Action {
	buf, _ := c.Peek(-1)
	fc := c.Context().(*floorConn)
	n, end := 0, 0
	b := fc.out[:0]
	for {
		k := bytes.Index(buf[end:], crlfcrlf)
		if k < 0 {
			break
		}
		req := buf[end : end+k]
		end += k + len(crlfcrlf)
		n++
		switch {
		case bytes.HasPrefix(req, floorHold):
			fc.held = true
			g.loop(c.EventLoop()).held[c] = struct{}{}
			b = append(b, floorHoldHead...)
		case bytes.HasPrefix(req, floorPush):
			g.push(req[len(floorPush):])
			b = append(b, floorPushed...)
		default:
			b = append(b, g.resp...)
		}
	}
	if n == 0 {
		return gnet.None
	}
	_, _ = c.Discard(end)
	// One write per batch of pipelined requests, as a tuned server does.
	// gnet copies what the socket does not take, so the buffer is free again
	// when Write returns.
	fc.out = b
	if _, err := c.Write(b); err != nil {
		return gnet.Close
	}
	return gnet.None
}

// push sends one chunk carrying the query's k and t to every held
// connection: one task per event loop, which writes it to each of its
// connections.
func (g *gnetFloor) push(query []byte) {
	query, _, _ = bytes.Cut(query, []byte(" "))
	var k, t []byte
	for kv := range bytes.SplitSeq(query, []byte("&")) {
		name, v, _ := bytes.Cut(kv, []byte("="))
		switch string(name) {
		case "k":
			k = v
		case "t":
			t = v
		}
	}
	chunk := appendChunk(nil, fmt.Appendf(nil, `{"p_event":"data","k":"%s","t":"%s"}`+"\n", k, t))
	g.mu.Lock()
	loops := make([]*floorLoop, 0, len(g.loops))
	els := make([]gnet.EventLoop, 0, len(g.loops))
	for el, fl := range g.loops {
		loops, els = append(loops, fl), append(els, el)
	}
	g.mu.Unlock()
	for i, fl := range loops {
		_ = els[i].Execute(context.Background(), gnet.RunnableFunc(func(context.Context) error {
			for c := range fl.held {
				_, _ = c.Write(chunk) // a write error closes the connection
			}
			return nil
		}))
	}
}

func startGnet(addr string, log *slog.Logger) (*runningServer, error) {
	reserve, err := reservePort(addr)
	if err != nil {
		return nil, err
	}
	g := &gnetFloor{resp: fixedResponse(), reserve: reserve, booted: make(chan struct{}), loops: map[gnet.EventLoop]*floorLoop{}}
	addr = reserve.Addr().String()
	done := make(chan error, 1)
	go func() {
		done <- gnet.Run(g, "tcp://"+addr,
			// The engine's options, so that the floor differs only in the work
			// done per request.
			gnet.WithMulticore(true),
			gnet.WithNumEventLoop(runtime.GOMAXPROCS(0)),
			gnet.WithReusePort(true),
			gnet.WithTCPNoDelay(gnet.TCPNoDelay),
			// gnet logs to stdout by default, where the child's address goes.
			gnet.WithLogger(gnetLogger{log}),
		)
	}()
	select {
	case <-g.booted:
	case err := <-done:
		reserve.Close()
		if err == nil {
			err = errors.New("bench: gnet stopped before booting")
		}
		return nil, err
	}
	stop := func(ctx context.Context) error {
		err := g.eng.Stop(ctx)
		select {
		case <-done:
		case <-ctx.Done():
		}
		return err
	}
	extra := func() any {
		g.mu.Lock()
		defer g.mu.Unlock()
		return map[string]int{"event_loops_holding": len(g.loops)}
	}
	return &runningServer{Kind: kindGnet, Addr: addr, stop: stop, extra: extra}, nil
}

// gnetLogger routes gnet's logs to slog.
type gnetLogger struct{ l *slog.Logger }

func (g gnetLogger) Debugf(f string, a ...any) { g.l.Debug("gnet: " + fmt.Sprintf(f, a...)) }
func (g gnetLogger) Infof(f string, a ...any)  { g.l.Debug("gnet: " + fmt.Sprintf(f, a...)) }
func (g gnetLogger) Warnf(f string, a ...any)  { g.l.Warn("gnet: " + fmt.Sprintf(f, a...)) }
func (g gnetLogger) Errorf(f string, a ...any) { g.l.Error("gnet: " + fmt.Sprintf(f, a...)) }
func (g gnetLogger) Fatalf(f string, a ...any) { g.l.Error("gnet: fatal: " + fmt.Sprintf(f, a...)) }

// reservePort resolves port 0 and holds the port with SO_REUSEPORT until
// gnet's per-loop reuse-port listeners are bound (as engine.Server does);
// otherwise each loop would pick its own port.
func reservePort(addr string) (net.Listener, error) {
	lc := net.ListenConfig{Control: func(_, _ string, rc syscall.RawConn) error {
		var serr error
		if err := rc.Control(func(fd uintptr) {
			serr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_REUSEPORT, 1)
		}); err != nil {
			return err
		}
		return serr
	}}
	return lc.Listen(context.Background(), "tcp", addr)
}

// serveMain is `bench serve`: it starts one server, prints its address on
// stdout, answers control commands on stdin (see controller) and runs until
// stdin reaches EOF (the parent closed it or died), SIGINT/SIGTERM arrives,
// or -maxlife passes. The profile flags write the server's CPU profile for
// its whole life and a heap profile at exit.
func serveMain(args []string) error {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	kind := fs.String("kind", kindCometplay, "server kind: "+strings.Join(allServerKinds, ", "))
	addr := fs.String("addr", "127.0.0.1:0", "listen address")
	maxLife := fs.Duration("maxlife", 30*time.Minute, "exit after this long whatever happens")
	cpuProfile := fs.String("cpuprofile", "", "write a CPU profile of the server's life to this file")
	memProfile := fs.String("memprofile", "", "write a heap profile at exit to this file")
	o := serverOptions{Hub: defaultHubConfig()}
	fs.IntVar(&o.Hub.MaxSessionsPerAddr, "max-sessions-per-addr", o.Hub.MaxSessionsPerAddr, "games, nethttp-comet: comet.Config.MaxSessionsPerAddr (-1: no cap)")
	fs.IntVar(&o.Hub.PublishRate, "publish-rate", o.Hub.PublishRate, "games: comet.Config.PublishRate per session (-1: no limit)")
	pollWait := fs.String("poll-wait", "", "games: comet.Config.PollWaitMin-Max in ms, e.g. 500-1000 (default the engine's)")
	fs.IntVar(&o.Queues, "queues", 1, "games: quick-match queues (tictactoe registered under this many names)")
	fs.StringVar(&o.Node, "node", "", "games: this node's tag in a cluster (empty: one server)")
	fs.StringVar(&o.ClusterListen, "cluster-listen", "127.0.0.1:0", "games with -node: the embedded NATS server's route address")
	routes := fs.String("cluster-routes", "", "games with -node: the other nodes' route addresses, comma-separated")
	fs.BoolVar(&o.NoTurnLog, "no-turn-log", false, "games with -node: the rooms' turn log off (cluster.Options.NoTurnLog)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *routes != "" {
		o.ClusterRoutes = strings.Split(*routes, ",")
	}
	var err error
	if o.Hub.PollWaitMin, o.Hub.PollWaitMax, err = parseMsRange(*pollWait); err != nil {
		return err
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	if *cpuProfile != "" {
		f, err := os.Create(*cpuProfile)
		if err != nil {
			return err
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer func() {
			pprof.StopCPUProfile()
			if err := f.Close(); err != nil {
				log.Error("cpu profile", "err", err)
			}
		}()
	}
	srv, err := startServer(*kind, *addr, log, o)
	if err != nil {
		return err
	}
	// One writer at a time on stdout: the address, then control answers.
	out := &lockedWriter{w: os.Stdout}
	if _, err := fmt.Fprintln(out, srv.Addr); err != nil {
		return err
	}

	quit := make(chan struct{}, 1)
	go func() {
		ctl := &controller{out: out, extra: srv.extra}
		ctl.serve(os.Stdin)
		quit <- struct{}{}
	}()
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGINT, syscall.SIGTERM)
	select {
	case <-quit:
	case <-sig:
	case <-time.After(*maxLife):
		log.Warn("maxlife reached; exiting", "maxlife", *maxLife)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	err = srv.Stop(ctx)
	if *memProfile != "" {
		if perr := writeHeapProfile(*memProfile); perr != nil {
			err = errors.Join(err, perr)
		}
	}
	return err
}

// lockedWriter serializes writes to w.
type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

func writeHeapProfile(path string) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	runtime.GC()
	if err := pprof.WriteHeapProfile(f); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
