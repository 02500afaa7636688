// Command demo serves the twinstream demo: a task API whose progress streams
// identically over WebSocket and SSE, chat-style messaging on both
// transports, an event publishing API for the load generator, metrics, and
// the browser demo page.
//
//	go run ./cmd/demo [flags]     (see -h; flags are documented in package server's ParseFlags)
//
// Once listening it prints exactly one line to stdout,
//
//	twinstream demo listening on http://127.0.0.1:8080
//
// which programs that spawn it read to learn the port (use --addr
// 127.0.0.1:0 for a free one). Logs go to stderr. SIGINT or SIGTERM shuts it
// down gracefully (a second signal kills it). Exit status: 0 after a clean
// shutdown, 1 on a runtime error, 2 for bad flags.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/twinstream/twinstream/cmd/demo/internal/server"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	context.AfterFunc(ctx, stop) // owner: main; runs once, at the first signal, so that a second one kills
	os.Exit(run(ctx, os.Args[1:], os.Stdout, os.Stderr))
}

// run parses flags and serves until ctx is done; it returns the exit status.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	cfg, level, err := server.ParseFlags(args, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		fmt.Fprintf(stderr, "demo: %v\nRun demo -h for usage.\n", err)
		return 2
	}
	cfg.Logger = slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))
	if err := server.Run(ctx, cfg, stdout); err != nil {
		fmt.Fprintf(stderr, "demo: %v\n", err)
		return 1
	}
	return 0
}
