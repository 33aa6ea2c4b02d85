package comet

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"html"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/cometplay/cometplay/engine"
)

// wireEvent is one event as parsed back from the wire.
type wireEvent map[string]string

func (e wireEvent) name() string { return e["p_event"] }

// fieldNames returns the sorted field names of e.
func (e wireEvent) fieldNames() []string {
	var ns []string
	for k := range e {
		ns = append(ns, k)
	}
	sort.Strings(ns)
	return ns
}

var (
	xmlEventRe = regexp.MustCompile(`<event ((?:[A-Za-z_][\w.:-]*="[^"]*" )*)/>`)
	xmlAttrRe  = regexp.MustCompile(`([A-Za-z_][\w.:-]*)="([^"]*)" `)
	jsPushRe   = regexp.MustCompile(`<script language="JavaScript">parent\.push\((.*?)\);</script>`)
	jsPairRe   = regexp.MustCompile(`'((?:[^'\\]|\\.)*)', "((?:[^"\\]|\\.)*)"`)
	jsRefresh  = regexp.MustCompile(`\n<script language="JavaScript">url='((?:[^'\\]|\\.)*)';\n setTimeout\(refresh, (\d+)\);\n</script>`)
)

// parseEvents parses a response body in format f back into events. It fails
// the test on anything it cannot account for, so stray bytes are caught.
func parseEvents(t testing.TB, f Format, body string) []wireEvent {
	t.Helper()
	var evs []wireEvent
	switch f {
	case FormatXML, FormatXMLStrict:
		rest := xmlEventRe.ReplaceAllString(body, "")
		rest = strings.NewReplacer("<pushlet>", "", "</pushlet>", "").Replace(rest)
		if strings.TrimSpace(rest) != "" {
			t.Fatalf("unparsed bytes in %s body: %q (body %q)", f, rest, body)
		}
		for _, m := range xmlEventRe.FindAllStringSubmatch(body, -1) {
			ev := wireEvent{}
			for _, a := range xmlAttrRe.FindAllStringSubmatch(m[1], -1) {
				ev[a[1]] = html.UnescapeString(a[2])
			}
			evs = append(evs, ev)
		}
	case FormatJS:
		if !strings.HasPrefix(body, jsStartDocument) {
			t.Fatalf("js body does not start with Pushlet's START_DOCUMENT: %q", body)
		}
		rest := body[len(jsStartDocument):]
		for len(rest) > 0 {
			if m := jsPushRe.FindStringSubmatchIndex(rest); m != nil && m[0] == 0 {
				ev := wireEvent{}
				args := rest[m[2]:m[3]]
				left := jsPairRe.ReplaceAllString(args, "")
				if strings.Trim(left, ",") != "" {
					t.Fatalf("bad push args %q", args)
				}
				for _, p := range jsPairRe.FindAllStringSubmatch(args, -1) {
					ev[unquoteJS(t, p[1])] = unquoteJS(t, p[2])
				}
				evs = append(evs, ev)
				rest = rest[m[1]:]
				continue
			}
			if m := jsRefresh.FindStringSubmatchIndex(rest); m != nil && m[0] == 0 {
				evs = append(evs, wireEvent{"p_event": "refresh", "p_url": unquoteJS(t, rest[m[2]:m[3]]), "p_wait": rest[m[4]:m[5]], "p_time": "0"})
				rest = rest[m[1]:]
				continue
			}
			if rest == "</body></html>" {
				break
			}
			t.Fatalf("unparsed js: %q", rest)
		}
	case FormatJSON:
		body = strings.TrimSpace(body)
		if strings.HasPrefix(body, "[") {
			var arr []map[string]string
			if err := json.Unmarshal([]byte(body), &arr); err != nil {
				t.Fatalf("json body %q: %v", body, err)
			}
			for _, m := range arr {
				evs = append(evs, wireEvent(m))
			}
			break
		}
		for _, line := range strings.Split(body, "\n") {
			if line == "" {
				continue
			}
			var m map[string]string
			if err := json.Unmarshal([]byte(line), &m); err != nil {
				t.Fatalf("ndjson line %q: %v", line, err)
			}
			evs = append(evs, wireEvent(m))
		}
	case FormatSSE:
		for _, block := range strings.Split(body, "\n\n") {
			if block == "" || strings.HasPrefix(block, "retry:") {
				continue
			}
			ev := wireEvent{}
			for _, line := range strings.Split(block, "\n") {
				switch {
				case strings.HasPrefix(line, "id: "):
					ev["sse_id"] = line[4:]
				case strings.HasPrefix(line, "data: "):
					var m map[string]string
					if err := json.Unmarshal([]byte(line[6:]), &m); err != nil {
						t.Fatalf("sse data %q: %v", line, err)
					}
					for k, v := range m {
						ev[k] = v
					}
				default:
					t.Fatalf("unexpected sse line %q", line)
				}
			}
			evs = append(evs, ev)
		}
	}
	return evs
}

