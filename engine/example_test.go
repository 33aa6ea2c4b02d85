package engine_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"

	"github.com/cometplay/cometplay/engine"
)

// A handler parks its request and returns at once, freeing its worker;
// another goroutine answers it later, when the awaited event happens (here
// a "move" arriving on a channel, as a game room would send one).
func ExampleStream_Park() {
	srv, err := engine.New(engine.Config{
		Addr:   "127.0.0.1:0",
		Logger: slog.New(slog.DiscardHandler),
	})
	if err != nil {
		panic(err)
	}
	waiting := make(chan *engine.Stream, 1)
	srv.Handle("GET", "/wait", func(w *engine.Stream, r *engine.Request) {
		w.Park() // respond later, from any goroutine
		waiting <- w
	})
	if err := srv.Start(); err != nil {
		panic(err)
	}
	defer srv.Shutdown(context.Background())

	moves := make(chan string, 1)
	go func() {
		w := <-waiting // the parked request
		move := <-moves
		w.Respond(http.StatusOK, "text/plain; charset=utf-8", []byte("opponent played "+move))
	}()
	moves <- "e4"

	resp, err := http.Get("http://" + srv.Addr() + "/wait")
	if err != nil {
		panic(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	fmt.Println(resp.Status)
	fmt.Println(string(body))
	// Output:
	// 200 OK
	// opponent played e4
}
