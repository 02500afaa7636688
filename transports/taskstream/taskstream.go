// Package taskstream is the vocabulary of a task's stream: the topic a task's
// events go to, the kinds of those events, and which kinds end the stream.
// The demo's task runner publishes them and clients such as the load
// generator read them; the transports deliver them without knowing what
// they mean: a hub learns which kinds end a stream from
// transports.HubConfig.Terminal, which the demo sets to IsTerminal.
package taskstream

// TopicPrefix starts the topic of every task: task:<id>.
const TopicPrefix = "task:"

// Topic is the topic of task id's events.
func Topic(id string) string { return TopicPrefix + id }

// The kinds of a task's events. Every event carries the task's full state,
// so the latest one is a snapshot on its own.
const (
	KindQueued    = "queued"    // the task was accepted
	KindProgress  = "progress"  // the task advanced
	KindCompleted = "completed" // the task ended well (terminal)
	KindFailed    = "failed"    // the task ended badly (terminal)
)

// IsTerminal reports whether an event of this kind ends a task's stream.
func IsTerminal(kind string) bool { return kind == KindCompleted || kind == KindFailed }
