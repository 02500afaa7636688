package chat

import (
	"bytes"
	"encoding/json"
	"fmt"
	"unicode/utf8"

	"github.com/twinstream/twinstream/transports"
)

// Command types clients send (WebSocket text frames; for SSE clients, the
// body of POST /api/messages). Subscribe, unsubscribe, ping and pong act on
// the connection itself; broadcast, personal and broadcast_except publish a
// message (see Route).
const (
	CmdSubscribe       = "subscribe"
	CmdUnsubscribe     = "unsubscribe"
	CmdBroadcast       = "broadcast"
	CmdPersonal        = "personal"
	CmdBroadcastExcept = "broadcast_except"
	CmdPing            = "ping"
	CmdPong            = "pong"
)

// MaxMessageLen bounds a chat message, in bytes.
const MaxMessageLen = 4096

// A Command is a validated client command.
//
//	{"type":"subscribe","topic":"news","last_seq":12}
//	{"type":"unsubscribe","topic":"news"}
//	{"type":"broadcast","message":"hi"}
//	{"type":"personal","to":"bob","message":"hi"}
//	{"type":"broadcast_except","message":"hi"}
//	{"type":"ping"} / {"type":"pong","ts":...}
//
// Any command may carry an "id" string, echoed in its ack or error.
type Command struct {
	Type    string  `json:"type"`
	ID      string  `json:"id,omitempty"`
	Topic   string  `json:"topic,omitempty"`
	LastSeq *uint64 `json:"last_seq,omitempty"`
	To      string  `json:"to,omitempty"`
	Message string  `json:"message,omitempty"`
	TS      int64   `json:"ts,omitempty"`
}

// rawCommand keeps field presence and raw types for precise errors.
type rawCommand struct {
	Type    *string          `json:"type"`
	ID      *json.RawMessage `json:"id"`
	Topic   *json.RawMessage `json:"topic"`
	LastSeq *json.RawMessage `json:"last_seq"`
	To      *json.RawMessage `json:"to"`
	Message *json.RawMessage `json:"message"`
	TS      *json.RawMessage `json:"ts"`
}

// ParseCommand decodes and validates one command. On failure it returns an
// ErrorFrame with code invalid_json (not JSON) or invalid_message (not an
// object, unknown type, missing or malformed fields; Fields says which).
//
// Parsing is all it does: Route publishes message commands, and
// transports.CanSubscribe says which topics a subscribe may name.
func ParseCommand(b []byte) (Command, *transports.ErrorFrame) {
	if !json.Valid(b) {
		f := transports.NewErrorFrame(transports.CodeInvalidJSON, "message is not valid JSON")
		return Command{}, &f
	}
	if !isObject(b) {
		f := transports.NewErrorFrame(transports.CodeInvalidMessage, "message must be a JSON object")
		return Command{}, &f
	}
	var raw rawCommand
	dec := json.NewDecoder(bytes.NewReader(b))
	if err := dec.Decode(&raw); err != nil {
		f := transports.NewErrorFrame(transports.CodeInvalidMessage, "message does not match the command shape")
		f.Fields = map[string]string{"type": "must be a string"}
		return Command{}, &f
	}
	fields := map[string]string{}
	var c Command
	str := func(name string, r *json.RawMessage, required bool) string {
		if r == nil {
			if required {
				fields[name] = "required"
			}
			return ""
		}
		var s string
		if err := json.Unmarshal(*r, &s); err != nil {
			fields[name] = "must be a string"
			return ""
		}
		if s == "" && required {
			fields[name] = "must not be empty"
		}
		return s
	}
	c.ID = str("id", raw.ID, false)
	if len(c.ID) > 128 {
		fields["id"] = "longer than 128 bytes"
	}
	if raw.Type == nil {
		fields["type"] = "required"
	} else {
		c.Type = *raw.Type
	}
	switch c.Type {
	case CmdSubscribe, CmdUnsubscribe:
		c.Topic = str("topic", raw.Topic, true)
		if c.Topic != "" {
			if err := transports.ValidTopic(c.Topic); err != nil {
				fields["topic"] = err.Error()
			}
		}
		if raw.LastSeq != nil {
			if c.Type == CmdUnsubscribe {
				fields["last_seq"] = "not allowed on unsubscribe"
			} else {
				var n uint64
				if err := json.Unmarshal(*raw.LastSeq, &n); err != nil {
					fields["last_seq"] = "must be a non-negative integer"
				} else {
					c.LastSeq = &n
				}
			}
		}
	case CmdBroadcast, CmdBroadcastExcept, CmdPersonal:
		c.Message = str("message", raw.Message, true)
		switch {
		case len(c.Message) > MaxMessageLen:
			fields["message"] = fmt.Sprintf("longer than %d bytes", MaxMessageLen)
		case !utf8.ValidString(c.Message):
			fields["message"] = "must be valid UTF-8"
		}
		if c.Type == CmdPersonal {
			c.To = str("to", raw.To, true)
			if c.To != "" {
				if err := transports.ValidClientID(c.To); err != nil {
					fields["to"] = err.Error()
				}
			}
		}
	case CmdPing, CmdPong:
		if raw.TS != nil {
			if err := json.Unmarshal(*raw.TS, &c.TS); err != nil {
				fields["ts"] = "must be an integer (unix µs)"
			}
		}
	case "":
		if raw.Type != nil {
			fields["type"] = "must not be empty"
		}
	default:
		fields["type"] = fmt.Sprintf("unknown type %q; want one of subscribe, unsubscribe, broadcast, personal, broadcast_except, ping, pong", c.Type)
	}
	if len(fields) > 0 {
		f := transports.NewErrorFrame(transports.CodeInvalidMessage, "message is not a valid command")
		f.Fields = fields
		f.ID = c.ID
		return Command{}, &f
	}
	return c, nil
}

// isObject reports whether the valid JSON text b is an object.
func isObject(b []byte) bool {
	b = bytes.TrimLeft(b, " \t\r\n")
	return len(b) > 0 && b[0] == '{'
}
