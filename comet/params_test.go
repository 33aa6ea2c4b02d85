package comet

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"testing"

	"github.com/cometplay/cometplay/httpcodec"
	"github.com/cometplay/cometplay/internal/testkit"
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
	ps, errMsg := readParams(req, DefaultMaxParams)
	if errMsg != "" {
		t.Fatal(errMsg)
	}
	if got, want := fmt.Sprint(ps), "[{p_event publish} {msg from body} {empty } {p_id abc} {k <v>}]"; got != want {
		t.Errorf("params = %s; want %s", got, want)
	}
	ev := `<event p_event="hb" p_id="a\"b" x="&lt;&#65;"/>`
	req = parseRequest(t, "POST /comet HTTP/1.1\r\nHost: x\r\nContent-Length: "+fmt.Sprint(len(ev))+"\r\n\r\n"+ev)
	if ps, errMsg = readParams(req, DefaultMaxParams); errMsg != "" || fmt.Sprint(ps) != `[{p_event hb} {p_id a"b} {x <A}]` {
		t.Errorf("event body: %v %q", ps, errMsg)
	}
	if ps, _ = readParams(parseRequest(t, "GET /comet HTTP/1.1\r\nHost: x\r\n\r\n"), DefaultMaxParams); ps != nil {
		t.Errorf("no parameters: %v", ps)
	}
}

func BenchmarkReadParams(b *testing.B) {
	req := parseRequest(b, "GET /comet?p_event=publish&p_id=Xs7s8d9f0g1Xs7s8d9f0g1Xs7s8d9f0g1a&p_subject=%2Froom%2Fr-4f5a6b7c8d&type=move&data=%7B%22cell%22%3A4%7D&move=t1.17&seq=3 HTTP/1.1\r\nHost: x\r\n\r\n")
	b.ReportAllocs()
	for b.Loop() {
		readParams(req, DefaultMaxParams)
	}
}

// hostileForm returns a form body of about size bytes of distinct empty
// parameters ("a0=&a1=&…"), the worst body for parameter collection.
func hostileForm(size int) string {
	var sb strings.Builder
	sb.Grow(size + 16)
	for i := 0; sb.Len() < size; i++ {
		sb.WriteString("a")
		sb.WriteString(strconv.Itoa(i))
		sb.WriteString("=&")
	}
	return sb.String()
}

func formPost(t testing.TB, query, body string) *httpcodec.Request {
	t.Helper()
	return parseRequest(t, formRequest(query, body))
}

// TestReadParamsCap: up to maxParams parameters (repeats included, query
// and body together) are read; one more is refused, in a form body, an
// event body and a query alike.
func TestReadParamsCap(t *testing.T) {
	fields := func(n int, sep, format string) string {
		var parts []string
		for i := range n {
			parts = append(parts, fmt.Sprintf(format, i))
		}
		return strings.Join(parts, sep)
	}
	const limit = 40
	for _, tc := range []struct {
		name string
		req  func(n int) *httpcodec.Request
	}{
		{"form", func(n int) *httpcodec.Request { return formPost(t, "", fields(n, "&", "f%d=v")) }},
		{"repeats", func(n int) *httpcodec.Request { return formPost(t, "", fields(n, "&", "same=%d")) }},
		{"query", func(n int) *httpcodec.Request {
			return parseRequest(t, "GET /comet?"+fields(n, "&", "q%d=v")+" HTTP/1.1\r\nHost: x\r\n\r\n")
		}},
		{"form and query", func(n int) *httpcodec.Request {
			return formPost(t, "?"+fields(n/2, "&", "q%d=v"), fields(n-n/2, "&", "f%d=v"))
		}},
		{"event body", func(n int) *httpcodec.Request {
			ev := "<event " + fields(n, " ", `e%d="v"`) + "/>"
			return parseRequest(t, "POST /comet HTTP/1.1\r\nHost: x\r\nContent-Length: "+strconv.Itoa(len(ev))+"\r\n\r\n"+ev)
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, msg := readParams(tc.req(limit), limit); msg != "" {
				t.Errorf("%d parameters: %q; want them read", limit, msg)
			}
			ps, msg := readParams(tc.req(limit+1), limit)
			if want := "Too many parameters (at most 40)"; msg != want || ps != nil {
				t.Errorf("%d parameters: %v, %q; want %q", limit+1, ps, msg, want)
			}
		})
	}
}

// TestReadParamsManyNames: past the names compared one by one, the table
// keeps the first value of every name, in order, as a plain map would.
func TestReadParamsManyNames(t *testing.T) {
	rng := testkit.Rand(t)
	for round := range 50 {
		n := 1 + rng.IntN(300)
		var pairs []string
		var want params
		seen := map[string]bool{}
		for i := range n {
			name := "n" + strconv.Itoa(rng.IntN(n/2+1))
			pairs = append(pairs, name+"="+strconv.Itoa(i))
			if !seen[name] {
				seen[name] = true
				want = append(want, Field{name, strconv.Itoa(i)})
			}
		}
		got, msg := readParams(formPost(t, "", strings.Join(pairs, "&")), 1000)
		if msg != "" || fmt.Sprint(got) != fmt.Sprint(want) {
			t.Fatalf("round %d (%d pairs): got %v %q; want %v", round, n, got, msg, want)
		}
	}
}

// BenchmarkReadParamsHostile: the cost of reading a body of distinct names
// grows linearly with its size (max=unlimited shows the collection itself;
// max=default what a request costs the loop: it stops at the cap).
func BenchmarkReadParamsHostile(b *testing.B) {
	for _, limit := range []int{DefaultMaxParams, math.MaxInt} {
		for _, size := range []int{100 << 10, 1 << 20} {
			name := fmt.Sprintf("max=%d/size=%dKiB", limit, size>>10)
			if limit == math.MaxInt {
				name = fmt.Sprintf("max=unlimited/size=%dKiB", size>>10)
			}
			b.Run(name, func(b *testing.B) {
				req := formPost(b, "", hostileForm(size))
				b.SetBytes(int64(size))
				b.ReportAllocs()
				for b.Loop() {
					readParams(req, limit)
				}
			})
		}
	}
}
