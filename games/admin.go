package games

import (
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/cometplay/cometplay/comet"
	"github.com/cometplay/cometplay/engine"
	"html/template"
	"io/fs"
	"net/http"
	"net/http/pprof"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	dto "github.com/prometheus/client_model/go"

	"github.com/cometplay/cometplay/rooms"
)

// The admin console: a page at /admin/ that charts the server's figures
// live, lists rooms and sessions and can close them, and net/http/pprof at
// /debug/pprof/, all behind one token.
//
// The page is itself a Comet client of the engine. It joins like any
// client, then asks /admin/api/watch to subscribe its session, server-side,
// to AdminSubject, which clients can neither subscribe to (Hub.Reserve) nor
// publish to (a claim that refuses). While a session watches, one
// goroutine gathers the metrics registry every AdminConfig.Interval and
// publishes the figures there; nobody watching, it gathers nothing.
//
// Every request to the console, its API and pprof is checked: an
// "Authorization: Bearer <token>" header, or the cookie the login form sets
// (an expiry and an HMAC of it keyed by the token; HttpOnly, SameSite
// Strict). Both are compared in constant time. No credential: 401 (the
// console's pages show the login form); a wrong one: 403. State-changing
// requests are also refused when they come from another site
// (http.CrossOriginProtection).

// AdminSubject is the Comet subject the console's figures are published on.
const AdminSubject = "/admin/stats"

// MinAdminTokenLen is the shortest admin token accepted: 16 bytes of
// unpredictable text keep a guessing attacker out without rate limiting.
const MinAdminTokenLen = 16

// MinAdminInterval is the shortest AdminConfig.Interval: each push gathers
// every metric of the server, and a page cannot show figures faster than
// this anyway.
const MinAdminInterval = 100 * time.Millisecond

// Admin defaults.
const (
	DefaultAdminInterval = time.Second
	DefaultAdminRooms    = 100
	adminCookieName      = "cometplay_admin"
	adminCookieTTL       = 12 * time.Hour
)

// AdminConfig configures the admin console.
type AdminConfig struct {
	// Token is the credential. Empty turns the console off: /admin/ and
	// /debug/pprof/ then answer 404. Otherwise it must have at least
	// MinAdminTokenLen bytes.
	Token string
	// Assets holds the console's page: index.html and what it loads
	// (usually fs.Sub(static.FS(), "admin")).
	Assets fs.FS
	// Metrics is the registry the figures are gathered from (default: a
	// NewMetrics of the server and hub, without rooms or lobby).
	Metrics *Metrics
	// Rooms, when set, lets the console list rooms and close them.
	Rooms *rooms.Manager
	// Interval is the period of the figures pushed to watching pages
	// (default DefaultAdminInterval, at least MinAdminInterval).
	Interval time.Duration
	// MaxRooms bounds the rooms listed in each push (default
	// DefaultAdminRooms); /admin/api/rooms lists them all.
	MaxRooms int
}

// Validate reports what is wrong with c: an error joining one
// *engine.ConfigError per invalid setting, or nil. The token itself is
// never in it, only its length.
func (c AdminConfig) Validate() error {
	var errs []error
	bad := func(field, format string, args ...any) {
		errs = append(errs, &engine.ConfigError{Field: field, Problem: fmt.Sprintf(format, args...)})
	}
	if c.Token != "" && len(c.Token) < MinAdminTokenLen {
		bad("Token", "must have at least %d bytes, got %d", MinAdminTokenLen, len(c.Token))
	}
	if c.Interval < 0 || (c.Interval > 0 && c.Interval < MinAdminInterval) {
		bad("Interval", "must be at least %v, got %v", MinAdminInterval, c.Interval)
	}
	if c.MaxRooms < 0 {
		bad("MaxRooms", "must be positive, got %d", c.MaxRooms)
	}
	return errors.Join(errs...)
}

// Admin is a mounted admin console. Its methods are safe for concurrent use.
type Admin struct {
	srv   *engine.Server
	hub   *comet.Hub
	cfg   AdminConfig
	token [sha256.Size]byte // SHA-256 of the token: compared in constant time, whatever the length given

	mu       sync.Mutex
	watchers map[*comet.Session]struct{} // guarded by mu
	stop     chan struct{}
	once     sync.Once
}

var errReservedSubject = errors.New("subject reserved")

