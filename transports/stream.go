package transports

import (
	"errors"
	"fmt"
	"net/http"
	"slices"
)

// A Stream is what one connection asks for. Both transports build it from
// the connect request (ParseConnect) or, for single-topic streams such as
// /ws/tasks/:id, with ResolveSingle and a Resolver, then Attach it to the
// hub.
type Stream struct {
	// ClientID identifies the client (optional). A connection with a client
	// id also follows its personal topic client:<id> and the broadcast topic.
	ClientID string
	// Topics are the explicitly requested topics.
	Topics []string
	// Cursors resume topics (last seq received per topic); a topic without a
	// cursor starts live (or with a snapshot, see Snapshot).
	Cursors Cursors
	// Single names the stream's only topic when it is a single-topic stream:
	// its cursor is the bare seq and its SSE id is the bare seq.
	Single string
	// Snapshot and EndOnTerminal apply to every topic; see SubscribeOptions.
	Snapshot      bool
	EndOnTerminal bool
}

// A Resolver maps a request to a single-topic Stream: it names the
// stream's one topic in Topics (for example a task id in the path to
// task:<id>), and ResolveSingle sets the rest. It returns an error wrapping
// ReasonNotFound when there is no such stream (or another reason of the
// close table), which each transport shows as the table says. The same
// Resolver serves both transports.
type Resolver func(r *http.Request) (Stream, error)

// ResolveSingle resolves a request for a single-topic stream, such as
// GET /ws/tasks/:id or GET /sse/tasks/:id: the one rule both transports'
// Stream handlers follow. resolve names the topic (Topics with one entry,
// no ClientID); whatever else it set, the stream then has Single set to
// that topic, Cursors read from the request (ResumeCursor: the bare seq of
// the Last-Event-ID header, or else of the last_event_id query parameter),
// and Snapshot and EndOnTerminal on: it sends a snapshot first (or, when
// resuming, every event after the cursor), then the topic's events, and
// ends after the terminal event.
//
// Its errors are resolve's own; for a bad cursor, one wrapping
// ReasonBadRequest and the ErrorFrame naming last_event_id; and, when
// resolve returned a stream that is not of one topic, an error without a
// reason (ReasonInternal: a bug of the resolver).
func ResolveSingle(r *http.Request, resolve Resolver) (Stream, error) {
	s, err := resolve(r)
	if err != nil {
		return Stream{}, err
	}
	topics := s.AllTopics()
	if len(topics) != 1 {
		return Stream{}, fmt.Errorf("transports: resolver returned a stream of %d topics %q, want one", len(topics), topics)
	}
	topic := topics[0]
	c, ef := ResumeCursor(r, topic)
	if ef != nil {
		return Stream{}, fmt.Errorf("%w: %w", ReasonBadRequest, *ef)
	}
	return Stream{Topics: topics, Cursors: c, Single: topic, Snapshot: true, EndOnTerminal: true}, nil
}

// AllTopics is the de-duplicated list of topics the stream follows, in
// order: personal, broadcast, then the requested topics.
func (s Stream) AllTopics() []string {
	var out []string
	if s.ClientID != "" {
		out = append(out, ClientTopic(s.ClientID), TopicBroadcast)
	}
	for _, t := range s.Topics {
		if !slices.Contains(out, t) {
			out = append(out, t)
		}
	}
	return out
}

// CursorID formats the stream's resume position as an SSE id.
func (s Stream) CursorID(c Cursors) string { return c.Format(s.Single) }

