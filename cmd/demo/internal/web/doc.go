// Package web serves the twinstream browser demo: a single page that watches
// the same server task over WebSocket (left) and SSE (right), with failure
// buttons, a chat strip and a measured WS-vs-SSE comparison table.
//
// The page is plain ES modules (no build step) embedded in the binary with
// //go:embed, so `go run ./cmd/demo` needs no npm. Mount [Handler] at GET /.
package web
