package bench

import (
	"bytes"

	"github.com/twinstream/twinstream/transports"
)

// leanEvent is an event frame's fields as views into the frame: valid
// until the frame's buffer is reused.
type leanEvent struct {
	topic, kind, data []byte
	seq               uint64
	ts                int64
}

// leanDecode reads an event frame in the exact field order the server
// writes (transports.Event.JSON):
//
//	{"type":"event","topic":"T","seq":N,"event":"K","ts":N,"data":{...}}
//
// without allocating. It reads what transports.DecodeWire's fast path
// reads, with the same fields, but does not check that data is valid JSON
// (only that it is braced): that check was 40% of a lean client's own CPU
// per event, and the seq, ts and the payload's schedule, which the
// accounting needs, are read either way. FuzzLeanDecode holds it to
// DecodeWire: where both accept a frame they agree, and it accepts nothing
// DecodeWire rejects but frames whose data is not JSON. Anything else
// (control frames, another server's field order) is not ok, and the
// caller falls back to DecodeWire.
func leanDecode(b []byte) (e leanEvent, ok bool) {
	rest, ok := bytes.CutPrefix(b, []byte(`{"type":"event","topic":"`))
	if !ok {
		return e, false
	}
	if e.topic, rest, ok = leanString(rest); !ok {
		return e, false
	}
	if rest, ok = bytes.CutPrefix(rest, []byte(`,"seq":`)); !ok {
		return e, false
	}
	if e.seq, rest, ok = leanDigits(rest); !ok {
		return e, false
	}
	if rest, ok = bytes.CutPrefix(rest, []byte(`,"event":"`)); !ok {
		return e, false
	}
	if e.kind, rest, ok = leanString(rest); !ok {
		return e, false
	}
	if rest, ok = bytes.CutPrefix(rest, []byte(`,"ts":`)); !ok {
		return e, false
	}
	neg := len(rest) > 0 && rest[0] == '-'
	if neg {
		rest = rest[1:]
	}
	ts, rest, ok := leanDigits(rest)
	if !ok || ts > 1<<62 {
		return e, false
	}
	e.ts = int64(ts)
	if neg {
		e.ts = -e.ts
	}
	if rest, ok = bytes.CutPrefix(rest, []byte(`,"data":`)); !ok {
		return e, false
	}
	e.data, ok = bytes.CutSuffix(rest, []byte("}"))
	if !ok || len(e.data) < 2 || e.data[0] != '{' || e.data[len(e.data)-1] != '}' {
		return e, false
	}
	return e, true
}

// leanString reads a JSON string body without escapes up to its closing
// quote.
func leanString(b []byte) (s, rest []byte, ok bool) {
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

// leanDigits reads an unsigned decimal without leading zeros, up to 19
// digits.
func leanDigits(b []byte) (uint64, []byte, bool) {
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

// leanKind returns the publisher's kind and the stream contract's own
// kinds as constants, saving an allocation per event; any other kind is a
// new string.
func leanKind(k []byte) string {
	switch string(k) { // no allocation: the compiler compares in place
	case EventKind:
		return EventKind
	case transports.KindSnapshot:
		return transports.KindSnapshot
	case transports.KindReset:
		return transports.KindReset
	}
	return string(k)
}
