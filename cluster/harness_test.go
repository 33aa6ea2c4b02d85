package cluster

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/cometplay/cometplay/comet"
	"github.com/cometplay/cometplay/engine"
	"github.com/cometplay/cometplay/internal/balancer"
	"github.com/cometplay/cometplay/internal/testkit"
)

// The harness: nodes, each an engine server with a comet hub and a Node
// whose NATS server is embedded and routed to the first node's, in one
// process; and two load balancers in front of them, one that picks a node
// per request (as HAProxy's mode http with balance roundrobin, which sends
// consecutive requests of one keep-alive connection to different nodes)
// and one per connection (any L4 balancer).

type testNode struct {
	node *Node
	srv  *engine.Server
	hub  *comet.Hub
}

func (tn *testNode) addr() string { return tn.srv.Addr() }

// eventuallyOr polls cond until it holds, failing the test after d with
// what and say's account of the state then.
func eventuallyOr(t testing.TB, d time.Duration, what string, cond func() bool, say func() string) {
	t.Helper()
	for deadline := time.Now().Add(d); !cond(); time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s; %s", what, say())
		}
	}
}

func startCluster(t testing.TB, n int) []*testNode {
	t.Helper()
	return startClusterWith(t, n, engine.Config{})
}

// startClusterWith starts n nodes whose servers have ecfg's settings.
func startClusterWith(t testing.TB, n int, ecfg engine.Config) []*testNode {
	t.Helper()
	nodes := make([]*testNode, n)
	var first string
	for i := range nodes {
		o := Options{Node: fmt.Sprintf("n%d", i+1), Listen: "127.0.0.1:0", Replicas: min(3, n), Logger: testkit.Logger()}
		if i > 0 {
			o.Routes = []string{first}
		}
		node, err := Start(o)
		if err != nil {
			t.Fatalf("Start %s: %v", o.Node, err)
		}
		if i == 0 {
			first = node.RouteAddr().String()
		}
		ec := ecfg
		ec.Addr, ec.Logger, ec.Loops = "127.0.0.1:0", testkit.Logger(), 2
		srv, err := engine.New(ec)
		if err != nil {
			t.Fatal(err)
		}
		hub, err := comet.NewHub(srv, comet.Config{Cluster: node, MaxSessionsPerAddr: -1, PublishRate: -1})
		if err != nil {
			t.Fatal(err)
		}
		if err := srv.Start(); err != nil {
			t.Fatal(err)
		}
		tn := &testNode{node: node, srv: srv, hub: hub}
		nodes[i] = tn
		t.Cleanup(func() { tn.stop() })
		// A node serves relayed requests on loops it knows: those of its
		// first connections.
		for range 4 {
			testkit.Get(t, srv.Addr(), "/warm")
		}
	}
	testkit.Eventually(t, "every node routed to the others", func() bool {
		for _, tn := range nodes {
			if tn.node.Routes() < n-1 {
				return false
			}
		}
		return true
	})
	for _, tn := range nodes {
		testkit.RecvWithin(t, time.Minute, tn.node.Ready(), "the lease of "+tn.node.Tag()) // JetStream elects its leaders first
	}
	// Interest crosses the routes shortly after they form: wait until each
	// node's subjects have a responder from every node (a request with no
	// responder fails at once; one that reaches the node times out, since
	// an empty message gets no answer).
	for _, from := range nodes {
		for _, to := range nodes {
			subj := "cp.n." + to.node.Tag() + ".req"
			testkit.Eventually(t, "interest in "+subj, func() bool {
				_, err := from.node.nc.Request(subj, nil, 50*time.Millisecond)
				return errors.Is(err, nats.ErrTimeout)
			})
		}
	}
	return nodes
}

func (tn *testNode) stop() {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	tn.srv.Shutdown(ctx)
	tn.node.Close()
}

