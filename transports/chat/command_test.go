package chat_test

import (
	"encoding/json"
	"testing"

	"github.com/twinstream/twinstream/transports"
	"github.com/twinstream/twinstream/transports/chat"
)

func TestParseCommand(t *testing.T) {
	tests := []struct {
		in     string
		code   string   // "" = valid
		fields []string // fields named in the error
	}{
		{`{"type":"subscribe","topic":"news"}`, "", nil},
		{`{"type":"subscribe","topic":"news","last_seq":12,"id":"c1"}`, "", nil},
		{`{"type":"unsubscribe","topic":"news"}`, "", nil},
		{`{"type":"broadcast","message":"hi"}`, "", nil},
		{`{"type":"personal","to":"bob","message":"hi"}`, "", nil},
		{`{"type":"broadcast_except","message":"hi"}`, "", nil},
		{`{"type":"ping"}`, "", nil},
		{`{"type":"pong","ts":1732560000000000}`, "", nil},
		{`{"type":`, transports.CodeInvalidJSON, nil},
		{`not json`, transports.CodeInvalidJSON, nil},
		{`[1,2]`, transports.CodeInvalidMessage, nil},
		{`"subscribe"`, transports.CodeInvalidMessage, nil},
		{`{}`, transports.CodeInvalidMessage, []string{"type"}},
		{`{"type":7}`, transports.CodeInvalidMessage, []string{"type"}},
		{`{"type":"dance"}`, transports.CodeInvalidMessage, []string{"type"}},
		{`{"type":"subscribe"}`, transports.CodeInvalidMessage, []string{"topic"}},
		{`{"type":"subscribe","topic":"a b"}`, transports.CodeInvalidMessage, []string{"topic"}},
		{`{"type":"subscribe","topic":"t","last_seq":-1}`, transports.CodeInvalidMessage, []string{"last_seq"}},
		{`{"type":"subscribe","topic":"t","last_seq":"3"}`, transports.CodeInvalidMessage, []string{"last_seq"}},
		{`{"type":"unsubscribe","topic":"t","last_seq":3}`, transports.CodeInvalidMessage, []string{"last_seq"}},
		{`{"type":"broadcast"}`, transports.CodeInvalidMessage, []string{"message"}},
		{`{"type":"broadcast","message":""}`, transports.CodeInvalidMessage, []string{"message"}},
		{`{"type":"broadcast","message":5}`, transports.CodeInvalidMessage, []string{"message"}},
		{`{"type":"personal","message":"hi"}`, transports.CodeInvalidMessage, []string{"to"}},
		{`{"type":"personal","to":"b@d","message":"hi"}`, transports.CodeInvalidMessage, []string{"to"}},
		{`{"type":"personal"}`, transports.CodeInvalidMessage, []string{"to", "message"}},
		{`{"type":"pong","ts":"x"}`, transports.CodeInvalidMessage, []string{"ts"}},
	}
	for _, tc := range tests {
		c, f := chat.ParseCommand([]byte(tc.in))
		if tc.code == "" {
			if f != nil {
				t.Errorf("ParseCommand(%s): unexpected error %+v", tc.in, f)
			}
			continue
		}
		if f == nil {
			t.Errorf("ParseCommand(%s) = %+v, want error %s", tc.in, c, tc.code)
			continue
		}
		if f.Type != "error" || f.Code != tc.code {
			t.Errorf("ParseCommand(%s) error %+v, want code %s", tc.in, f, tc.code)
		}
		for _, name := range tc.fields {
			if f.Fields[name] == "" {
				t.Errorf("ParseCommand(%s): no detail for field %q in %v", tc.in, name, f.Fields)
			}
		}
		var back map[string]any
		if err := json.Unmarshal(f.JSON(), &back); err != nil || back["type"] != "error" {
			t.Errorf("error frame does not encode: %s", f.JSON())
		}
	}
}

func TestParseCommandLongMessage(t *testing.T) {
	long := make([]byte, chat.MaxMessageLen+1)
	for i := range long {
		long[i] = 'a'
	}
	b, _ := json.Marshal(map[string]string{"type": "broadcast", "message": string(long)})
	if _, f := chat.ParseCommand(b); f == nil || f.Fields["message"] == "" {
		t.Fatalf("long message accepted: %+v", f)
	}
}

func FuzzParseCommand(f *testing.F) {
	for _, s := range []string{
		`{"type":"subscribe","topic":"news","last_seq":12}`,
		`{"type":"personal","to":"bob","message":"hi"}`,
		`{"type":"broadcast_except","message":"x","id":"1"}`,
		`{"type":"pong","ts":1}`, `{}`, `[]`, `{"type":null}`, `{"type":"subscribe","topic":"\u0000"}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		c, frame := chat.ParseCommand(b)
		if frame != nil {
			if frame.Code != transports.CodeInvalidJSON && frame.Code != transports.CodeInvalidMessage {
				t.Fatalf("unexpected code %q", frame.Code)
			}
			if !json.Valid(frame.JSON()) {
				t.Fatalf("error frame is not JSON: %s", frame.JSON())
			}
			return
		}
		// A valid command has a known type and valid names.
		switch c.Type {
		case chat.CmdSubscribe, chat.CmdUnsubscribe:
			if transports.ValidTopic(c.Topic) != nil {
				t.Fatalf("accepted bad topic %q", c.Topic)
			}
		case chat.CmdPersonal:
			if transports.ValidClientID(c.To) != nil || c.Message == "" {
				t.Fatalf("accepted bad personal %+v", c)
			}
		case chat.CmdBroadcast, chat.CmdBroadcastExcept:
			if c.Message == "" || len(c.Message) > chat.MaxMessageLen {
				t.Fatalf("accepted bad message %+v", c)
			}
		case chat.CmdPing, chat.CmdPong:
		default:
			t.Fatalf("accepted unknown type %q", c.Type)
		}
	})
}

func TestIsPong(t *testing.T) {
	for _, c := range []struct {
		in   string
		want bool
	}{
		{`{"type":"pong"}`, true},
		{`{"type":"pong","ts":1732560000000000}`, true},
		{`{"type":"pong","ts":0}`, true},
		{`{"type":"pong","ts":01}`, false},
		{`{"type":"pong","ts":-1}`, false},
		{`{"type":"pong","ts":}`, false},
		{`{"type":"pong","ts":1e3}`, false},
		{`{"type":"pong","ts":1234567890123456789}`, false},
		{`{"type":"pong","id":"x"}`, false},
		{`{"type":"ping"}`, false},
		{`{"type":"pong"}x`, false},
		{` {"type":"pong"}`, false},
		{``, false},
	} {
		if got := chat.IsPong([]byte(c.in)); got != c.want {
			t.Errorf("IsPong(%s) = %v, want %v", c.in, got, c.want)
		}
	}
}

// FuzzIsPong checks the fast path against the full parser: whatever IsPong
// accepts, ParseCommand reads as a valid pong.
func FuzzIsPong(f *testing.F) {
	for _, s := range []string{`{"type":"pong"}`, `{"type":"pong","ts":42}`, `{"type":"pong","ts":9}x`, `{"type":"ping"}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		if !chat.IsPong(b) {
			return
		}
		cmd, ef := chat.ParseCommand(b)
		if ef != nil || cmd.Type != chat.CmdPong {
			t.Fatalf("IsPong accepted %q but ParseCommand gives %+v, %v", b, cmd, ef)
		}
	})
}