func unquoteJS(t testing.TB, s string) string {
	t.Helper()
	s = strings.ReplaceAll(s, `\'`, `'`)
	s = strings.ReplaceAll(s, `"`, `\"`)
	s = strings.ReplaceAll(s, `\\"`, `\"`)
	u, err := strconv.Unquote(`"` + s + `"`)
	if err != nil {
		t.Fatalf("unquote js %q: %v", s, err)
	}
	return u
}

// names returns the p_event of each event.
func names(evs []wireEvent) []string {
	var ns []string
	for _, e := range evs {
		ns = append(ns, e.name())
	}
	return ns
}

// testHub starts a server with a hub on 127.0.0.1:0.
type testHub struct {
	t    testing.TB
	srv  *engine.Server
	hub  *Hub
	base string // http://127.0.0.1:port
	hc   *http.Client
}

func newTestHub(t testing.TB, cfg Config, scfg ...engine.Config) *testHub {
	t.Helper()
	var sc engine.Config
	if len(scfg) > 0 {
		sc = scfg[0]
	}
	sc.Addr = "127.0.0.1:0"
	if sc.Logger == nil {
		sc.Logger = testLogger(t)
	}
	srv, err := engine.New(sc)
	if err != nil {
		t.Fatal(err)
	}
	hub, err := NewHub(srv, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	th := &testHub{t: t, srv: srv, hub: hub, base: "http://" + srv.Addr(),
		hc: &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 64}}}
	t.Cleanup(func() {
		th.hc.CloseIdleConnections()
		srv.Shutdown(context.Background())
	})
	return th
}

