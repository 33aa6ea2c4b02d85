package testkit

import (
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"os"
	"strconv"
	"testing"
	"time"
)

// Helpers of the hardening tests: faults, bad input and abuse at scale.
// docs/SECURITY.md lists what each test proves.
//
// Every hardening test has a short form, run by "make test" (go test with
// no environment), and a long form at the scale the issue names, run by
// "make hardening" (COMETPLAY_HARDENING=long). The short forms keep the
// same assertions on fewer connections or cycles.

// HardeningEnv selects the long forms: "long".
const HardeningEnv = "COMETPLAY_HARDENING"

// Long reports whether the long forms run.
func Long() bool { return os.Getenv(HardeningEnv) == "long" }

// Scale returns short, or long under the long forms.
func Scale(short, long int) int {
	if Long() {
		return long
	}
	return short
}

// Rand returns a generator seeded from HARDENING_SEED when set (to
// replay a failure), else from the clock; the seed is logged.
func Rand(t testing.TB) *rand.Rand {
	t.Helper()
	seed := uint64(time.Now().UnixNano())
	if s := os.Getenv("HARDENING_SEED"); s != "" {
		n, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			t.Fatalf("HARDENING_SEED=%q: %v", s, err)
		}
		seed = n
	}
	t.Logf("seed %d (replay with HARDENING_SEED=%d)", seed, seed)
	return rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
}

// ResetClose closes c with a TCP reset (SO_LINGER 0), as a client that
// dies or is killed does: the server sees the connection go away at once,
// and the client's port is not held in TIME_WAIT, so tens of thousands of
// cycles do not exhaust the ephemeral ports.
func ResetClose(c net.Conn) {
	if tc, ok := c.(*net.TCPConn); ok {
		tc.SetLinger(0)
	}
	c.Close()
}

// DialEach opens n connections to addr from 8 goroutines and writes
// send(i) on the i-th ("" sends nothing); it fails the test on any error.
func DialEach(t *testing.T, addr string, n int, send func(i int) string) []net.Conn {
	t.Helper()
	cs := make([]net.Conn, n)
	errs := make(chan error, 8)
	for w := range 8 {
		go func() {
			for i := w; i < n; i += 8 {
				c, err := net.DialTimeout("tcp", addr, Timeout)
				if err != nil {
					errs <- fmt.Errorf("dial %d: %w", i, err)
					return
				}
				cs[i] = c
				if req := send(i); req != "" {
					if _, err := io.WriteString(c, req); err != nil {
						errs <- fmt.Errorf("write %d: %w", i, err)
						return
					}
				}
			}
			errs <- nil
		}()
	}
	for range 8 {
		if err := Recv(t, errs, "the dialers"); err != nil {
			t.Fatal(err)
		}
	}
	return cs
}
