// Command tictactoe runs the cometplay example server: the lobby, the
// tictactoe game, the pages, and the Pushlet protocol.
package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/pkg/profile"

	"github.com/cometplay/cometplay/engine"
)

func main() {
	addr := flag.String("addr", engine.DefaultAddr, "listen address host:port")
	webroot := flag.String("webroot", "", "directory whose files override and extend the embedded static/ site")
	prof := flag.String("profile", "", "profile the run with pkg/profile: cpu|mem|block|mutex|trace (written to ./profile-*)")
	flag.Parse()

	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	slog.SetDefault(log)

	if *prof != "" {
		mode, ok := profileModes[*prof]
		if !ok {
			fmt.Fprintf(os.Stderr, "-profile: unknown mode %q (want cpu|mem|block|mutex|trace)\n", *prof)
			os.Exit(2)
		}
		defer profile.Start(mode, profile.ProfilePath("."), profile.NoShutdownHook).Stop()
	}

	s, err := newServer(config{Addr: *addr, Webroot: *webroot, Logger: log, StaticModTime: startTime()})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	if err := s.start(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	fmt.Printf("cometplay is running: open http://%s/\n", s.srv.Addr())

	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGINT, syscall.SIGTERM)
	<-sig
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := s.shutdown(ctx); err != nil {
		log.Error("shutdown", "err", err)
	}
}

var profileModes = map[string]func(*profile.Profile){
	"cpu":   profile.CPUProfile,
	"mem":   profile.MemProfile,
	"block": profile.BlockProfile,
	"mutex": profile.MutexProfile,
	"trace": profile.TraceProfile,
}

// startTime is the Last-Modified of embedded files: the executable's mtime.
func startTime() time.Time {
	if exe, err := os.Executable(); err == nil {
		if fi, err := os.Stat(exe); err == nil {
			return fi.ModTime()
		}
	}
	return time.Now()
}
