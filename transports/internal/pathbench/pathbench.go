// Package pathbench measures a transport's server path alone: the hub's
// fan-out and the connection loop writing onto counting connections, with
// no network and no client. Both transports' benchmarks and batching tests
// use it, so their figures (ns, allocations and write calls per delivery)
// compare like for like and a regression shows without a load run.
package pathbench

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twinstream/twinstream/transports"
)

// Wait bounds every wait of the harness.
const Wait = 20 * time.Second

// A Conn is a net.Conn for a server under measurement: reads block until
// Close, writes are discarded and counted (calls, bytes, and the frames
// they carry, by the transport's Frames function). A Gate, when set,
// holds every write until it is opened, to build a backlog.
type Conn struct {
	frames func([]byte) int

	writes, bytes, delivered atomic.Uint64

	mu     sync.Mutex
	gate   chan struct{} // nil: open
	closed chan struct{}
	once   sync.Once
}

// NewConn returns a Conn counting frames with frames.
func NewConn(frames func([]byte) int) *Conn {
	return &Conn{frames: frames, closed: make(chan struct{})}
}

// Read blocks until the connection is closed (the client never speaks).
func (c *Conn) Read([]byte) (int, error) {
	<-c.closed
	return 0, io.EOF
}

// Write counts p and discards it.
func (c *Conn) Write(p []byte) (int, error) {
	c.mu.Lock()
	gate := c.gate
	c.mu.Unlock()
	if gate != nil {
		select {
		case <-gate:
		case <-c.closed:
			return 0, net.ErrClosed
		}
	}
	select {
	case <-c.closed:
		return 0, net.ErrClosed
	default:
	}
	c.writes.Add(1)
	c.bytes.Add(uint64(len(p)))
	c.delivered.Add(uint64(c.frames(p)))
	return len(p), nil
}

// Hold makes writes wait until Release.
func (c *Conn) Hold() {
	c.mu.Lock()
	c.gate = make(chan struct{})
	c.mu.Unlock()
}

// Release lets held writes through.
func (c *Conn) Release() {
	c.mu.Lock()
	if c.gate != nil {
		close(c.gate)
		c.gate = nil
	}
	c.mu.Unlock()
}

// Writes is the number of write calls so far.
func (c *Conn) Writes() uint64 { return c.writes.Load() }

// Delivered is the number of event frames written so far.
func (c *Conn) Delivered() uint64 { return c.delivered.Load() }

// Reset zeroes the counters (after the connection's opening frames).
func (c *Conn) Reset() {
	c.writes.Store(0)
	c.bytes.Store(0)
	c.delivered.Store(0)
}

// Close ends the connection.
func (c *Conn) Close() error {
	c.once.Do(func() { close(c.closed) })
	return nil
}

func (*Conn) LocalAddr() net.Addr                  { return fakeAddr{} }
func (*Conn) RemoteAddr() net.Addr                 { return fakeAddr{} }
func (*Conn) SetDeadline(time.Time) error          { return nil }
func (*Conn) SetReadDeadline(time.Time) error      { return nil }
func (c *Conn) SetWriteDeadline(t time.Time) error { return nil }

type fakeAddr struct{}

func (fakeAddr) Network() string { return "tcp" }
func (fakeAddr) String() string  { return "127.0.0.1:1" }

// hijacker is a ResponseWriter whose connection is a Conn.
type hijacker struct {
	header http.Header
	conn   *Conn
}

func (h *hijacker) Header() http.Header         { return h.header }
func (h *hijacker) Write(b []byte) (int, error) { return len(b), nil } // before the hijack: error bodies
func (h *hijacker) WriteHeader(int)             {}
func (h *hijacker) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	return h.conn, bufio.NewReadWriter(bufio.NewReader(h.conn), bufio.NewWriter(h.conn)), nil
}

// Open connects one subscriber: it serves req (a stream request for
// handler, which must return once the stream is taken over, as detached
// transports do) onto a new Conn.
func Open(handler http.Handler, req func() *http.Request, frames func([]byte) int) (*Conn, error) {
	c := NewConn(frames)
	w := &hijacker{header: http.Header{}, conn: c}
	done := make(chan struct{})
	go func() { // owner: Open, which waits for it below
		defer close(done)
		handler.ServeHTTP(w, req())
	}()
	select {
	case <-done:
		return c, nil
	case <-time.After(Wait):
		return nil, errors.New("pathbench: the handler did not return: is the transport detached?")
	}
}

// A Setup opens a transport's server on hub and returns its stream
// handler, a request for topic, a frame counter and a shutdown.
type Setup func(hub *transports.Hub, topic string) (handler http.Handler, req func() *http.Request, frames func([]byte) int, stop func())

// Request returns a GET request for target, as net/http would hand it to
// a handler.
func Request(target string, header http.Header) func() *http.Request {
	return func() *http.Request {
		r := httptest.NewRequest(http.MethodGet, target, nil)
		r.RemoteAddr = "127.0.0.1:1"
		for k, v := range header {
			r.Header[k] = v
		}
		return r.WithContext(context.Background())
	}
}