// get performs a protocol GET with the given query and returns status, headers and body.
func (th *testHub) get(path, query string) (int, http.Header, string) {
	th.t.Helper()
	resp, err := th.hc.Get(th.base + path + "?" + query)
	if err != nil {
		th.t.Fatalf("GET %s?%s: %v", path, query, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		th.t.Fatalf("read body: %v", err)
	}
	return resp.StatusCode, resp.Header, string(b)
}

// do sends a control request and parses the single-event answer.
func (th *testHub) do(f Format, query string) []wireEvent {
	th.t.Helper()
	st, _, body := th.get("/pushlet/pushlet.srv", query)
	if st != 200 {
		th.t.Fatalf("%s: status %d body %q", query, st, body)
	}
	return parseEvents(th.t, f, body)
}

// join creates a session in format f and returns its id.
func (th *testHub) join(f Format) string {
	th.t.Helper()
	cf := f
	if f == FormatSSE {
		cf = FormatJSON // control answers of an EventSource session are JSON
	}
	evs := th.do(cf, "p_event=join&p_format="+f.String())
	if len(evs) != 1 || evs[0].name() != "join-ack" || evs[0]["p_id"] == "" {
		th.t.Fatalf("join: %v", evs)
	}
	return evs[0]["p_id"]
}

// stream is an open stream listen read event by event.
type stream struct {
	t    testing.TB
	f    Format
	conn net.Conn
	br   *bufio.Reader
	buf  string // de-chunked bytes not yet parsed
	hdr  http.Header
}

// openStream sends a raw GET and reads the response head of a chunked stream.
func (th *testHub) openStream(f Format, query string, extra ...string) *stream {
	th.t.Helper()
	conn, err := net.Dial("tcp", th.srv.Addr())
	if err != nil {
		th.t.Fatal(err)
	}
	th.t.Cleanup(func() { conn.Close() })
	return th.openStreamOn(conn, f, query, extra...)
}

// openStreamOn is openStream on a connection the test dialled itself.
func (th *testHub) openStreamOn(conn net.Conn, f Format, query string, extra ...string) *stream {
	th.t.Helper()
	req := "GET /pushlet/pushlet.srv?" + query + " HTTP/1.1\r\nHost: " + th.srv.Addr() + "\r\n" + strings.Join(extra, "") + "\r\n"
	if _, err := conn.Write([]byte(req)); err != nil {
		th.t.Fatal(err)
	}
	st := &stream{t: th.t, f: f, conn: conn, br: bufio.NewReader(conn)}
	conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	resp, err := http.ReadResponse(st.br, nil)
	if err != nil {
		th.t.Fatalf("stream head: %v", err)
	}
	if resp.StatusCode != 200 {
		b, _ := io.ReadAll(resp.Body)
		th.t.Fatalf("stream status %d: %s", resp.StatusCode, b)
	}
	if !slices.Equal(resp.TransferEncoding, []string{"chunked"}) {
		th.t.Fatalf("stream not chunked: %v", resp.TransferEncoding)
	}
	st.hdr = resp.Header
	return st
}

// readChunk reads one raw chunk; "" with ok=false at the last chunk.
func (st *stream) readChunk(timeout time.Duration) (string, bool) {
	st.t.Helper()
	st.conn.SetReadDeadline(time.Now().Add(timeout))
	line, err := st.br.ReadString('\n')
	if err != nil {
		st.t.Fatalf("chunk size: %v", err)
	}
	n, err := strconv.ParseUint(strings.TrimSpace(line), 16, 32)
	if err != nil {
		st.t.Fatalf("chunk size %q: %v", line, err)
	}
	if n == 0 {
		st.br.ReadString('\n')
		return "", false
	}
	b := make([]byte, n+2)
	if _, err := io.ReadFull(st.br, b); err != nil {
		st.t.Fatalf("chunk data: %v", err)
	}
	return string(b[:n]), true
}

// next returns the next k events, reading chunks as needed.
func (st *stream) next(k int, timeout time.Duration) []wireEvent {
	st.t.Helper()
	deadline := time.Now().Add(timeout)
	var out []wireEvent
	for len(out) < k {
		evs, rest := st.split()
		out = append(out, evs...)
		st.buf = rest
		if len(out) >= k {
			break
		}
		d := time.Until(deadline)
		if d <= 0 {
			st.t.Fatalf("timeout waiting for %d events, got %v", k, out)
		}
		c, ok := st.readChunk(d)
		if !ok {
			st.t.Fatalf("stream ended; got %v", out)
		}
		st.buf += c
	}
	if len(out) > k {
		st.t.Fatalf("got more events than expected: %v", out)
	}
	return out
}

// split takes whole events off the front of st.buf.
func (st *stream) split() ([]wireEvent, string) {
	b := st.buf
	b = strings.TrimPrefix(b, "<pushlet>")
	if st.f == FormatJS && strings.HasPrefix(b, jsStartDocument) {
		b = b[len(jsStartDocument):]
	}
	var evs []wireEvent
	for {
		var sep string
		switch st.f {
		case FormatXML, FormatXMLStrict:
			sep = "/>"
		case FormatJS:
			sep = "</script>"
		case FormatJSON:
			sep = "\n"
		case FormatSSE:
			for strings.HasPrefix(b, "retry:") && strings.Contains(b, "\n\n") {
				b = b[strings.Index(b, "\n\n")+2:]
			}
			sep = "\n\n"
		}
		i := strings.Index(b, sep)
		if i < 0 {
			return evs, b
		}
		end := i + len(sep)
		one := b[:end]
		var parsed []wireEvent
		switch st.f {
		case FormatJS:
			parsed = parseEvents(st.t, FormatJS, jsStartDocument+one)
		default:
			parsed = parseEvents(st.t, st.f, one)
		}
		evs = append(evs, parsed...)
		b = b[end:]
	}
}

// readToEnd reads the rest of the stream up to its final chunk.
func (st *stream) readToEnd(timeout time.Duration) string {
	st.t.Helper()
	deadline := time.Now().Add(timeout)
	s := st.buf
	for {
		c, ok := st.readChunk(time.Until(deadline))
		if !ok {
			return s
		}
		s += c
	}
}

func fmtEvents(evs []wireEvent) string {
	var b strings.Builder
	for _, e := range evs {
		fmt.Fprintf(&b, "%s%v ", e.name(), e.fieldNames())
	}
	return b.String()
}

// testLogger discards logs unless the test runs with -v.
func testLogger(t testing.TB) *slog.Logger {
	if testing.Verbose() {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.DiscardHandler)
}
