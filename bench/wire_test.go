package main

import (
	"bufio"
	"encoding/json"
	"io"
	"net"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestScanEvents(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		in   string
		want []string // p_event of each object, in order
	}{
		{"array", `[{"p_event":"refresh-ack"},{"p_event":"data","x":"{\"a\":[1,{}]}"},{"p_event":"refresh"}]`, []string{"refresh-ack", "data", "refresh"}},
		{"ndjson", "{\"p_event\":\"hb\"}\n{\"p_event\":\"data\",\"t\":\"}\"}\n", []string{"hb", "data"}},
		{"escaped quote in value", `[{"x":"a\"}{\"b","p_event":"nack"}]`, []string{"nack"}},
		{"empty", `[]`, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got []string
			eachObject([]byte(tt.in), func(obj []byte) { got = append(got, unq(scanEvent(obj).name)) })
			if strings.Join(got, ",") != strings.Join(tt.want, ",") {
				t.Errorf("events = %q; want %q", got, tt.want)
			}
		})
	}

	e := scanEvent([]byte(`{"p_seq":"12","p_event":"data","p_subject":"/room/r1","type":"move","data":"{\"cell\":4}","k":"7","t":"1795310850123456789"}`))
	if rawNum(e.seq) != 12 || unq(e.subject) != "/room/r1" || !rawIs(e.typ, "move") || rawNum(e.k) != 7 || rawNum(e.t) != 1795310850123456789 {
		t.Errorf("scanEvent = %+v", e)
	}
	if got := unq(e.data); got != `{"cell":4}` {
		t.Errorf("unq(data) = %q", got)
	}
	if rawNum([]byte(`"x"`)) != -1 || rawNum(nil) != -1 {
		t.Error("rawNum of a non-number is not -1")
	}

	var objs []string
	sseEvents([]byte("retry: 2000\n\nid: 3\ndata: {\"p_event\":\"data\"}\n\n"), func(obj []byte) { objs = append(objs, string(obj)) })
	if len(objs) != 1 || objs[0] != `{"p_event":"data"}` {
		t.Errorf("sseEvents = %q", objs)
	}
}

func TestWireConnChunks(t *testing.T) {
	t.Parallel()
	a, b := net.Pipe()
	t.Cleanup(func() { a.Close(); b.Close() })
	go func() {
		io.WriteString(a, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\ncontent-type: x\r\n\r\n5;ext=1\r\nhello\r\n3\r\nabc\r\n0\r\nTrailer: x\r\n\r\n"+
			"HTTP/1.1 204 No Content\r\nDate: x\r\n\r\n"+
			"HTTP/1.1 400 Bad Request\r\nContent-Length: 4\r\n\r\nnope")
	}()
	w := &wireConn{c: b, br: bufio.NewReaderSize(b, 32)}
	h, err := w.readHead()
	if err != nil || h.status != 200 || !h.chunked {
		t.Fatalf("readHead = %+v, %v", h, err)
	}
	body, err := w.readBody(h)
	if err != nil || string(body) != "helloabc" {
		t.Fatalf("chunked body = %q, %v", body, err)
	}
	// A 204 has no body and no length: the next response follows at once.
	h, err = w.readHead()
	if err != nil || h.status != 204 {
		t.Fatalf("second head = %+v, %v", h, err)
	}
	if body, err := w.readBody(h); err != nil || len(body) != 0 {
		t.Fatalf("204 body = %q, %v", body, err)
	}
	h, err = w.readHead()
	if err != nil || h.status != 400 || h.length != 4 {
		t.Fatalf("third head = %+v, %v", h, err)
	}
	if body, err := w.readBody(h); err != nil || string(body) != "nope" {
		t.Fatalf("body = %q, %v", body, err)
	}
}

