package engine

// Helpers of the hardening tests (hardening_*_test.go): faults, bad input
// and abuse at scale. docs/SECURITY.md lists what each test proves.
//
// Every hardening test has a short form, run by "make test" (go test with
// no environment), and a long form at the scale the issue names, run by
// "make hardening" (COMETPLAY_HARDENING=long). The short forms keep the
// same assertions on fewer connections or cycles.

import (
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
