package engine

import (
	"bytes"
	"net/netip"
	"strings"

	"github.com/cometplay/cometplay/httpcodec"
)

// ClientAddr returns the address of the client that sent req, a request
// of this exchange: its connection's peer, or, when the peer is one of
// Config.TrustedProxies, the rightmost address of req's X-Forwarded-For
// fields that is not (see clientAddr). Invalid if unknown.
func (x *Exchange) ClientAddr(req *httpcodec.Request) netip.Addr {
	return x.c.l.srv.clientAddr(x.c.remoteIP(), req)
}

// remoteFor is a Handler's Request.RemoteAddr for req on c: the peer's
// "ip:port", or the forwarded client's address with port 0 (the proxy
// knows its port; X-Forwarded-For rarely says it).
func (s *Server) remoteFor(c *conn, req *httpcodec.Request) string {
	if len(s.cfg.TrustedProxies) > 0 {
		peer := c.remoteIP()
		if client := s.clientAddr(peer, req); client != peer {
			return netip.AddrPortFrom(client, 0).String()
		}
	}
	return c.remote()
}

// trusted reports whether a is one of the configured proxies.
func (s *Server) trusted(a netip.Addr) bool {
	for _, p := range s.cfg.TrustedProxies {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// clientAddr returns the client's address for a request that arrived from
// peer. The X-Forwarded-For fields of a request from a trusted proxy are
// read as one list, from the right (the last proxy's peer) to the left,
// while each address is itself a trusted proxy's: the first one that is
// not is the client. An element that is no address ("unknown", garbage)
// ends the walk at the last address read (a proxy's: whatever a client
// wrote further left is not believed). A request with no such field, or
// whose addresses are all trusted, comes from the leftmost trusted hop.
func (s *Server) clientAddr(peer netip.Addr, req *httpcodec.Request) netip.Addr {
	if len(s.cfg.TrustedProxies) == 0 || !peer.IsValid() || req == nil || !s.trusted(peer) {
		return peer
	}
	client := peer
	for i := len(req.Headers) - 1; i >= 0; i-- {
		h := &req.Headers[i]
		if !bytes.EqualFold(h.Name, xForwardedFor) {
			continue
		}
		v := h.Value
		for len(v) > 0 {
			j := bytes.LastIndexByte(v, ',')
			item := bytes.TrimSpace(v[j+1:])
			v = v[:max(j, 0)]
			if len(item) == 0 {
				continue // "a, , b": an empty element is no hop
			}
			a, ok := parseForwarded(string(item))
			if !ok {
				return client
			}
			client = a
			if !s.trusted(a) {
				return a
			}
		}
	}
	return client
}

var xForwardedFor = []byte("X-Forwarded-For")

// parseForwarded parses one element of X-Forwarded-For: an IP address,
// with or without a port ("192.0.2.1", "192.0.2.1:4711", "2001:db8::1",
// "[2001:db8::1]:4711").
func parseForwarded(s string) (netip.Addr, bool) {
	if a, err := netip.ParseAddr(strings.Trim(s, "[]")); err == nil {
		return a.Unmap(), true
	}
	if ap, err := netip.ParseAddrPort(s); err == nil {
		return ap.Addr().Unmap(), true
	}
	return netip.Addr{}, false
}
