//go:build !linux

package engine

import "time"

// setUserTimeout is Linux's TCP_USER_TIMEOUT; elsewhere only the
// keep-alive probes apply.
func setUserTimeout(int, time.Duration) error { return nil }
