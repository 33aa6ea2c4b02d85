package main

import (
	"bytes"
	"github.com/cometplay/cometplay/comet"
	"log/slog"
	"net/url"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/cometplay/cometplay/engine"
	"github.com/cometplay/cometplay/httpcodec"
)

// Micro-benchmarks of the hot paths through exported APIs only (the
// Comet hub's own benchmarks of its internals are in comet/bench_test.go).
// `go run ./bench micro` runs them with the codec's, the engine's, the hub's
// and the history store's and records the figures in RESULTS.md.

// benchServer starts an engine server with a hub on 127.0.0.1:0.
func benchServer(tb testing.TB) (*engine.Server, *comet.Hub) {
	tb.Helper()
	srv, err := engine.New(engine.Config{Addr: "127.0.0.1:0", Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		tb.Fatal(err)
	}
	hub, err := comet.NewHub(srv, defaultHubConfig())
	if err != nil {
		tb.Fatal(err)
	}
	if err := srv.Start(); err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { srv.Shutdown(tb.Context()) })
	return srv, hub
}

// BenchmarkHubPublish: one event published to N subscribed sessions that
// have no listener (the session queue and the fan-out; nothing written).
// The windows are filled first, so the figures are the steady state.
func BenchmarkHubPublish(b *testing.B) {
	for _, n := range []int{1, 100, 10000} {
		b.Run("recipients="+strconv.Itoa(n), func(b *testing.B) {
			_, hub := benchServer(b)
			for range n {
				s, err := hub.Join(comet.FormatJSON)
				if err != nil {
					b.Fatal(err)
				}
				if _, err := s.Subscribe("/bench/fan", ""); err != nil {
					b.Fatal(err)
				}
			}
			for range comet.DefaultWindow {
				hub.Publish("/bench/fan", "k", "0")
			}
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				if err := hub.Publish("/bench/fan", "k", "1"); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(n), "ns/recipient")
		})
	}
}

// BenchmarkStreamDelivery: one event published to N stream listeners over
// loopback, until every listener has read it: the whole push path, socket
// writes included (the listeners' reading too; they do not allocate).
func BenchmarkStreamDelivery(b *testing.B) {
	for _, n := range []int{1, 100} {
		b.Run("listeners="+strconv.Itoa(n), func(b *testing.B) {
			srv, hub := benchServer(b)
			var got sync.WaitGroup
			conns := make([]*wireConn, n)
			for i := range conns {
				s, err := hub.Join(comet.FormatJSON)
				if err != nil {
					b.Fatal(err)
				}
				w, err := dialWire(srv.Addr(), 5*time.Second, false)
				if err != nil {
					b.Fatal(err)
				}
				conns[i] = w
				b.Cleanup(func() { w.Close() })
				if _, err := w.c.Write(getRequest(nil, srv.Addr(), "/comet?p_event=listen&p_mode=stream&p_format=json&p_subject=/bench/fan&p_id="+s.ID())); err != nil {
					b.Fatal(err)
				}
				if h, err := w.readHead(); err != nil || h.status != 200 {
					b.Fatalf("listen: %v %v", h, err)
				}
				for { // up to the hb that follows the listen-ack
					c, err := w.readChunk()
					if err != nil {
						b.Fatal(err)
					}
					if bytes.Contains(c, []byte(`"hb"`)) {
						break
					}
				}
			}
			for _, w := range conns {
				go func() {
					for {
						c, err := w.readChunk()
						if err != nil {
							return
						}
						eachObject(c, func(obj []byte) {
							if rawIs(scanEvent(obj).name, "data") {
								got.Done()
							}
						})
					}
				}()
			}
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				got.Add(n)
				if err := hub.Publish("/bench/fan", "k", "1"); err != nil {
					b.Fatal(err)
				}
				got.Wait()
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(n), "ns/delivery")
		})
	}
}

// A move as the simulated players publish it.
var moveRequest = []byte("GET /comet?p_event=publish&p_id=1Ki2WNYveaArWFJL4i7MrC0qxwqmZKk7g&p_subject=/room/r7QxJf2aK1&type=move&data=%7B%22cell%22%3A4%7D&move=m7&seq=7 HTTP/1.1\r\nHost: 127.0.0.1:8080\r\nUser-Agent: cometplay-bench\r\n\r\n")

// BenchmarkParseMove: the codec's work on one move request: parse, then
// decode its query.
func BenchmarkParseMove(b *testing.B) {
	p := httpcodec.NewParser(httpcodec.Limits{})
	var scratch []byte
	b.ReportAllocs()
	b.SetBytes(int64(len(moveRequest)))
	for b.Loop() {
		p.Reset()
		n, req, err := p.Parse(moveRequest)
		if err != nil || req == nil || n != len(moveRequest) {
			b.Fatalf("Parse = %d, %v, %v", n, req, err)
		}
		q := moveRequest[bytes.IndexByte(moveRequest, '?')+1 : bytes.Index(moveRequest, []byte(" HTTP/"))]
		fields := 0
		if scratch, err = httpcodec.VisitForm(scratch[:0], q, func(k, v []byte) bool { fields++; return true }); err != nil || fields != 7 {
			b.Fatalf("VisitForm: %d fields, %v", fields, err)
		}
	}
}

// An event of a stream as the engine writes it.
var streamEvent = []byte(`{"p_seq":"12","p_event":"data","p_time":"1795310850","p_subject":"/room/r7QxJf2aK1","type":"move","data":"{\"player\":\"g-jojb6cvsbsczqctc\",\"cell\":4,\"mark\":\"X\",\"board\":[\"\",\"\",\"\",\"\",\"X\",\"\",\"\",\"\",\"\"]}"}` + "\n")

// BenchmarkScanEvent: the load processes' reading of one event (they must
// not be what limits a scenario).
func BenchmarkScanEvent(b *testing.B) {
	b.ReportAllocs()
	b.SetBytes(int64(len(streamEvent)))
	for b.Loop() {
		eachObject(streamEvent, func(obj []byte) {
			if e := scanEvent(obj); rawNum(e.seq) != 12 || !rawIs(e.typ, "move") {
				b.Fatal("bad scan")
			}
		})
	}
}

// BenchmarkNetHTTPCometPublish: the baseline's publish to N sessions
// without listeners, for comparison with BenchmarkHubPublish.
func BenchmarkNetHTTPCometPublish(b *testing.B) {
	for _, n := range []int{1, 100, 10000} {
		b.Run("recipients="+strconv.Itoa(n), func(b *testing.B) {
			h := newNCHub()
			for range n {
				h.subscribe(h.join(), "/bench/fan")
			}
			q := url.Values{"k": {"1"}}
			h.publish("/bench/fan", "pub", q) // the windows are made at the first event
			b.ReportAllocs()
			for b.Loop() {
				h.publish("/bench/fan", "pub", q)
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(n), "ns/recipient")
		})
	}
}
