//go:build !linux

package engine

import (
	"errors"
	"net/netip"
)

// otherListener would report a listener of another process on ap; without
// Linux's /proc it cannot tell, and reservePort's probe is the only check.
func otherListener(netip.AddrPort) (bool, error) {
	return false, errors.ErrUnsupported
}