// ParseConnect reads a multi-topic connect request:
//
//	?client_id=alice&topic=news&topic=chat&last_event_id=broadcast=3,news=17
//
// The SSE Last-Event-ID header, when present, wins over last_event_id.
func ParseConnect(r *http.Request) (Stream, *ErrorFrame) {
	q := r.URL.Query()
	s := Stream{ClientID: q.Get("client_id"), Topics: q["topic"]}
	fields := map[string]string{}
	if len(q["client_id"]) > 1 {
		fields["client_id"] = "given more than once"
	}
	if s.ClientID != "" {
		if err := ValidClientID(s.ClientID); err != nil {
			fields["client_id"] = err.Error()
		}
	}
	if len(s.Topics) > 64 {
		fields["topic"] = "more than 64 topics"
	}
	for _, t := range s.Topics {
		if err := ValidTopic(t); err != nil {
			fields["topic"] = err.Error()
			break
		}
		if !CanSubscribe(s.ClientID, t) {
			fields["topic"] = fmt.Sprintf("%s is another client's personal topic", t)
			break
		}
	}
	all := s.AllTopics()
	if len(all) == 1 {
		s.Single = all[0]
	}
	if n := maxCursorLen(all); n > maxCursorText && fields["topic"] == "" {
		// The stream's SSE id (and a WebSocket's last_event_id) names every
		// topic: one the server would not take back on a reconnect must not
		// be handed out (EventSource stops for good on the 400).
		fields["topic"] = fmt.Sprintf("these topics make a resume id of up to %d bytes, over the %d accepted back: follow fewer or shorter topics", n, maxCursorText)
	}
	cursor := q.Get("last_event_id")
	if h := r.Header.Get("Last-Event-ID"); h != "" {
		cursor = h
	}
	if len(fields) == 0 && cursor != "" {
		c, err := ParseCursors(cursor, s.Single)
		if err != nil {
			fields["last_event_id"] = err.Error()
		}
		for t := range c {
			if !slices.Contains(all, t) {
				fields["last_event_id"] = fmt.Sprintf("names topic %s, which this stream does not follow", t)
			}
		}
		s.Cursors = c
	}
	if len(fields) > 0 {
		f := NewErrorFrame(CodeInvalidMessage, "bad connect request")
		f.Fields = fields
		return Stream{}, &f
	}
	return s, nil
}

// ResumeCursor reads the cursor of a single-topic stream from the
// Last-Event-ID header or the last_event_id query parameter.
func ResumeCursor(r *http.Request, topic string) (Cursors, *ErrorFrame) {
	cursor := r.URL.Query().Get("last_event_id")
	if h := r.Header.Get("Last-Event-ID"); h != "" {
		cursor = h
	}
	c, err := ParseCursors(cursor, topic)
	if err != nil {
		f := NewErrorFrame(CodeInvalidMessage, "bad resume cursor")
		f.Fields = map[string]string{"last_event_id": err.Error()}
		return nil, &f
	}
	return c, nil
}

// Attach registers a connection for s and subscribes it to every topic of
// the stream, resuming where cursors say. On error nothing stays registered.
// ErrEnded means a single-topic stream had already ended at the cursor.
//
// The returned cursors are the stream's starting position: the given cursor
// for resumed topics, the latest seq for topics that start live. A writer
// advances them with every event it writes (see Cursors.Advance) and formats
// them as the SSE id.
func (h *Hub) Attach(transport string, s Stream) (*Subscriber, Cursors, error) {
	sub, err := h.NewSubscriber(SubscriberOptions{Transport: transport, ClientID: s.ClientID})
	if err != nil {
		return nil, nil, err
	}
	start := Cursors{}
	for _, t := range s.AllTopics() {
		opts := SubscribeOptions{Snapshot: s.Snapshot, EndOnTerminal: s.EndOnTerminal}
		c, resumed := s.Cursors[t]
		if resumed {
			opts.After = &c
		}
		latest, err := sub.Subscribe(t, opts)
		if err != nil {
			sub.Close(nil)
			return nil, nil, err
		}
		if !resumed {
			c = latest
		}
		start[t] = c
	}
	return sub, start, nil
}

// Done reports whether err means the stream simply finished.
func Done(err error) bool { return errors.Is(err, ErrEnded) }

// maxCursorText is the longest cursor text ParseCursors accepts.
const maxCursorText = 8192

// maxCursorLen is the longest the cursor text of a stream following
// topics can get: "topic=seq" for each, comma-separated, seq up to 20
// digits (a single-topic stream's bare seq is shorter).
func maxCursorLen(topics []string) int {
	n := 0
	for i, t := range topics {
		if i > 0 {
			n++
		}
		n += len(t) + 1 + 20
	}
	return n
}
