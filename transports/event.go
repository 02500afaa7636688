package transports

import (
	"bytes"
	"encoding/json"
	"strconv"
	"time"
)

// Event kinds the stream contract itself defines: the hub emits them.
// Applications publish any other kind (validated by [ValidKind]); the task
// and chat kinds are in packages taskstream and chat.
const (
	KindSnapshot = "snapshot" // current state of a topic (SubscribeOptions.Snapshot)
	KindReset    = "reset"    // the client's cursor fell out of history: events were lost
)

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
// JSON value (nil means {}); the caller validates it (the hub does, once,
// in PublishExcept). Data is copied once, into the wire form, and the
// event's Data is that copy's sub-slice: an event holds its data once.
func NewEvent(topic string, seq uint64, kind string, data json.RawMessage, t time.Time) *Event {
	e := &Event{Topic: topic, Seq: seq, Kind: kind, Time: t}
	e.encode(data)
	return e
}

// emptyObject is the data of an event published without any.
var emptyObject = []byte("{}")

// wireOverhead is the length of the wire form less its topic, kind and
// data, at the longest seq and ts: the buffer is allocated once, never grown.
const wireOverhead = len(`{"type":"event","topic":""`) + len(`,"seq":`) + 20 + len(`,"event":""`) +
	len(`,"ts":`) + 20 + len(`,"data":`) + len(`}`)

// encode writes the wire form (see JSON) and points Data into it.
func (e *Event) encode(data []byte) {
	if len(data) == 0 {
		data = emptyObject
	}
	b := make([]byte, 0, wireOverhead+len(e.Topic)+len(e.Kind)+len(data))
	b = append(b, `{"type":"event","topic":`...)
	b = strconv.AppendQuote(b, e.Topic) // topics are validated ASCII, so Go quoting is JSON quoting
	b = append(b, `,"seq":`...)
	b = strconv.AppendUint(b, e.Seq, 10)
	b = append(b, `,"event":`...)
	b = strconv.AppendQuote(b, e.Kind)
	b = append(b, `,"ts":`...)
	b = strconv.AppendInt(b, e.Time.UnixMicro(), 10)
	b = append(b, `,"data":`...)
	start := len(b)
	b = append(b, data...) // the one copy of the data
	if bytes.IndexByte(data, '\n') >= 0 || bytes.IndexByte(data, '\r') >= 0 {
		// Raw line breaks can only be insignificant white space in valid
		// JSON; SSE framing would rewrite them, so the wire form on the two
		// transports would differ. Compact them away, in place.
		b = b[:start+compactJSON(b[start:])]
	}
	e.Data = b[start:len(b):len(b)] // capped: appending to Data cannot write into the wire form
	e.wire = append(b, '}')
}

// compactJSON removes the white space outside strings from the valid JSON
// text b, in place, as json.Compact would, and returns the new length.
func compactJSON(b []byte) int {
	n := 0
	inString, escaped := false, false
	for _, c := range b {
		switch {
		case inString:
			switch {
			case escaped:
				escaped = false
			case c == '\\':
				escaped = true
			case c == '"':
				inString = false
			}
		case c == ' ', c == '\t', c == '\r', c == '\n':
			continue
		case c == '"':
			inString = true
		}
		b[n] = c
		n++
	}
	return n
}

// JSON returns the event's wire form:
//
//	{"type":"event","topic":"task:ID","seq":7,"event":"progress","ts":1732560000000000,"data":{...}}
//
// The returned slice is shared; callers must not modify it.
func (e *Event) JSON() []byte { return e.wire }

// TimeMicros is the publish time in unix microseconds, as carried in "ts".
func (e *Event) TimeMicros() int64 { return e.Time.UnixMicro() }

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
	ResetHistoryExpired = "history_expired"   // the cursor is older than the retained history
	ResetCursorAhead    = "cursor_ahead"      // the cursor is beyond the topic's latest seq
	ResetBacklog        = "backlog_too_large" // the catch-up would pass the connection's QueueBytes or QueueSize: only its newest events are sent
)
