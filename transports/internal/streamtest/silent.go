package streamtest

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"testing"
	"time"
)

// Silent is a server that falls silent: on every connection the handler
// of a transport's test records the client's resume cursor (Connected),
// sends one event (SilentEvent) and then nothing at all — no heartbeat, no
// close — until the client leaves or the test ends.
type Silent struct {
	*httptest.Server
	quit chan struct{} // closed at the end of the test, before the server

	mu      sync.Mutex
	cursors []string // the resume cursor of every connection, in order
}

// NewSilent starts a Silent server with serve as its handler, over HTTP/2
// with TLS if http2 is set. It closes at the end of the test, after the
// cleanups of clients started later: they stop first.
func NewSilent(t testing.TB, http2 bool, serve func(s *Silent, w http.ResponseWriter, r *http.Request)) *Silent {
	t.Helper()
	s := &Silent{quit: make(chan struct{})}
	s.Server = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		serve(s, w, r)
	}))
	if http2 {
		s.EnableHTTP2 = true
		s.StartTLS()
	} else {
		s.Start()
	}
	t.Cleanup(func() {
		close(s.quit)
		s.Close()
	})
	return s
}

// Connected records a connection's resume cursor ("" for none) and returns
// the connection's number, from 1.
func (s *Silent) Connected(cursor string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.cursors = append(s.cursors, cursor)
	return len(s.cursors)
}

// Cursors returns the resume cursor of every connection, in order.
func (s *Silent) Cursors() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.cursors)
}

// Hold returns when the client of r hangs up or the test ends.
func (s *Silent) Hold(r *http.Request) {
	select {
	case <-r.Context().Done():
	case <-s.quit:
	}
}

// SilentEvent is the one event a Silent server sends on connection n: seq
// n of topic task:1, so that the next connection's cursor is n.
func SilentEvent(n int) string {
	return fmt.Sprintf(`{"type":"event","topic":"task:1","seq":%d,"event":"progress","ts":1,"data":{}}`, n)
}

// CheckResumed checks the cursors of a run in which a client that never
// times out connected first and the client under test second, then
// reconnected at least twice: the first two connections came without a
// cursor, and every later one resumed from the event of the one before.
func (s *Silent) CheckResumed(t testing.TB) {
	t.Helper()
	cursors := s.Cursors()
	if len(cursors) < 4 || cursors[0] != "" || cursors[1] != "" {
		t.Fatalf("resume cursors of the connections: %q", cursors)
	}
	for i := 2; i < len(cursors); i++ {
		if want := fmt.Sprint(i); cursors[i] != want {
			t.Errorf("connection %d resumed from %q, want %q (all: %q)", i+1, cursors[i], want, cursors)
		}
	}
}

// Mute is a TCP listener that accepts connections and never answers on
// them: a server that hangs before its first byte.
type Mute struct {
	ln      net.Listener
	accepts chan net.Conn
}

// NewMute listens on 127.0.0.1 until the end of the test.
func NewMute(t testing.TB) *Mute {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	m := &Mute{ln: ln, accepts: make(chan net.Conn, 16)}
	var wg sync.WaitGroup
	wg.Add(1)
	// owner: m; it accepts until the cleanup below closes the listener,
	// and that cleanup waits for it.
	go func() {
		defer wg.Done()
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			select {
			case m.accepts <- conn:
			default:
				conn.Close()
			}
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		wg.Wait()
		close(m.accepts)
		for conn := range m.accepts {
			conn.Close()
		}
	})
	return m
}

// Addr is the listener's host:port.
func (m *Mute) Addr() string { return m.ln.Addr().String() }

// Next returns the next connection accepted (closed at the end of the
// test); if none comes within Wait it fails the test, saying what.
func (m *Mute) Next(t testing.TB, what string) net.Conn {
	t.Helper()
	select {
	case conn := <-m.accepts:
		t.Cleanup(func() { conn.Close() })
		return conn
	case <-time.After(Wait):
		t.Fatal(what)
		return nil
	}
}

// HangsUp reads the request a client sends on conn, then waits for the
// client to hang up, failing the test if it keeps waiting (for what) for
// Wait.
func HangsUp(t testing.TB, conn net.Conn, what string) {
	t.Helper()
	_ = conn.SetReadDeadline(time.Now().Add(Wait))
	buf := make([]byte, 4<<10)
	if _, err := conn.Read(buf); err != nil {
		t.Fatalf("reading the request: %v", err)
	}
	for {
		if _, err := conn.Read(buf); err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				t.Fatalf("the client kept waiting for %s", what)
			}
			return
		}
	}
}
