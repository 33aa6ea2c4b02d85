package main

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestMain lets the test binary act as a server child: StartChild runs it as
// `bench.test serve ...` (see childCommand).
func TestMain(m *testing.M) {
	if len(os.Args) > 1 && os.Args[1] == "serve" {
		if err := serveMain(os.Args[2:]); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(2)
		}
		os.Exit(0)
	}
	if len(os.Args) > 1 && os.Args[1] == "loadchild" {
		if err := loadChildMain(context.Background(), os.Stdin, os.Stdout); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(2)
		}
		os.Exit(0)
	}
	childCommand = func(args []string) (*exec.Cmd, error) {
		return exec.Command(os.Args[0], append([]string{"serve"}, args...)...), nil
	}
	loadCommand = func() (*exec.Cmd, error) {
		return exec.Command(os.Args[0], "loadchild"), nil
	}
	os.Exit(m.Run())
}

func TestRunLoadNetHTTP(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/chunked" {
			w.Write([]byte("part one "))
			w.(http.Flusher).Flush()
			w.Write([]byte("part two"))
			return
		}
		w.Write([]byte("hello"))
	}))
	t.Cleanup(srv.Close)
	addr := srv.Listener.Addr().String()

	tests := []struct {
		name            string
		cfg             LoadConfig
		wantSamples     uint64
		wantMinBodySize int64
	}{
		{"1 conn 100 requests", LoadConfig{Conns: 1, Requests: 100}, 100, 5},
		{"pipelined 4", LoadConfig{Conns: 1, Requests: 100, Pipeline: 4}, 25, 5},
		{"3 conns uneven count", LoadConfig{Conns: 3, Requests: 101, Pipeline: 2}, 51, 5},
		{"chunked", LoadConfig{Conns: 2, Requests: 50, Path: "/chunked"}, 50, 17},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := tt.cfg
			cfg.Addr = addr
			res, err := RunLoad(context.Background(), cfg)
			if err != nil {
				t.Fatal(err)
			}
			if res.Requests != cfg.Requests || res.Status[2] != cfg.Requests || res.Errors != 0 || res.Reconnects != 0 {
				t.Fatalf("result:\n%s\nwant %d 2xx responses, no errors or reconnects", res, cfg.Requests)
			}
			if res.Latency.Count() != tt.wantSamples {
				t.Errorf("latency samples = %d; want %d (one per batch)", res.Latency.Count(), tt.wantSamples)
			}
			if res.BytesIn < cfg.Requests*(tt.wantMinBodySize+40) {
				t.Errorf("BytesIn = %d; too small for %d responses", res.BytesIn, cfg.Requests)
			}
			if res.RPS() <= 0 || !strings.Contains(res.String(), "req/s") {
				t.Errorf("RPS() = %v, String() = %q", res.RPS(), res.String())
			}
		})
	}
}

