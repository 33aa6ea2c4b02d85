package engine

import (
	"sync"

	"github.com/cometplay/cometplay/engine/internal/webfs"
	"github.com/cometplay/cometplay/httpcodec"
)

// serveStatic answers GET and HEAD for paths no route claims, from the
// embedded site and the webroot. With no webroot every file is in memory and
// the request is served on the loop; with a webroot it may touch the disk, so
// it goes to a worker.
func (s *Server) serveStatic(ex *Exchange, req *httpcodec.Request) {
	if s.cfg.Webroot == "" {
		if resp, ok := s.staticMemo.lookup(req); ok {
			ex.respond(resp.Status, resp.Header, resp.Body)
			return
		}
	}
	wr := webfs.Request{
		Method:          string(req.Method),
		Path:            string(req.Path),
		IfNoneMatch:     string(req.Header("If-None-Match")),
		IfModifiedSince: string(req.Header("If-Modified-Since")),
		AcceptEncoding:  string(req.Header("Accept-Encoding")),
	}
	if s.cfg.Webroot == "" {
		resp := s.static.Serve(wr)
		s.staticMemo.store(wr, resp)
		ex.respond(resp.Status, resp.Header, resp.Body)
		return
	}
	s.dispatchWorker(ex, req, func(w *Stream, _ *Request) {
		resp := s.static.Serve(wr)
		w.mu.Lock()
		if w.hdrs == nil {
			w.hdrs = headerSlices.Get().(*[]string)
		}
		*w.hdrs = append(*w.hdrs, resp.Header...)
		w.mu.Unlock()
		w.Respond(resp.Status, "", resp.Body)
	})
}

// staticMemo remembers webfs's answers to unconditional GETs of the
// embedded site (used only without a webroot, where no file can change), per
// path and Accept-Encoding value, so that a hot static file is answered
// without a single allocation. Conditional requests (If-None-Match,
// If-Modified-Since) still go through webfs. It holds at most
// maxStaticMemo answers, so a flood of distinct paths cannot grow it.
type staticMemo struct {
	mu sync.RWMutex
	m  map[string][]memoAnswer // path → answers by Accept-Encoding
	n  int
}

type memoAnswer struct {
	acceptEncoding string
	resp           webfs.Response
}

const (
	maxStaticMemo         = 1024 // answers in all
	maxStaticMemoVariants = 4    // Accept-Encoding values per path
)

func memoable(req *httpcodec.Request) bool {
	m := string(req.Method)
	return (m == "GET" || m == "HEAD") && req.Header("If-None-Match") == nil && req.Header("If-Modified-Since") == nil
}

func (sm *staticMemo) lookup(req *httpcodec.Request) (webfs.Response, bool) {
	if !memoable(req) {
		return webfs.Response{}, false
	}
	ae := req.Header("Accept-Encoding")
	sm.mu.RLock()
	defer sm.mu.RUnlock()
	for _, a := range sm.m[string(req.Path)] {
		if a.acceptEncoding == string(ae) {
			return a.resp, true
		}
	}
	return webfs.Response{}, false
}

func (sm *staticMemo) store(wr webfs.Request, resp webfs.Response) {
	if (wr.Method != "GET" && wr.Method != "HEAD") || wr.IfNoneMatch != "" || wr.IfModifiedSince != "" || resp.Status != 200 {
		return
	}
	sm.mu.Lock()
	defer sm.mu.Unlock()
	if sm.m == nil {
		sm.m = make(map[string][]memoAnswer)
	}
	as := sm.m[wr.Path]
	if sm.n >= maxStaticMemo || len(as) >= maxStaticMemoVariants {
		return
	}
	for _, a := range as {
		if a.acceptEncoding == wr.AcceptEncoding {
			return
		}
	}
	sm.m[wr.Path] = append(as, memoAnswer{wr.AcceptEncoding, resp})
	sm.n++
}
