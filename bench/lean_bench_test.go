package bench

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/twinstream/twinstream/transports"
)

// BenchmarkClientDecode measures what a load-generating subscriber costs
// per delivery: a minimal in-process server (rawServer: the frames the
// real servers write, pre-encoded, one write per event and connection)
// sends each event to subs connections and waits until every one has been
// accounted before the next, so each connection reads one event at a time,
// as in a fanout run (subs=2000 shows what a large run adds: per-client
// state out of the CPU caches). The clients are the worker's own (newWorker, the
// same Sub and Recorder accounting as a loadgen run), either the product
// clients (ws.Client, sse.Client) or the lean ones; client=floor is a
// plain reader that only counts bytes, the floor of this machine for the
// same server and syscalls. Reported per delivery: wall time (ns/delivery),
// CPU time of the whole process, user + system, server side included
// (cpu-ns/delivery), and allocations (allocs/delivery, B/delivery).
func BenchmarkClientDecode(b *testing.B) {
	for _, transport := range []string{WS, SSE} {
		for _, subs := range []int{100, 2000} {
			for _, client := range []string{"floor", ClientProduct, ClientLean} {
				b.Run(fmt.Sprintf("transport=%s/subs=%d/client=%s", transport, subs, client), func(b *testing.B) {
					benchClientDecode(b, transport, client, subs, 100)
				})
			}
		}
	}
}

func benchClientDecode(b *testing.B, transport, client string, subs, size int) {
	srv := newRawServer(b, transport)
	defer srv.close()
	var got func() uint64 // deliveries (clients) or bytes (floor) so far
	var stop func()
	if client == "floor" {
		got, stop = startFloor(b, srv, subs)
	} else {
		w, err := newWorker(context.Background(), WorkerSpec{
			Transport: transport, Targets: []string{srv.url}, Count: subs, Client: client,
			Streams:       []StreamSpec{{Path: "/" + transport + "?topic=" + rawTopic, Topics: []string{rawTopic}}},
			ProgressEvery: Duration(time.Hour),
		}, &lockedEncoder{enc: json.NewEncoder(io.Discard)})
		if err != nil {
			b.Fatal(err)
		}
		w.start()
		got = w.rec.Deliveries
		stop = func() {
			srv.close() // first: the product WebSocket client would wait for a close handshake
			w.stop()
		}
	}
	defer stop()
	srv.waitConns(b, subs)

	var seq uint64
	var want uint64
	if client == "floor" {
		want = uint64(subs * len(srv.hello))
	}
	send := func() {
		seq++
		f := srv.frame(seq, size)
		srv.broadcast(f)
		if client == "floor" {
			want += uint64(subs * len(f))
		} else {
			want += uint64(subs)
		}
		deadline := time.Now().Add(30 * time.Second)
		for got() < want {
			if time.Now().After(deadline) {
				b.Fatalf("event %d: %d of %d after 30s", seq, got(), want)
			}
			time.Sleep(20 * time.Microsecond)
		}
	}
	send() // warm-up: every connection has read once
	events := (b.N + subs - 1) / subs
	deliveries := float64(events * subs)
	var ms0, ms1 runtime.MemStats
	runtime.ReadMemStats(&ms0)
	cpu0, sys0 := cpuTime(), syscalls()
	b.ResetTimer()
	for range events {
		send()
	}
	b.StopTimer()
	cpu, sys := cpuTime()-cpu0, syscalls()
	runtime.ReadMemStats(&ms1)
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/deliveries, "ns/delivery")
	b.ReportMetric(float64(cpu.Nanoseconds())/deliveries, "cpu-ns/delivery")
	b.ReportMetric(float64(ms1.Mallocs-ms0.Mallocs)/deliveries, "allocs/delivery")
	b.ReportMetric(float64(sys.reads-sys0.reads)/deliveries, "reads/delivery")
	b.ReportMetric(float64(sys.writes-sys0.writes)/deliveries, "writes/delivery")
	b.ReportMetric(float64(ms1.TotalAlloc-ms0.TotalAlloc)/deliveries, "B/delivery")
}

// cpuTime is the process's user + system CPU time.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

type ioCounts struct{ reads, writes uint64 }

// syscalls reads the process's read and write syscall counts
// (/proc/self/io syscr, syscw); zero where there is no such file.
func syscalls() ioCounts {
	var c ioCounts
	b, err := os.ReadFile("/proc/self/io")
	if err != nil {
		return c
	}
	for _, line := range strings.Split(string(b), "\n") {
		k, v, _ := strings.Cut(line, ": ")
		n, _ := strconv.ParseUint(v, 10, 64)
		switch k {
		case "syscr":
			c.reads = n
		case "syscw":
			c.writes = n
		}
	}
	return c
}

const rawTopic = "bench"