func TestRunLoadDurationAndErrors(t *testing.T) {
	t.Parallel()
	// A server that closes the connection after every response: the load
	// goes on over new connections, without errors.
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Connection", "close")
		w.Write([]byte("x"))
	}))
	t.Cleanup(srv.Close)
	res, err := RunLoad(context.Background(), LoadConfig{Addr: srv.Listener.Addr().String(), Conns: 2, Duration: 200 * time.Millisecond, Warmup: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if res.Requests == 0 || res.Reconnects < res.Requests-2 || res.Errors != 0 || res.Latency.Count() != uint64(res.Requests) {
		t.Errorf("closing server:\n%s\nwant a reconnect per response and no errors", res)
	}
	if res.Elapsed < 200*time.Millisecond || res.Elapsed > 2*time.Second {
		t.Errorf("Elapsed = %v; want about 200ms", res.Elapsed)
	}

	// Nothing listening: every request is an error, and the run still ends.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := ln.Addr().String()
	ln.Close()
	res, err = RunLoad(context.Background(), LoadConfig{Addr: dead, Requests: 3, Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	if res.Errors != 3 || res.Requests != 0 || len(res.ErrorSample) == 0 {
		t.Errorf("dead server:\n%s\nwant 3 errors", res)
	}

	if _, err := RunLoad(context.Background(), LoadConfig{Addr: dead}); err == nil {
		t.Error("RunLoad without duration or count succeeded")
	}
}

func TestRunLoadCancel(t *testing.T) {
	t.Parallel()
	// A server that never answers: cancelling the context ends the run.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			t.Cleanup(func() { c.Close() })
		}
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	start := time.Now()
	res, err := RunLoad(ctx, LoadConfig{Addr: ln.Addr().String(), Conns: 3, Duration: time.Minute, Timeout: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	if took := time.Since(start); took > 5*time.Second || res.Requests != 0 {
		t.Errorf("cancelled run took %v with %d responses; want a quick end, none", took, res.Requests)
	}
}

// TestServerKinds serves the comparison's file from each kind of server in
// this process and checks that they send the same bytes.
func TestServerKinds(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	sizes := map[string]int64{}
	t.Cleanup(func() {
		// After the parallel subtests.
		for _, k := range serverKinds {
			if sizes[k] != sizes[serverKinds[0]] {
				t.Errorf("response sizes differ between servers: %v", sizes)
			}
		}
	})
	for _, kind := range serverKinds {
		t.Run(kind, func(t *testing.T) {
			t.Parallel()
			srv, err := startServer(kind, "127.0.0.1:0", nil, serverOptions{})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() {
				ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
				defer cancel()
				if err := srv.Stop(ctx); err != nil {
					t.Errorf("Stop: %v", err)
				}
			})
			p, err := probeServer(srv.Addr, staticPath)
			if err != nil || p.Status != 200 {
				t.Fatalf("probe = %+v, %v", p, err)
			}
			if kind == kindCometplay {
				// Its Handler answers the same bytes.
				h, err := probeServer(srv.Addr, handlerPath)
				if err != nil || h.Status != 200 || h.WireLen != p.WireLen {
					t.Errorf("Handler probe = %+v, %v; want the static file's %d bytes:\n%s", h, err, p.WireLen, p.Head)
				}
			}
			mu.Lock()
			sizes[kind] = p.WireLen
			mu.Unlock()
			for _, h := range []string{"Content-Type: text/plain; charset=utf-8", "Cache-Control: no-cache", "X-Content-Type-Options: nosniff", "ETag: ", "Last-Modified: ", "Date: "} {
				if !strings.Contains(p.Head, h) {
					t.Errorf("response head lacks %q:\n%s", h, p.Head)
				}
			}
			res, err := RunLoad(context.Background(), LoadConfig{Addr: srv.Addr, Path: staticPath, Conns: 2, Pipeline: 4, Requests: 200})
			if err != nil {
				t.Fatal(err)
			}
			if res.Status[2] != 200 || res.Errors != 0 {
				t.Errorf("load:\n%s", res)
			}
			if res.BytesIn != 200*p.WireLen {
				t.Errorf("BytesIn = %d; want 200 × %d", res.BytesIn, p.WireLen)
			}
		})
	}
}

// TestHTTPCommand runs the whole comparison briefly with child processes and
// checks the RESULTS.md section and the charts.
func TestHTTPCommand(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	out := filepath.Join(dir, "RESULTS.md")
	if err := os.WriteFile(out, []byte("# results\n\n<!-- bench:other:start -->\nkeep me\n<!-- bench:other:end -->\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	args := []string{"http", "-out", out, "-rounds", "2", "-d", "80ms", "-warmup", "20ms", "-c", "1,100", "-pipeline", "2", "-procs", "1"}
	s, stdout := runCommand(t, args, out)
	for _, want := range []string{
		"keep me", "<!-- bench:http:start -->", "<!-- bench:http:end -->",
		"go run ./bench http -out " + out, "| 100 | 2 | cometplay |", "| 100 | 2 | cometplay Handler |", "| 100 | 2 | net/http |", "| 100 | 2 | bare gnet |",
		"req/s ≥ 2× net/http", "| a Handler's req/s ≥ 0.5× the static path | c=100 p=2 |", "charts/http-throughput.svg", "charts/http-latency-c100-p2.svg", "Go: go",
	} {
		if !strings.Contains(s, want) {
			t.Errorf("RESULTS.md lacks %q:\n%s", want, s)
		}
	}
	for _, name := range []string{"http-throughput.svg", "http-latency-c1-p2.svg", "http-latency-c100-p2.svg"} {
		svg, err := os.ReadFile(filepath.Join(dir, "charts", name))
		if err != nil {
			t.Fatal(err)
		}
		parseSVG(t, svg)
	}
	if !strings.Contains(stdout, "wrote "+out) {
		t.Errorf("stdout = %q", stdout)
	}
}
