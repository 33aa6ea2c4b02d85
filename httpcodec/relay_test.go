package httpcodec

import (
	"strings"
	"testing"
)

// AppendRequest gives the request again, framed by Content-Length: parsing
// it yields the same method, target, fields (less the framing ones), body
// and keep-alive choice as the original.
func TestAppendRequestRoundTrip(t *testing.T) {
	cases := []string{
		"GET /comet?p_event=listen&p_id=abc HTTP/1.1\r\nHost: x\r\nCookie: a=b\r\n\r\n",
		"GET /p HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
		"GET /p HTTP/1.0\r\nHost: x\r\n\r\n",
		"GET /p HTTP/1.0\r\nHost: x\r\nConnection: keep-alive\r\n\r\n",
		"HEAD /p HTTP/1.1\r\nHost: x\r\n\r\n",
		"POST /comet HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 11\r\n\r\np_event=hb&",
		"POST /comet HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nExpect: 100-continue\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n",
		"POST /comet HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n",
	}
	for _, raw := range cases {
		first := parseOne(t, raw)
		again := AppendRequest(nil, first)
		second := parseOne(t, string(again))
		a, b := snap(first, 0), snap(second, 0)
		a.Headers, b.Headers = dropFraming(a.Headers), dropFraming(b.Headers)
		a.CL, b.CL = 0, 0
		a.Chunked, a.Expect100 = false, false
		if a.HasBody != b.HasBody && len(a.Body) == 0 {
			a.HasBody = b.HasBody // a POST without a body gets an empty one
		}
		if a != b {
			t.Errorf("%q\nrelayed as %q\nfirst  %+v\nsecond %+v", raw, again, a, b)
		}
	}
}

func parseOne(t *testing.T, raw string) *Request {
	t.Helper()
	p := NewParser(Limits{})
	n, req, err := p.Parse([]byte(raw))
	if err != nil || n != len(raw) {
		t.Fatalf("Parse(%q) = %d, %v", raw, n, err)
	}
	return req
}

func dropFraming(h string) string {
	var keep []string
	for _, l := range strings.Split(h, "\n") {
		n := strings.ToLower(l)
		if strings.HasPrefix(n, "content-length:") || strings.HasPrefix(n, "transfer-encoding:") || strings.HasPrefix(n, "expect:") {
			continue
		}
		keep = append(keep, l)
	}
	return strings.Join(keep, "\n")
}
