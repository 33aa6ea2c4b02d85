package main

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/cometplay/cometplay/cluster"
	"github.com/cometplay/cometplay/comet"
	"github.com/cometplay/cometplay/engine"
	"github.com/cometplay/cometplay/games"
	"github.com/cometplay/cometplay/internal/balancer"
	"github.com/cometplay/cometplay/internal/browsertest"
	"github.com/cometplay/cometplay/internal/testkit"
)

// startClusterSite starts the example server as three nodes of a cluster
// (their NATS servers embedded and routed to each other) behind the
// balancer that make cluster runs, which sends each request to the next
// node: the site is the balancer's address.
func startClusterSite(t *testing.T) (*site, []*server, []*cluster.Node) {
	t.Helper()
	var (
		servers []*server
		nodes   []*cluster.Node
		first   string
		bs      []balancer.Backend
	)
	for i := range 3 {
		o := cluster.Options{Node: fmt.Sprintf("n%d", i+1), Listen: "127.0.0.1:0", Replicas: 3, Logger: slog.New(slog.DiscardHandler)}
		if i > 0 {
			o.Routes = []string{first}
		}
		node, err := cluster.Start(o)
		if err != nil {
			t.Fatal(err)
		}
		if i == 0 {
			first = node.RouteAddr().String()
		}
		s, err := newServer(config{Config: games.Config{
			HTTP:    engine.Config{Addr: "127.0.0.1:0"},
			Logger:  slog.New(slog.DiscardHandler),
			Comet:   comet.Config{PollWaitMin: 50, PollWaitMax: 150, DetachGrace: 300 * time.Millisecond},
			Cluster: node,
			Admin:   games.AdminConfig{Token: adminTestToken, Interval: 200 * time.Millisecond},
			Metrics: true,
		}})
		if err != nil {
			t.Fatal(err)
		}
		if err := s.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			s.Shutdown(ctx)
			node.Close()
		})
		testkit.Get(t, s.Addr(), "/")
		servers, nodes = append(servers, s), append(nodes, node)
		bs = append(bs, balancer.Backend{Name: node.Tag(), Addr: s.Addr()})
	}
	testkit.Eventually(t, "the nodes to know each other", func() bool {
		for _, n := range nodes {
			if len(n.Peers()) < 2 {
				return false
			}
		}
		return true
	})
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	hs := &http.Server{Handler: balancer.New(bs)}
	go hs.Serve(l)
	t.Cleanup(func() { hs.Close() })
	return &site{t: t, s: servers[0], base: "http://" + l.Addr().String() + "/"}, servers, nodes
}

// TestBrowserCluster: two players in Chromium play a whole game through
// the balancer in front of three nodes, each request of their pages going
// to the next node: one streams, the other long-polls.
func TestBrowserCluster(t *testing.T) {
	b := browsertest.Start(t)
	st, servers, nodes := startClusterSite(t)
	ann := st.join(t, b.NewContext(t), "Ann", "stream")
	bob := st.join(t, b.NewContext(t), "Bob", "long-poll")
	quickMatch(t, ann, bob)
	play(t, [2]*player{ann, bob}, nil, nil, 0, 3, 1, 4, 2)
	for _, pl := range []*player{ann, bob} {
		pl.waitGame("the result", `g.state === 'finished'`)
	}
	if v := ann.view(); v.Result != "win" {
		t.Errorf("Ann: result %q %q; want a win", v.Result, v.ResultText)
	}
	if v := bob.view(); v.Result != "loss" {
		t.Errorf("Bob: result %q %q; want a loss", v.Result, v.ResultText)
	}
	// The pages' requests went through every node, and those for a
	// session of another node were relayed to it.
	var relayed int64
	for i, s := range servers {
		if st := s.HTTP().Stats(); st.Requests == 0 {
			t.Errorf("node n%d served no request", i+1)
		}
		relayed += nodes[i].Stats().RelaysOut
	}
	if relayed == 0 {
		t.Error("no request was relayed to its session's node")
	}

	// The admin console of a node shows the cluster.
	page := b.NewContext(t).NewPage(t, "http://"+servers[1].Addr()+"/admin/")
	page.SetName("admin")
	page.WaitFor("the sign-in form", `!!document.getElementById('login')`, wait)
	page.Run(`(() => {
		document.getElementById('token').value = ` + jsString(adminTestToken) + `;
		document.getElementById('login').requestSubmit();
	})()`)
	deadline := time.Now().Add(wait)
	row := func(label, value string) string {
		return `[...document.querySelectorAll('#cluster tr')].some((tr) => tr.innerText.includes(` + jsString(label) + `) && tr.cells[1].textContent === ` + jsString(value) + `)`
	}
	// The node hears of the two others and holds its lease (JetStream).
	cond := `!document.getElementById('cluster-card').hidden && ` + row("other nodes heard of", "2") + ` && ` + row("lease held (1: yes)", "1")
	for {
		err := page.Poll(cond, time.Until(deadline)) // across the sign-in's navigation
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the console's cluster card: %v", err)
		}
	}
}
