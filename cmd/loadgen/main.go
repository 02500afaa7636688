// Command loadgen measures twinstream's transports side by side: every
// scenario runs the same workload over WebSocket and SSE and reports both.
//
//	go run ./cmd/loadgen                                  # default comparison: spawns the demo server, runs every scenario, writes results/
//	go run ./cmd/loadgen fanout --subscribers 5000 --rate 20 --size 256 --duration 60s
//	go run ./cmd/loadgen sweep --subscribers 5000                  # rate rising until p99 from schedule passes 1 s
//	go run ./cmd/loadgen connect --connections 19000 --hold 60s
//	go run ./cmd/loadgen reconnect --subscribers 10000
//	go run ./cmd/loadgen tasks --tasks 50 --watchers 20
//	go run ./cmd/loadgen report results/fanout-*.json     # Markdown + SVG charts next to each JSON
//	go run ./cmd/loadgen full                             # the committed comparison (long)
//
// Flag names are a public interface; see `loadgen help` or package
// cmd/loadgen/internal/cli. Live progress goes to stderr once a second;
// Ctrl-C stops the run and still writes what was measured ("interrupted":
// true). Exit status: 0 done, 1 error, 2 bad usage, 130 interrupted.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/twinstream/twinstream/cmd/loadgen/internal/cli"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	context.AfterFunc(ctx, stop) // after the first signal, a second one kills
	os.Exit(cli.Run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}
