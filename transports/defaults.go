package transports

import "time"

// Defaults for every zero-valued setting of the hub and both transports.
// This is the one place they are declared: ws, sse and the demo's flags
// use these names (ws.DefaultHeartbeat and the like are the same values).
const (
	// DefaultHistory is how many events a topic keeps for resume.
	DefaultHistory = 1000
	// DefaultQueueSize bounds a subscriber's queue (items).
	DefaultQueueSize = 4096
	// DefaultQueueBytes bounds a connection's bytes in flight: its queue,
	// catch-ups included, plus what the kernel has not sent yet.
	DefaultQueueBytes = 1 << 20
	// DefaultTopicTTL is how long a topic without subscribers is kept.
	DefaultTopicTTL = 10 * time.Minute
	// DefaultTopicHistoryBytes bounds one topic's history in bytes.
	DefaultTopicHistoryBytes = 16 << 20
	// DefaultHistoryBytes bounds all topics' history together; past it the
	// topics idle the longest are forgotten first.
	DefaultHistoryBytes = 512 << 20
	// DefaultMaxTopics caps the topics one connection follows.
	DefaultMaxTopics = 128
	// DefaultHeartbeat is the keep-alive cadence of both transports.
	DefaultHeartbeat = 15 * time.Second
	// DefaultIdleTimeout closes a WebSocket peer silent for that long.
	DefaultIdleTimeout = 45 * time.Second
	// DefaultWriteTimeout bounds every write of a batch or heartbeat.
	DefaultWriteTimeout = 10 * time.Second
	// DefaultReadLimit is the largest WebSocket message a client may send.
	DefaultReadLimit = 32 << 10
	// DefaultRetry is the SSE retry: hint sent to clients.
	DefaultRetry = 2 * time.Second
)
