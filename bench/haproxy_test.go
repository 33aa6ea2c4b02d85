package main

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/cometplay/cometplay/internal/balancer"
	"github.com/cometplay/cometplay/internal/testkit"
)

// TestBalancers: both balancers a cluster run can use send each request of
// one keep-alive connection to the next node, say which node served it,
// pass the client's address in X-Forwarded-For, and pass a streamed
// response's chunks on as they come. HAProxy is Debian's (make deps
// installs it); the test fails, as the browser tests do, without it.
func TestBalancers(t *testing.T) {
	release := make(chan struct{})
	var backends []balancer.Backend
	for _, name := range []string{"n1", "n2"} {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path == "/stream" {
				w.Header().Set("Content-Type", "text/plain")
				io.WriteString(w, "first\n")
				w.(http.Flusher).Flush()
				select {
				case <-release:
				case <-r.Context().Done():
				}
				io.WriteString(w, "second\n")
				return
			}
			fmt.Fprintf(w, "%s %s", name, r.Header.Get("X-Forwarded-For"))
		}))
		t.Cleanup(srv.Close)
		backends = append(backends, balancer.Backend{Name: name, Addr: strings.TrimPrefix(srv.URL, "http://")})
	}
	for _, kind := range balancers {
		t.Run(kind, func(t *testing.T) {
			addr, stop, err := startBalancer(kind, backends, 100)
			if err != nil {
				t.Fatal(err)
			}
			defer stop()
			c, err := net.Dial("tcp", addr)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			br := bufio.NewReader(c)
			var served []string
			for range 4 {
				c.SetDeadline(time.Now().Add(testkit.Timeout))
				io.WriteString(c, "GET /x HTTP/1.1\r\nHost: game.example\r\n\r\n")
				resp, err := http.ReadResponse(br, nil)
				if err != nil {
					t.Fatal(err)
				}
				body, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				node, xff, _ := strings.Cut(string(body), " ")
				if got := resp.Header.Get("X-Cometplay-Node"); got != node {
					t.Errorf("X-Cometplay-Node %q from %s", got, node)
				}
				if xff != "127.0.0.1" {
					t.Errorf("%s saw X-Forwarded-For %q, want the client's 127.0.0.1", node, xff)
				}
				served = append(served, node)
			}
			for i := 1; i < len(served); i++ {
				if served[i] == served[i-1] {
					t.Errorf("one connection's requests were served by %v: want each by the next node", served)
					break
				}
			}
			// A stream: its first chunk arrives while the node holds the rest.
			c.SetDeadline(time.Now().Add(testkit.Timeout))
			io.WriteString(c, "GET /stream HTTP/1.1\r\nHost: game.example\r\n\r\n")
			resp, err := http.ReadResponse(br, nil)
			if err != nil {
				t.Fatal(err)
			}
			sr := bufio.NewReader(resp.Body)
			if line, err := sr.ReadString('\n'); err != nil || line != "first\n" {
				t.Fatalf("the stream's first chunk: %q, %v", line, err)
			}
			release <- struct{}{}
			if line, err := sr.ReadString('\n'); err != nil || line != "second\n" {
				t.Fatalf("the stream's second chunk: %q, %v", line, err)
			}
			resp.Body.Close()
		})
	}
}

// TestFreeFixedPortIsNotEphemeral: the ports the bench tells its children
// to listen on (route ports, HAProxy's) are below the kernel's ephemeral
// range, where no outgoing connection can take one first.
func TestFreeFixedPortIsNotEphemeral(t *testing.T) {
	b, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range")
	if err != nil {
		t.Skip("no /proc/sys/net/ipv4/ip_local_port_range:", err)
	}
	lo, err := strconv.Atoi(strings.Fields(string(b))[0])
	if err != nil || lo <= 10000 {
		t.Skipf("ephemeral range starts at %q: no room below it", b)
	}
	for range 20 {
		addr, err := freeFixedPort()
		if err != nil {
			t.Fatal(err)
		}
		_, port, _ := net.SplitHostPort(addr)
		if p, _ := strconv.Atoi(port); p < 10000 || p >= lo {
			t.Fatalf("freeFixedPort() = %s, want a port in [10000, %d)", addr, lo)
		}
	}
}
