// Package ws is twinstream's WebSocket transport, built on
// github.com/coder/websocket. The Server is a plain http.Handler that
// attaches each connection to a transports.Hub; the Client is a Go client
// that reconnects with backoff and jitter and resumes without loss.
//
// # Endpoints
//
//	GET /ws?client_id=alice&topic=news&last_event_id=broadcast=3,news=17   (Server.ServeHTTP)
//	GET /ws/tasks/ID?last_event_id=7                                        (Server.Stream)
//
// A multi-topic connection follows client:<id> and broadcast when it gives a
// client_id, plus every topic= parameter, and takes JSON commands (see
// chat.Command): subscribe/unsubscribe (with last_seq to resume),
// broadcast, personal, broadcast_except, ping and pong. Right after the
// upgrade the server sends {"type":"subscribed","topic":T,"seq":N} for each
// URL topic that starts live (N is the topic's latest seq, the client's
// starting cursor); resumed topics replay first instead.
//
// A single-topic stream (Server.Stream with a transports.Resolver) sends a
// snapshot first, then the topic's events, and closes with 1000 after the
// terminal event. It takes only ping and pong.
//
// Every event is one text frame holding the event's wire form; control
// messages are JSON objects with another "type".
//
// # Close codes
//
// The server closes with the codes of transports.CloseReasons:
//
//	1000 stream complete (a task ended)             client: stop
//	1001 server shutting down                       client: reconnect and resume
//	1007 invalid UTF-8 (text frame or close reason)  client: stop (a bug)
//	1009 a client frame over Config.ReadLimit       client: stop (a bug)
//	1011 internal error                             client: reconnect
//	1012 dropped by an operator                     client: reconnect and resume
//	1013 too many connections (global or per IP)    client: reconnect later
//	4000 heartbeat timeout (nothing heard)          client: reconnect and resume
//	4004 no such stream (after an error frame)      client: stop
//	4008 slow consumer (queue full)                 client: reconnect and resume
//	4029 rate limited (commands past the grace,    client: reconnect later, slower
//	     or new connections from the IP)
//	4400 bad request (bad resume cursor)            client: stop
//	4503 unavailable (the broker, Redis, is down)   client: reconnect later
//
// A malformed /ws connect request (bad client_id, topic or cursor) is
// answered before the upgrade with 400 and a JSON error body; a cross-origin
// upgrade from an origin not allowed gets 403.
//
// # Connections
//
// Each connection has two goroutines: a writer (the handler goroutine, or
// with Config.Detach a fresh one after the handler returned) that drains
// the subscriber queue, writes every frame with Config.WriteTimeout and
// sends heartbeats from one timer; and a reader, which queues its replies
// behind the events instead of writing. A protocol ping waits for its pong
// in a short-lived third goroutine (at most one per connection), so the
// writer never waits for a peer. Nothing writes to the socket under a lock,
// and a slow client never delays another: its bounded queue fills and it is
// closed with 4008.
//
// Idle cost, measured with 5,000 idle connections: about 35 KB of server
// memory per connection, 25 KB with Config.Detach (two 4 KB stacks, the
// 4 KB read and write buffers net/http hands over on hijack, the
// coder/websocket connection and the hub subscriber).
package ws
