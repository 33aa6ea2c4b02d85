package comet

import (
	"testing"
	"time"

	"github.com/cometplay/cometplay/engine"
	"github.com/cometplay/cometplay/internal/testkit"
)

// TestConfigValidate: every rule of the hub's settings, with the field it
// names; zero fields and the documented sentinels are valid.
func TestConfigValidate(t *testing.T) {
	check := testkit.ConfigChecker[Config](t)
	check("zero", Config{}, "", "")
	check("sentinels", Config{MaxSessionsPerAddr: -1, SubscribeRate: -1, PublishRate: -1, DetachGrace: -time.Second}, "", "")
	check("set", Config{Heartbeat: time.Second, SessionTimeout: 2 * time.Second, PullWaitMin: 0, PullWaitMax: 500,
		MaxFields: 10, MaxParams: 10, AllowedOrigins: []string{"*", "https://example.com"}}, "", "")
	check("session timeout", Config{SessionTimeout: -time.Second}, "SessionTimeout", "must be positive, got -1s")
	check("heartbeat", Config{Heartbeat: -time.Second}, "Heartbeat", "must be positive, got -1s")
	check("stall timeout", Config{StallTimeout: -time.Second}, "StallTimeout", "must be positive, got -1s")
	check("pull refresh timeout", Config{PullRefreshTimeout: -time.Second}, "PullRefreshTimeout", "must be positive, got -1s")
	check("heartbeat past the lease", Config{Heartbeat: time.Minute, SessionTimeout: 30 * time.Second}, "Heartbeat",
		"must be shorter than SessionTimeout (30s), got 1m0s")
	check("heartbeat past the default lease", Config{Heartbeat: 10 * time.Minute}, "Heartbeat", "must be shorter than SessionTimeout (5m0s), got 10m0s")
	check("negative pull wait", Config{PullWaitMin: -1, PullWaitMax: 10}, "PullWaitMin", "must not be negative, got -1ms")
	check("negative poll wait", Config{PollWaitMin: 0, PollWaitMax: -10}, "PollWaitMax", "must be positive, got -10ms")
	check("poll wait below its min", Config{PollWaitMin: 2000, PollWaitMax: 1000}, "PollWaitMax", "must be at least PollWaitMin (2s), got 1s")
	check("pull wait past its refresh", Config{PullWaitMin: 1000, PullWaitMax: 50_000}, "PullWaitMax",
		"must be shorter than PullRefreshTimeout (45s), or clients expire between polls, got 50s")
	check("poll wait past its refresh", Config{PollWaitMin: 1000, PollWaitMax: 5000, PollRefreshTimeout: 5 * time.Second}, "PollWaitMax",
		"must be shorter than PollRefreshTimeout (5s), or clients expire between polls, got 5s")
	check("window", Config{Window: -1}, "Window", "must be within 1..65536, got -1")
	check("window too large", Config{Window: 1<<16 + 1}, "Window", "must be within 1..65536, got 65537")
	check("session history below an event", Config{SessionHistoryBytes: 1000}, "SessionHistoryBytes", "must be at least MaxEventBytes (16384), got 1000")
	check("resume horizon", Config{ResumeHorizon: time.Millisecond}, "ResumeHorizon", "must be at least 1s, got 1ms")
	check("history bytes", Config{HistoryBytes: 1 << 19}, "HistoryBytes", "must be at least 64 × MaxEventBytes (1048576), got 524288")
	check("sessions", Config{MaxSessions: -1}, "MaxSessions", "must be positive, got -1")
	check("subscriptions", Config{MaxSubscriptions: -1}, "MaxSubscriptions", "must be positive, got -1")
	check("segments", Config{MaxSubscribedSegments: -1}, "MaxSubscribedSegments", "must be positive, got -1")
	check("fields", Config{MaxFields: -1, MaxParams: 64}, "MaxFields", "must be positive, got -1")
	check("event bytes", Config{MaxEventBytes: -1}, "MaxEventBytes", "must be positive, got -1")
	check("params", Config{MaxParams: -1}, "MaxParams", "must not be negative (0: automatic), got -1")
	check("params below fields", Config{MaxParams: 10}, "MaxParams", "must be at least MaxFields (32), got 10")
	check("subscribe burst", Config{SubscribeBurst: -1}, "SubscribeBurst", "must not be negative (0: automatic), got -1")
	check("publish burst", Config{PublishBurst: -1}, "PublishBurst", "must not be negative (0: automatic), got -1")
	check("sessions per address", Config{MaxSessionsPerAddr: -2}, "MaxSessionsPerAddr", "must be positive, or -1 for no cap, got -2")
	check("subscribe rate", Config{SubscribeRate: -2}, "SubscribeRate", "must be positive, or -1 for no limit, got -2")
	check("publish rate", Config{PublishRate: -5}, "PublishRate", "must be positive, or -1 for no limit, got -5")
	check("format", Config{DefaultFormat: numFormats}, "DefaultFormat", "unknown format")
	check("origin", Config{AllowedOrigins: []string{"example.com"}}, "AllowedOrigins", `"example.com" is not an origin like https://example.com (or *)`)
	// All at once; NewHub refuses them.
	c := Config{Window: -1, PublishRate: -2}
	if got := testkit.ConfigProblems(t, c.Validate()); len(got) != 2 {
		t.Errorf("problems %v; want Window and PublishRate", got)
	}
	srv, err := engine.New(engine.Config{Addr: "127.0.0.1:0", Logger: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := NewHub(srv, c); err == nil {
		t.Error("NewHub accepted an invalid configuration")
	}
}
