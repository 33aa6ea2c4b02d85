// Command nim serves the Nim game of docs/ROOMS.md: a complete game server
// in a dozen lines, with the lobby and the embedded site (its Nim page is
// static/nim.html).
package main

import (
	"context"
	"log"
	"os"
	"os/signal"
	"syscall"

	"github.com/cometplay/cometplay/engine"
	"github.com/cometplay/cometplay/games"
	"github.com/cometplay/cometplay/rooms"
	"github.com/cometplay/cometplay/rooms/example/nim"
	"github.com/cometplay/cometplay/static"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := serve(ctx, "127.0.0.1:8081"); err != nil {
		log.Fatal(err)
	}
}

// serve runs the game server on addr until ctx is done.
func serve(ctx context.Context, addr string) error {
	srv, err := games.New(games.Config{
		HTTP:  engine.Config{Addr: addr, Static: static.FS()},
		Games: []rooms.Game{nim.Game},
	})
	if err != nil {
		return err
	}
	if err := srv.Start(); err != nil {
		return err
	}
	log.Printf("Nim is running: open http://%s/nim.html", srv.Addr())
	<-ctx.Done()
	return srv.Shutdown(context.Background())
}
