package redisbroker

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/twinstream/twinstream/transports"
)

// encodeBody is an event as Redis keeps and sends it:
// "<ts µs>\n<kind>\n<except>\n<data>". Kinds and client ids hold no line
// break (transports.ValidKind, ValidClientID); data comes last, whole.
func encodeBody(m transports.Message) string {
	data := m.Data
	if len(data) == 0 {
		data = []byte("{}")
	}
	var b strings.Builder
	b.Grow(24 + len(m.Kind) + len(m.Except) + len(data))
	b.WriteString(strconv.FormatInt(m.Time.UnixMicro(), 10))
	b.WriteByte('\n')
	b.WriteString(m.Kind)
	b.WriteByte('\n')
	b.WriteString(m.Except)
	b.WriteByte('\n')
	b.Write(data)
	return b.String()
}

// decodeBody builds the event of topic numbered seq from its body: this is
// where a node encodes its wire form, once.
func decodeBody(topic string, seq uint64, body string) (*transports.Event, error) {
	ts, rest, ok1 := strings.Cut(body, "\n")
	kind, rest, ok2 := strings.Cut(rest, "\n")
	except, data, ok3 := strings.Cut(rest, "\n")
	us, err := strconv.ParseInt(ts, 10, 64)
	if !ok1 || !ok2 || !ok3 || err != nil {
		return nil, fmt.Errorf("redisbroker: malformed event %d of %s", seq, topic)
	}
	e := transports.NewEvent(topic, seq, kind, []byte(data), time.UnixMicro(us))
	e.Except = except
	return e, nil
}

// decodePush reads a pub/sub message: "<epoch>\n<seq>\n<body>".
func decodePush(topic, payload string) (string, *transports.Event, error) {
	epoch, rest, ok1 := strings.Cut(payload, "\n")
	seqText, body, ok2 := strings.Cut(rest, "\n")
	seq, err := strconv.ParseUint(seqText, 10, 64)
	if !ok1 || !ok2 || err != nil {
		return "", nil, fmt.Errorf("redisbroker: malformed message on %s", topic)
	}
	e, err := decodeBody(topic, seq, body)
	return epoch, e, err
}

// decodeHistory reads history.lua's answer.
func decodeHistory(topic string, res []any) (transports.History, error) {
	var h transports.History
	bad := func(what string) (transports.History, error) {
		return transports.History{}, fmt.Errorf("redisbroker: history of %s: bad %s", topic, what)
	}
	if len(res) != 5 {
		return bad("answer")
	}
	epoch, ok1 := res[0].(string)
	latest, ok2 := res[1].(int64)
	start, ok3 := res[2].(int64)
	entries, ok4 := res[3].([]any)
	if !ok1 || !ok2 || !ok3 || !ok4 {
		return bad("answer")
	}
	h.Epoch, h.Latest, h.Start = epoch, uint64(latest), uint64(start)
	for _, x := range entries {
		e, err := decodeEntry(topic, x)
		if err != nil {
			return transports.History{}, err
		}
		h.Events = append(h.Events, e)
	}
	if res[4] != nil {
		if n := len(h.Events); n > 0 && h.Events[n-1].Seq == h.Latest {
			h.Last = h.Events[n-1] // the same entry: encode it once
		} else {
			e, err := decodeEntry(topic, res[4])
			if err != nil {
				return transports.History{}, err
			}
			h.Last = e
		}
	}
	return h, nil
}

// decodeEntry reads a stream entry: [id, [field, value, ...]].
func decodeEntry(topic string, x any) (*transports.Event, error) {
	entry, ok := x.([]any)
	if !ok || len(entry) != 2 {
		return nil, fmt.Errorf("redisbroker: history of %s: bad entry", topic)
	}
	id, _ := entry[0].(string)
	fields, _ := entry[1].([]any)
	seqText, _, _ := strings.Cut(id, "-")
	seq, err := strconv.ParseUint(seqText, 10, 64)
	if err != nil {
		return nil, fmt.Errorf("redisbroker: history of %s: bad entry id %q", topic, id)
	}
	for i := 0; i+1 < len(fields); i += 2 {
		if f, _ := fields[i].(string); f == "d" {
			body, _ := fields[i+1].(string)
			return decodeBody(topic, seq, body)
		}
	}
	return nil, fmt.Errorf("redisbroker: history of %s: entry %s has no event", topic, id)
}