// MountAdmin mounts the admin console on srv (call it before Start): the
// page and its API under /admin/, net/http/pprof under /debug/pprof/, and
// the reserved subject on hub. With an empty token it mounts 404s there
// instead (so the page's files are not served as static ones) and returns
// a disabled Admin.
func MountAdmin(srv *engine.Server, hub *comet.Hub, cfg AdminConfig) (*Admin, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	a := &Admin{srv: srv, hub: hub, cfg: cfg, watchers: make(map[*comet.Session]struct{}), stop: make(chan struct{})}
	if cfg.Token == "" {
		srv.HandleHTTP("/admin/", http.NotFoundHandler())
		srv.HandleHTTP("/debug/pprof/", http.NotFoundHandler())
		return a, nil
	}
	if cfg.Assets == nil {
		return nil, errors.New("games: admin console without Assets")
	}
	if a.cfg.Interval == 0 {
		a.cfg.Interval = DefaultAdminInterval
	}
	if a.cfg.MaxRooms == 0 {
		a.cfg.MaxRooms = DefaultAdminRooms
	}
	if a.cfg.Metrics == nil {
		a.cfg.Metrics = NewMetrics(srv, hub)
	}
	a.token = sha256.Sum256([]byte(cfg.Token))
	if err := hub.Reserve("/admin"); err != nil {
		return nil, err
	}
	if err := hub.Claim("/admin", refuseClaim{}); err != nil {
		return nil, err
	}
	srv.HandleHTTP("/admin/", withPolicy(adminCSP, http.NewCrossOriginProtection().Handler(a.consoleMux())))
	srv.HandleHTTP("/debug/pprof/", a.Require(pprofMux()))
	srv.RegisterOnShutdown(a.Close)
	go a.run()
	return a, nil
}

// Enabled reports whether the console is on (a token is configured).
func (a *Admin) Enabled() bool { return a.cfg.Token != "" }

// Close stops pushing figures. Shutdown calls it.
func (a *Admin) Close() { a.once.Do(func() { close(a.stop) }) }

// refuseClaim answers every client publish to the admin subjects with a nack.
type refuseClaim struct{}

func (refuseClaim) HandlePublish(comet.Publish) error { return errReservedSubject }

// authorize checks a request's credential: 0 when it is good, else the
// status to answer (401 none, 403 wrong).
func (a *Admin) authorize(r *http.Request) int {
	if h := r.Header.Get("Authorization"); h != "" {
		scheme, tok, _ := strings.Cut(h, " ")
		if !strings.EqualFold(scheme, "Bearer") {
			return http.StatusUnauthorized
		}
		if a.tokenOK(strings.TrimSpace(tok)) {
			return 0
		}
		return http.StatusForbidden
	}
	if c, err := r.Cookie(adminCookieName); err == nil {
		if a.cookieOK(c.Value, time.Now()) {
			return 0
		}
		return http.StatusForbidden
	}
	return http.StatusUnauthorized
}

func (a *Admin) tokenOK(tok string) bool {
	h := sha256.Sum256([]byte(tok))
	return subtle.ConstantTimeCompare(h[:], a.token[:]) == 1
}

// cookieValue is "<expiry unix seconds>.<hex HMAC-SHA256(token, expiry)>".
func (a *Admin) cookieValue(exp time.Time) string {
	e := strconv.FormatInt(exp.Unix(), 10)
	return e + "." + a.mac(e)
}

func (a *Admin) mac(msg string) string {
	m := hmac.New(sha256.New, []byte(a.cfg.Token))
	m.Write([]byte("cometplay admin cookie " + msg))
	return hex.EncodeToString(m.Sum(nil))
}

func (a *Admin) cookieOK(v string, now time.Time) bool {
	e, sum, ok := strings.Cut(v, ".")
	if !ok {
		return false
	}
	want := a.mac(e)
	if subtle.ConstantTimeCompare([]byte(sum), []byte(want)) != 1 {
		return false
	}
	exp, err := strconv.ParseInt(e, 10, 64)
	return err == nil && now.Unix() < exp
}

// Require wraps h so that it serves only requests with the admin
// credential (401 without one, 403 with a wrong one), as the console and
// pprof do. Use it to protect /metrics too.
func (a *Admin) Require(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if st := a.authorize(r); st != 0 {
			a.refuse(w, r, st, false)
			return
		}
		h.ServeHTTP(w, r)
	})
}

