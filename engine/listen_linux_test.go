package engine

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/cometplay/cometplay/internal/testkit"
)

// reusePortListen listens on addr with SO_REUSEPORT, as the listeners of a
// Server (and of any other gnet server) do.
func reusePortListen(addr string) (net.Listener, error) {
	lc := net.ListenConfig{Control: func(_, _ string, rc syscall.RawConn) error {
		var serr error
		if err := rc.Control(func(fd uintptr) {
			serr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_REUSEPORT, 1)
		}); err != nil {
			return err
		}
		return serr
	}}
	return lc.Listen(context.Background(), "tcp", addr)
}

// reusePortEnv is set for TestReusePortHolderHelper, with the address to hold.
const reusePortEnv = "ENGINE_TEST_REUSEPORT_HOLD"

// TestReusePortHolderHelper is run as a child process by
// TestStartRefusesAddressJoinedWhileStarting: it listens on the address in
// reusePortEnv with SO_REUSEPORT until its stdin closes.
func TestReusePortHolderHelper(t *testing.T) {
	addr := os.Getenv(reusePortEnv)
	if addr == "" {
		t.Skip("helper process for TestStartRefusesAddressJoinedWhileStarting")
	}
	ln, err := reusePortListen(addr)
	if err != nil {
		fmt.Printf("HOLDER error=%v\n", err)
		os.Exit(2)
	}
	fmt.Printf("HOLDER addr=%s\n", ln.Addr())
	io.Copy(io.Discard, os.Stdin)
	os.Exit(0)
}

// TestStartRefusesAddressJoinedWhileStarting: another process that binds
// the address with SO_REUSEPORT after the server's probe found it free but
// before the server's listeners are up (two servers started at the same
// moment) is seen at boot, and the server refuses to start.
func TestStartRefusesAddressJoinedWhileStarting(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a child process")
	}
	if _, err := os.Stat("/proc/net/tcp"); err != nil {
		t.Skip("no /proc/net/tcp: the boot check needs it")
	}
	testHookProbed = func(addr string) {
		_, line := testkit.StartChild(t, "TestReusePortHolderHelper", "HOLDER ", 0, 5*time.Second, reusePortEnv+"="+addr)
		if line != "HOLDER addr="+addr {
			t.Fatalf("the child holding %s said %q", addr, line)
		}
	}
	defer func() { testHookProbed = nil }()
	_, err := startOn(t, "127.0.0.1:0")
	testHookProbed = nil
	if err == nil {
		t.Fatal("Start succeeded on a port another process had joined; want EADDRINUSE")
	}
	if !errors.Is(err, syscall.EADDRINUSE) || !strings.Contains(err.Error(), "another process") {
		t.Fatalf("Start: %v; want EADDRINUSE saying another process listens", err)
	}
	// Without a foreign listener the check passes: its own listeners are
	// this process's.
	if _, err := startOn(t, "127.0.0.1:0"); err != nil {
		t.Fatalf("Start on a free port: %v", err)
	}
}

// TestParseProcAddr: the addresses of /proc/net/tcp and tcp6, written as
// host-order words, are read back on this host.
func TestParseProcAddr(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	ap := ln.Addr().(*net.TCPAddr).AddrPort()
	// The kernel's own rendering of this listener must parse to its address.
	inodes, err := listenersOn("/proc/net/tcp", ap)
	if err != nil {
		t.Skipf("no /proc/net/tcp: %v", err)
	}
	if len(inodes) != 1 {
		t.Fatalf("listenersOn(%s) = %v; want this test's listener", ap, inodes)
	}
	for _, tc := range []struct {
		in   string
		want string
		ok   bool
	}{
		{"00000000:1F90", "0.0.0.0:8080", true},
		{"00000000000000000000000000000000:0050", "[::]:80", true},
		{"00000000:1F90:00", "", false},
		{"0000:1F90", "", false},
		{"zz000000:1F90", "", false},
	} {
		got, ok := parseProcAddr(tc.in)
		if ok != tc.ok || (ok && got.String() != tc.want) {
			t.Errorf("parseProcAddr(%q) = %v, %v; want %s, %v", tc.in, got, ok, tc.want, tc.ok)
		}
	}
	if got, _ := parseProcAddr(procWords(netip.MustParseAddr("::ffff:10.1.2.3"), 443)); got.String() != "10.1.2.3:443" {
		t.Errorf("an IPv4-mapped address parsed as %v; want 10.1.2.3:443", got)
	}
}

// procWords writes a as /proc/net/tcp6 does on this host.
func procWords(a netip.Addr, port uint16) string {
	b := a.As16()
	var sb strings.Builder
	for i := 0; i < 16; i += 4 {
		fmt.Fprintf(&sb, "%08X", binary.NativeEndian.Uint32(b[i:i+4]))
	}
	fmt.Fprintf(&sb, ":%04X", port)
	return sb.String()
}
