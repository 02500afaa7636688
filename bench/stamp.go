package bench

import (
	"bytes"
	"strconv"
	"strings"
	"time"

	"github.com/twinstream/twinstream/transports"
)

// A server that does not stamp its events (Centrifugo, a custom target)
// gets the load generator's own stamp in the payload, and the clients
// account and time the events from it:
//
//	{"lg_ts":<unix µs>,"lg_i":<n>,"pad":"xxx…"}
//
// lg_ts is when the open-loop publisher was due to publish the event, lg_i
// its index on its topic (1, 2, 3… per target and topic), pad fills the
// payload to the configured size. The index plays the part of twinstream's
// seq and the scheduled time that of its ts, so expected, delivered, lost,
// duplicated and out of order are exact for every target, and the latency
// of such a target (receive − lg_ts) is its latency from schedule: both
// figures are the same number.

// StampPayload returns the stamped payload of event i scheduled at ts,
// padded to size bytes (or as small as possible, about 40 bytes).
func StampPayload(i uint64, ts time.Time, size int) []byte {
	head := `{"lg_ts":` + strconv.FormatInt(ts.UnixMicro(), 10) + `,"lg_i":` + strconv.FormatUint(i, 10) + `,"pad":"`
	pad := max(size-len(head)-2, 0)
	return []byte(head + strings.Repeat("x", pad) + `"}`)
}

// A stamp is the load generator's index and time of one event.
type stamp struct {
	i  uint64
	ts int64 // unix µs
}

// scanStamps calls fn for every stamp in a received message, in order,
// and returns how many it found. The stamp may sit anywhere in the
// message, keys in either order, with whitespace around the colons (as a
// server that decodes and re-encodes the payload writes it), and also as
// an escaped JSON string inside a string (\"lg_ts\": …). It reads no
// other part of the message and allocates nothing.
func scanStamps(b []byte, fn func(stamp)) int {
	found := 0
	var cur stamp
	have := 0 // bit 1: lg_ts read, bit 2: lg_i read
	for off := 0; off < len(b); {
		k := bytes.Index(b[off:], []byte(`lg_`))
		if k < 0 {
			break
		}
		at := off + k
		off = at + 3
		key, n, ok := stampKey(b, at)
		if !ok {
			continue
		}
		v, next, ok := stampValue(b, at+n)
		if !ok {
			continue
		}
		off = next
		bit := 1
		if key == 'i' {
			bit = 2
		}
		if have&bit != 0 { // a key again before its partner: a new stamp
			have = 0
		}
		if key == 'i' {
			cur.i = uint64(v)
		} else {
			cur.ts = v
		}
		if have |= bit; have == 3 {
			fn(cur)
			found++
			have = 0
		}
	}
	return found
}

// stampKey reads the key at b[at:] ("lg_ts" or "lg_i" right after a
// quote, and a closing quote or \"), and returns 't' or 'i' and its length
// with the closing quote.
func stampKey(b []byte, at int) (byte, int, bool) {
	if at == 0 || b[at-1] != '"' {
		return 0, 0, false
	}
	rest := b[at+3:]
	var key byte
	var n int
	switch {
	case bytes.HasPrefix(rest, []byte("ts")):
		key, n = 't', 5
	case bytes.HasPrefix(rest, []byte("i")):
		key, n = 'i', 4
	default:
		return 0, 0, false
	}
	switch tail := b[at+n:]; {
	case len(tail) > 0 && tail[0] == '"':
		return key, n + 1, true
	case len(tail) > 1 && tail[0] == '\\' && tail[1] == '"':
		return key, n + 2, true
	}
	return 0, 0, false
}

// stampValue reads `: <integer>` at b[at:] (whitespace allowed around the
// colon) and returns the integer and the offset after it.
func stampValue(b []byte, at int) (int64, int, bool) {
	i := skipSpace(b, at)
	if i >= len(b) || b[i] != ':' {
		return 0, 0, false
	}
	i = skipSpace(b, i+1)
	neg := i < len(b) && b[i] == '-'
	if neg {
		i++
	}
	start := i
	var v int64
	for ; i < len(b) && b[i] >= '0' && b[i] <= '9'; i++ {
		if i-start == 18 {
			return 0, 0, false
		}
		v = v*10 + int64(b[i]-'0')
	}
	if i == start {
		return 0, 0, false
	}
	if neg {
		v = -v
	}
	return v, i, true
}

func skipSpace(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\n' || b[i] == '\r') {
		i++
	}
	return i
}

// Stamped records one event the load generator stamped (see StampPayload)
// on topic, received at now: its index is tracked as a seq (epoch 0), and
// its latency from lg_ts goes both into the latency and the latency from
// schedule histograms.
func (s *Sub) Stamped(topic string, st stamp, now time.Time) Verdict {
	s.mu.Lock()
	s.last, s.lastAt = transports.WireEvent{Type: transports.TypeEvent, Topic: topic, Seq: st.i, Event: EventKind, TS: st.ts}, now
	key := trackKey{topic, 0}
	t := s.trackers[key]
	if t == nil {
		t = &SeqTracker{}
		s.trackers[key] = t
	}
	v := t.Observe(st.i)
	s.mu.Unlock()
	if v != Duplicate {
		lat := now.Sub(time.UnixMicro(st.ts))
		s.rec.Record(s.index, lat, lat, now)
	}
	return v
}

// NoteReset counts a reset: the server could not resume the subscriber
// where it left off (a Centrifugo recovery that failed).
func (s *Sub) NoteReset() {
	s.mu.Lock()
	s.resets++
	s.mu.Unlock()
}
