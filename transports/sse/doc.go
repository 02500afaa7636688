// Package sse serves twinstream streams over Server-Sent Events and holds a
// reconnecting Go client for them, both built on github.com/tmaxmax/go-sse.
//
// # How go-sse is plugged in
//
// go-sse's own fan-out (Joe, behind its Provider interface) delivers each
// message to subscribers one at a time, so one slow subscriber delays all of
// them, while the WebSocket transport gets a bounded queue per connection.
// To keep the comparison honest, twinstream's Hub replaces Joe for both
// transports: the same fan-out, the same history and resume, the same bounded
// per-connection queue, and a slow consumer is cut off the same way. go-sse
// is used at the Session level: each request is upgraded with sse.Upgrade,
// and the connection's single writer (the handler goroutine) drains its queue
// and writes every event as an sse.Message whose id is the resume cursor and
// whose data is the event's wire JSON — the very bytes a WebSocket client
// gets as a text frame — calling Session.Send per item and Session.Flush once
// per drained batch, under a write deadline. The client side uses go-sse's
// Client and Connection (parser, retry: handling, Last-Event-ID resend),
// wrapped only to count reconnects and to see 204 as the end of a stream.
//
// # Wire format
//
// An event is a frame with an id and data, and no event field, so that a
// browser's onmessage sees every event:
//
//	id: 17
//	data: {"type":"event","topic":"task:42","seq":17,"event":"progress","ts":1732560000000000,"data":{...}}
//
// The id is the stream's cursor (see transports.Cursors): the bare seq on a
// single-topic stream, "topic=seq" pairs on a multi-topic one. The first
// frame of every response carries retry: and, when the stream already has a
// resume position, that position as its id (a frame without data, which
// dispatches nothing). Control messages ({"type":"error",...}) are data-only
// frames without id, so they never move Last-Event-ID. Heartbeats are comment
// lines (": ping").
//
// # Ending and limits
//
// How a stream ends, or a stream request is refused before its stream
// starts, for each reason of transports.CloseReasons (by its code; the
// words are CloseReason.SSE, generated from its SSEEnd and SSEStatus):
//
//	done                  response ends; before the stream starts: 204 No Content
//	shutdown              response ends; before the stream starts: 200 text/event-stream with retry: and one error frame
//	message_too_big       not applicable
//	dropped               response ends
//	too_many_connections  200 text/event-stream with retry: and one error frame
//	idle_timeout          not applicable
//	not_found             404 with a JSON error body
//	slow_consumer         connection cut
//	invalid_message       400 with a JSON error body
//	internal              response ends; before the stream starts: 500 with a JSON error body
//	rate_limited          200 text/event-stream with retry: and one error frame
//	invalid_utf8          not applicable
//	unavailable           200 text/event-stream with retry: and one error frame
//
// A clean end is followed by EventSource's reconnect with Last-Event-ID,
// which resumes without loss; a cut connection (a slow consumer, so that
// nothing more is written behind the backlog it did not read) too. A
// reconnect to a finished task gets 204 No Content, which makes
// EventSource stop. Over a connection limit, or while the server shuts
// down, the answer is 200 with retry: and an error frame
// (too_many_connections, unavailable), so that EventSource retries later:
// 503 or 204 would make it give up for good. Bad requests get 400 and
// unknown tasks 404, with a JSON error body. message_too_big and
// idle_timeout do not arise: an SSE client sends nothing on its stream,
// and a dead one shows as a failed write.
package sse
