package engine

import (
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cometplay/cometplay/httpcodec"
	"github.com/cometplay/cometplay/internal/testkit"
)

// TestConfigValidate: every rule of the HTTP layer's settings, with the
// field it names; zero fields and the documented sentinels are valid.
func TestConfigValidate(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "file")
	if err := os.WriteFile(file, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	check := testkit.ConfigChecker[Config](t)
	check("zero", Config{}, "", "")
	check("sentinels", Config{MaxConnsPerAddr: -1, LogLimit: -1, KeepAlive: -time.Second}, "", "")
	check("set", Config{Addr: ":0", Loops: 2, Workers: 4, MaxInbound: 64 << 10, KeepAlive: 3 * time.Second,
		Limits: httpcodec.Limits{MaxRequestLine: 1 << 10, MaxHeadBytes: 1 << 10}}, "", "")
	check("webroot", Config{Webroot: dir, WebrootCSP: "default-src 'self'"}, "", "")
	check("addr", Config{Addr: "nowhere"}, "Addr", `want host:port, got "nowhere"`)
	check("port", Config{Addr: "127.0.0.1:99999"}, "Addr", `invalid port "99999"`)
	check("named port", Config{Addr: "127.0.0.1:http"}, "Addr", `invalid port "http"`)
	check("missing webroot", Config{Webroot: filepath.Join(dir, "nope")}, "Webroot", "not a directory: ")
	check("file webroot", Config{Webroot: file}, "Webroot", "not a directory: ")
	check("webroot policy without webroot", Config{WebrootCSP: "default-src 'self'"}, "WebrootCSP", "needs Webroot")
	check("control character in webroot policy", Config{Webroot: dir, WebrootCSP: "a\tb"}, "WebrootCSP", `control characters in "a\tb"`)
	check("header in page policy", Config{PageCSP: "a\r\nX: y"}, "PageCSP", "control characters")
	check("loops", Config{Loops: -1}, "Loops", "must not be negative (0: automatic), got -1")
	check("workers", Config{Workers: -1}, "Workers", "must not be negative (0: automatic), got -1")
	check("max conns", Config{MaxConns: -5}, "MaxConns", "must not be negative (0: automatic), got -5")
	check("work queue", Config{WorkQueue: -1}, "WorkQueue", "must be positive, got -1")
	check("pipelined", Config{MaxPipelined: -1}, "MaxPipelined", "must be positive, got -1")
	check("outbound", Config{MaxOutbound: -1}, "MaxOutbound", "must be positive, got -1")
	check("inbound", Config{MaxInbound: 1 << 10}, "MaxInbound", "must be at least 64KiB (65536), got 1024")
	check("header timeout", Config{HeaderTimeout: -time.Second}, "HeaderTimeout", "must be positive, got -1s")
	check("idle timeout", Config{IdleTimeout: -time.Second}, "IdleTimeout", "must be positive, got -1s")
	check("shutdown timeout", Config{ShutdownTimeout: -time.Second}, "ShutdownTimeout", "must be positive, got -1s")
	check("keep-alive", Config{KeepAlive: time.Second}, "KeepAlive", "must be at least 3s, or negative for off, got 1s")
	check("per address", Config{MaxConnsPerAddr: -2}, "MaxConnsPerAddr", "must be positive, or -1 for no cap, got -2")
	check("trusted proxies", Config{TrustedProxies: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}}, "", "")
	check("invalid proxy", Config{TrustedProxies: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), {}}}, "TrustedProxies[1]", "must be a valid prefix")
	check("log limit", Config{LogLimit: -2}, "LogLimit", "must be positive, or -1 for no limit, got -2")
	check("request line", Config{Limits: httpcodec.Limits{MaxRequestLine: -1}}, "Limits.MaxRequestLine", "must be positive, got -1")
	check("head", Config{Limits: httpcodec.Limits{MaxHeadBytes: -1}}, "Limits.MaxHeadBytes", "must be positive, got -1")
	check("headers", Config{Limits: httpcodec.Limits{MaxHeaders: -1}}, "Limits.MaxHeaders", "must be positive, got -1")
	check("body", Config{Limits: httpcodec.Limits{MaxBodyBytes: -1}}, "Limits.MaxBodyBytes", "must be positive, got -1")
	check("chunk extensions", Config{Limits: httpcodec.Limits{MaxChunkExtBytes: -1}}, "Limits.MaxChunkExtBytes", "must be positive, got -1")
	check("head below the default line", Config{Limits: httpcodec.Limits{MaxHeadBytes: 1 << 10}}, "Limits.MaxHeadBytes",
		fmt.Sprintf("must be at least Limits.MaxRequestLine (%d), got 1024", httpcodec.DefaultMaxRequestLine))
	check("head below the line", Config{Limits: httpcodec.Limits{MaxRequestLine: 4 << 10, MaxHeadBytes: 2 << 10}}, "Limits.MaxHeadBytes",
		"must be at least Limits.MaxRequestLine (4096), got 2048")
}

