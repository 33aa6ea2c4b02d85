package engine

import (
	"net/netip"
	"testing"

	"github.com/cometplay/cometplay/httpcodec"
	"github.com/cometplay/cometplay/internal/testkit"
)

// TestClientAddrBelievesOnlyTrustedProxies: X-Forwarded-For names the
// client only when the request came from a configured proxy, and then only
// as far as the addresses in it are trusted proxies too (a client may
// write anything to the left of what its first proxy appended).
func TestClientAddrBelievesOnlyTrustedProxies(t *testing.T) {
	pfx := func(ss ...string) []netip.Prefix {
		var ps []netip.Prefix
		for _, s := range ss {
			ps = append(ps, netip.MustParsePrefix(s))
		}
		return ps
	}
	req := func(kv ...string) *httpcodec.Request {
		r := &httpcodec.Request{}
		for i := 0; i+1 < len(kv); i += 2 {
			r.Headers = append(r.Headers, httpcodec.Header{Name: []byte(kv[i]), Value: []byte(kv[i+1])})
		}
		return r
	}
	lb := pfx("10.0.0.0/8", "2001:db8::/32")
	for _, tc := range []struct {
		name    string
		trusted []netip.Prefix
		peer    string
		req     *httpcodec.Request
		want    string
	}{
		{"no proxies configured", nil, "10.0.0.1", req("X-Forwarded-For", "203.0.113.9"), "10.0.0.1"},
		{"a peer that is no proxy", lb, "198.51.100.4", req("X-Forwarded-For", "203.0.113.9"), "198.51.100.4"},
		{"the balancer's client", lb, "10.0.0.1", req("X-Forwarded-For", "203.0.113.9"), "203.0.113.9"},
		{"name in any case", lb, "10.0.0.1", req("x-forwarded-for", "203.0.113.9"), "203.0.113.9"},
		{"a client's own entry is not believed", lb, "10.0.0.1", req("X-Forwarded-For", "192.0.2.66, 203.0.113.9"), "203.0.113.9"},
		{"two trusted hops", lb, "10.0.0.1", req("X-Forwarded-For", "192.0.2.66,203.0.113.9 , 10.1.2.3"), "203.0.113.9"},
		{"fields in order", lb, "10.0.0.1", req("X-Forwarded-For", "192.0.2.66", "Host", "x", "X-Forwarded-For", "203.0.113.9, 10.9.9.9"), "203.0.113.9"},
		{"the first field ends the walk", lb, "10.0.0.1", req("X-Forwarded-For", "192.0.2.66, 203.0.113.9", "X-Forwarded-For", "10.9.9.9"), "203.0.113.9"},
		{"ports and brackets", lb, "10.0.0.1", req("X-Forwarded-For", "203.0.113.9:4711"), "203.0.113.9"},
		{"IPv6", lb, "2001:db8::1", req("X-Forwarded-For", "[2001:db8:ffff::7]:443, 2001:db8::2"), "2001:db8:ffff::7"},
		{"IPv4 mapped", lb, "10.0.0.1", req("X-Forwarded-For", "::ffff:203.0.113.9"), "203.0.113.9"},
		{"garbage stops at the last proxy", lb, "10.0.0.1", req("X-Forwarded-For", "203.0.113.9, unknown, 10.2.2.2"), "10.2.2.2"},
		{"empty elements are skipped", lb, "10.0.0.1", req("X-Forwarded-For", "203.0.113.9,, "), "203.0.113.9"},
		{"no header: the proxy", lb, "10.0.0.1", req("Host", "x"), "10.0.0.1"},
		{"all trusted: the leftmost", lb, "10.0.0.1", req("X-Forwarded-For", "10.3.3.3, 10.2.2.2"), "10.3.3.3"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := &Server{cfg: Config{TrustedProxies: tc.trusted}}
			if got := s.clientAddr(netip.MustParseAddr(tc.peer), tc.req); got != netip.MustParseAddr(tc.want) {
				t.Errorf("client %v; want %s", got, tc.want)
			}
		})
	}
}

// TestHandlerSeesTheForwardedClient: a Handler's Request.RemoteAddr is
// the client a trusted proxy forwarded (port 0: the header says none), and
// the peer's own "ip:port" otherwise.
func TestHandlerSeesTheForwardedClient(t *testing.T) {
	for _, tc := range []struct {
		trusted []netip.Prefix
		want    func(peer string) string
	}{
		{nil, func(peer string) string { return peer }},
		{[]netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}, func(string) string { return "203.0.113.9:0" }},
	} {
		got := make(chan string, 1)
		s := hStart(t, Config{TrustedProxies: tc.trusted}, func(s *Server) {
			s.Handle("GET", "/who", func(w *Stream, r *Request) {
				got <- r.RemoteAddr
				w.Respond(200, "text/plain", nil)
			})
		})
		c := testkit.Dial(t, s.Addr())
		c.Send("GET /who HTTP/1.1\r\nHost: x\r\nX-Forwarded-For: 203.0.113.9\r\n\r\n")
		c.Next("GET")
		if r, want := testkit.Recv(t, got, "the handler"), tc.want(c.C.LocalAddr().String()); r != want {
			t.Errorf("trusting %v: RemoteAddr %q; want %q", tc.trusted, r, want)
		}
	}
}