// perRequestLB is the balancer sending each request to the next node
// (internal/balancer, as make cluster runs it).
func perRequestLB(t *testing.T, nodes []*testNode) string {
	t.Helper()
	var bs []balancer.Backend
	for _, tn := range nodes {
		bs = append(bs, balancer.Backend{Name: tn.node.Tag(), Addr: tn.addr()})
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	hs := &http.Server{Handler: balancer.New(bs)}
	go hs.Serve(l)
	t.Cleanup(func() { hs.Close() })
	return l.Addr().String()
}

// perConnLB forwards each connection to the next node.
func perConnLB(t *testing.T, nodes []*testNode) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	go func() {
		for i := 0; ; i++ {
			c, err := l.Accept()
			if err != nil {
				return
			}
			b, err := net.Dial("tcp", nodes[i%len(nodes)].addr())
			if err != nil {
				c.Close()
				continue
			}
			go func() { io.Copy(b, c); b.Close() }()
			go func() { io.Copy(c, b); c.Close() }()
		}
	}()
	return l.Addr().String()
}

// client is a raw HTTP/1.1 client on one keep-alive connection.
type client struct {
	t  testing.TB
	c  *testkit.Conn
	to string
}

func dial(t testing.TB, addr string) *client {
	return &client{t: t, c: testkit.Dial(t, addr), to: addr}
}

// do sends a GET of /comet with query and returns the JSON events of the
// whole answer.
func (cl *client) do(query string) (int, []map[string]string) {
	cl.t.Helper()
	cl.c.Send("GET /comet?" + query + " HTTP/1.1\r\nHost: t\r\n\r\n")
	r := cl.c.Next("GET")
	if r.StatusCode != 200 {
		return r.StatusCode, nil
	}
	return 200, parseJSON(cl.t, r.Text)
}

func parseJSON(t testing.TB, text string) []map[string]string {
	t.Helper()
	text = strings.TrimSpace(text)
	if strings.HasPrefix(text, "[") {
		var evs []map[string]string
		if err := json.Unmarshal([]byte(text), &evs); err != nil {
			t.Fatalf("answer %q: %v", text, err)
		}
		return evs
	}
	var evs []map[string]string
	for _, line := range strings.Split(text, "\n") {
		if line = strings.TrimSpace(line); line == "" {
			continue
		}
		var ev map[string]string
		if err := json.Unmarshal([]byte(line), &ev); err != nil {
			t.Fatalf("line %q: %v", line, err)
		}
		evs = append(evs, ev)
	}
	return evs
}

// stream is an open stream listen, read event by event.
type stream struct {
	t  testing.TB
	c  net.Conn
	br *bufio.Reader
}

// openStream sends a stream listen on a new connection to addr.
func openStream(t testing.TB, addr, query string) *stream {
	t.Helper()
	c := testkit.Dial(t, addr)
	c.Send("GET /comet?" + query + " HTTP/1.1\r\nHost: t\r\n\r\n")
	resp, err := c.Head("GET")
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	if resp.StatusCode != 200 {
		b, _ := io.ReadAll(resp.Body)
		t.Fatalf("listen: %d %q", resp.StatusCode, b)
	}
	return &stream{t: t, c: c.C, br: bufio.NewReader(resp.Body)}
}

// next returns the next event that is not a heartbeat.
func (s *stream) next() map[string]string {
	s.t.Helper()
	for {
		s.c.SetReadDeadline(time.Now().Add(testkit.Timeout))
		line, err := s.br.ReadString('\n')
		if err != nil {
			s.t.Fatalf("stream: %v", err)
		}
		if line = strings.TrimSpace(line); line == "" {
			continue
		}
		var ev map[string]string
		if err := json.Unmarshal([]byte(line), &ev); err != nil {
			s.t.Fatalf("stream line %q: %v", line, err)
		}
		if ev["p_event"] != "hb" {
			return ev
		}
	}
}

func nodeOf(nodes []*testNode, id string) *testNode {
	for _, tn := range nodes {
		if strings.HasPrefix(id, tn.node.Tag()) {
			return tn
		}
	}
	return nil
}
