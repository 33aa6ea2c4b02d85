package engine

// Helpers of the hardening tests (hardening_*_test.go): faults, bad input
// and abuse at scale. docs/SECURITY.md lists what each test proves.
//
// Every hardening test has a short form, run by "make test" (go test with
// no environment), and a long form at the scale the issue names, run by
// "make hardening" (COMETPLAY_HARDENING=long). The short forms keep the
// same assertions on fewer connections or cycles.

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

// hardeningEnv selects the long forms: "long".
const hardeningEnv = "COMETPLAY_HARDENING"

// hardLong reports whether the long forms run.
func hardLong() bool { return os.Getenv(hardeningEnv) == "long" }

// hardScale returns short, or long under the long forms.
func hardScale(short, long int) int {
	if hardLong() {
		return long
	}
	return short
}

// hardRand returns a generator seeded from HARDENING_SEED when set (to
// replay a failure), else from the clock; the seed is logged.
func hardRand(t testing.TB) *rand.Rand {
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

// resetClose closes c with a TCP reset (SO_LINGER 0), as a client that
// dies or is killed does: the server sees the connection go away at once,
// and the client's port is not held in TIME_WAIT, so tens of thousands of
// cycles do not exhaust the ephemeral ports.
func resetClose(c net.Conn) {
	if tc, ok := c.(*net.TCPConn); ok {
		tc.SetLinger(0)
	}
	c.Close()
}

// dialEach opens n connections to addr from 8 goroutines and writes
// send(i) on the i-th ("" sends nothing); it fails the test on any error.
func dialEach(t *testing.T, addr string, n int, send func(i int) string) []net.Conn {
	t.Helper()
	cs := make([]net.Conn, n)
	errs := make(chan error, 8)
	for w := range 8 {
		go func() {
			for i := w; i < n; i += 8 {
				c, err := net.DialTimeout("tcp", addr, hTimeout)
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
		if err := hRecv(t, errs, "the dialers"); err != nil {
			t.Fatal(err)
		}
	}
	return cs
}
