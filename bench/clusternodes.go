package main

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/cometplay/cometplay/internal/balancer"
)

// startPlayersServers starts the server of a players run: one games server,
// or with o.Nodes > 1 that many nodes of a cluster (their NATS servers
// embedded and routed to each other) behind the per-request balancer in
// this process. It returns the games node's child (whose figures the run
// reports), the address the players use and how to stop it all.
func startPlayersServers(ctx context.Context, o playersOptions, procs int) (*Child, string, func(io.Writer), error) {
	if o.Nodes <= 1 && !o.Balance {
		srv, err := StartChild(ServerSpec{Kind: kindGames, Procs: o.ServerProcs, Env: o.Env, Args: o.serverArgs(procs)})
		if err != nil {
			return nil, "", nil, err
		}
		return srv, srv.Addr, func(progress io.Writer) { stopChild(srv, progress) }, nil
	}
	nodes := max(1, o.Nodes)
	children, err := startClusterNodes(ctx, o, procs, nodes)
	if err != nil {
		return nil, "", nil, err
	}
	stop := func(progress io.Writer) {
		for _, c := range children {
			stopChild(c, progress)
		}
	}
	var bs []balancer.Backend
	for i, c := range children {
		bs = append(bs, balancer.Backend{Name: "n" + strconv.Itoa(i+1), Addr: c.Addr})
	}
	addr, stopBalancer, err := startBalancer(o.Balancer, bs, balancerMaxConn)
	if err != nil {
		stop(io.Discard)
		return nil, "", nil, err
	}
	return children[0], addr, func(progress io.Writer) {
		stopBalancer()
		stop(progress)
	}, nil
}

// startClusterNodes starts nodes `bench serve -kind games -node nX`
// children (n1 the games node), their NATS servers embedded and routed to
// each other, and waits until every node hears of the others. One node is
// a plain games server (no cluster). On an error, the children started are
// stopped.
func startClusterNodes(ctx context.Context, o playersOptions, procs, nodes int) ([]*Child, error) {
	// Route ports picked now: each node is told every other's. Not from
	// the kernel's ephemeral range (port 0), where a connection made
	// meanwhile (the previous run's thousands, the balancer's) can take
	// one before its node listens on it: a node then fails to start.
	ports := make([]string, nodes)
	for i := range ports {
		for ports[i] == "" || slices.Contains(ports[:i], ports[i]) {
			p, err := freeFixedPort()
			if err != nil {
				return nil, err
			}
			ports[i] = p
		}
	}
	var children []*Child
	fail := func(err error) ([]*Child, error) {
		for _, c := range children {
			stopChild(c, io.Discard)
		}
		return nil, err
	}
	for i := range nodes {
		var others []string
		for j, p := range ports {
			if j != i {
				others = append(others, p)
			}
		}
		args := append(o.serverArgs(procs), "-node", "n"+strconv.Itoa(i+1), "-cluster-listen", ports[i], "-cluster-routes", strings.Join(others, ","))
		if o.NoTurnLog {
			args = append(args, "-no-turn-log")
		}
		if nodes == 1 {
			args = o.serverArgs(procs) // one node behind the balancer: no cluster
		}
		c, err := StartChild(ServerSpec{Kind: kindGames, Procs: o.ServerProcs, Env: o.Env, Args: args})
		if err != nil {
			return fail(err)
		}
		children = append(children, c)
	}
	// Ready when every node hears of the others.
	deadline := time.Now().Add(30 * time.Second)
	for _, c := range children {
		for {
			st, err := debugStats(c.Addr)
			if err == nil {
				if cl, ok := st["cluster"].(map[string]any); ok {
					if peers, ok := cl["peers"].([]any); ok && len(peers) == nodes-1 {
						break
					}
				} else if nodes == 1 {
					break
				}
			}
			if time.Now().After(deadline) {
				return fail(fmt.Errorf("bench: the cluster's nodes did not meet within 30s"))
			}
			if err := sleepCtx(ctx, 100*time.Millisecond); err != nil {
				return fail(err)
			}
		}
	}
	return children, nil
}

func stopChild(c *Child, progress io.Writer) {
	sctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	if err := c.Stop(sctx); err != nil {
		fmt.Fprintln(progress, err)
	}
}

// freeFixedPort returns a free 127.0.0.1 address for a child process to
// listen on, below the kernel's ephemeral range
// (net.ipv4.ip_local_port_range), which outgoing connections never take
// (a port picked from it may be taken by one before the child listens);
// one of that range (port 0) if none is found.
func freeFixedPort() (string, error) {
	lo := 32768 // Linux's default start of the range
	if b, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range"); err == nil {
		if f := strings.Fields(string(b)); len(f) == 2 {
			if v, err := strconv.Atoi(f[0]); err == nil {
				lo = v
			}
		}
	}
	const from = 10000
	for range 100 {
		if lo <= from {
			break
		}
		addr := "127.0.0.1:" + strconv.Itoa(from+rand.IntN(lo-from))
		if l, err := net.Listen("tcp", addr); err == nil {
			l.Close()
			return addr, nil
		}
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer l.Close()
	return l.Addr().String(), nil
}
