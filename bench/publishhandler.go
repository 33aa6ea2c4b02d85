package main

import (
	"github.com/cometplay/cometplay/comet"
	"github.com/cometplay/cometplay/engine"
)

// benchPublishPath is a Handler of the games kind that publishes from user
// code, as a game server's own HTTP endpoint would:
//
//	GET /bench/publish?subject=S&k=K&t=T → 204 once Hub.Publish(S, "k", K, "t", T) returned
//
// The listeners scenario times its answer while the event fans out to
// thousands of listeners: a publish must not hold its caller behind the
// fan-out.
const benchPublishPath = "/bench/publish"

// mountBenchPublish registers benchPublishPath on srv (run on the engine's
// workers, like every Handler).
func mountBenchPublish(srv *engine.Server, hub *comet.Hub) {
	srv.Handle("GET", benchPublishPath, func(w *engine.Stream, r *engine.Request) {
		q := r.Query()
		if err := hub.Publish(q.Get("subject"), "k", q.Get("k"), "t", q.Get("t")); err != nil {
			_ = w.Respond(400, "text/plain; charset=utf-8", []byte(err.Error()+"\n")) // an error means the client left
			return
		}
		_ = w.Respond(204, "", nil)
	})
}
