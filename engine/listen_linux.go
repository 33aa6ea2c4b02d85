package engine

import (
	"bufio"
	"encoding/binary"
	"encoding/hex"
	"net/netip"
	"os"
	"strconv"
	"strings"
)

// tcpListen is the state of a listening socket in /proc/net/tcp
// (include/net/tcp_states.h: TCP_LISTEN).
const tcpListen = "0A"

// otherListener reports whether a socket that this process does not own
// listens on a TCP address overlapping ap (the same port, and the same
// address or either one the wildcard), as the tables of the process's
// network namespace in /proc/net list them.
func otherListener(ap netip.AddrPort) (bool, error) {
	var listening []string // inodes of the listeners on ap
	for _, table := range []string{"/proc/net/tcp", "/proc/net/tcp6"} {
		inodes, err := listenersOn(table, ap)
		if err != nil && !os.IsNotExist(err) { // no tcp6 without IPv6
			return false, err
		}
		listening = append(listening, inodes...)
	}
	if len(listening) == 0 {
		return false, nil
	}
	// The process's own sockets, read after the tables: a socket of ours
	// listed there is still open, being one of the server's listeners.
	fds, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		return false, err
	}
	own := make(map[string]bool, len(fds))
	for _, fd := range fds {
		if link, err := os.Readlink("/proc/self/fd/" + fd.Name()); err == nil {
			if inode, ok := strings.CutPrefix(link, "socket:["); ok {
				own[strings.TrimSuffix(inode, "]")] = true
			}
		}
	}
	for _, inode := range listening {
		if !own[inode] {
			return true, nil
		}
	}
	return false, nil
}

// listenersOn returns the inodes of the sockets listening on an address
// overlapping ap in table, a /proc/net/tcp or tcp6 file.
func listenersOn(table string, ap netip.AddrPort) ([]string, error) {
	f, err := os.Open(table)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var inodes []string
	sc := bufio.NewScanner(f)
	sc.Scan() // the heading
	for sc.Scan() {
		// sl local_address rem_address st tx_queue:rx_queue tr:tm->when retrnsmt uid timeout inode ...
		fields := strings.Fields(sc.Text())
		if len(fields) < 10 || fields[3] != tcpListen {
			continue
		}
		local, ok := parseProcAddr(fields[1])
		if !ok || local.Port() != ap.Port() {
			continue
		}
		if a, b := local.Addr(), ap.Addr(); a == b || a.IsUnspecified() || b.IsUnspecified() {
			inodes = append(inodes, fields[9])
		}
	}
	return inodes, sc.Err()
}

// parseProcAddr parses an address of /proc/net/tcp*: the IP as 32-bit words
// in hex, each in the host's byte order, a colon and the port in hex, as in
// "0100007F:1F90" (127.0.0.1:8080 on a little-endian host). An IPv4-mapped
// address comes back as IPv4.
func parseProcAddr(s string) (netip.AddrPort, bool) {
	ip, port, ok := strings.Cut(s, ":")
	if !ok || (len(ip) != 8 && len(ip) != 32) {
		return netip.AddrPort{}, false
	}
	words, err := hex.DecodeString(ip)
	p, perr := strconv.ParseUint(port, 16, 16)
	if err != nil || perr != nil {
		return netip.AddrPort{}, false
	}
	var b [16]byte
	for i := 0; i < len(words); i += 4 {
		binary.NativeEndian.PutUint32(b[i:], binary.BigEndian.Uint32(words[i:]))
	}
	var a netip.Addr
	if len(words) == 4 {
		a = netip.AddrFrom4([4]byte(b[:4]))
	} else {
		a = netip.AddrFrom16(b).Unmap()
	}
	return netip.AddrPortFrom(a, uint16(p)), true
}
