// Package web serves the twinstream browser demo: one page that follows the
// same server task over WebSocket (left panel) and SSE (right panel), with
// failure buttons (client-side drop, server-side kill), a chat strip and a
// WS-vs-SSE table fed by what the browser measured.
//
// The page is plain ES modules, no build step, embedded in the binary with
// //go:embed so `go run ./cmd/demo` needs no npm. Mount [Handler] at GET /
// (the demo server does). Files, in static/:
//
//	index.html, style.css  layout and templates of the panels and chat sides
//	app.js                 wiring: start form, task list, panels, chat, facts table
//	ws-client.js           WebSocketClient: reconnecting WebSocket client (backoff
//	                       with jitter, resume with last_event_id, ping→pong);
//	                       self-contained, meant to be copied
//	sse-client.js          SSEClient: native EventSource plus the two cases it
//	                       needs help with (end after the terminal event, reopen
//	                       after a client-side close)
//	panel.js               one transport's panel: progress, counters, verdict, log
//	seq.js                 SeqTracker: seq contiguity (gaps, duplicates, resets)
//	stats.js               latency percentiles and the sparkline
//	chat.js, api.js        chat strip; fetch helpers for the HTTP API
//
// The page exposes window.__twinstream.snapshot() (panels, chat, measured
// totals) for tests and the curious; the end-to-end test in this package
// drives the page in headless Chromium through it.
package web
