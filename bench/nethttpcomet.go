package main

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// kindNetHTTPComet is the baseline of the listener scenarios: a net/http
// server, one goroutine per connection, implementing the subset of the Comet
// protocol the scenarios use, the way one would write it with the standard
// library: join; listen in stream mode (json, NDJSON, with p_subject);
// refresh in pull mode (json, with p_last); publish to a subject, matched by
// segment as cometplay does; one p_seq per session, a window of recent
// events per session for p_last and gap events. An event is encoded once
// per publish; only p_seq is written per recipient. What it leaves out
// (other formats and modes, leases, limits, claims, rooms) costs nothing in
// the scenarios, so the comparison is fair to it.
const kindNetHTTPComet = "nethttp-comet"

// Limits of the baseline, cometplay's defaults.
const (
	ncWindow    = 256
	ncHeartbeat = 20 * time.Second
)

type ncHub struct {
	mu       sync.RWMutex
	sessions map[string]*ncSession
	// subs maps a subscribed subject (one part of a comma list) to its
	// sessions.
	subs map[string]map[*ncSession]struct{}

	published, delivered atomic.Int64
}

type ncEvent struct {
	seq uint64
	// body is the NDJSON object after the opening brace and p_seq, shared
	// by every recipient: `"p_event":"data",…}`.
	body []byte
}

type ncSession struct {
	id     string
	notify chan struct{} // capacity 1: events are waiting

	mu     sync.Mutex
	seq    uint64    // last sequence number assigned
	cursor uint64    // last sequence number written to a data channel
	ring   []ncEvent // the last ncWindow events, ring[seq%ncWindow]
	subs   []string
	listen uint64 // generation of the current data channel: a newer one ends the older
}

func newNCHub() *ncHub {
	return &ncHub{sessions: make(map[string]*ncSession), subs: make(map[string]map[*ncSession]struct{})}
}

func startNetHTTPComet(addr string, o serverOptions) (*runningServer, error) {
	h := newNCHub()
	mux := http.NewServeMux()
	mux.HandleFunc("/comet", h.serve)
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	hs := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 60 * time.Second}
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = hs.Serve(ln) // returns http.ErrServerClosed after Shutdown
	}()
	stop := func(ctx context.Context) error {
		// Open streams never end by themselves: close them.
		err := hs.Close()
		<-done
		return err
	}
	extra := func() any {
		h.mu.RLock()
		n := len(h.sessions)
		h.mu.RUnlock()
		return map[string]int64{"sessions": int64(n), "events_published": h.published.Load(), "events_delivered": h.delivered.Load()}
	}
	return &runningServer{Kind: kindNetHTTPComet, Addr: ln.Addr().String(), stop: stop, extra: extra}, nil
}

// ncHeaders are Pushlet's headers, as cometplay sends them.
func ncHeaders(w http.ResponseWriter, contentType string) {
	h := w.Header()
	h["Expires"] = []string{"Sat, 6 May 1995 12:00:00 GMT"}
	h["Cache-Control"] = []string{"no-store, no-cache, must-revalidate", "post-check=0, pre-check=0"}
	h["Pragma"] = []string{"no-cache"}
	h["Content-Type"] = []string{contentType}
}

const (
	ncJSON   = "application/json;charset=UTF-8"
	ncNDJSON = "application/x-ndjson;charset=UTF-8"
)

func (h *ncHub) serve(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	if r.Method == http.MethodPost {
		if err := r.ParseForm(); err == nil {
			q = r.Form
		}
	}
	ev := q.Get("p_event")
	if ev == "" {
		http.Error(w, "No eventType specified", http.StatusBadRequest)
		return
	}
	if ev == "join" {
		s := h.join()
		ncHeaders(w, ncJSON)
		w.Write(ncArray(ncControl("join-ack", "p_id", s.id, "p_public", s.id[:11], "p_format", "json")))
		return
	}
	id := q.Get("p_id")
	h.mu.RLock()
	s := h.sessions[id]
	h.mu.RUnlock()
	if s == nil {
		http.Error(w, "Invalid or expired id: "+id, http.StatusBadRequest)
		return
	}
	switch ev {
	case "listen":
		if sub := q.Get("p_subject"); sub != "" {
			h.subscribe(s, sub)
		}
		if q.Get("p_mode") == "pull" {
			ncHeaders(w, ncJSON)
			w.Write(ncArray(ncControl("listen-ack", "p_id", s.id, "p_mode", "pull", "p_format", "json"), ncControl("refresh", "p_wait", "0")))
			return
		}
		h.stream(w, r, s, q)
	case "refresh":
		h.pull(w, r, s, q)
	case "leave":
		h.leave(s)
		ncHeaders(w, ncJSON)
		w.Write(ncArray(ncControl("leave-ack", "p_id", s.id)))
	case "publish":
		subject := q.Get("p_subject")
		if subject == "" {
			ncHeaders(w, ncJSON)
			w.Write(ncArray(ncControl("nack", "p_id", s.id, "p_reason", "no subject provided")))
			return
		}
		h.publish(subject, s.id[:11], q)
		ncHeaders(w, ncJSON)
		w.Write(ncArray(ncControl("publish-ack", "p_id", s.id)))
	default:
		ncHeaders(w, ncJSON)
		w.Write(ncArray(ncControl("nack", "p_id", s.id, "p_reason", "unknown event: "+ev)))
	}
}

