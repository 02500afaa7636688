package server

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/twinstream/twinstream/transports"
	"github.com/twinstream/twinstream/transports/chat"
	"github.com/twinstream/twinstream/transports/taskstream"
)

// postMessage: POST /api/messages?client_id=carol with a broadcast,
// personal or broadcast_except command as body (the same JSON a WebSocket
// client sends) → 202 {"type":"ack","topic","seq","size"}. This is how SSE
// clients, which cannot send on their stream, talk.
func (s *Server) postMessage(c echo.Context) error {
	from := c.QueryParam("client_id")
	switch err := transports.ValidClientID(from); {
	case from == "":
		return invalid("sending messages needs a client_id", map[string]string{"client_id": "required"})
	case err != nil:
		return invalid("bad client_id", map[string]string{"client_id": err.Error()})
	}
	body, err := readBody(c, s.cfg.MaxBody)
	if err != nil {
		return err
	}
	cmd, ef := chat.ParseCommand(body)
	if ef != nil {
		return frameError(*ef)
	}
	switch cmd.Type {
	case chat.CmdBroadcast, chat.CmdPersonal, chat.CmdBroadcastExcept:
	default:
		f := transports.NewErrorFrame(transports.CodeInvalidMessage, "only message commands can be posted")
		f.Fields = map[string]string{"type": fmt.Sprintf("%q is not allowed here; want broadcast, personal or broadcast_except", cmd.Type)}
		f.ID = cmd.ID
		return frameError(f)
	}
	e, n, ef := chat.Route(s.hub, from, cmd)
	if ef != nil {
		status := http.StatusBadRequest
		switch ef.Code {
		case transports.CodeForbidden:
			status = http.StatusForbidden
		case transports.CodeUnavailable:
			status = http.StatusServiceUnavailable
		}
		return &apiError{status: status, frame: *ef}
	}
	ack := transports.ControlFrame{Type: transports.TypeAck, ID: cmd.ID, Topic: e.Topic, Seq: e.Seq, Size: n}
	return c.JSONBlob(http.StatusAccepted, ack.JSON())
}

// Reserved event kinds that only the hub itself emits.
var reservedKinds = map[string]bool{transports.KindSnapshot: true, transports.KindReset: true}

// PublishResult is the body of a 201 from POST /api/topics/:topic/events.
type PublishResult struct {
	Topic  string `json:"topic"`
	Seq    uint64 `json:"seq"`
	TS     int64  `json:"ts"` // publish time, unix µs (as in the event)
	Event  string `json:"event"`
	Queued int    `json:"queued"` // connections it was queued for
}

// publishEvent: POST /api/topics/:topic/events {"event":"tick","data":{...}}
// publishes any event (data defaults to {}). Task topics are written only
// by the task runner (403), and "snapshot" and "reset" are reserved (400).
// With authentication on, client:* topics and the join and leave kinds need
// a publisher token (403; see auth.go).
//
// The data is validated once and copied once, by the hub, into the event's
// wire form: a body in the canonical form (splitPublish) is not decoded at
// all; any other body is decoded first (parsePublish), which validates it a
// second time.
func (s *Server) publishEvent(c echo.Context) error {
	topic := c.Param("topic")
	if err := transports.ValidTopic(topic); err != nil {
		return invalid("bad topic", map[string]string{"topic": err.Error()})
	}
	if strings.HasPrefix(topic, taskstream.TopicPrefix) {
		return newAPIError(http.StatusForbidden, transports.CodeForbidden, "task topics are published by the task runner only")
	}
	body, err := readBody(c, s.cfg.MaxBody)
	if err != nil {
		return err
	}
	kind, data, ok := splitPublish(body)
	if ok {
		if err := s.mayPublish(c, topic, kind); err != nil { // auth.go
			return err
		}
		e, n, err := s.hub.PublishExcept(topic, kind, data, "")
		if !errors.Is(err, transports.ErrInvalidData) {
			return s.published(c, e, n, err)
		}
		// The decoder below says exactly what is wrong with the body.
	}
	kind, data, apiErr := parsePublish(body)
	if apiErr != nil {
		return apiErr
	}
	if err := s.mayPublish(c, topic, kind); err != nil {
		return err
	}
	e, n, err := s.hub.PublishExcept(topic, kind, data, "")
	return s.published(c, e, n, err)
}