func TestHistogramJSON(t *testing.T) {
	t.Parallel()
	var h Histogram
	for i := range 1000 {
		h.Record(time.Duration(i*i) * time.Microsecond)
	}
	b, err := json.Marshal(h)
	if err != nil {
		t.Fatal(err)
	}
	var back Histogram
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	for _, q := range []float64{0, 0.5, 0.99, 1} {
		if back.Quantile(q) != h.Quantile(q) {
			t.Errorf("Quantile(%v) = %v after a round trip; want %v", q, back.Quantile(q), h.Quantile(q))
		}
	}
	if back.Count() != h.Count() || back.Mean() != h.Mean() || back.Min() != h.Min() || back.Max() != h.Max() {
		t.Errorf("round trip changed the summary: %v %v", back, h)
	}
	if err := json.Unmarshal([]byte(`{"n":2,"b":[[1,1]]}`), &back); err == nil {
		t.Error("a histogram whose buckets disagree with its count was accepted")
	}
}

func TestParseBenchOutput(t *testing.T) {
	t.Parallel()
	out := "goos: linux\npkg: github.com/cometplay/cometplay/bench\nBenchmarkHubPublish/recipients=100-2  17364  17429 ns/op  174.3 ns/recipient  283 B/op  3 allocs/op\nPASS\n"
	rs := parseBenchOutput([]byte(out))
	if len(rs) != 1 {
		t.Fatalf("parsed %d results; want 1", len(rs))
	}
	r := rs[0]
	if r.Name != "HubPublish/recipients=100" || r.Metrics["ns/op"] != "17429" || r.Metrics["allocs/op"] != "3" || r.other() != "174.3 ns/recipient" {
		t.Errorf("result = %+v, other %q", r, r.other())
	}
}

func TestParsePprofTop(t *testing.T) {
	t.Parallel()
	out := "File: x\nShowing nodes\n      flat  flat%   sum%        cum   cum%\n     5.31s 19.41% 19.41%      9.29s 33.95%  github.com/cometplay/cometplay/engine.appendJSONString\n  0.1MB 1% 2% 0.2MB 3% a b\n"
	rows := parsePprofTop([]byte(out))
	if len(rows) != 2 || rows[0].Flat != "5.31s" || rows[0].CumPct != "33.95%" || rows[1].Name != "a b" {
		t.Fatalf("rows = %+v", rows)
	}
	if got := shortFunc(rows[0].Name); got != "engine.appendJSONString" {
		t.Errorf("shortFunc = %q", got)
	}
}