func (h *ncHub) join() *ncSession {
	var b [24]byte
	rand.Read(b[:]) // never fails
	s := &ncSession{id: base64.RawURLEncoding.EncodeToString(b[:]), notify: make(chan struct{}, 1)}
	h.mu.Lock()
	h.sessions[s.id] = s
	h.mu.Unlock()
	return s
}

// leave ends a session: it is forgotten with its subscriptions, and its
// open listen ends.
func (h *ncHub) leave(s *ncSession) {
	h.mu.Lock()
	delete(h.sessions, s.id)
	s.mu.Lock()
	subs := s.subs
	s.subs = nil
	s.listen++ // the current data channel is no longer current
	s.mu.Unlock()
	for _, sub := range subs {
		for part := range strings.SplitSeq(sub, ",") {
			delete(h.subs[part], s)
			if len(h.subs[part]) == 0 {
				delete(h.subs, part)
			}
		}
	}
	h.mu.Unlock()
	select {
	case s.notify <- struct{}{}:
	default:
	}
}

func (h *ncHub) subscribe(s *ncSession, subject string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for part := range strings.SplitSeq(subject, ",") {
		m := h.subs[part]
		if m == nil {
			m = make(map[*ncSession]struct{})
			h.subs[part] = m
		}
		m[s] = struct{}{}
	}
	s.mu.Lock()
	s.subs = append(s.subs, subject)
	s.mu.Unlock()
}

// matching calls fn with every subscribed subject that receives subject P
// by segment: "/" (everything), and for each prefix S of P ending before a
// "/": S and S+"/" (S receives P == S or P below S; S+"/" only below); and
// P itself.
func (h *ncHub) matching(p string, fn func(map[*ncSession]struct{})) {
	for i := 0; i < len(p); i++ {
		if p[i] != '/' {
			continue
		}
		if i == 0 {
			if m := h.subs["/"]; m != nil {
				fn(m)
			}
			continue
		}
		if m := h.subs[p[:i]]; m != nil {
			fn(m)
		}
		if m := h.subs[p[:i+1]]; m != nil {
			fn(m)
		}
	}
	if len(p) > 1 {
		if m := h.subs[p]; m != nil {
			fn(m)
		}
	}
}

// publish encodes the event once and queues it for every matching session
// (once per session).
func (h *ncHub) publish(subject, from string, q url.Values) {
	body := make([]byte, 0, 128)
	body = append(body, `"p_event":"data","p_time":"`...)
	body = strconv.AppendInt(body, time.Now().Unix(), 10)
	body = append(body, `","p_subject":`...)
	body = appendJSONString(body, subject)
	body = append(body, `,"p_from":`...)
	body = appendJSONString(body, from)
	for k, vs := range q {
		if strings.HasPrefix(k, "p_") || len(vs) == 0 {
			continue
		}
		body = append(body, ',')
		body = appendJSONString(body, k)
		body = append(body, ':')
		body = appendJSONString(body, vs[0])
	}
	body = append(body, '}')
	h.published.Add(1)

	var targets []*ncSession
	seen := map[*ncSession]struct{}{}
	h.mu.RLock()
	h.matching(subject, func(m map[*ncSession]struct{}) {
		for s := range m {
			if _, dup := seen[s]; !dup {
				seen[s] = struct{}{}
				targets = append(targets, s)
			}
		}
	})
	h.mu.RUnlock()
	for _, s := range targets {
		s.mu.Lock()
		if s.ring == nil {
			s.ring = make([]ncEvent, ncWindow)
		}
		s.seq++
		s.ring[s.seq%ncWindow] = ncEvent{seq: s.seq, body: body}
		s.mu.Unlock()
		select {
		case s.notify <- struct{}{}:
		default:
		}
	}
	h.delivered.Add(int64(len(targets)))
}

