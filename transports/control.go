package transports

import (
	"encoding/json"
	"strconv"
	"time"
)

// Control message types. Every frame on both transports is a JSON object with
// a "type"; "event" frames carry events, the others are control messages.
const (
	TypeEvent      = "event"
	TypePing       = "ping"       // server → client (app-level heartbeat); client → server allowed too
	TypePong       = "pong"       // answer to a ping
	TypeError      = "error"      // a command or request was rejected
	TypeSubscribed = "subscribed" // a subscribe command took effect
	TypeUnsubbed   = "unsubscribed"
	TypeAck        = "ack" // a publish command (broadcast, personal, broadcast_except) was accepted
)

// Error codes carried by {"type":"error","code":...} frames and JSON error
// bodies.
const (
	CodeInvalidJSON        = "invalid_json"
	CodeInvalidMessage     = "invalid_message"
	CodeNotFound           = "not_found"
	CodeForbidden          = "forbidden"
	CodeAlreadySubscribed  = "already_subscribed"
	CodeTooManyTopics      = "too_many_topics"
	CodeNotSubscribed      = "not_subscribed"
	CodeTooManyConnections = "too_many_connections"
	CodeSlowConsumer       = "slow_consumer"
	CodeMessageTooBig      = "message_too_big"
	CodeUnavailable        = "unavailable"
	CodeRateLimited        = "rate_limited" // over a rate limit (commands, publishes, new connections)
	CodeInternal           = "internal"
)

// ErrorFrame is the JSON form of an error, both as a control frame and as an
// HTTP error body.
type ErrorFrame struct {
	Type    string            `json:"type"` // always "error"
	Code    string            `json:"code"`
	Message string            `json:"message"`
	Fields  map[string]string `json:"fields,omitempty"` // per-field problems for invalid_message
	ID      string            `json:"id,omitempty"`     // the command id it answers, if the command had one
}

// NewErrorFrame builds an error control frame.
func NewErrorFrame(code, msg string) ErrorFrame {
	return ErrorFrame{Type: TypeError, Code: code, Message: msg}
}

// JSON encodes the frame.
func (f ErrorFrame) JSON() []byte { return mustJSON(f) }

// Error implements error so a frame can travel as one.
func (f ErrorFrame) Error() string { return f.Code + ": " + f.Message }

// ControlFrame is the JSON form of ping, pong, subscribed, unsubscribed and
// ack messages.
type ControlFrame struct {
	Type  string `json:"type"`
	Topic string `json:"topic,omitempty"`
	Seq   uint64 `json:"seq,omitempty"`  // subscribed: the topic's latest seq when the subscription began
	TS    int64  `json:"ts,omitempty"`   // ping/pong: unix µs
	ID    string `json:"id,omitempty"`   // the command id it answers
	Size  int    `json:"size,omitempty"` // ack: how many connections the message was queued for
}

// JSON encodes the frame.
func (f ControlFrame) JSON() []byte { return mustJSON(f) }

// PingFrame is an app-level heartbeat stamped with t:
// {"type":"ping","ts":<unix µs>}. It is built without reflection: every
// connection sends one per heartbeat.
func PingFrame(t time.Time) []byte {
	b := make([]byte, 0, 48)
	b = append(b, `{"type":"ping","ts":`...)
	b = strconv.AppendInt(b, t.UnixMicro(), 10)
	return append(b, '}')
}

func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		// Only our own fixed-shape structs are encoded here.
		panic("transports: encoding control frame: " + err.Error())
	}
	return b
}