// rawServer is the plainest server of a transport's wire format: it
// answers the upgrade or GET by hand and writes pre-encoded frames, each
// event with one write per connection, as the real servers do when a
// connection has one event queued.
type rawServer struct {
	transport string
	url       string
	ln        net.Listener
	hello     []byte // what an SSE stream starts with after its headers

	mu     sync.Mutex
	conns  []net.Conn
	closed bool
	wg     sync.WaitGroup
}

func newRawServer(tb testing.TB, transport string) *rawServer {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	s := &rawServer{transport: transport, ln: ln, url: "http://" + ln.Addr().String()}
	if transport == SSE {
		s.hello = chunk([]byte("retry: 2000\nid: " + rawTopic + "=0\n\n"))
	}
	s.wg.Go(func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			s.wg.Go(func() { s.serve(conn) })
		}
	})
	return s
}

func (s *rawServer) serve(conn net.Conn) {
	defer conn.Close()
	br := bufio.NewReader(conn)
	req, err := http.ReadRequest(br)
	if err != nil {
		return
	}
	var head string
	if s.transport == WS {
		head = "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
			"Sec-WebSocket-Accept: " + acceptKey(req.Header.Get("Sec-WebSocket-Key")) + "\r\n\r\n"
	} else {
		head = "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nCache-Control: no-cache\r\n" +
			"Transfer-Encoding: chunked\r\n\r\n" + string(s.hello)
	}
	if _, err := conn.Write([]byte(head)); err != nil {
		return
	}
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return
	}
	s.conns = append(s.conns, conn)
	s.mu.Unlock()
	_, _ = io.Copy(io.Discard, br) // pongs and close frames; ends when either side closes
}

// frame is event seq's bytes on the wire.
func (s *rawServer) frame(seq uint64, size int) []byte {
	now := time.Now()
	wire := transports.NewEvent(rawTopic, seq, EventKind, Payload(0, now, size), now).JSON()
	if s.transport == WS {
		f := []byte{0x81}
		switch n := len(wire); {
		case n < 126:
			f = append(f, byte(n))
		case n < 1<<16:
			f = append(f, 126, byte(n>>8), byte(n))
		default:
			panic("frame too large for the bench server")
		}
		return append(f, wire...)
	}
	return chunk(fmt.Appendf(nil, "id: %s=%d\ndata: %s\n\n", rawTopic, seq, wire))
}

// chunk frames b as one chunk of a chunked HTTP/1.1 body.
func chunk(b []byte) []byte { return fmt.Appendf(nil, "%x\r\n%s\r\n", len(b), b) }

func (s *rawServer) broadcast(f []byte) {
	s.mu.Lock()
	conns := s.conns[:len(s.conns):len(s.conns)]
	s.mu.Unlock()
	for _, c := range conns {
		_, _ = c.Write(f)
	}
}

func (s *rawServer) waitConns(tb testing.TB, n int) {
	deadline := time.Now().Add(30 * time.Second)
	for {
		s.mu.Lock()
		have := len(s.conns)
		s.mu.Unlock()
		if have >= n {
			return
		}
		if time.Now().After(deadline) {
			tb.Fatalf("%d of %d connections after 30s", have, n)
		}
		time.Sleep(time.Millisecond)
	}
}

func (s *rawServer) close() {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return
	}
	s.closed = true
	conns := s.conns
	s.mu.Unlock()
	_ = s.ln.Close()
	for _, c := range conns {
		_ = c.Close()
	}
	s.wg.Wait()
}

// startFloor connects subs plain readers that count the bytes they read
// after the response headers.
func startFloor(tb testing.TB, srv *rawServer, subs int) (got func() uint64, stop func()) {
	var total atomic.Uint64
	var wg sync.WaitGroup
	conns := make([]net.Conn, 0, subs)
	for range subs {
		conn, err := net.Dial("tcp", srv.ln.Addr().String())
		if err != nil {
			tb.Fatal(err)
		}
		conns = append(conns, conn)
		req := "GET /" + srv.transport + "?topic=" + rawTopic + " HTTP/1.1\r\nHost: bench\r\n" +
			"Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n" +
			"Sec-WebSocket-Version: 13\r\nAccept: text/event-stream\r\n\r\n"
		if _, err := conn.Write([]byte(req)); err != nil {
			tb.Fatal(err)
		}
		wg.Go(func() {
			br := bufio.NewReader(conn)
			resp, err := http.ReadResponse(br, nil)
			if err != nil {
				return
			}
			_ = resp // the body is read raw, chunk framing and all
			buf := make([]byte, 4096)
			for {
				n, err := br.Read(buf)
				total.Add(uint64(n))
				if err != nil {
					return
				}
			}
		})
	}
	return total.Load, func() {
		for _, c := range conns {
			_ = c.Close()
		}
		srv.close()
		wg.Wait()
	}
}