// take appends the events after the cursor (a gap event first when some
// were evicted) as JSON objects, each followed by sep, and moves the cursor.
func (s *ncSession) take(dst []byte, sep byte) ([]byte, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cursor >= s.seq {
		return dst, false
	}
	from := s.cursor + 1
	if s.seq-s.cursor > ncWindow {
		from = s.seq - ncWindow + 1
		dst = append(dst, `{"p_event":"gap","p_gap_from":"`...)
		dst = strconv.AppendUint(dst, s.cursor+1, 10)
		dst = append(dst, `","p_gap_to":"`...)
		dst = strconv.AppendUint(dst, from-1, 10)
		dst = append(dst, `","p_seq":"`...)
		dst = strconv.AppendUint(dst, from-1, 10)
		dst = append(dst, `"}`...)
		dst = append(dst, sep)
	}
	for seq := from; seq <= s.seq; seq++ {
		e := s.ring[seq%ncWindow]
		dst = append(dst, `{"p_seq":"`...)
		dst = strconv.AppendUint(dst, e.seq, 10)
		dst = append(dst, `",`...)
		dst = append(dst, e.body...)
		dst = append(dst, sep)
	}
	s.cursor = s.seq
	return dst, true
}

// resume moves the cursor back to p_last (bounded by what was assigned).
func (s *ncSession) resume(q url.Values) {
	v := q.Get("p_last")
	if v == "" {
		return
	}
	n, err := strconv.ParseUint(v, 10, 64)
	if err != nil {
		return
	}
	s.mu.Lock()
	s.cursor = min(n, s.seq)
	s.mu.Unlock()
}

// attach makes the caller the session's data channel and returns its
// generation.
func (s *ncSession) attach() uint64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.listen++
	return s.listen
}

func (s *ncSession) current(gen uint64) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.listen == gen
}

// stream serves a streaming listen: its goroutine writes events as they
// are queued, one flush per batch, and an hb after each silence.
func (h *ncHub) stream(w http.ResponseWriter, r *http.Request, s *ncSession, q url.Values) {
	s.resume(q)
	gen := s.attach()
	ncHeaders(w, ncNDJSON)
	w.Header().Set("X-Accel-Buffering", "no")
	fl := w.(http.Flusher)
	buf := ncControl("listen-ack", "p_id", s.id, "p_mode", "stream", "p_format", "json")
	buf = append(buf, '\n')
	buf = append(buf, ncControl("hb")...)
	buf = append(buf, '\n')
	buf, _ = s.take(buf, '\n')
	if _, err := w.Write(buf); err != nil {
		return
	}
	fl.Flush()
	hb := time.NewTimer(ncHeartbeat)
	defer hb.Stop()
	for {
		select {
		case <-r.Context().Done():
			return
		case <-hb.C:
			buf = append(append(buf[:0], ncControl("hb")...), '\n')
		case <-s.notify:
			if !s.current(gen) {
				return
			}
			var ok bool
			if buf, ok = s.take(buf[:0], '\n'); !ok {
				continue
			}
		}
		if _, err := w.Write(buf); err != nil {
			return
		}
		fl.Flush()
		hb.Reset(ncHeartbeat)
	}
}

// pull serves a long-poll refresh: the pending events at once, else the
// first to come, else an hb after the heartbeat; then a refresh event.
func (h *ncHub) pull(w http.ResponseWriter, r *http.Request, s *ncSession, q url.Values) {
	s.resume(q)
	gen := s.attach()
	buf := append([]byte{'['}, ncControl("refresh-ack", "p_id", s.id)...)
	buf = append(buf, ',')
	buf, ok := s.take(buf, ',')
	if !ok {
		t := time.NewTimer(ncHeartbeat)
	wait:
		for {
			select {
			case <-r.Context().Done():
				t.Stop()
				return
			case <-t.C:
				buf = append(buf, ncControl("hb")...)
				buf = append(buf, ',')
				break wait
			case <-s.notify:
				if !s.current(gen) {
					break wait
				}
				if buf, ok = s.take(buf, ','); ok {
					break wait
				}
			}
		}
		t.Stop()
	}
	buf = append(buf, ncControl("refresh", "p_wait", "0", "p_url", "/comet?p_id="+s.id+"&p_event=refresh")...)
	buf = append(buf, ']')
	ncHeaders(w, ncJSON)
	w.Header()["Content-Length"] = []string{strconv.Itoa(len(buf))}
	w.Write(buf)
}

// ncControl encodes a server event without p_seq.
func ncControl(name string, kv ...string) []byte {
	b := append([]byte(`{"p_event":`), strconv.Quote(name)...)
	b = append(b, `,"p_time":"`...)
	b = strconv.AppendInt(b, time.Now().Unix(), 10)
	b = append(b, '"')
	for i := 0; i+1 < len(kv); i += 2 {
		b = append(b, ',')
		b = appendJSONString(b, kv[i])
		b = append(b, ':')
		b = appendJSONString(b, kv[i+1])
	}
	return append(b, '}')
}

func ncArray(objs ...[]byte) []byte {
	b := []byte{'['}
	for i, o := range objs {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, o...)
	}
	return append(b, ']')
}

// appendJSONString appends s as a JSON string.
func appendJSONString(dst []byte, s string) []byte {
	b, _ := json.Marshal(s) // a string always marshals
	return append(dst, b...)
}