// refuse answers 401 or 403: the login form for a page, text for the rest.
func (a *Admin) refuse(w http.ResponseWriter, r *http.Request, status int, page bool) {
	if status == http.StatusForbidden {
		a.srv.Logger().Warn("admin: refused a wrong credential", "remote", r.RemoteAddr, "path", r.URL.Path)
	}
	w.Header().Set("Cache-Control", "no-store")
	if status == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", `Bearer realm="cometplay admin"`)
	}
	if page {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.WriteHeader(status)
		msg := ""
		if status == http.StatusForbidden {
			msg = "That token is not the admin token."
		}
		loginPage.Execute(w, msg)
		return
	}
	http.Error(w, http.StatusText(status), status)
}

// loginStyle is the login form's style sheet, inline: the console's own
// files are served only after sign-in. adminCSP allows it by its hash.
const loginStyle = `body{font:16px system-ui,sans-serif;max-width:26rem;margin:4rem auto;padding:0 1rem;color:#1d2430}
input,button{font:inherit;padding:.5rem .7rem;margin:.3rem 0;width:100%;box-sizing:border-box}
button{background:#2356c7;color:#fff;border:0;border-radius:4px;cursor:pointer}.err{color:#a3171b}`

// adminCSP is the Content-Security-Policy of every response under /admin/:
// the embedded pages' (engine.DefaultPageCSP) with the login form's style sheet,
// and no page of any origin may frame the console (frame-ancestors), so
// that no other site can trick a signed-in operator into clicking its
// buttons.
var adminCSP = func() string {
	sum := sha256.Sum256([]byte(loginStyle))
	return strings.Replace(engine.DefaultPageCSP, "style-src 'self'", "style-src 'self' 'sha256-"+base64.StdEncoding.EncodeToString(sum[:])+"'", 1) +
		"; frame-ancestors 'none'"
}()