// TestConfigValidateAll: every problem is reported at once, and New
// refuses the configuration with them.
func TestConfigValidateAll(t *testing.T) {
	c := Config{Addr: "nowhere", Loops: -1, KeepAlive: time.Second, Logger: testkit.Logger()}
	got := testkit.ConfigProblems(t, c.Validate())
	if len(got) != 3 || got["Addr"] == nil || got["Loops"] == nil || got["KeepAlive"] == nil {
		t.Errorf("problems %v; want Addr, Loops and KeepAlive", got)
	}
	if _, err := New(c); err == nil || strings.Count(err.Error(), "\n") != 2 {
		t.Errorf("New: %v; want the three problems", err)
	}
}

// TestClockDemoValidate: the demo clock's caps.
func TestClockDemoValidate(t *testing.T) {
	testkit.CheckConfigError(t, ClockDemo{}.Validate(), "", "")
	testkit.CheckConfigError(t, ClockDemo{MaxStreams: -1}.Validate(), "MaxStreams", "must be positive, got -1")
	testkit.CheckConfigError(t, ClockDemo{MaxPerAddr: -1}.Validate(), "MaxPerAddr", "must be positive, got -1")
	testkit.CheckConfigError(t, ClockDemo{Lifetime: -time.Minute}.Validate(), "Lifetime", "must be positive, got -1m0s")
}

// fieldError is an error of another package's own configuration error type
// (rooms.ConfigError): ConfigErrors reads it through its ConfigField method.
type fieldError struct{ field, problem string }

func (e fieldError) Error() string                        { return e.field + ": " + e.problem }
func (e fieldError) ConfigField() (field, problem string) { return e.field, e.problem }

// TestConfigErrors: the problems of joined errors, at any depth and of
// either type, each under the path given; another error keeps its text.
func TestConfigErrors(t *testing.T) {
	err := errors.Join(
		&ConfigError{Field: "MaxInbound", Problem: "too small"},
		errors.Join(fieldError{"MailboxSize", "must be positive, got -1"}, nil),
		fmt.Errorf("wrapped: %w", &ConfigError{Field: "Limits.MaxHeaders", Problem: "p"}),
		errors.New("something else"),
	)
	var got []string
	for _, e := range ConfigErrors("HTTP", err) {
		got = append(got, e.Error())
	}
	want := []string{"HTTP.MaxInbound: too small", "HTTP.MailboxSize: must be positive, got -1", "HTTP.Limits.MaxHeaders: p", "HTTP: something else"}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("ConfigErrors = %q; want %q", got, want)
	}
	if got := ConfigErrors("", err)[0].Error(); got != "MaxInbound: too small" {
		t.Errorf("ConfigErrors without a path: %q", got)
	}
	if got := ConfigErrors("HTTP", nil); got != nil {
		t.Errorf("ConfigErrors(nil) = %v; want none", got)
	}
}
