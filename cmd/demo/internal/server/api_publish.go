package server

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/twinstream/twinstream/transports"
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
	cmd, ef := transports.ParseCommand(body)
	if ef != nil {
		return frameError(*ef)
	}
	switch cmd.Type {
	case transports.CmdBroadcast, transports.CmdPersonal, transports.CmdBroadcastExcept:
	default:
		f := transports.NewErrorFrame(transports.CodeInvalidMessage, "only message commands can be posted")
		f.Fields = map[string]string{"type": fmt.Sprintf("%q is not allowed here; want broadcast, personal or broadcast_except", cmd.Type)}
		f.ID = cmd.ID
		return frameError(f)
	}
	e, n, ef := s.hub.Route(from, cmd)
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
func (s *Server) publishEvent(c echo.Context) error {
	topic := c.Param("topic")
	if err := transports.ValidTopic(topic); err != nil {
		return invalid("bad topic", map[string]string{"topic": err.Error()})
	}
	if strings.HasPrefix(topic, transports.TaskTopicPrefix) {
		return newAPIError(http.StatusForbidden, transports.CodeForbidden, "task topics are published by the task runner only")
	}
	body, err := readBody(c, s.cfg.MaxBody)
	if err != nil {
		return err
	}
	kind, data, apiErr := parsePublish(body)
	if apiErr != nil {
		return apiErr
	}
	e, n, err := s.hub.PublishExcept(topic, kind, data, "")
	if err != nil {
		return newAPIError(http.StatusServiceUnavailable, transports.CodeUnavailable, err.Error())
	}
	return c.JSON(http.StatusCreated, PublishResult{Topic: e.Topic, Seq: e.Seq, TS: e.TimeMicros(), Event: e.Kind, Queued: n})
}

// parsePublish validates {"event":"kind","data":{...}} with exact field
// names.
func parsePublish(b []byte) (string, json.RawMessage, *apiError) {
	if !json.Valid(b) {
		return "", nil, frameError(transports.NewErrorFrame(transports.CodeInvalidJSON, "body is not valid JSON"))
	}
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(b, &raw); err != nil || raw == nil {
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
	data := raw["data"]
	if data != nil && transports.ValidData(data) != nil {
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

// compact strips insignificant whitespace so the wire form stays one line
// (SSE data lines must not contain newlines).
func compact(data json.RawMessage) json.RawMessage {
	if data == nil {
		return nil
	}
	var buf bytes.Buffer
	if err := json.Compact(&buf, data); err != nil {
		return data
	}
	return buf.Bytes()
}
