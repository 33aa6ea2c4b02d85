package testkit

import (
	"context"
	"log/slog"
	"sync"
)

// Hold is an event loop task (it implements engine.LoopTask) that holds
// its loop until Release: a test's stand-in for a loop falling behind
// under load. Post it with engine.Loop.Post, then wait on Entered.
type Hold struct {
	Entered chan struct{} // closed once the loop runs the task
	release chan struct{}
}

// NewHold returns a Hold not posted yet.
func NewHold() *Hold { return &Hold{Entered: make(chan struct{}), release: make(chan struct{})} }

// RunOnLoop holds the loop until Release.
func (h *Hold) RunOnLoop(uint32) {
	close(h.Entered)
	<-h.release
}

// Release lets the loop go on.
func (h *Hold) Release() { close(h.release) }

// LogCapture is a slog.Handler that keeps every record it handles, as
// "LEVEL message k=v…" lines. Safe for concurrent use.
type LogCapture struct {
	mu   sync.Mutex
	recs []string
}

func (c *LogCapture) Enabled(context.Context, slog.Level) bool { return true }

func (c *LogCapture) Handle(_ context.Context, r slog.Record) error {
	s := r.Level.String() + " " + r.Message
	r.Attrs(func(a slog.Attr) bool {
		s += " " + a.String()
		return true
	})
	c.mu.Lock()
	c.recs = append(c.recs, s)
	c.mu.Unlock()
	return nil
}

func (c *LogCapture) WithAttrs([]slog.Attr) slog.Handler { return c }
func (c *LogCapture) WithGroup(string) slog.Handler      { return c }

// Lines returns the records kept so far.
func (c *LogCapture) Lines() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]string(nil), c.recs...)
}
