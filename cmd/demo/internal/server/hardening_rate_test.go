package server_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/twinstream/twinstream/cmd/demo/internal/server"
	"github.com/twinstream/twinstream/transports"
)

// Issue 10, "no command rate limit": one client's 50,000 broadcasts in
// 566 ms became 1,000,000 deliveries, and another topic's p99 went from 0.9
// to 272 ms.

func TestCommandOverRateGetsRateLimitedThen4029(t *testing.T) {
	t.Parallel()
	ts := start(t, server.Config{Hardening: server.Hardening{CommandRate: transports.Rate{PerSecond: 0.001, Burst: 3}}})
	w := ts.dialWS("/ws?topic=news").attached(1)
	// The burst: answered.
	for i := range 3 {
		w.send(fmt.Sprintf(`{"type":"ping","ts":1,"id":"p%d"}`, i))
		if b := w.nextControl(); frameType(t, b) != transports.TypePong {
			t.Fatalf("command %d within the burst: got %s", i, b)
		}
	}
	// The grace (as many refusals as the burst): each refused command
	// gets a rate_limited error frame, and the connection stays open.
	for i := range 3 {
		w.send(`{"type":"ping","ts":1}`)
		var f transports.ErrorFrame
		if err := json.Unmarshal(w.nextControl(), &f); err != nil || f.Code != transports.CodeRateLimited {
			t.Fatalf("refusal %d: %+v %v, want a rate_limited error frame", i, f, err)
		}
	}
	// Past the grace: close 4029.
	w.send(`{"type":"ping","ts":1}`)
	if ce := w.closeReason(); ce.Code != 4029 {
		t.Fatalf("close %v, want 4029", ce)
	}
}

// TestCommandFloodDoesNotDelayOthers: a client flooding broadcasts is cut
// at the rate (its accepted broadcasts are bounded by the burst and the
// rate over the flood's duration, not by what it sends) and closed with
// 4029; a client that follows broadcast and news receives at most those
// few broadcasts, in order, ahead of the next news event, not thousands.
func TestCommandFloodDoesNotDelayOthers(t *testing.T) {
	t.Parallel()
	rate := transports.Rate{PerSecond: 5, Burst: 20}
	ts := start(t, server.Config{Hardening: server.Hardening{CommandRate: rate}})
	victim := ts.dialWS("/ws?client_id=victim&topic=news").attached(3)
	began := time.Now()
	flood := ts.dialWS("/ws?client_id=flood").attached(2)
	const sent = 5000
	acks, refused := 0, 0
	done := make(chan websocket.StatusCode)
	go func() { // owner: this test, which waits on done
		for {
			_, b, err := flood.c.Read(context.Background())
			if err != nil {
				done <- websocket.CloseStatus(err)
				return
			}
			switch {
			case strings.Contains(string(b), `"type":"ack"`):
				acks++
			case strings.Contains(string(b), `"rate_limited"`):
				refused++
			}
		}
	}()
	for i := range sent {
		if flood.c.Write(context.Background(), websocket.MessageText, fmt.Appendf(nil, `{"type":"broadcast","message":"m%d"}`, i)) != nil {
			break // the server closed the connection
		}
	}
	if st := <-done; st != 4029 {
		t.Fatalf("flooding client closed with %v, want 4029", st)
	}
	elapsed := time.Since(began)
	bound := rate.Burst + int(rate.PerSecond*elapsed.Seconds()) + 1
	ts.do("POST", "/api/topics/news/events", `{"event":"tick","data":{"n":1}}`)
	var msgs []uint64
	for {
		e := wireEvent(t, victim.nextEvent())
		if e.Topic == "news" {
			break
		}
		if e.Event == "message" {
			msgs = append(msgs, e.Seq)
		}
	}
	if len(msgs) > bound || len(msgs) < rate.Burst {
		t.Fatalf("victim got %d broadcasts before the next news event; want between the burst %d and %d (of %d sent)", len(msgs), rate.Burst, bound, sent)
	}
	for i := 1; i < len(msgs); i++ {
		if msgs[i] <= msgs[i-1] {
			t.Fatalf("broadcasts out of order: %v", msgs)
		}
	}
	if acks > len(msgs) {
		t.Fatalf("flooder got %d acks, victim saw %d messages", acks, len(msgs))
	}
	t.Logf("sent %d, accepted %d (bound %d over %v), refusals seen %d", sent, len(msgs), bound, elapsed.Round(time.Millisecond), refused)
}

// TestPublishRateLimitPerIP: the publish API answers 429 with Retry-After
// and a JSON body over --publish-rate, per client IP.
func TestPublishRateLimitPerIP(t *testing.T) {
	t.Parallel()
	ts := start(t, server.Config{Hardening: server.Hardening{PublishRate: transports.Rate{PerSecond: 0.5, Burst: 2}}})
	for i := range 2 {
		if res := ts.do("POST", "/api/topics/news/events", `{"event":"tick"}`); res.status != http.StatusCreated {
			t.Fatalf("publish %d within the burst: %d %s", i, res.status, res.body)
		}
	}
	res := ts.do("POST", "/api/topics/news/events", `{"event":"tick"}`)
	res.errorFrame(t, http.StatusTooManyRequests, transports.CodeRateLimited)
	if s, err := strconv.Atoi(res.header.Get("Retry-After")); err != nil || s < 1 || s > 2 {
		t.Fatalf("Retry-After %q, want 1 or 2 seconds", res.header.Get("Retry-After"))
	}
	// Chat messages posted by SSE clients share the publisher's budget.
	ts.do("POST", "/api/messages?client_id=carol", `{"type":"broadcast","message":"hi"}`).
		errorFrame(t, http.StatusTooManyRequests, transports.CodeRateLimited)
	// Another address has a budget of its own.
	req, _ := http.NewRequest("POST", ts.url+"/api/topics/news/events", strings.NewReader(`{"event":"tick"}`))
	other, err := dialFrom(t, "127.0.0.2").Do(req)
	if err != nil {
		t.Fatal(err)
	}
	other.Body.Close()
	if other.StatusCode != http.StatusCreated {
		t.Fatalf("another IP: %d", other.StatusCode)
	}
}

// TestConnectRateLimitPerIP: new stream connections over --conn-rate are
// closed with 4029 after the upgrade (WebSocket) or answered 200 with
// retry: and a rate_limited error frame (SSE, so EventSource retries).
func TestConnectRateLimitPerIP(t *testing.T) {
	t.Parallel()
	ts := start(t, server.Config{Hardening: server.Hardening{ConnRate: transports.Rate{PerSecond: 0.001, Burst: 2}}})
	ts.dialWS("/ws?topic=a").attached(1)
	ts.openSSE("/sse?topic=a").expectStream().nextFrameWithin(t)
	if ce := ts.dialWS("/ws?topic=a").closeReason(); ce.Code != 4029 {
		t.Fatalf("WebSocket over the rate: close %v, want 4029", ce)
	}
	c := ts.openSSE("/sse?topic=a").expectStream()
	var saw bool
	for {
		f, err := c.next()
		if err != nil {
			break
		}
		saw = saw || strings.Contains(f.data, `"rate_limited"`)
	}
	if !saw {
		t.Fatal("SSE over the rate: no rate_limited error frame")
	}
	o, _, err := dialWSWith(t, dialFrom(t, "127.0.0.2"), ts.wsURL("/ws?topic=a"))
	if err != nil {
		t.Fatalf("another IP: %v", err)
	}
	o.attached(1)
}
