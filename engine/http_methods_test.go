package engine

import (
	"net/http"
	"testing"

	"github.com/cometplay/cometplay/httpcodec"

	"github.com/cometplay/cometplay/internal/testkit"
)

// TestHTTPRoutingUnknownMethod: RFC 9110 §9.1 answers a method the server
// does not recognise with 501, and keeps 405 (with Allow) for a method it
// knows that the resource does not allow. Recognised are the standard
// methods and any method a route registered; a route for every method
// still sees unknown ones, and so decides for itself.
func TestHTTPRoutingUnknownMethod(t *testing.T) {
	s := hStart(t, Config{Static: staticSite()}, func(s *Server) {
		s.Handle("GET", "/a", hText("a"))
		s.Handle("MKCOL", "/dav", hText("collection made"))
		s.Handle("", "/any", func(w *Stream, r *Request) {
			w.Respond(http.StatusOK, "text/plain", []byte("any "+r.Method))
		})
		// A protocol layer's path (comet's, for one), answering on the
		// loop: it refuses what it does not serve through RefuseMethod.
		s.HandleLoop("/comet", false, func(x *Exchange, r *httpcodec.Request) {
			switch string(r.Method) {
			case "GET", "HEAD", "POST", "OPTIONS":
				x.Respond(http.StatusOK, nil, []byte("protocol"))
			default:
				s.RefuseMethod(x, r.Method, "GET, HEAD, POST, OPTIONS")
			}
		})
	})
	c := testkit.Dial(t, s.Addr())
	tests := []struct {
		name, method, target string
		status               int
		allow                string
		body                 string
	}{
		{"unknown method on a route", "MKCOLA", "/a", 501, "", "501 Not Implemented\n"},
		{"unknown method, no route", "ANNOUNCE", "/nope", 501, "", "501 Not Implemented\n"},
		{"unknown method on a static file", "ANNOUNCE", "/index.html", 501, "", "501 Not Implemented\n"},
		{"unknown method on the protocol path", "MKCOLA", "/comet", 501, "", "501 Not Implemented\n"},
		{"standard method not allowed", "PUT", "/a", 405, "GET, HEAD", "405 Method Not Allowed\n"},
		{"registered method not allowed here", "MKCOL", "/a", 405, "GET, HEAD", "405 Method Not Allowed\n"},
		{"registered method served", "MKCOL", "/dav", 200, "", "collection made"},
		{"standard method on the protocol path", "DELETE", "/comet", 405, "GET, HEAD, POST, OPTIONS", "405 Method Not Allowed\n"},
		{"standard method on a static file", "PATCH", "/index.html", 405, "GET, HEAD", "405 method not allowed\n"},
		{"route for every method", "MKCOLA", "/any", 200, "", "any MKCOLA"},
	}
	for _, tt := range tests {
		c.Send(testkit.Req(tt.method, tt.target))
		r := c.Next(tt.method)
		if r.StatusCode != tt.status || r.Header.Get("Allow") != tt.allow || tt.body != "" && r.Text != tt.body {
			t.Errorf("%s: %s %s = %d Allow %q %q; want %d Allow %q %q", tt.name, tt.method, tt.target,
				r.StatusCode, r.Header.Get("Allow"), r.Text, tt.status, tt.allow, tt.body)
		}
		if r.Close {
			t.Fatalf("%s: the connection closes; want it kept (the request was well framed)", tt.name)
		}
	}
}
