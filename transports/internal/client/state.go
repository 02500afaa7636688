// Package client holds what the WebSocket and the SSE Go clients share: the
// states of their connection cycle, their counters, the reconnect
// schedule's defaults and jitter, the rule for which HTTP answers are worth
// retrying, and idle handling. It imports nothing of transports (package
// transports uses its Backoff), so every rule here has one owner.
package client

import "fmt"

// State is where a client is in its connection cycle. ws.ClientState and
// sse.ClientState are defined on it, with the same values.
type State int

// The states, in the order a client goes through them.
const (
	Connecting State = iota + 1 // an attempt is under way
	Open                        // connected and receiving
	Waiting                     // backing off before the next attempt
	Closed                      // Run returned
)

func (s State) String() string {
	switch s {
	case Connecting:
		return "connecting"
	case Open:
		return "open"
	case Waiting:
		return "waiting"
	case Closed:
		return "closed"
	}
	return fmt.Sprintf("ClientState(%d)", int(s))
}
