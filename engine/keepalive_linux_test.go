package engine

import (
	"testing"
	"time"

	"github.com/cometplay/cometplay/internal/testkit"
	"golang.org/x/sys/unix"
)

// sockOpts are the keep-alive settings of one accepted socket.
type sockOpts struct {
	keepAlive, idle, intvl, cnt, userTimeout int
	err                                      error
}

// sockOptsTask reads them on the socket's loop, where its fd is owned.
type sockOptsTask struct {
	l   *Loop
	out chan<- sockOpts
}

func (k sockOptsTask) RunOnLoop(uint32) {
	for c := k.l.conns; c != nil; c = c.next {
		fd := c.gc.Fd()
		var o sockOpts
		get := func(level, opt int, v *int) {
			if o.err == nil {
				*v, o.err = unix.GetsockoptInt(fd, level, opt)
			}
		}
		get(unix.SOL_SOCKET, unix.SO_KEEPALIVE, &o.keepAlive)
		get(unix.IPPROTO_TCP, unix.TCP_KEEPIDLE, &o.idle)
		get(unix.IPPROTO_TCP, unix.TCP_KEEPINTVL, &o.intvl)
		get(unix.IPPROTO_TCP, unix.TCP_KEEPCNT, &o.cnt)
		get(unix.IPPROTO_TCP, unix.TCP_USER_TIMEOUT, &o.userTimeout)
		k.out <- o
	}
}

// TestKeepAlive: an accepted connection has TCP keep-alive on with the
// configured period (probes every third of it, three of them) and a user
// timeout of twice the period, so that a client that vanished is dropped
// within about twice the period; a negative period leaves them off.
func TestKeepAlive(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  time.Duration
		want sockOpts
	}{
		{"default", 0, sockOpts{keepAlive: 1, idle: 30, intvl: 10, cnt: 3, userTimeout: 60_000}},
		{"9s", 9 * time.Second, sockOpts{keepAlive: 1, idle: 9, intvl: 3, cnt: 3, userTimeout: 18_000}},
		{"off", -1, sockOpts{keepAlive: 0}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := hStart(t, Config{Loops: 1, KeepAlive: tc.cfg}, func(s *Server) { s.Handle("GET", "/x", hText("x")) })
			c := testkit.Dial(t, s.Addr())
			c.Get("/x") // accepted and served
			out := make(chan sockOpts, 4)
			for _, l := range s.allLoops() {
				l.post(op{kind: opTask, task: sockOptsTask{l: l, out: out}})
			}
			got := testkit.Recv(t, out, "the socket's options")
			if got.err != nil {
				t.Fatal(got.err)
			}
			if tc.want.keepAlive == 0 {
				got = sockOpts{keepAlive: got.keepAlive} // the rest are the system's
			}
			if got != tc.want {
				t.Errorf("socket options %+v; want %+v", got, tc.want)
			}
		})
	}
}
