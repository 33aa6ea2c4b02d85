// Package cometclient is a small Go client of cometplay's Comet protocol
// (json format), for the project's own tests and load tools: join, control
// requests, a streaming listen and long-poll refreshes over real connections.
package cometclient

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Event is one protocol event: every value is a string.
type Event map[string]string

// Name returns p_event.
func (e Event) Name() string { return e["p_event"] }

// Seq returns p_seq as a number (0 if absent).
func (e Event) Seq() uint64 {
	n, _ := strconv.ParseUint(e["p_seq"], 10, 64)
	return n
}

// JSON decodes the event's "data" field into v.
func (e Event) JSON(v any) error { return json.Unmarshal([]byte(e["data"]), v) }

// NackError is a nack answer.
type NackError struct{ Reason string }

func (e *NackError) Error() string { return "nack: " + e.Reason }

// StatusError is a non-200 answer.
type StatusError struct {
	Status int
	Body   string
}

func (e *StatusError) Error() string { return fmt.Sprintf("HTTP %d: %s", e.Status, e.Body) }

// Client is one session. Its control methods are safe for concurrent use.
type Client struct {
	Base   string // http://host:port
	Path   string // protocol path, default /comet
	HTTP   *http.Client
	ID     string // secret session id
	Public string // public id
	// NoAck leaves p_ack out of the session's requests, as Pushlet's own
	// clients do: the server then holds every event for a resume within its
	// bounds. By default each request acknowledges what the client has
	// received (see docs/PROTOCOL.md, "Acknowledging events").
	NoAck bool

	mu   sync.Mutex
	last uint64 // highest p_seq received by Stream/Refresh (for resume)
}

// Join creates a session in json format.
func Join(ctx context.Context, base string, hc *http.Client) (*Client, error) {
	if hc == nil {
		hc = http.DefaultClient
	}
	c := &Client{Base: base, Path: "/comet", HTTP: hc}
	evs, err := c.Do(ctx, "join", "p_format", "json")
	if err != nil {
		return nil, err
	}
	if len(evs) != 1 || evs[0].Name() != "join-ack" {
		return nil, fmt.Errorf("join: unexpected answer %v", evs)
	}
	c.ID, c.Public = evs[0]["p_id"], evs[0]["p_public"]
	return c, nil
}

func (c *Client) url(event string, kv ...string) string {
	v := url.Values{}
	v.Set("p_event", event)
	if c.ID != "" {
		v.Set("p_id", c.ID)
		if last := c.Last(); last > 0 && event != "listen" && event != "refresh" && !c.NoAck {
			// As static/js/cometplay.js does: every request of the session
			// acknowledges what the data channel delivered.
			v.Set("p_ack", strconv.FormatUint(last, 10))
		}
	}
	for i := 0; i+1 < len(kv); i += 2 {
		v.Set(kv[i], kv[i+1])
	}
	return c.Base + c.Path + "?" + v.Encode()
}

// Do sends a control request and returns its events; a nack is an error.
func (c *Client) Do(ctx context.Context, event string, kv ...string) ([]Event, error) {
	req, err := http.NewRequestWithContext(ctx, "GET", c.url(event, kv...), nil)
	if err != nil {
		return nil, err
	}
	resp, err := c.HTTP.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != 200 {
		return nil, &StatusError{resp.StatusCode, strings.TrimSpace(string(b))}
	}
	var evs []Event
	if err := json.Unmarshal(b, &evs); err != nil {
		return nil, fmt.Errorf("%s: bad answer %q: %w", event, b, err)
	}
	for _, e := range evs {
		if e.Name() == "nack" {
			return evs, &NackError{e["p_reason"]}
		}
	}
	c.note(evs)
	return evs, nil
}

func (c *Client) note(evs []Event) {
	c.mu.Lock()
	for _, e := range evs {
		if s := e.Seq(); s > c.last && e.Name() != "hb" && e.Name() != "abort" {
			c.last = s
		}
	}
	c.mu.Unlock()
}

