// Package transports holds twinstream's stream contract: events and their
// one wire form, the Publisher interface, the Hub that owns topics,
// sequence numbers, bounded history and fan-out, the resolution of a
// connect request into a stream, the connection limiter and the table of
// close reasons. The WebSocket and SSE transports (subpackages ws and sse)
// are plain http.Handlers that attach connections to a Hub; neither the hub
// nor its publishers know which transports exist.
//
// What streams carry is the applications' business, in packages of their
// own: chat holds the client commands, chat routing and presence events;
// taskstream the kinds of a task's events and which of them end its stream.
// The hub learns what it must of them through HubConfig (Terminal,
// Presence), never by importing them.
//
// # Delivery
//
// Every connection is a Subscriber with one bounded queue. Publish assigns
// the topic's next seq, records the event in the topic's history, and
// appends it to each subscriber's queue; it never blocks on a client and
// never writes to a socket. Each connection has exactly one writer, which
// drains the queue and writes with a deadline. A subscriber whose queue fills
// is closed as a slow consumer and resumes from its cursor on reconnect.
//
// # Resume
//
// Subscribing with a cursor (SubscribeOptions.After) replays every retained
// event after it, exactly once and in order, atomically with joining the
// live fan-out. A cursor older than the history, or ahead of the topic,
// yields a "reset" event whose seq is the client's new cursor.
package transports