// Fanout measures publishing b.N events of size bytes to subs subscribers
// of one topic: ns, allocations and write calls per delivery. Burst
// publishes as fast as it can (the writers drain backlogs: the saturated
// regime); paced publishes the next event only once every subscriber
// has the last (one wake-up and one write per delivery: the idle regime).
func Fanout(b *testing.B, setup Setup, subs, size int, paced bool) {
	hub := transports.NewHub(transports.HubConfig{})
	const topic = "bench"
	handler, req, frames, stop := setup(hub, topic)
	defer stop()
	defer hub.Close()
	conns := make([]*Conn, subs)
	for i := range conns {
		c, err := Open(handler, req, frames)
		if err != nil {
			b.Fatal(err)
		}
		conns[i] = c
		defer c.Close()
	}
	waitFor(b, func() bool { return hub.Stats().Connections != nil && sum(hub.Stats().Connections) == subs })
	time.Sleep(10 * time.Millisecond) // opening frames out
	for _, c := range conns {
		c.Reset()
	}
	data := payload(size)
	var ms0, ms1 runtime.MemStats
	runtime.ReadMemStats(&ms0)
	b.ResetTimer()
	start := time.Now()
	all := func(n uint64) func() bool {
		return func() bool {
			for _, c := range conns {
				if c.Delivered() < n {
					return false
				}
			}
			return true
		}
	}
	for i := range b.N {
		if _, err := hub.Publish(context.Background(), topic, "progress", data); err != nil {
			b.Fatal(err)
		}
		if paced {
			spinFor(b, all(uint64(i+1)))
		}
	}
	waitFor(b, all(uint64(b.N)))
	elapsed := time.Since(start)
	b.StopTimer()
	runtime.ReadMemStats(&ms1)
	var writes uint64
	for _, c := range conns {
		writes += c.Writes()
	}
	deliveries := float64(b.N) * float64(subs)
	b.ReportMetric(float64(elapsed.Nanoseconds())/deliveries, "ns/delivery")
	b.ReportMetric(float64(ms1.Mallocs-ms0.Mallocs)/deliveries, "allocs/delivery")
	b.ReportMetric(float64(writes)/deliveries, "writes/delivery")
}

// Backlog queues n events for one subscriber whose writes are held, then
// releases them, and returns the write calls the backlog took (one, when
// the transport writes a drained batch at once).
func Backlog(t testing.TB, setup Setup, n int) (writes uint64) {
	hub := transports.NewHub(transports.HubConfig{})
	const topic = "backlog"
	handler, req, frames, stop := setup(hub, topic)
	defer stop()
	defer hub.Close()
	c, err := Open(handler, req, frames)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	waitFor(t, func() bool { return sum(hub.Stats().Connections) == 1 })
	time.Sleep(10 * time.Millisecond)
	c.Reset()
	c.Hold()
	data := payload(100)
	// The first event takes the writer into a held write; the rest queue
	// behind it.
	if _, err := hub.Publish(context.Background(), topic, "progress", data); err != nil {
		t.Fatal(err)
	}
	time.Sleep(20 * time.Millisecond)
	for range n {
		if _, err := hub.Publish(context.Background(), topic, "progress", data); err != nil {
			t.Fatal(err)
		}
	}
	c.Release()
	waitFor(t, func() bool { return c.Delivered() == uint64(n+1) })
	return c.Writes()
}

func payload(size int) json.RawMessage {
	return json.RawMessage(`{"pad":"` + string(bytes.Repeat([]byte("x"), max(size-10, 0))) + `"}`)
}

func sum(m map[string]int) int {
	n := 0
	for _, v := range m {
		n += v
	}
	return n
}

// spinFor waits for cond without sleeping (a sleep would dwarf what is
// measured), yielding to the writers.
func spinFor(t testing.TB, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(Wait)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("pathbench: timed out")
		}
		runtime.Gosched()
	}
}

func waitFor(t testing.TB, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(Wait)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("pathbench: timed out")
		}
		time.Sleep(time.Millisecond)
	}
}

// Benchmarks runs a transport's BenchmarkServerPath table: paced and
// burst, 1, 100 and 1,000 subscribers, 100-byte events, named
// transport=T/mode=M/subs=N/size=100, the same for every transport.
func Benchmarks(b *testing.B, transport string, setup Setup) {
	for _, mode := range []string{"paced", "burst"} {
		for _, subs := range []int{1, 100, 1000} {
			b.Run(fmt.Sprintf("transport=%s/mode=%s/subs=%d/size=100", transport, mode, subs), func(b *testing.B) {
				Fanout(b, setup, subs, 100, mode == "paced")
			})
		}
	}
}

// CheckBacklogIsOneWrite fails t unless a backlog goes out in one write:
// 50 events queued behind a held write take exactly one more write call.
func CheckBacklogIsOneWrite(t *testing.T, setup Setup) {
	t.Helper()
	if got := Backlog(t, setup, 50); got != 2 {
		t.Fatalf("51 events (1 held, then 50 queued) took %d writes, want 2", got)
	}
}
