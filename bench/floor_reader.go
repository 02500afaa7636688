package bench

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	hdr "github.com/HdrHistogram/hdrhistogram-go"

	"github.com/twinstream/twinstream/transports"
)

// RunFloorReader is the floor's reader (`loadgen floor-reader`): a worker
// that speaks the worker protocol (proto.go) with a WorkerSpec whose
// Transport is Floor, Targets[0] the floor writer's host:port and each
// stream's Path its topic. Each client dials (from its source address),
// names its topic in one line, then reads newline-delimited records with a
// 4 KiB bufio.Reader and parses the few fields it needs in place (no
// allocation per record); each record goes through the same Sub as a
// transport's event does, so seq accounting and both latencies (from ts and
// from the payload's schedule) are exactly the transports'.
func RunFloorReader(ctx context.Context, in io.Reader, out io.Writer) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	enc := &lockedEncoder{enc: json.NewEncoder(out)}
	sc := bufio.NewScanner(in)
	sc.Buffer(make([]byte, 64<<10), 64<<20)
	var fr *floorReader
	defer func() {
		if fr != nil {
			fr.stop()
		}
	}()
	for sc.Scan() {
		var c command
		if err := json.Unmarshal(sc.Bytes(), &c); err != nil {
			return enc.fail(fmt.Errorf("bench floor reader: bad command: %w", err))
		}
		switch c.Op {
		case opStart:
			if fr != nil || c.Spec == nil || len(c.Spec.Targets) == 0 || len(c.Spec.Streams) == 0 {
				return enc.fail(errors.New("bench floor reader: start needs a spec with a target and streams, once"))
			}
			fr = newFloorReader(ctx, *c.Spec, enc)
			if c.Spec.CPUProfile != "" {
				stop, err := startCPUProfile(c.Spec.CPUProfile)
				if err != nil {
					return enc.fail(err)
				}
				defer stop()
			}
			fr.start()
		case opFinish:
			if fr == nil {
				return enc.fail(errors.New("bench floor reader: finish before start"))
			}
			res := fr.finish(ctx, c.Windows, c.Drain.D())
			fr = nil
			return enc.send(message{Type: msgResult, Result: res})
		case opMark, opHold:
			// Nothing to do: floor readers never reconnect.
		default:
			return enc.fail(fmt.Errorf("bench floor reader: unknown op %q", c.Op))
		}
	}
	return sc.Err()
}

// floorReader runs one spec's floor clients.
type floorReader struct {
	spec   WorkerSpec
	out    *lockedEncoder
	rec    *Recorder
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	dialSem chan struct{} // bounds dials in flight (MaxDialing)

	mu       sync.Mutex
	clients  []*floorClient
	failures map[string]int
	connect  *hdr.Histogram

	attempted, connected, established, failed, settled, peak atomic.Int64
	badRecords                                               atomic.Int64
	finishing                                                atomic.Bool
}

type floorClient struct {
	sub   *Sub
	topic string
	conn  net.Conn
}

func newFloorReader(parent context.Context, spec WorkerSpec, out *lockedEncoder) *floorReader {
	if spec.ProgressEvery <= 0 {
		spec.ProgressEvery = Duration(time.Second)
	}
	if spec.HandshakeTimeout <= 0 {
		spec.HandshakeTimeout = Duration(30 * time.Second)
	}
	if spec.MaxDialing <= 0 {
		spec.MaxDialing = 256
	}
	ctx, cancel := context.WithCancel(parent)
	return &floorReader{spec: spec, out: out, rec: NewRecorder(0), ctx: ctx, cancel: cancel,
		dialSem: make(chan struct{}, spec.MaxDialing), failures: map[string]int{}, connect: NewHist()}
}

func (f *floorReader) start() {
	f.wg.Go(f.progressLoop)
	f.wg.Go(f.pace)
}

