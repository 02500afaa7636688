// Package chat is the connection manager's side of twinstream: the JSON
// commands a client sends on its WebSocket (or POSTs, from an SSE client),
// the routing of chat messages (broadcast, personal, broadcast_except) and
// the presence events (join, leave) of client ids. None of it is part of
// the stream contract: package transports delivers these events as it
// delivers any other, and learns of presence only through
// transports.HubConfig.Presence, which a server sets to Presence.
//
// Each concern has its file: command.go parses (ParseCommand, IsPong),
// route.go publishes (Route), presence.go announces (Presence). Which topics
// a connection may follow is the stream contract's rule,
// transports.CanSubscribe, because resolving a connect request needs it too.
package chat
