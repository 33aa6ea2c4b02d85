package engine

import (
	"fmt"
	"testing"

	"github.com/cometplay/cometplay/httpcodec"
)

func parseRequest(t testing.TB, raw string) *httpcodec.Request {
	t.Helper()
	_, req, err := httpcodec.NewParser(httpcodec.Limits{}).Parse([]byte(raw))
	if err != nil || req == nil {
		t.Fatalf("parse %q: %v", raw, err)
	}
	return req
}

// TestReadParams: the body's parameters first, then the query's new names;
// a repeated name keeps its first value; values are decoded.
func TestReadParams(t *testing.T) {
	body := "p_event=publish&msg=from+body&msg=second&empty="
	req := parseRequest(t, "POST /comet?p_id=abc&msg=from+query&k=%3Cv%3E HTTP/1.1\r\nHost: x\r\n"+
		"Content-Type: application/x-www-form-urlencoded\r\nContent-Length: "+fmt.Sprint(len(body))+"\r\n\r\n"+body)
	ps, errMsg := readParams(req)
	if errMsg != "" {
		t.Fatal(errMsg)
	}
	if got, want := fmt.Sprint(ps), "[{p_event publish} {msg from body} {empty } {p_id abc} {k <v>}]"; got != want {
		t.Errorf("params = %s; want %s", got, want)
	}
	ev := `<event p_event="hb" p_id="a\"b" x="&lt;&#65;"/>`
	req = parseRequest(t, "POST /comet HTTP/1.1\r\nHost: x\r\nContent-Length: "+fmt.Sprint(len(ev))+"\r\n\r\n"+ev)
	if ps, errMsg = readParams(req); errMsg != "" || fmt.Sprint(ps) != `[{p_event hb} {p_id a"b} {x <A}]` {
		t.Errorf("event body: %v %q", ps, errMsg)
	}
	if ps, _ = readParams(parseRequest(t, "GET /comet HTTP/1.1\r\nHost: x\r\n\r\n")); ps != nil {
		t.Errorf("no parameters: %v", ps)
	}
}

func BenchmarkReadParams(b *testing.B) {
	req := parseRequest(b, "GET /comet?p_event=publish&p_id=Xs7s8d9f0g1Xs7s8d9f0g1Xs7s8d9f0g1a&p_subject=%2Froom%2Fr-4f5a6b7c8d&type=move&data=%7B%22cell%22%3A4%7D&move=t1.17&seq=3 HTTP/1.1\r\nHost: x\r\n\r\n")
	b.ReportAllocs()
	for b.Loop() {
		readParams(req)
	}
}
