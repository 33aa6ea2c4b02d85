package games

import (
	"bytes"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/cometplay/cometplay/engine"

	"github.com/cometplay/cometplay/httpcodec"
	"github.com/cometplay/cometplay/internal/testkit"
)

// The hostile-client tests: what one client may cost the server (a loop's
// time, memory per connection and per session, connections per address).
// docs/SECURITY.md lists them with what each proves.

// TestHardeningPartialBodies: an idle connection costs the server a few
// KiB; connections that each hold a request whose
// 1 MiB body lacks its last bytes cost the server about that request's
// size each (a chunked one, its decoded body too), connections holding
// MaxInbound of pipelined requests behind MaxPipelined streams about
// MaxInbound, and nothing once they are gone. (Before, gnet's whole buffer
// was peeked and copied again on every read: 4–6 MB a connection holding
// 1 MiB.)
func TestHardeningPartialBodies(t *testing.T) {
	ch := startHardChild(t, 0, hardServerHeaderEnv+"=10m", hardServerSessionEnv+"=1s")
	const maxBody = httpcodec.DefaultMaxBodyBytes
	clHead := "POST /comet HTTP/1.1\r\nHost: t\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: " + strconv.Itoa(maxBody) + "\r\n\r\n"
	chunked := func() []byte { // 4 KiB chunks up to 4 KiB short of the largest body, no last chunk
		b := []byte("POST /comet HTTP/1.1\r\nHost: t\r\nContent-Type: application/x-www-form-urlencoded\r\nTransfer-Encoding: chunked\r\n\r\n")
		piece := bytes.Repeat([]byte("x"), 4<<10)
		for n := 0; n+2*len(piece) <= maxBody; n += len(piece) {
			b = append(append(append(b, "1000\r\n"...), piece...), "\r\n"...)
		}
		return b
	}
	pipelined := func() []byte { // MaxPipelined streams, then requests up to 64 KiB short of MaxInbound
		var b []byte
		for range engine.DefaultMaxPipelined {
			b = append(b, testkit.Req("GET", "/comet?p_event=join-listen&p_format=json")...)
		}
		filler := testkit.Req("GET", "/x", "X-Pad: "+strings.Repeat("p", 1000))
		for len(b)+len(filler) <= engine.DefaultMaxInbound-64<<10 {
			b = append(b, filler...)
		}
		return b
	}
	for _, tc := range []struct {
		name  string
		n     int
		bytes []byte
		limit func(size int64) int64 // the heap a connection may hold
	}{
		{"idle", testkit.Scale(500, 5000), nil,
			func(int64) int64 { return 8 << 10 }},
		{"content-length", testkit.Scale(48, 300), append([]byte(clHead), bytes.Repeat([]byte("x"), maxBody-1)...),
			func(size int64) int64 { return size + size/2 }}, // appendIn: within 1.25× what is held
		{"chunked", testkit.Scale(24, 100), chunked(),
			func(size int64) int64 { return 3 * size }}, // the wire bytes, and the decoded body as large
		{"pipelined", testkit.Scale(24, 100), pipelined(),
			func(size int64) int64 { return size + size/2 + engine.DefaultMaxPipelined*16<<10 }}, // and the streams' sessions
	} {
		t.Run(tc.name, func(t *testing.T) {
			n, size := tc.n, int64(len(tc.bytes))
			base := ch.figures()
			measured := 0 // requests of the measuring connection after base, counted in BytesIn
			measLen := int64(len(testkit.Req("GET", "/hardening/figures")))
			req := string(tc.bytes)
			cs := testkit.DialEach(t, ch.addr, n, func(int) string { return req })
			held := ch.waitFigures(4*testkit.Timeout, "the server to receive every connection's bytes", func(f hardFigures) bool {
				measured++
				return f.OpenConns == int64(n)+1 && f.BytesIn-base.BytesIn-int64(measured)*measLen >= int64(n)*size
			})
			per := (int64(held.HeapInuse) - int64(base.HeapInuse)) / int64(n)
			// What a connection holds is what stays: a measure over the
			// limit is taken again (once in a full suite the heap was 28
			// MiB higher, for a moment), and the least counts.
			limit := tc.limit(size)
			for try := 0; per > limit && try < 5; try++ {
				time.Sleep(200 * time.Millisecond)
				f := ch.figures()
				if p := (int64(f.HeapInuse) - int64(base.HeapInuse)) / int64(n); p < per {
					t.Logf("measured again: %d KiB a connection (was %d KiB)", p>>10, per>>10)
					held, per = f, p
				}
			}
			if size == 0 {
				t.Logf("%d idle connections: heap %d MiB → %d MiB, %d bytes a connection (its kernel buffers aside)", n, base.HeapInuse>>20, held.HeapInuse>>20, per)
			} else {
				t.Logf("%d connections holding %d KiB each: heap %d MiB → %d MiB, %d KiB a connection (%.2f× what it sent)",
					n, size>>10, base.HeapInuse>>20, held.HeapInuse>>20, per>>10, float64(per)/float64(size))
			}
			if per > limit {
				t.Errorf("%d KiB of heap a connection; want at most %d KiB", per>>10, limit>>10)
			}
			for _, c := range cs {
				testkit.ResetClose(c)
			}
			after := ch.waitFigures(2*testkit.Timeout, "the connections and their sessions to go", func(f hardFigures) bool { return f.OpenConns == 1 && f.Sessions == 0 })
			t.Logf("after: %v", after)
			if after.HeapInuse > base.HeapInuse+8<<20 {
				t.Errorf("heap in use %d MiB after the connections went; %d MiB before them", after.HeapInuse>>20, base.HeapInuse>>20)
			}
			ch.alive()
		})
	}
}
