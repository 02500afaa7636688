//go:build linux

package bench

import (
	"context"
	"errors"
	"io"
	"net"
	"testing"
	"time"
)

// pollPair is a poller serving the client end of a loopback connection
// whose server end the test holds.
func pollPair(t *testing.T) (p *leanPoller, client, server net.Conn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	client, err = net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	if server, err = ln.Accept(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { server.Close() })
	if p, err = newLeanPoller(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.close)
	return p, client, server
}

type serveResult struct {
	heard bool
	err   error
}

func serveAsync(ctx context.Context, p *leanPoller, conn net.Conn, proto leanProto, idle time.Duration) chan serveResult {
	ch := make(chan serveResult, 1)
	go func() {
		heard, err := p.serve(ctx, conn, nil, proto, idle)
		ch <- serveResult{heard, err}
	}()
	return ch
}

func await(t *testing.T, ch chan serveResult) serveResult {
	t.Helper()
	select {
	case r := <-ch:
		return r
	case <-time.After(10 * time.Second):
		t.Fatal("serve did not return within 10s")
		return serveResult{}
	}
}

// A silent server ends the session after the idle timeout, counted as a
// timeout, as the product clients' watchdogs do.
func TestLeanPollerIdle(t *testing.T) {
	p, client, _ := pollPair(t)
	l := testLean(t, WS)
	start := time.Now()
	r := await(t, serveAsync(context.Background(), p, client, &l.wsp, 300*time.Millisecond))
	if !errors.Is(r.err, context.DeadlineExceeded) || causeOf(r.err) != "timeout" || r.heard {
		t.Fatalf("err %v (cause %q), heard %v", r.err, causeOf(r.err), r.heard)
	}
	if d := time.Since(start); d < 300*time.Millisecond || d > 300*time.Millisecond+2*leanScanEvery {
		t.Errorf("ended after %v", d)
	}
}

// Frames arrive through the poller; ctx's end sends the WebSocket close
// frame and ends the session at once.
func TestLeanPollerCancel(t *testing.T) {
	p, client, server := pollPair(t)
	l := testLean(t, WS)
	ctx, cancel := context.WithCancel(context.Background())
	ch := serveAsync(ctx, p, client, &l.wsp, time.Minute)
	for seq := range uint64(3) {
		if _, err := server.Write(serverFrame(true, opText, wireEvent(seq+1, 100), false)); err != nil {
			t.Fatal(err)
		}
	}
	deadline := time.Now().Add(5 * time.Second)
	for l.sub.SelfTally().Delivered < 3 && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	cancel()
	r := await(t, ch)
	if !r.heard || r.err == nil {
		t.Fatalf("heard %v, err %v", r.heard, r.err)
	}
	b, _ := io.ReadAll(server)
	if op, payload := unmask(t, b); op != opClose || string(payload) != "\x03\xe8" {
		t.Errorf("server read op %d %x, want close 1000", op, payload)
	}
	if tl := l.sub.SelfTally(); tl.Delivered != 3 {
		t.Errorf("tally %+v", tl)
	}
}

// Closing the poller ends the sessions it still serves; a later one is
// refused.
func TestLeanPollerClose(t *testing.T) {
	p, client, _ := pollPair(t)
	l := testLean(t, SSE)
	ch := serveAsync(context.Background(), p, client, &l.sse, time.Minute)
	time.Sleep(50 * time.Millisecond)
	p.close()
	if r := await(t, ch); !errors.Is(r.err, net.ErrClosed) {
		t.Fatalf("err %v, want net.ErrClosed", r.err)
	}
	_, c2, _ := pollPair(t)
	if _, err := p.serve(context.Background(), c2, nil, &l.sse, time.Minute); !errors.Is(err, net.ErrClosed) {
		t.Fatalf("serve after close: %v", err)
	}
}
