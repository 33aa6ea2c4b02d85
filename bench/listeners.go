package main

import (
	"context"
	"errors"
)

type listenersConfig struct{}

func runListenersChild(ctx context.Context, cfg listenersConfig, cmds <-chan string, out *lineWriter) error {
	return errors.New("todo")
}
