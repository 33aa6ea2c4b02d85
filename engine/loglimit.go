package engine

import (
	"context"
	"github.com/cometplay/cometplay/internal/ratelimit"
	"log/slog"
	"sync"
	"time"
)

// Log flood control. Some warnings and errors are caused by clients (a
// wrong admin token, a room hook that panics on some move, a subscription
// the rooms could not make): a client repeating the cause must not fill
// the disk or drown the other lines. LimitLogs lets each message through
// at most a few times a minute and counts the rest.

// DefaultLogLimit is how many records at Warn level and above with the same
// message pass per minute (in bursts of as many), when Config.LogLimit is 0.
const DefaultLogLimit = 10

// maxLogMessages bounds the distinct messages tracked; records of further
// messages (gnet's formatted warnings, say) share one allowance.
const maxLogMessages = 256

// LimitLogs returns a handler that passes records below Warn on unchanged
// and lets through at most perMinute records at Warn and above with the
// same message a minute (a token bucket: bursts of perMinute, refilled
// over a minute). The first record passed after some were dropped carries
// the attribute suppressed=N, N being how many similar ones were dropped
// since the last one passed. A negative perMinute returns h itself; a
// handler LimitLogs already wraps is returned as it is. The handler is
// safe for concurrent use; derived handlers (WithAttrs, WithGroup) share
// their allowances.
func LimitLogs(h slog.Handler, perMinute int) slog.Handler {
	if _, ok := h.(*logLimiter); ok || perMinute < 0 {
		return h
	}
	return &logLimiter{h: h, st: &logLimits{per: perMinute, msgs: make(map[string]*logAllowance)}}
}

type logLimiter struct {
	h  slog.Handler
	st *logLimits
}

type logLimits struct {
	per  int
	mu   sync.Mutex
	msgs map[string]*logAllowance
}

type logAllowance struct {
	bucket     ratelimit.Bucket
	suppressed int
}

func (l *logLimiter) Enabled(ctx context.Context, level slog.Level) bool {
	return l.h.Enabled(ctx, level)
}

func (l *logLimiter) Handle(ctx context.Context, r slog.Record) error {
	if r.Level < slog.LevelWarn {
		return l.h.Handle(ctx, r)
	}
	now := r.Time
	if now.IsZero() {
		now = time.Now()
	}
	n, ok := l.st.allow(r.Message, now.UnixNano())
	if !ok {
		return nil
	}
	if n > 0 {
		r = r.Clone()
		r.AddAttrs(slog.Int("suppressed", n))
	}
	return l.h.Handle(ctx, r)
}

func (l *logLimiter) WithAttrs(as []slog.Attr) slog.Handler {
	return &logLimiter{h: l.h.WithAttrs(as), st: l.st}
}

func (l *logLimiter) WithGroup(name string) slog.Handler {
	return &logLimiter{h: l.h.WithGroup(name), st: l.st}
}

// allow takes a token for msg at now; it reports whether the record
// passes and, if so, how many were dropped before it.
func (st *logLimits) allow(msg string, now int64) (suppressed int, ok bool) {
	st.mu.Lock()
	defer st.mu.Unlock()
	a := st.msgs[msg]
	if a == nil {
		if len(st.msgs) >= maxLogMessages {
			msg = "" // the shared allowance of the rest
			a = st.msgs[msg]
		}
		if a == nil {
			a = new(logAllowance)
			st.msgs[msg] = a
		}
	}
	if st.per == 0 || !a.bucket.Take(now, st.per, time.Minute, st.per) {
		a.suppressed++
		return 0, false
	}
	n := a.suppressed
	a.suppressed = 0
	return n, true
}
