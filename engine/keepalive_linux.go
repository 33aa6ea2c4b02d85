package engine

import (
	"time"

	"golang.org/x/sys/unix"
)

// setUserTimeout bounds how long data written to the socket may stay
// unacknowledged before the kernel drops the connection (TCP_USER_TIMEOUT,
// RFC 5482). Keep-alive probes are sent only while nothing is in flight: a
// stream's heartbeats to a client that vanished would otherwise be
// retransmitted for about 15 minutes (tcp_retries2) before the connection
// is given up.
func setUserTimeout(fd int, d time.Duration) error {
	return unix.SetsockoptInt(fd, unix.IPPROTO_TCP, unix.TCP_USER_TIMEOUT, int(d.Milliseconds()))
}