// published answers a publish: 201 with the event's position, or 503.
func (s *Server) published(c echo.Context, e *transports.Event, n int, err error) error {
	if err != nil {
		return publishError(err) // redis.go: 503
	}
	return c.JSON(http.StatusCreated, PublishResult{Topic: e.Topic, Seq: e.Seq, TS: e.TimeMicros(), Event: e.Kind, Queued: n})
}

// splitPublish reads a body in the canonical form, the one encoding/json
// writes for {"event":…,"data":…} (the load generator's): exactly
// {"event":"<kind>","data":<data>} with a valid, unreserved kind and data
// that starts with '{' and holds no white space byte at all (so compacting
// it would change nothing). It neither copies nor validates data: the hub
// does, and if data is not a JSON object the body was not in this form
// after all. Anything else is left to parsePublish.
func splitPublish(b []byte) (kind string, data []byte, ok bool) {
	rest, ok := bytes.CutPrefix(b, []byte(`{"event":"`))
	if !ok {
		return "", nil, false
	}
	i := bytes.IndexByte(rest, '"')
	if i < 0 {
		return "", nil, false
	}
	kind = string(rest[:i])
	if transports.ValidKind(kind) != nil || reservedKinds[kind] {
		return "", nil, false
	}
	if rest, ok = bytes.CutPrefix(rest[i+1:], []byte(`,"data":`)); !ok {
		return "", nil, false
	}
	if data, ok = bytes.CutSuffix(rest, []byte("}")); !ok || len(data) == 0 || data[0] != '{' ||
		bytes.ContainsAny(data, " \t\r\n") {
		return "", nil, false
	}
	return kind, data, true
}

// rawJSON is a JSON value left undecoded, like json.RawMessage, but not
// copied: it points into the body, which the handler owns and never reuses.
type rawJSON []byte

// UnmarshalJSON implements json.Unmarshaler. json.Unmarshal hands it a
// sub-slice of its input.
func (r *rawJSON) UnmarshalJSON(b []byte) error {
	*r = b
	return nil
}

// parsePublish validates {"event":"kind","data":{...}} with exact field
// names, reporting every problem, and compacts data that holds white space
// (the wire form keeps one line; SSE data lines must not break).
func parsePublish(b []byte) (string, json.RawMessage, *apiError) {
	var raw map[string]rawJSON
	if err := json.Unmarshal(b, &raw); err != nil || raw == nil {
		if _, ok := err.(*json.SyntaxError); ok {
			return "", nil, frameError(transports.NewErrorFrame(transports.CodeInvalidJSON, "body is not valid JSON"))
		}
		return "", nil, invalid("body must be a JSON object", nil)
	}
	fields := map[string]string{}
	var kind string
	if r, ok := raw["event"]; !ok {
		fields["event"] = "required"
	} else if err := json.Unmarshal(r, &kind); err != nil || bytes.Equal(r, []byte("null")) {
		fields["event"] = "must be a string"
	} else if err := transports.ValidKind(kind); err != nil {
		fields["event"] = err.Error()
	} else if reservedKinds[kind] {
		fields["event"] = fmt.Sprintf("%q is reserved", kind)
	}
	data, hasData := raw["data"]
	if hasData && (len(data) == 0 || data[0] != '{') { // valid JSON already: only its shape is left to check
		fields["data"] = "must be a JSON object"
	}
	for k := range raw {
		if k != "event" && k != "data" {
			fields[k] = "unknown field; want event, data"
		}
	}
	if len(fields) > 0 {
		return "", nil, invalid("invalid event", fields)
	}
	return kind, compact(data), nil
}

// compact strips insignificant white space so the wire form stays one line
// (SSE data lines must not contain newlines). Data without any white space
// byte is returned as it is.
func compact(data []byte) json.RawMessage {
	if !bytes.ContainsAny(data, " \t\r\n") {
		return json.RawMessage(data)
	}
	var buf bytes.Buffer
	if err := json.Compact(&buf, data); err != nil {
		return data
	}
	return buf.Bytes()
}