var loginPage = template.Must(template.New("login").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>cometplay admin: sign in</title>
<style>` + loginStyle + `</style></head>
<body><h1>cometplay admin</h1>
{{if .}}<p class="err" role="alert">{{.}}</p>{{end}}
<form method="post" action="/admin/login" id="login">
<label for="token">Admin token</label>
<input id="token" name="token" type="password" autocomplete="current-password" required autofocus>
<button type="submit">Sign in</button></form>
<p><small>The token is the server's -admin-token (COMETPLAY_ADMIN_TOKEN).</small></p></body></html>
`))

// withPolicy sets the Content-Security-Policy of every response of h.
func withPolicy(policy string, h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Security-Policy", policy)
		h.ServeHTTP(w, r)
	})
}

// consoleMux serves /admin/: the login form, the page, and its API.
func (a *Admin) consoleMux() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /admin/login", a.login)
	mux.HandleFunc("POST /admin/logout", func(w http.ResponseWriter, r *http.Request) {
		http.SetCookie(w, &http.Cookie{Name: adminCookieName, Value: "", Path: "/", MaxAge: -1, HttpOnly: true, SameSite: http.SameSiteStrictMode})
		http.Redirect(w, r, "/admin/", http.StatusSeeOther)
	})
	api := http.NewServeMux()
	api.HandleFunc("GET /admin/api/stats", func(w http.ResponseWriter, _ *http.Request) { writeJSON(w, a.snapshot()) })
	api.HandleFunc("POST /admin/api/watch", a.watch)
	api.HandleFunc("GET /admin/api/rooms", a.listRooms)
	api.HandleFunc("POST /admin/api/rooms/close", a.closeRoom)
	api.HandleFunc("GET /admin/api/sessions", a.listSessions)
	api.HandleFunc("POST /admin/api/sessions/close", a.closeSession)
	mux.Handle("/admin/api/", a.Require(api))
	files := http.FileServerFS(a.cfg.Assets)
	mux.Handle("/admin/", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if st := a.authorize(r); st != 0 {
			a.refuse(w, r, st, true)
			return
		}
		w.Header().Set("Cache-Control", "no-store")
		r2 := r.Clone(r.Context())
		r2.URL.Path = strings.TrimPrefix(r.URL.Path, "/admin")
		files.ServeHTTP(w, r2)
	}))
	return mux
}

// login checks the form's token and sets the cookie.
func (a *Admin) login(w http.ResponseWriter, r *http.Request) {
	if !a.tokenOK(r.PostFormValue("token")) {
		a.refuse(w, r, http.StatusForbidden, true)
		return
	}
	exp := time.Now().Add(adminCookieTTL)
	http.SetCookie(w, &http.Cookie{
		Name: adminCookieName, Value: a.cookieValue(exp), Path: "/", Expires: exp,
		MaxAge: int(adminCookieTTL / time.Second), HttpOnly: true, SameSite: http.SameSiteStrictMode,
		Secure: r.TLS != nil || strings.EqualFold(r.Header.Get("X-Forwarded-Proto"), "https"),
	})
	a.srv.Logger().Info("admin: signed in", "remote", r.RemoteAddr)
	http.Redirect(w, r, "/admin/", http.StatusSeeOther)
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	json.NewEncoder(w).Encode(v)
}

// watch subscribes a session (by public id, the page's client.publicId) to
// AdminSubject.
func (a *Admin) watch(w http.ResponseWriter, r *http.Request) {
	s := a.hub.SessionByPublicID(r.FormValue("session"))
	if s == nil {
		http.Error(w, "no such session", http.StatusNotFound)
		return
	}
	sid, err := s.Subscribe(AdminSubject, "")
	if err != nil {
		http.Error(w, err.Error(), http.StatusConflict)
		return
	}
	a.mu.Lock()
	a.watchers[s] = struct{}{}
	a.mu.Unlock()
	writeJSON(w, map[string]any{"sid": sid, "subject": AdminSubject, "interval_ms": a.cfg.Interval.Milliseconds()})
}

func (a *Admin) listRooms(w http.ResponseWriter, _ *http.Request) {
	if a.cfg.Rooms == nil {
		writeJSON(w, []rooms.RoomInfo{})
		return
	}
	writeJSON(w, a.cfg.Rooms.Rooms(""))
}

// closeRoom disposes of a room: its players get "closed" {reason: "room closed"}.
func (a *Admin) closeRoom(w http.ResponseWriter, r *http.Request) {
	id := r.FormValue("room")
	if a.cfg.Rooms == nil {
		http.Error(w, "no rooms here", http.StatusNotFound)
		return
	}
	err := a.cfg.Rooms.Do(id, func(c *rooms.Ctx) { c.Dispose() })
	switch {
	case errors.Is(err, rooms.ErrNoRoom):
		http.Error(w, "no such room", http.StatusNotFound)
		return
	case err != nil:
		http.Error(w, err.Error(), http.StatusServiceUnavailable)
		return
	}
	a.srv.Logger().Info("admin: room closed", "room", id, "remote", r.RemoteAddr)
	writeJSON(w, map[string]string{"room": id, "status": "closing"})
}

// closeSession ends a session (by public id): its listener ends, rooms and
// lobby hear it left; the reason is logged.
func (a *Admin) closeSession(w http.ResponseWriter, r *http.Request) {
	pub := r.FormValue("session")
	s := a.hub.SessionByPublicID(pub)
	if s == nil {
		http.Error(w, "no such session", http.StatusNotFound)
		return
	}
	reason := strings.TrimSpace(r.FormValue("reason"))
	if reason == "" {
		reason = "disconnected by an administrator"
	}
	if len(reason) > 200 {
		reason = strings.ToValidUTF8(reason[:200], "") + "…"
	}
	s.Close()
	a.srv.Logger().Info("admin: session closed", "public_id", pub, "reason", reason, "session_remote", s.RemoteAddr(), "remote", r.RemoteAddr)
	writeJSON(w, map[string]string{"session": pub, "status": "closed", "reason": reason})
}

// adminSession is one session as the console lists it.
type adminSession struct {
	ID        string   `json:"id"` // public id
	Remote    string   `json:"remote"`
	Format    string   `json:"format"`
	Mode      string   `json:"mode"`
	Listening bool     `json:"listening"`
	Subjects  []string `json:"subjects"`
	IdleMS    int64    `json:"idle_ms"`
	Seq       uint64   `json:"seq"`
}

// listSessions lists sessions, most recently active first: ?subject=
// keeps those subscribed to a subject (e.g. /room/<id>), ?limit= bounds
// them (default 200, at most 5000).
func (a *Admin) listSessions(w http.ResponseWriter, r *http.Request) {
	limit, err := strconv.Atoi(r.FormValue("limit"))
	if err != nil || limit <= 0 {
		limit = 200
	}
	limit = min(limit, 5000)
	subject := r.FormValue("subject")
	all := a.hub.Sessions()
	now := time.Now()
	out := make([]adminSession, 0, min(len(all), limit))
	for _, s := range all {
		in := s.Info()
		as := adminSession{
			ID: in.PublicID, Remote: in.RemoteAddr, Format: in.Format.String(), Mode: in.Mode,
			Listening: in.Listening, IdleMS: now.Sub(in.LastActive).Milliseconds(), Seq: in.Seq, Subjects: in.Subjects,
		}
		if subject == "" || slices.Contains(in.Subjects, subject) {
			out = append(out, as)
		}
	}
	slices.SortFunc(out, func(x, y adminSession) int { return int(x.IdleMS - y.IdleMS) })
	if len(out) > limit {
		out = out[:limit]
	}
	writeJSON(w, map[string]any{"total": len(all), "sessions": out})
}

// pprofMux serves net/http/pprof under /debug/pprof/.
func pprofMux() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	return mux
}

// run publishes the figures every Interval while a session watches.
func (a *Admin) run() {
	t := time.NewTicker(a.cfg.Interval)
	defer t.Stop()
	for {
		select {
		case <-a.stop:
			return
		case <-t.C:
			if a.watched() {
				a.publish()
			}
		}
	}
}

// watched forgets watchers that ended, and reports whether any is left.
func (a *Admin) watched() bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	for s := range a.watchers {
		if s.Stopped() {
			delete(a.watchers, s)
		}
	}
	return len(a.watchers) > 0
}

func (a *Admin) publish() {
	b, err := json.Marshal(a.snapshot())
	if err != nil {
		a.srv.Logger().Error("admin: encoding the figures", "err", err)
		return
	}
	a.hub.Publish(AdminSubject, "data", string(b))
}

// adminSnapshot is what the console's page receives: the metrics (the
// engine's, and a few of the runtime's and the process's) and the rooms.
type adminSnapshot struct {
	Time       int64                    `json:"t"` // Unix milliseconds
	Values     map[string][]adminSample `json:"m"` // counters and gauges
	Histograms map[string][]adminHist   `json:"h"`
	Rooms      []rooms.RoomInfo         `json:"rooms"`
	RoomsTotal int                      `json:"rooms_total"`
}

type adminSample struct {
	Labels map[string]string `json:"l,omitempty"`
	Value  float64           `json:"v"`
}

type adminHist struct {
	Labels  map[string]string `json:"l,omitempty"`
	Buckets [][2]float64      `json:"b"` // upper bound, cumulative count (+Inf is Count)
	Count   uint64            `json:"c"`
	Sum     float64           `json:"s"`
}

// adminExtra are the families of other prefixes the page shows.
var adminExtra = []string{"go_goroutines", "go_memstats_heap_inuse_bytes", "process_resident_memory_bytes", "process_cpu_seconds_total", "process_open_fds"}

func (a *Admin) snapshot() adminSnapshot {
	snap := adminSnapshot{Time: time.Now().UnixMilli(), Values: map[string][]adminSample{}, Histograms: map[string][]adminHist{}, Rooms: []rooms.RoomInfo{}}
	fams, err := a.cfg.Metrics.reg.Gather()
	if err != nil {
		a.srv.Logger().Warn("admin: gathering metrics", "err", err)
	}
	for _, f := range fams {
		name := f.GetName()
		if !strings.HasPrefix(name, "cometplay_") && !slices.Contains(adminExtra, name) {
			continue
		}
		for _, m := range f.Metric {
			labels := labelMap(m)
			switch {
			case m.Histogram != nil:
				h := adminHist{Labels: labels, Count: m.Histogram.GetSampleCount(), Sum: m.Histogram.GetSampleSum()}
				for _, b := range m.Histogram.Bucket {
					h.Buckets = append(h.Buckets, [2]float64{b.GetUpperBound(), float64(b.GetCumulativeCount())})
				}
				snap.Histograms[name] = append(snap.Histograms[name], h)
			case m.Counter != nil:
				snap.Values[name] = append(snap.Values[name], adminSample{labels, m.Counter.GetValue()})
			case m.Gauge != nil:
				snap.Values[name] = append(snap.Values[name], adminSample{labels, m.Gauge.GetValue()})
			}
		}
	}
	if a.cfg.Rooms != nil {
		all := a.cfg.Rooms.Rooms("")
		snap.RoomsTotal = len(all)
		snap.Rooms = all[:min(len(all), a.cfg.MaxRooms)]
	}
	return snap
}

func labelMap(m *dto.Metric) map[string]string {
	if len(m.Label) == 0 {
		return nil
	}
	l := make(map[string]string, len(m.Label))
	for _, p := range m.Label {
		l[p.GetName()] = p.GetValue()
	}
	return l
}
