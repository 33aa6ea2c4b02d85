package engine

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"syscall"

	"golang.org/x/sys/unix"
)

// The listeners of a Server share its port through SO_REUSEPORT, one per
// event loop (see Start). SO_REUSEPORT lets any socket of the same user that
// sets it join the group, and the kernel then splits the connections
// between all of them: a second server started on a held address would
// start too, and each would see only part of the players. So a Server
// makes sure it is alone on its address before and after binding:
//
//  1. reservePort first binds the address without SO_REUSEPORT. That bind
//     fails with EADDRINUSE while any other socket listens there, whether
//     it set SO_REUSEPORT or not, whoever owns it.
//  2. It closes that probe and at once binds the reservation with
//     SO_REUSEPORT, which holds the port (port 0 resolved) until gnet's
//     listeners are bound.
//  3. At boot, with gnet's first listener listening, soleListener looks for
//     a listening socket on the address that this process does not own
//     (Linux: /proc/net/tcp*). That closes the instant between 1 and 2:
//     of two servers starting together, each listens before it looks, so
//     the later one to look sees the other.
//
// A program that joins the group later with SO_REUSEPORT of its own accord
// is not seen; any Server started later is refused by step 1.

// errAddrInUse is the error of a Start refused because another socket
// listens on the address; it wraps EADDRINUSE (errors.Is(err,
// syscall.EADDRINUSE) reports it).
func errAddrInUse(addr, why string) error {
	return fmt.Errorf("engine: listen %s: %w (%s)", addr, syscall.EADDRINUSE, why)
}

// testHookProbed, when set by a test, runs between the probe's close and the
// reservation's bind, with the address.
var testHookProbed func(addr string)

// reservePort checks that nothing else listens on addr and reserves it with
// SO_REUSEPORT until gnet's own reuse-port listeners are bound (OnBoot), so
// every event loop listens on the same port. It returns the address with
// port 0 resolved to the port it holds.
func (s *Server) reservePort(addr string) (string, error) {
	probe, err := net.Listen("tcp", addr)
	if err != nil {
		if errors.Is(err, syscall.EADDRINUSE) {
			return "", errAddrInUse(addr, "another program listens there")
		}
		return "", fmt.Errorf("engine: listen %s: %w", addr, err)
	}
	held := probe.Addr().String()
	probe.Close()
	if testHookProbed != nil {
		testHookProbed(held)
	}
	lc := net.ListenConfig{Control: func(_, _ string, rc syscall.RawConn) error {
		var serr error
		if err := rc.Control(func(fd uintptr) {
			serr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_REUSEPORT, 1)
		}); err != nil {
			return err
		}
		return serr
	}}
	ln, err := lc.Listen(context.Background(), "tcp", held)
	if err != nil {
		if errors.Is(err, syscall.EADDRINUSE) {
			return "", errAddrInUse(addr, "another program took it while this server started")
		}
		return "", fmt.Errorf("engine: listen %s: %w", addr, err)
	}
	s.reserve = ln
	return held, nil
}

// soleListener returns an errAddrInUse when a socket that this process does
// not own listens on held, the address reservePort holds (see the steps
// above). Where the system does not tell (no /proc), it returns nil: the
// probe of reservePort is then the only check.
func soleListener(cfgAddr, held string) error {
	ap, err := netip.ParseAddrPort(held)
	if err != nil {
		return nil
	}
	other, err := otherListener(netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port()))
	if err != nil || !other {
		return nil
	}
	return errAddrInUse(cfgAddr, "another process joined its listeners to this server's port")
}
