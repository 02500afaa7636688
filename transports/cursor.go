package transports

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// Cursors maps topics to the last seq a client has received on each. It is
// the resume position of a connection with several topics.
//
// Its text form is the SSE event id and the last_event_id query parameter:
// a stream of one topic uses the bare seq ("17"); a stream of several uses
// "topic=seq" pairs joined by commas ("broadcast=17,client:alice=3"), sorted
// by topic so that the same position always has the same id.
type Cursors map[string]uint64

// Format renders the cursors. With a single topic stream, pass that topic as
// single to get the bare seq form.
func (c Cursors) Format(single string) string {
	return string(c.AppendFormat(nil, single))
}

// AppendFormat appends the text form (see Format) to b. It allocates
// nothing for streams of up to 8 topics beyond b's growth: the SSE writer
// calls it for every event it writes.
func (c Cursors) AppendFormat(b []byte, single string) []byte {
	if single != "" {
		return strconv.AppendUint(b, c[single], 10)
	}
	keys := make([]string, 0, 8)
	for k := range c {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for i, k := range keys {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, k...)
		b = append(b, '=')
		b = strconv.AppendUint(b, c[k], 10)
	}
	return b
}

// ParseCursors parses the text form. A bare seq ("17") is assigned to single,
// which must then be non-empty. The empty string parses to no cursors.
func ParseCursors(s, single string) (Cursors, error) {
	c := Cursors{}
	if s == "" {
		return c, nil
	}
	if len(s) > maxCursorText {
		return nil, fmt.Errorf("cursor is longer than %d bytes", maxCursorText)
	}
	if !strings.Contains(s, "=") {
		if single == "" {
			return nil, fmt.Errorf("cursor %q: a bare seq needs a single-topic stream; use topic=seq pairs", s)
		}
		n, err := parseSeq(s)
		if err != nil {
			return nil, err
		}
		c[single] = n
		return c, nil
	}
	for part := range strings.SplitSeq(s, ",") {
		topic, seq, ok := strings.Cut(part, "=")
		if !ok {
			return nil, fmt.Errorf("cursor part %q is not topic=seq", part)
		}
		if err := ValidTopic(topic); err != nil {
			return nil, fmt.Errorf("cursor part %q: %w", part, err)
		}
		if _, dup := c[topic]; dup {
			return nil, fmt.Errorf("cursor names topic %q twice", topic)
		}
		n, err := parseSeq(seq)
		if err != nil {
			return nil, fmt.Errorf("cursor part %q: %w", part, err)
		}
		c[topic] = n
	}
	if single != "" {
		if len(c) != 1 {
			return nil, fmt.Errorf("cursor names %d topics, the stream has one (%s)", len(c), single)
		}
		if _, ok := c[single]; !ok {
			return nil, fmt.Errorf("cursor does not name this stream's topic %s", single)
		}
	}
	return c, nil
}

func parseSeq(s string) (uint64, error) {
	if s == "" || len(s) > 20 || (len(s) > 1 && s[0] == '0') {
		return 0, fmt.Errorf("seq %q is not a decimal number", s)
	}
	n, err := strconv.ParseUint(s, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("seq %q is not a decimal number", s)
	}
	return n, nil
}

// Advance records that e was delivered: the topic's cursor becomes e.Seq
// (a reset's seq is the new cursor, a snapshot's seq the state it reflects).
func (c Cursors) Advance(e *Event) { c[e.Topic] = e.Seq }