// Last returns the highest sequence number received.
func (c *Client) Last() uint64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.last
}

// Publish publishes fields (name, value pairs) to subject.
func (c *Client) Publish(ctx context.Context, subject string, kv ...string) error {
	_, err := c.Do(ctx, "publish", append([]string{"p_subject", subject}, kv...)...)
	return err
}

// Subscribe subscribes to subject and returns the sid.
func (c *Client) Subscribe(ctx context.Context, subject, label string) (string, error) {
	evs, err := c.Do(ctx, "subscribe", "p_subject", subject, "p_label", label)
	if err != nil {
		return "", err
	}
	return evs[0]["p_sid"], nil
}

// Leave ends the session.
func (c *Client) Leave(ctx context.Context) error {
	_, err := c.Do(ctx, "leave")
	return err
}

// Stream is an open streaming listen (NDJSON).
type Stream struct {
	c    *Client
	conn net.Conn
	br   *bufio.Reader
	evs  chan Event
	err  error
	done chan struct{}
}

// Listen opens a stream listen; extra are name, value pairs (p_subject,
// p_last…). With resume, p_last is the client's Last().
func (c *Client) Listen(ctx context.Context, resume bool, extra ...string) (*Stream, error) {
	u, err := url.Parse(c.Base)
	if err != nil {
		return nil, err
	}
	kv := append([]string{"p_mode", "stream"}, extra...)
	if resume {
		kv = append(kv, "p_last", strconv.FormatUint(c.Last(), 10))
	}
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", u.Host)
	if err != nil {
		return nil, err
	}
	full := c.url("listen", kv...)
	target := full[len(c.Base):]
	if _, err := fmt.Fprintf(conn, "GET %s HTTP/1.1\r\nHost: %s\r\n\r\n", target, u.Host); err != nil {
		conn.Close()
		return nil, err
	}
	br := bufio.NewReader(conn)
	conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		conn.Close()
		return nil, err
	}
	conn.SetReadDeadline(time.Time{})
	if resp.StatusCode != 200 {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		conn.Close()
		return nil, &StatusError{resp.StatusCode, strings.TrimSpace(string(b))}
	}
	s := &Stream{c: c, conn: conn, br: bufio.NewReader(resp.Body), evs: make(chan Event, 1024), done: make(chan struct{})}
	go s.read()
	return s, nil
}

func (s *Stream) read() {
	defer close(s.done)
	defer close(s.evs)
	for {
		line, err := s.br.ReadString('\n')
		if err != nil {
			s.err = err
			return
		}
		line = strings.TrimSpace(line)
		if line == "" {
			continue
		}
		var e Event
		if err := json.Unmarshal([]byte(line), &e); err != nil {
			s.err = fmt.Errorf("stream line %q: %w", line, err)
			return
		}
		s.c.note([]Event{e})
		s.evs <- e
	}
}

// Events returns the channel of received events; it is closed when the
// stream ends.
func (s *Stream) Events() <-chan Event { return s.evs }

// Next returns the next event, or an error after timeout or at the end.
func (s *Stream) Next(timeout time.Duration) (Event, error) {
	select {
	case e, ok := <-s.evs:
		if !ok {
			<-s.done
			if s.err == nil {
				s.err = io.EOF
			}
			return nil, s.err
		}
		return e, nil
	case <-time.After(timeout):
		return nil, errors.New("cometclient: timeout waiting for an event")
	}
}

// Until returns events until one satisfies match (included), or fails.
func (s *Stream) Until(timeout time.Duration, match func(Event) bool) ([]Event, error) {
	deadline := time.Now().Add(timeout)
	var got []Event
	for {
		e, err := s.Next(time.Until(deadline))
		if err != nil {
			return got, fmt.Errorf("%w (got %v)", err, got)
		}
		got = append(got, e)
		if match(e) {
			return got, nil
		}
	}
}

// Close closes the stream's connection (abruptly, as a dying client would).
func (s *Stream) Close() error { return s.conn.Close() }
