// Package balancer is a small HTTP load balancer for trying a cluster on
// one machine (make cluster) and for its tests: it sends each request to
// the next node in turn, even the requests of one keep-alive connection
// (as HAProxy's mode http with balance roundrobin does), streams
// responses as they come (a Comet stream's chunks are not held), and says
// which node served a response in its X-Cometplay-Node header.
package balancer

import (
	"net/http"
	"net/http/httputil"
	"net/url"
	"sync/atomic"
	"time"
)

// Backend is one node: its name (for X-Cometplay-Node) and its address
// (host:port).
type Backend struct {
	Name, Addr string
}

// New returns the balancer's handler for backends.
func New(backends []Backend) http.Handler {
	var next atomic.Uint32
	return &httputil.ReverseProxy{
		Rewrite: func(r *httputil.ProxyRequest) {
			b := backends[int(next.Add(1)-1)%len(backends)]
			r.SetURL(&url.URL{Scheme: "http", Host: b.Addr})
			r.Out.Host = r.In.Host // the nodes check same-origin requests against it
			r.SetXForwarded()
			r.Out.Header.Set("X-Cometplay-Balancer-Node", b.Name)
		},
		ModifyResponse: func(resp *http.Response) error {
			resp.Header.Set("X-Cometplay-Node", resp.Request.Header.Get("X-Cometplay-Balancer-Node"))
			return nil
		},
		// Flush at once: a stream's chunks reach the client as the node
		// writes them.
		FlushInterval: -1,
		// Keep connections to the nodes for the next requests: every
		// request of every client goes through them.
		Transport: &http.Transport{MaxIdleConns: 4096, MaxIdleConnsPerHost: 1024, IdleConnTimeout: 90 * time.Second, DisableCompression: true},
	}
}
