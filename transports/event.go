package transports

import (
	"bytes"
	"encoding/json"
	"strconv"
	"time"
)

// Event kinds the stream contract itself defines. Applications may publish any
// other kind (validated by [ValidKind]).
const (
	KindSnapshot  = "snapshot"  // current state of a topic, sent first on a task stream
	KindReset     = "reset"     // the client's cursor fell out of history: events were lost
	KindQueued    = "queued"    // a task was accepted
	KindProgress  = "progress"  // a task advanced
	KindCompleted = "completed" // a task ended well (terminal)
	KindFailed    = "failed"    // a task ended badly (terminal)
	KindMessage   = "message"   // a chat message: data {"from","message"}
	KindJoin      = "join"      // a client id got its first connection: data {"client_id"}
	KindLeave     = "leave"     // a client id lost its last connection: data {"client_id"}
)

// IsTerminal reports whether an event of this kind ends a task stream.
func IsTerminal(kind string) bool { return kind == KindCompleted || kind == KindFailed }

// An Event is one published item of a topic. Events are immutable once
// published and are shared by every subscriber: the wire form is encoded once,
// at publish time, and the same bytes are written to every connection of both
// transports.
type Event struct {
	Topic string          // the topic it was published to
	Seq   uint64          // per-topic sequence, contiguous from 1
	Kind  string          // the "event" field on the wire
	Data  json.RawMessage // a JSON object
	Time  time.Time       // publish time (the "ts" field, unix µs)

	// Except, when not empty, is a client id whose connections do not receive
	// the event (broadcast_except). It is not part of the wire form.
	Except string

	wire []byte
}

// NewEvent builds an event and encodes its wire form. Data must be a valid
// JSON value (nil means {}); the caller validates it.
func NewEvent(topic string, seq uint64, kind string, data json.RawMessage, t time.Time) *Event {
	if len(data) == 0 {
		data = json.RawMessage("{}")
	} else if bytes.ContainsAny(data, "\r\n") {
		// Raw line breaks can only be insignificant white space in valid
		// JSON; SSE framing would rewrite them, so the wire form on the two
		// transports would differ. Compact them away once, here.
		var b bytes.Buffer
		if json.Compact(&b, data) == nil {
			data = b.Bytes()
		}
	}
	e := &Event{Topic: topic, Seq: seq, Kind: kind, Data: data, Time: t}
	e.wire = appendWire(make([]byte, 0, 80+len(topic)+len(kind)+len(data)), e)
	return e
}

// JSON returns the event's wire form:
//
//	{"type":"event","topic":"task:ID","seq":7,"event":"progress","ts":1732560000000000,"data":{...}}
//
// The returned slice is shared; callers must not modify it.
func (e *Event) JSON() []byte { return e.wire }

// TimeMicros is the publish time in unix microseconds, as carried in "ts".
func (e *Event) TimeMicros() int64 { return e.Time.UnixMicro() }

func appendWire(b []byte, e *Event) []byte {
	b = append(b, `{"type":"event","topic":`...)
	b = strconv.AppendQuote(b, e.Topic) // topics are validated ASCII, so Go quoting is JSON quoting
	b = append(b, `,"seq":`...)
	b = strconv.AppendUint(b, e.Seq, 10)
	b = append(b, `,"event":`...)
	b = strconv.AppendQuote(b, e.Kind)
	b = append(b, `,"ts":`...)
	b = strconv.AppendInt(b, e.Time.UnixMicro(), 10)
	b = append(b, `,"data":`...)
	b = append(b, e.Data...)
	return append(b, '}')
}

// WireEvent is the decoded wire form of an event, for clients.
type WireEvent struct {
	Type  string          `json:"type"`
	Topic string          `json:"topic"`
	Seq   uint64          `json:"seq"`
	Event string          `json:"event"`
	TS    int64           `json:"ts"`
	Data  json.RawMessage `json:"data"`
}

// Time returns the publish time carried in TS.
func (w WireEvent) Time() time.Time { return time.UnixMicro(w.TS) }

// ResetData is the data of a [KindReset] event: the client asked to resume
// after Cursor, but history only starts at FirstAvailable, so events
// LostFrom..LostTo (inclusive) are gone. When the cursor is ahead of the
// topic (the server restarted or the topic expired), LostFrom > LostTo and
// Reason says so.
type ResetData struct {
	Reason         string `json:"reason"`
	Cursor         uint64 `json:"cursor"`
	LostFrom       uint64 `json:"lost_from"`
	LostTo         uint64 `json:"lost_to"`
	FirstAvailable uint64 `json:"first_available"`
	Latest         uint64 `json:"latest"`
}

// Reset reasons.
const (
	ResetHistoryExpired = "history_expired" // the cursor is older than the retained history
	ResetCursorAhead    = "cursor_ahead"    // the cursor is beyond the topic's latest seq
)
