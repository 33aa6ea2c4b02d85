package engine

import (
	"github.com/cometplay/cometplay/engine/internal/webfs"
	"github.com/cometplay/cometplay/httpcodec"
)

// serveStatic answers GET and HEAD for paths no route claims, from the
// embedded site and the webroot. With no webroot every file is in memory and
// the request is served on the loop; with a webroot it may touch the disk, so
// it goes to a worker.
func (s *Server) serveStatic(ex *exchange, req *httpcodec.Request) {
	wr := webfs.Request{
		Method:          string(req.Method),
		Path:            string(req.Path),
		IfNoneMatch:     string(req.Header("If-None-Match")),
		IfModifiedSince: string(req.Header("If-Modified-Since")),
		AcceptEncoding:  string(req.Header("Accept-Encoding")),
	}
	if s.cfg.Webroot == "" {
		resp := s.static.Serve(wr)
		ex.respond(resp.Status, resp.Header, resp.Body)
		return
	}
	s.dispatchWorker(ex, req, func(w *Stream, _ *Request) {
		resp := s.static.Serve(wr)
		w.mu.Lock()
		w.hdrs = append(w.hdrs, resp.Header...)
		w.mu.Unlock()
		w.Respond(resp.Status, "", resp.Body)
	})
}
