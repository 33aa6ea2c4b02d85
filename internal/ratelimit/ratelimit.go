// Package ratelimit has the token bucket cometplay's per-session and
// per-message limits use: a value of two integers, no timer, no goroutine.
package ratelimit

import "time"

// Bucket is a rate limiter: rate tokens per period, burst at once. Its zero
// value is a full bucket. Not safe for concurrent use: its owner's lock
// guards it.
type Bucket struct {
	milli int64 // tokens held, in thousandths
	at    int64 // UnixNano of the last refill (0: never used, full)
}

// Take refills the bucket for the time since the last call (now, UnixNano)
// and takes one token; it reports false, taking none, when it holds less
// than one. rate and burst are at least 1; per is at least a millisecond.
func (b *Bucket) Take(now int64, rate int, per time.Duration, burst int) bool {
	full := int64(burst) * 1000
	if elapsed := now - b.at; b.at == 0 || elapsed >= int64(per)*int64(burst) {
		b.milli = full // unused for long enough to be full, whatever the rate
	} else {
		b.milli = min(full, b.milli+max(elapsed, 0)*int64(rate)/(int64(per)/1000))
	}
	b.at = now
	if b.milli < 1000 {
		return false
	}
	b.milli -= 1000
	return true
}
