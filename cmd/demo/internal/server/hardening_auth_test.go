package server_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/twinstream/twinstream/cmd/demo/internal/server"
	"github.com/twinstream/twinstream/transports"
)

// Issue 10, "no identity": any client could claim any client_id and read
// its personal messages; and "anyone may publish into a personal topic or
// forge presence". With --auth-secret, client_id comes from a signed token.

func authServer(t *testing.T) *testServer {
	return start(t, server.Config{Hardening: server.Hardening{AuthSecret: testSecret}})
}

func TestClientIDComesOnlyFromToken(t *testing.T) {
	t.Parallel()
	ts := authServer(t)
	alice := "Authorization: Bearer " + token(t, "alice", false)
	// Claiming an id without a token: 401, on both transports and the POST.
	if _, res, err := ts.tryDialWS("/ws?client_id=bob"); err == nil || res == nil || res.StatusCode != http.StatusUnauthorized {
		t.Fatalf("WS claiming bob without a token: %v %v, want 401", res, err)
	}
	c := ts.openSSE("/sse?client_id=bob")
	if c.res.StatusCode != http.StatusUnauthorized {
		t.Fatalf("SSE claiming bob without a token: %d, want 401", c.res.StatusCode)
	}
	c.close()
	ts.do("POST", "/api/messages?client_id=bob", `{"type":"broadcast","message":"hi"}`).
		errorFrame(t, http.StatusUnauthorized, transports.CodeForbidden)
	// Claiming another's id with one's token: 403.
	if _, res, err := ts.tryDialWS("/ws?client_id=bob", alice); err == nil || res == nil || res.StatusCode != http.StatusForbidden {
		t.Fatalf("alice claiming bob: %v %v, want 403", res, err)
	}
	// A bad token is refused, not taken as anonymous.
	ts.do("POST", "/api/messages", `{"type":"broadcast","message":"hi"}`, "Authorization: Bearer x.y.z").
		errorFrame(t, http.StatusUnauthorized, transports.CodeForbidden)
	// The token alone gives the id: alice follows client:alice, and a
	// personal message from carol reaches her.
	w := ts.dialWS("/ws", alice)
	if b := w.nextControl(); !strings.Contains(string(b), `"topic":"client:alice"`) {
		t.Fatalf("alice's first frame %s, want subscribed to client:alice", b)
	}
	w.attached(1)
	res := ts.do("POST", "/api/messages", `{"type":"personal","to":"alice","message":"psst"}`, "Authorization: Bearer "+token(t, "carol", false))
	if res.status != http.StatusAccepted {
		t.Fatalf("carol's personal message: %d %s", res.status, res.body)
	}
	for {
		e := wireEvent(t, w.nextEvent())
		if e.Topic == "client:alice" {
			if !strings.Contains(string(e.Data), `"from":"carol"`) {
				t.Fatalf("personal message %s, want from carol", e.Data)
			}
			break
		}
	}
	// alice cannot follow bob's personal topic.
	w.send(`{"type":"subscribe","topic":"client:bob","id":"s1"}`)
	for {
		b := w.nextControl()
		if frameType(t, b) == transports.TypeError {
			if !strings.Contains(string(b), transports.CodeForbidden) {
				t.Fatalf("subscribe client:bob: %s, want forbidden", b)
			}
			break
		}
	}
}

func TestTokenInQueryOrCookieForEventSource(t *testing.T) {
	t.Parallel()
	ts := authServer(t)
	for _, tt := range []struct {
		name, path, header string
	}{
		{"query", "/sse?token=" + token(t, "alice", false), ""},
		{"cookie", "/sse", "Cookie: token=" + token(t, "alice", false)},
		{"query with the same client_id", "/sse?client_id=alice&token=" + token(t, "alice", false), ""},
	} {
		c := ts.openSSE(tt.path, tt.header).expectStream()
		if f, err := c.next(); err != nil || !strings.Contains(f.id, "client:alice=") {
			t.Fatalf("%s: first frame %+v %v, want the id of a stream that follows client:alice", tt.name, f, err)
		}
		c.close()
	}
}

func TestAnonymousFollowsPublicTopicsOnly(t *testing.T) {
	t.Parallel()
	ts := authServer(t)
	w := ts.dialWS("/ws?topic=news").attached(1)
	w.send(`{"type":"subscribe","topic":"client:bob"}`)
	if b := w.nextControl(); !strings.Contains(string(b), transports.CodeForbidden) {
		t.Fatalf("anonymous subscribe to client:bob: %s, want forbidden", b)
	}
	w.send(`{"type":"broadcast","message":"hi"}`)
	if b := w.nextControl(); frameType(t, b) != transports.TypeError {
		t.Fatalf("anonymous broadcast: %s, want an error", b)
	}
	c := ts.openSSE("/sse?topic=client:bob")
	if c.res.StatusCode != http.StatusBadRequest {
		t.Fatalf("anonymous SSE on client:bob: %d, want 400", c.res.StatusCode)
	}
	c.close()
	ts.openSSE("/sse?topic=news").expectStream().nextFrameWithin(t)
}

func TestPersonalTopicAndPresenceNeedPublisherToken(t *testing.T) {
	t.Parallel()
	ts := authServer(t)
	client := "Authorization: Bearer " + token(t, "mallory", false)
	publisher := "Authorization: Bearer " + token(t, "loadgen", true)
	for _, tt := range []struct{ path, body string }{
		{"/api/topics/client:bob/events", `{"event":"message","data":{"from":"alice","message":"fake"}}`},
		{"/api/topics/broadcast/events", `{"event":"leave","data":{"client_id":"bob"}}`},
		{"/api/topics/broadcast/events", "{\"event\": \"join\", \"data\": {\"client_id\": \"bob\"}}"}, // the decoder's path
	} {
		ts.do("POST", tt.path, tt.body).errorFrame(t, http.StatusForbidden, transports.CodeForbidden)
		ts.do("POST", tt.path, tt.body, client).errorFrame(t, http.StatusForbidden, transports.CodeForbidden)
		if res := ts.do("POST", tt.path, tt.body, publisher); res.status != http.StatusCreated {
			t.Fatalf("publisher %s %s: %d %s", tt.path, tt.body, res.status, res.body)
		}
	}
	// Public topics and kinds stay open to anyone.
	if res := ts.do("POST", "/api/topics/news/events", `{"event":"tick"}`); res.status != http.StatusCreated {
		t.Fatalf("public publish: %d %s", res.status, res.body)
	}
}

// TestWithoutAuthSecretAnyoneIsAnyone: without --auth-secret the server
// behaves as before (and the README says there is no authentication).
func TestWithoutAuthSecretAnyoneIsAnyone(t *testing.T) {
	t.Parallel()
	ts := start(t, server.Config{})
	ts.dialWS("/ws?client_id=bob").attached(2)
	if res := ts.do("POST", "/api/topics/client:bob/events", `{"event":"message","data":{}}`); res.status != http.StatusCreated {
		t.Fatalf("publish into client:bob without auth: %d %s", res.status, res.body)
	}
}
