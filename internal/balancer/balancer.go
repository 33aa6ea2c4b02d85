// Package balancer is a small HTTP load balancer for trying a cluster on
// one machine (make cluster) and for its tests: it sends each request to
// the next node in turn, even the requests of one keep-alive connection
// (as HAProxy's mode http with balance roundrobin does), streams
// responses as they come (a Comet stream's chunks are not held), and says
// which node served a response in its X-Cometplay-Node header. A request
// whose node refuses the connection (a node that died) goes to the next
// node instead (as HAProxy's retries with option redispatch): it was
// never sent.
package balancer

import (
	"bytes"
	"errors"
	"io"
	"net/http"
	"net/http/httputil"
	"net/url"
	"sync/atomic"
	"syscall"
	"time"
)

// Backend is one node: its name (for X-Cometplay-Node) and its address
// (host:port).
type Backend struct {
	Name, Addr string
}

// maxBody bounds a request body the balancer holds to send it again to
// another node (Comet's control requests are a few hundred bytes); a
// larger one is not sent again.
const maxBody = 64 << 10

// New returns the balancer's handler for backends.
func New(backends []Backend) http.Handler {
	var next atomic.Uint32
	pick := func() Backend { return backends[int(next.Add(1)-1)%len(backends)] }
	return &httputil.ReverseProxy{
		Rewrite: func(r *httputil.ProxyRequest) {
			b := pick()
			r.SetURL(&url.URL{Scheme: "http", Host: b.Addr})
			r.Out.Host = r.In.Host // the nodes check same-origin requests against it
			r.SetXForwarded()
			r.Out.Header.Set("X-Cometplay-Balancer-Node", b.Name)
			holdBody(r.Out)
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
		Transport: &redispatch{
			rt:    &http.Transport{MaxIdleConns: 4096, MaxIdleConnsPerHost: 1024, IdleConnTimeout: 90 * time.Second, DisableCompression: true},
			tries: len(backends),
			pick:  pick,
		},
	}
}

// holdBody reads a small request body into memory, so that it can be sent
// again (GetBody).
func holdBody(r *http.Request) {
	if r.Body == nil || r.Body == http.NoBody || r.ContentLength < 0 || r.ContentLength > maxBody {
		return
	}
	b, err := io.ReadAll(io.LimitReader(r.Body, maxBody+1))
	r.Body.Close()
	if err != nil || int64(len(b)) != r.ContentLength {
		r.Body = io.NopCloser(errReader{err})
		return
	}
	r.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(b)), nil }
	r.Body, _ = r.GetBody()
}

type errReader struct{ err error }

func (e errReader) Read([]byte) (int, error) {
	if e.err == nil {
		return 0, io.ErrUnexpectedEOF
	}
	return 0, e.err
}

// redispatch sends a request whose node refused the connection to the next
// node, up to tries nodes in all.
type redispatch struct {
	rt    http.RoundTripper
	tries int
	pick  func() Backend
}

func (d *redispatch) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := d.rt.RoundTrip(req)
	for try := 1; try < d.tries && err != nil && errors.Is(err, syscall.ECONNREFUSED); try++ {
		if req.Body != nil && req.Body != http.NoBody && req.GetBody == nil {
			break // not held: it cannot be sent again
		}
		b := d.pick()
		req = req.Clone(req.Context())
		req.URL.Host = b.Addr
		req.Header.Set("X-Cometplay-Balancer-Node", b.Name)
		if req.GetBody != nil {
			if req.Body, err = req.GetBody(); err != nil {
				return nil, err
			}
		}
		resp, err = d.rt.RoundTrip(req)
	}
	return resp, err
}
