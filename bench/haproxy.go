package main

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"text/template"
	"time"

	"github.com/cometplay/cometplay/internal/balancer"
)

// Balancers a cluster run can put in front of its nodes (-balancer).
const (
	// balancerGo is internal/balancer, the per-request round-robin
	// reverse proxy of make cluster, in the bench's own process.
	balancerGo = "go"
	// balancerHAProxy is Debian's HAProxy in a process of its own,
	// configured as docs/CLUSTER.md advises: mode http, balance
	// roundrobin (each request of a keep-alive connection to the next
	// node), option http-no-delay.
	balancerHAProxy = "haproxy"
)

var balancers = []string{balancerGo, balancerHAProxy}

// haproxyPath is where Debian installs HAProxy (scripts/test-deps.sh).
const haproxyPath = "/usr/sbin/haproxy"

// haproxyConfig is the configuration the bench gives HAProxy. Timeouts are
// long: a Comet stream is one response for the whole run, and a player's
// control connection may wait seconds between two moves. maxconn keeps two
// descriptors a connection (the client's and the node's) under the 20,000
// files a process may open here.
var haproxyConfig = template.Must(template.New("haproxy").Parse(`global
	maxconn {{.MaxConn}}
	nbthread {{.Threads}}
	log stderr format short local0 err

defaults
	mode http
	log global
	option http-no-delay
	option forwardfor
	timeout connect 5s
	timeout client 30m
	timeout server 30m
	timeout http-request 30s
	timeout http-keep-alive 30m

frontend players
	bind {{.Addr}}
	default_backend nodes

backend nodes
	balance roundrobin
	http-reuse always
	http-response set-header X-Cometplay-Node %[srv_name]
{{- range .Backends}}
	server {{.Name}} {{.Addr}}
{{- end}}
`))

// balancerMaxConn is the most client connections the balancer takes: two
// descriptors each (the client's, the node's) under the 20,000 files a
// process may open here.
const balancerMaxConn = 9500

// balancerName says which balancer a run used, for the reports' tables.
func balancerName(kind string) string {
	if kind == balancerGo {
		return "internal/balancer"
	}
	return "HAProxy"
}

// balancerText describes the balancer of a run, for the reports' text.
func balancerText(kind string) string {
	if kind == balancerGo {
		return "`internal/balancer`, the per-request round-robin reverse proxy `make cluster` runs, in the bench's own process (`-balancer go`)"
	}
	return "Debian's HAProxy in a process of its own: `mode http`, `balance roundrobin` (each request to the next node, even the requests of one keep-alive connection), `option http-no-delay`, `http-reuse always` (`-balancer haproxy`)"
}

// haproxy is a running HAProxy process.
type haproxy struct {
	Addr string
	cmd  *exec.Cmd
	dir  string
	log  *tailBuffer
	exit chan struct{}
}

// startHAProxy starts HAProxy in front of backends on a free loopback port
// and waits until it accepts connections.
func startHAProxy(backends []balancer.Backend, maxConn int) (*haproxy, error) {
	if _, err := os.Stat(haproxyPath); err != nil {
		return nil, fmt.Errorf("bench: -balancer haproxy needs Debian's haproxy at %s (make test-deps installs it): %w", haproxyPath, err)
	}
	addr, err := freeFixedPort()
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "bench-haproxy-")
	if err != nil {
		return nil, err
	}
	var cfg bytes.Buffer
	if err := haproxyConfig.Execute(&cfg, map[string]any{"Addr": addr, "Backends": backends, "MaxConn": maxConn, "Threads": 2}); err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	file := filepath.Join(dir, "haproxy.cfg")
	if err := os.WriteFile(file, cfg.Bytes(), 0o600); err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	// -db: stay in the foreground, as our child; the kernel stops it if
	// the bench dies.
	cmd := exec.Command(haproxyPath, "-db", "-f", file)
	h := &haproxy{Addr: addr, cmd: cmd, dir: dir, log: &tailBuffer{max: 8 << 10}, exit: make(chan struct{})}
	cmd.Stdout, cmd.Stderr = h.log, h.log
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL, Setpgid: true}
	if err := cmd.Start(); err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("bench: starting haproxy: %w", err)
	}
	go func() {
		cmd.Wait()
		close(h.exit)
	}()
	deadline := time.Now().Add(startTimeout)
	for {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			c.Close()
			return h, nil
		}
		select {
		case <-h.exit:
			os.RemoveAll(dir)
			return nil, fmt.Errorf("bench: haproxy exited at start: %s", h.log.String())
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			h.stop()
			return nil, fmt.Errorf("bench: haproxy did not listen on %s within %v: %s", addr, startTimeout, h.log.String())
		}
	}
}

// stop ends the process (SIGTERM: HAProxy's hard stop) and waits for it.
func (h *haproxy) stop() {
	h.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-h.exit:
	case <-time.After(5 * time.Second):
		h.cmd.Process.Kill()
		<-h.exit
	}
	os.RemoveAll(h.dir)
}

// startBalancer starts the balancer kind names in front of backends; it
// returns the address the players use and how to stop it.
func startBalancer(kind string, backends []balancer.Backend, maxConn int) (string, func(), error) {
	switch kind {
	case balancerHAProxy:
		h, err := startHAProxy(backends, maxConn)
		if err != nil {
			return "", nil, err
		}
		return h.Addr, h.stop, nil
	case balancerGo, "":
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return "", nil, err
		}
		hs := &http.Server{Handler: balancer.New(backends)}
		go hs.Serve(l)
		return l.Addr().String(), func() { hs.Close() }, nil
	}
	return "", nil, errors.New("bench: unknown balancer " + kind)
}
