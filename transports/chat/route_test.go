package chat_test

import (
	"encoding/json"
	"fmt"
	"testing"

	"go.uber.org/goleak"

	"github.com/twinstream/twinstream/transports"
	"github.com/twinstream/twinstream/transports/chat"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func eq(a, b []string) bool { return fmt.Sprint(a) == fmt.Sprint(b) }

func TestPresenceAndRouting(t *testing.T) {
	h := transports.NewHub(transports.HubConfig{Presence: chat.Presence})
	attach := func(id string) *transports.Subscriber {
		s, _, err := h.Attach("test", transports.Stream{ClientID: id})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close(nil) })
		return s
	}
	watcher := attach("watcher")
	alice := attach("alice")
	alice2 := attach("alice") // second connection: no second join
	bob := attach("bob")
	kinds := func(s *transports.Subscriber) []string {
		var out []string
		for _, it := range s.Drain(nil) {
			var m chat.Message
			var p struct {
				ClientID string `json:"client_id"`
			}
			_ = json.Unmarshal(it.Event.Data, &m)
			_ = json.Unmarshal(it.Event.Data, &p)
			out = append(out, it.Event.Topic+"/"+it.Event.Kind+"/"+m.From+p.ClientID+"/"+m.Message)
		}
		return out
	}
	if got := kinds(watcher); !eq(got, []string{"broadcast/join/alice/", "broadcast/join/bob/"}) {
		t.Fatalf("watcher joins: %v", got)
	}
	for _, s := range []*transports.Subscriber{alice, alice2, bob} {
		s.Drain(nil)
	}
	route := func(from string, c chat.Command) {
		if _, _, f := chat.Route(h, from, c); f != nil {
			t.Fatalf("route: %v", f)
		}
	}
	route("bob", chat.Command{Type: chat.CmdPersonal, To: "alice", Message: "hi"})
	route("alice", chat.Command{Type: chat.CmdBroadcastExcept, Message: "not me"})
	route("bob", chat.Command{Type: chat.CmdBroadcast, Message: "all"})
	wantAlice := []string{"client:alice/message/bob/hi", "broadcast/message/bob/all"}
	for _, s := range []*transports.Subscriber{alice, alice2} {
		if got := kinds(s); !eq(got, wantAlice) {
			t.Fatalf("alice: %v, want %v", got, wantAlice)
		}
	}
	if got := kinds(bob); !eq(got, []string{"broadcast/message/alice/not me", "broadcast/message/bob/all"}) {
		t.Fatalf("bob: %v", got)
	}
	if _, _, f := chat.Route(h, "", chat.Command{Type: chat.CmdBroadcast, Message: "x"}); f == nil || f.Code != transports.CodeForbidden {
		t.Fatalf("anonymous send: %v", f)
	}
	alice.Close(nil)
	if got := kinds(watcher); !eq(got, []string{"broadcast/message/alice/not me", "broadcast/message/bob/all"}) {
		t.Fatalf("no leave while alice has a connection: %v", got)
	}
	alice2.Close(nil)
	if got := kinds(watcher); !eq(got, []string{"broadcast/leave/alice/"}) {
		t.Fatalf("leave: %v", got)
	}
	if h.Online("alice") != 0 || h.Online("bob") != 1 {
		t.Fatal("presence counts wrong")
	}
}