// pace starts the clients at the spec's connect rate, client i on stream
// i % len(Streams) (there is one target).
func (f *floorReader) pace() {
	start := time.Now()
	ns := len(f.spec.Streams)
	for k := range f.spec.Count {
		if r := f.spec.ConnectRate; r > 0 {
			due := start.Add(time.Duration(float64(k) / r * float64(time.Second)))
			if d := time.Until(due); d > 0 {
				select {
				case <-time.After(d):
				case <-f.ctx.Done():
					return
				}
			}
		}
		if f.ctx.Err() != nil {
			return
		}
		i := f.spec.First + k
		st := f.spec.Streams[i%ns]
		c := &floorClient{sub: f.rec.NewSub(i, 0, st.Topics), topic: st.Path}
		f.mu.Lock()
		f.clients = append(f.clients, c)
		f.mu.Unlock()
		f.attempted.Add(1)
		var local net.Addr
		if ips := f.spec.SourceIPs; len(ips) > 0 {
			local = &net.TCPAddr{IP: net.ParseIP(ips[i%len(ips)])}
		}
		f.wg.Go(func() { f.run(c, local) })
	}
}

// run connects one client and reads its records until the connection ends.
func (f *floorReader) run(c *floorClient, local net.Addr) {
	d := net.Dialer{Timeout: f.spec.HandshakeTimeout.D(), LocalAddr: local, KeepAlive: -1}
	select {
	case f.dialSem <- struct{}{}:
	case <-f.ctx.Done():
		return
	}
	t0 := time.Now()
	conn, err := d.DialContext(f.ctx, "tcp", f.spec.Targets[0])
	<-f.dialSem
	if err == nil {
		_, err = conn.Write([]byte(c.topic + "\n"))
		if err != nil {
			conn.Close()
		}
	}
	if err != nil {
		if f.ctx.Err() == nil {
			f.fail(causeOf(err))
		}
		f.failed.Add(1)
		f.settled.Add(1)
		return
	}
	f.mu.Lock()
	_ = f.connect.RecordValue(clampMicros(int64(time.Since(t0) / time.Microsecond)))
	c.conn = conn
	f.mu.Unlock()
	if f.ctx.Err() != nil { // stop ran before the connection was recorded
		conn.Close()
		return
	}
	f.established.Add(1)
	f.settled.Add(1)
	n := f.connected.Add(1)
	for p := f.peak.Load(); n > p && !f.peak.CompareAndSwap(p, n); p = f.peak.Load() {
	}
	defer f.connected.Add(-1)
	prefix := []byte(`{"type":"event","topic":` + strconv.Quote(c.topic) + `,"seq":`)
	br := bufio.NewReaderSize(conn, 4<<10) // as small as the clients' (10,000 readers)
	var long []byte                        // a record longer than the buffer (a big --size)
	for {
		line, err := br.ReadSlice('\n')
		if errors.Is(err, bufio.ErrBufferFull) {
			long = append(long[:0], line...)
			for errors.Is(err, bufio.ErrBufferFull) {
				line, err = br.ReadSlice('\n')
				long = append(long, line...)
			}
			line = long
		}
		if err != nil {
			if f.ctx.Err() == nil && !f.finishing.Load() {
				f.fail("lost: " + causeOf(err))
			}
			return
		}
		e, ok := parseFloorRecord(line, prefix)
		if !ok {
			f.badRecords.Add(1)
			continue
		}
		e.Topic = c.topic
		c.sub.Event(e, time.Now())
	}
}

// parseFloorRecord reads seq, ts and data out of one record, the wire JSON
// the floor writer encodes (fixed field order) and a newline, in place.
func parseFloorRecord(line, prefix []byte) (transports.WireEvent, bool) {
	var e transports.WireEvent
	rest, ok := bytes.CutPrefix(line, prefix)
	if !ok {
		return e, false
	}
	seq, rest := leadingInt(rest)
	rest, ok = bytes.CutPrefix(rest, []byte(`,"event":"`+EventKind+`","ts":`))
	if !ok || seq <= 0 {
		return e, false
	}
	ts, rest := leadingInt(rest)
	data, ok := bytes.CutPrefix(rest, []byte(`,"data":`))
	if !ok || len(data) < 3 || data[len(data)-1] != '\n' || data[len(data)-2] != '}' {
		return e, false
	}
	e.Type, e.Event, e.Seq, e.TS = transports.TypeEvent, EventKind, uint64(seq), ts
	e.Data = data[:len(data)-2]
	return e, true
}

