package balancer

import (
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// A node that refuses connections (it died) gets no request: each goes to
// the next node, its body with it; the responses say which node served
// them.
func TestARefusingNodeIsSkipped(t *testing.T) {
	live := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		io.WriteString(w, r.Method+" "+string(b))
	}))
	defer live.Close()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := l.Addr().String()
	l.Close() // nothing listens there any more: connections are refused
	lb := httptest.NewServer(New([]Backend{{"n1", dead}, {"n2", strings.TrimPrefix(live.URL, "http://")}, {"n3", dead}}))
	defer lb.Close()
	for i := range 6 {
		var resp *http.Response
		var err error
		want := "GET "
		if i%2 == 0 {
			resp, err = http.Get(lb.URL)
		} else {
			resp, err = http.Post(lb.URL, "application/x-www-form-urlencoded", strings.NewReader("p_event=publish"))
			want = "POST p_event=publish"
		}
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || string(b) != want || resp.Header.Get("X-Cometplay-Node") != "n2" {
			t.Errorf("request %d: %d %q from %q; want 200 %q from n2", i, resp.StatusCode, b, resp.Header.Get("X-Cometplay-Node"), want)
		}
	}
}
