package engine

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/cometplay/cometplay/internal/testkit"
)

// TestLimitLogs: records at Warn and above pass at most perMinute times a
// minute per message, the first one after a pause says how many were
// dropped; other levels and other messages are not affected; messages past
// maxLogMessages share one allowance.
func TestLimitLogs(t *testing.T) {
	var c testkit.LogCapture
	h := LimitLogs(&c, 3)
	if LimitLogs(h, 5) != h {
		t.Fatal("LimitLogs wrapped a limited handler again")
	}
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	log := func(at time.Duration, level slog.Level, msg string) {
		h.Handle(context.Background(), slog.NewRecord(t0.Add(at), level, msg, 0))
	}
	for i := range 10 {
		log(time.Duration(i)*time.Millisecond, slog.LevelWarn, "flood")
		log(time.Duration(i)*time.Millisecond, slog.LevelInfo, "info")
	}
	log(0, slog.LevelError, "other")
	log(21*time.Second, slog.LevelWarn, "flood") // a token back (one each 20 s): passes, 7 dropped before it
	log(22*time.Second, slog.LevelWarn, "flood") // dropped
	log(2*time.Minute, slog.LevelWarn, "flood")  // passes, 1 dropped before it
	var want []string
	for range 3 {
		want = append(want, "WARN flood", "INFO info")
	}
	for range 7 {
		want = append(want, "INFO info")
	}
	want = append(want, "ERROR other", "WARN flood suppressed=7", "WARN flood suppressed=1")
	if got := c.Lines(); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("records:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}

	var o testkit.LogCapture
	h = LimitLogs(&o, 1)
	for i := range maxLogMessages + 10 {
		h.Handle(context.Background(), slog.NewRecord(t0, slog.LevelWarn, fmt.Sprint("m", i), 0))
	}
	if got := len(o.Lines()); got != maxLogMessages+1 {
		t.Errorf("%d distinct messages logged %d records; want %d (the rest share one allowance)", maxLogMessages+10, got, maxLogMessages+1)
	}
	if LimitLogs(&o, -1) != slog.Handler(&o) {
		t.Error("LimitLogs(h, -1) is not h")
	}
}