// TestFastMoveAndTurnAgreeWithEncodingJSON: the hand decoders of the two
// events every move brings read what encoding/json reads, and give up
// (falling back to it) on what they do not know.
func TestFastMoveAndTurnAgreeWithEncodingJSON(t *testing.T) {
	moves := []string{
		`{"board":["X","","","","O","","","",""],"cell":4,"mark":"O","player":"p-1"}`,
		`{ "cell": 0, "player": "abc", "board": [ "X" , "" ,"","","","","","","" ], "mark":"X" }`,
		`{"board":["\u0058","","","","","","","",""],"player":"q","extra":{"a":[1,{"b":"]"}]}}`,
	}
	for _, m := range moves {
		var want, got moveData
		if err := json.Unmarshal([]byte(m), &want); err != nil {
			t.Fatal(err)
		}
		if !fastMove([]byte(m), &got) {
			t.Fatalf("fastMove gave up on %s", m)
		}
		if got.Player != want.Player {
			t.Errorf("%s: player %q, want %q", m, got.Player, want.Player)
		}
		for i := range want.Board {
			if (got.Board[i] != "") != (want.Board[i] != "") {
				t.Errorf("%s: cell %d taken %v, want %v", m, i, got.Board[i] != "", want.Board[i] != "")
			}
		}
	}
	for _, bad := range []string{`{"board":["X"],"player":"p"}`, `{"board":["","","","","","","","","",""],"player":"p"}`,
		`{"board":["","","","","","","","",""],"player":"p\"q"}`, `{"board":["","","","","","","","",""]}`, `[1]`, `{"board":`} {
		var d moveData
		if fastMove([]byte(bad), &d) {
			t.Errorf("fastMove accepted %s: %+v", bad, d)
		}
	}
	turns := map[string]string{
		`{"player":{"id":"p-1","name":"Ann","seat":0,"connected":true},"deadline_ms":0,"timeout_ms":0}`: "p-1",
		`{"deadline_ms":5,"player":{"name":"B}","id":"p-2"}}`:                                           "p-2",
		`{"player":null,"deadline_ms":0}`:                                                               "",
	}
	for m, id := range turns {
		var d turnData
		if !fastTurn([]byte(m), &d) {
			t.Fatalf("fastTurn gave up on %s", m)
		}
		if got := ""; d.Player != nil {
			got = d.Player.ID
			if got != id {
				t.Errorf("%s: player %q, want %q", m, got, id)
			}
		} else if id != "" {
			t.Errorf("%s: no player, want %q", m, id)
		}
	}
	var d turnData
	if fastTurn([]byte(`{"deadline_ms":0}`), &d) || fastTurn([]byte(`{"player":{"id":"a\"b"}}`), &d) {
		t.Error("fastTurn accepted a turn without a plain player id")
	}
	// The data field as it arrives: a JSON string holding the JSON text.
	raw, _ := json.Marshal(moves[0])
	text, ok := unqData(raw, nil)
	if !ok || string(text) != moves[0] {
		t.Fatalf("unqData(%s) = %q, %v", raw, text, ok)
	}
	if _, ok := unqData([]byte(`"a\nb"`), nil); ok {
		t.Error("unqData took an escape it does not decode")
	}
}

// TestStreamSplitterAcrossChunks: a stream's events are found whatever its
// chunks' boundaries (an intermediary such as HAProxy chunks the body
// again at its buffer's size): the body cut at every byte, and in three
// pieces at every pair of bytes, gives the same events as whole, for the
// JSON and the SSE formats.
func TestStreamSplitterAcrossChunks(t *testing.T) {
	for _, c := range []struct {
		sse  bool
		body string
	}{
		{false, `{"p_event":"listen-ack","p_id":"a"}{"p_seq":"1","p_event":"data","data":"{\"x\":\"}{\\\"\"}"}` + "\r\n" +
			`{"p_seq":"2","p_event":"data","data":"{}"}{"p_seq":"3","p_event":"hb"}`},
		{true, "event: listen-ack\ndata: {\"p_event\":\"listen-ack\"}\n\nid: 1\ndata: {\"p_seq\":\"1\",\"p_event\":\"data\",\"data\":\"a\\nb\"}\n\n" +
			"id: 2\ndata: {\"p_seq\":\"2\",\"p_event\":\"data\"}\n\n"},
	} {
		var want []string
		whole := streamSplitter{sse: c.sse}
		whole.feed([]byte(c.body), func(obj []byte) { want = append(want, string(obj)) })
		if len(want) < 3 {
			t.Fatalf("sse %v: %d events in the whole body: %q", c.sse, len(want), want)
		}
		feed := func(cuts ...int) []string {
			var got []string
			sp := streamSplitter{sse: c.sse}
			prev := 0
			for _, at := range append(cuts, len(c.body)) {
				chunk := []byte(c.body[prev:at]) // a buffer of its own, as a chunk read is
				sp.feed(chunk, func(obj []byte) { got = append(got, string(obj)) })
				clear(chunk)
				prev = at
			}
			return got
		}
		for i := 1; i < len(c.body); i++ {
			if got := feed(i); !slices.Equal(got, want) {
				t.Fatalf("sse %v, cut at %d: %q, want %q", c.sse, i, got, want)
			}
			for j := i; j < len(c.body); j += 7 {
				if got := feed(i, j); !slices.Equal(got, want) {
					t.Fatalf("sse %v, cut at %d and %d: %q, want %q", c.sse, i, j, got, want)
				}
			}
		}
	}
}