func (f *floorReader) fail(cause string) {
	f.mu.Lock()
	f.failures[cause]++
	f.mu.Unlock()
}

func (f *floorReader) progressLoop() {
	t := time.NewTicker(f.spec.ProgressEvery.D())
	defer t.Stop()
	for {
		select {
		case <-f.ctx.Done():
			return
		case <-t.C:
			if f.finishing.Load() {
				return
			}
			p := Progress{
				Worker: f.spec.Worker, TNS: time.Now().UnixNano(),
				Attempted: int(f.attempted.Load()), Connected: int(f.connected.Load()),
				Established: int(f.established.Load()), Failed: int(f.failed.Load()),
				Settled: int(f.settled.Load()), Deliveries: f.rec.Deliveries(),
			}
			p.WindowHDR, _ = EncodeHist(f.rec.TakeWindow())
			if self, err := readProc(os.Getpid()); err == nil {
				p.CPUSeconds = self.CPUSeconds
			}
			_ = f.out.send(message{Type: msgProgress, Progress: &p})
		}
	}
}

// finish waits until every client has every window's last seq (or drain
// passes), stops the clients and accounts, as a worker does.
func (f *floorReader) finish(ctx context.Context, windows []Window, drain time.Duration) *WorkerResult {
	deadline := time.Now().Add(drain)
	drained := false
	for {
		drained = f.allReached(windows)
		if drained || time.Now().After(deadline) || ctx.Err() != nil {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	f.finishing.Store(true)
	f.stop()
	res := &WorkerResult{
		Worker: f.spec.Worker, Clients: f.spec.Count, Attempted: int(f.attempted.Load()),
		Established: int(f.established.Load()), Failed: int(f.failed.Load()), Peak: int(f.peak.Load()),
		Deliveries: f.rec.Deliveries(), Drained: drained, Failures: map[string]int{},
	}
	if t := f.rec.LastDelivery(); !t.IsZero() {
		res.LastNS = t.UnixNano()
	}
	f.mu.Lock()
	for k, v := range f.failures {
		res.Failures[k] = v
	}
	if n := f.badRecords.Load(); n > 0 {
		res.Failures["malformed record"] = int(n)
	}
	for _, c := range f.clients {
		res.Tally.Add(c.sub.Tally(windows))
	}
	res.ConnectHDR, _ = EncodeHist(f.connect)
	f.mu.Unlock()
	res.LatencyHDR, _ = EncodeHist(f.rec.Total())
	res.ScheduleHDR, _ = EncodeHist(f.rec.FromSchedule())
	return res
}

func (f *floorReader) allReached(windows []Window) bool {
	if int(f.settled.Load()) < f.spec.Count {
		return false
	}
	f.mu.Lock()
	clients := f.clients[:len(f.clients):len(f.clients)]
	f.mu.Unlock()
	for _, c := range clients {
		for _, w := range windows {
			if c.sub.Follows(w) && !c.sub.Reached(w) {
				return false
			}
		}
	}
	return true
}

// stop closes every connection and waits for the clients (bounded).
func (f *floorReader) stop() {
	f.finishing.Store(true)
	f.cancel()
	f.mu.Lock()
	for _, c := range f.clients {
		if c.conn != nil {
			c.conn.Close()
		}
	}
	f.mu.Unlock()
	done := make(chan struct{})
	go func() { f.wg.Wait(); close(done) }() // owner: stop; ends when every client returned
	select {
	case <-done:
	case <-time.After(15 * time.Second):
	}
}
