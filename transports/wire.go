package transports

import (
	"bytes"
	"encoding/json"
	"errors"
)

// ErrNotEvent is returned by DecodeWire for a valid frame that is not an
// event (a control frame); its Type is still filled in.
var ErrNotEvent = errors.New("transports: frame is not an event")

// DecodeWire decodes one frame. For an event it returns the WireEvent; for
// any other JSON object (a control frame) it returns what the frame's fields
// fill in (type, topic, seq, ts) with ErrNotEvent; for anything else an error.
//
// Frames in the exact field order the server writes (see Event.JSON) take a
// fast path that neither reflects nor allocates beyond a copy of data and
// the topic; anything else, such as another server's field order, goes
// through encoding/json with the same result. Data is always a copy, so b
// may be reused by the caller.
func DecodeWire(b []byte) (WireEvent, error) {
	if w, ok := decodeFast(b); ok {
		return w, nil
	}
	var w WireEvent
	if err := json.Unmarshal(b, &w); err != nil {
		return WireEvent{}, err
	}
	if w.Type != TypeEvent {
		return w, ErrNotEvent
	}
	return w, nil
}

// decodeFast parses {"type":"event","topic":"T","seq":N,"event":"K","ts":N,"data":{...}}.
func decodeFast(b []byte) (WireEvent, bool) {
	var w WireEvent
	rest, ok := bytes.CutPrefix(b, []byte(`{"type":"event","topic":"`))
	if !ok {
		return w, false
	}
	topic, rest, ok := plainString(rest)
	if !ok {
		return w, false
	}
	if rest, ok = bytes.CutPrefix(rest, []byte(`,"seq":`)); !ok {
		return w, false
	}
	seq, rest, ok := digits(rest)
	if !ok {
		return w, false
	}
	if rest, ok = bytes.CutPrefix(rest, []byte(`,"event":"`)); !ok {
		return w, false
	}
	kind, rest, ok := plainString(rest)
	if !ok {
		return w, false
	}
	if rest, ok = bytes.CutPrefix(rest, []byte(`,"ts":`)); !ok {
		return w, false
	}
	neg := false
	if len(rest) > 0 && rest[0] == '-' {
		neg, rest = true, rest[1:]
	}
	ts, rest, ok := digits(rest)
	if !ok || ts > 1<<62 {
		return w, false
	}
	if rest, ok = bytes.CutPrefix(rest, []byte(`,"data":`)); !ok {
		return w, false
	}
	data, ok := bytes.CutSuffix(rest, []byte("}"))
	if !ok || len(data) == 0 || data[0] != '{' || !json.Valid(data) {
		return w, false
	}
	w.Type, w.Topic, w.Seq, w.Event, w.TS = TypeEvent, string(topic), seq, internKind(kind), int64(ts)
	if neg {
		w.TS = -w.TS
	}
	w.Data = bytes.Clone(data)
	return w, true
}

// plainString reads a JSON string body without escapes up to its closing
// quote; anything unusual falls back to the slow path.
func plainString(b []byte) (s, rest []byte, ok bool) {
	for i, c := range b {
		switch {
		case c == '"':
			return b[:i], b[i+1:], i > 0
		case c == '\\' || c < 0x20 || c >= 0x80:
			return nil, nil, false
		}
	}
	return nil, nil, false
}

// digits reads an unsigned decimal without leading zeros, up to 19 digits.
func digits(b []byte) (uint64, []byte, bool) {
	var n uint64
	i := 0
	for ; i < len(b) && b[i] >= '0' && b[i] <= '9'; i++ {
		if i == 19 {
			return 0, nil, false
		}
		n = n*10 + uint64(b[i]-'0')
	}
	if i == 0 || (i > 1 && b[0] == '0') {
		return 0, nil, false
	}
	return n, b[i:], true
}

// internKind returns a constant string for a common kind, saving an
// allocation per frame: the contract's own kinds and those the demo's task
// and chat streams carry (packages taskstream and chat define them; the
// decoder only spells them to avoid copying them). Any other kind is
// allocated.
func internKind(k []byte) string {
	switch string(k) { // no allocation: the compiler compares in place
	case "progress":
		return "progress"
	case "message":
		return "message"
	case KindSnapshot:
		return KindSnapshot
	case KindReset:
		return KindReset
	case "queued":
		return "queued"
	case "completed":
		return "completed"
	case "failed":
		return "failed"
	case "join":
		return "join"
	case "leave":
		return "leave"
	}
	return string(k)
}
