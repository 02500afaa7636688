package bench

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/twinstream/twinstream/transports"
)

// The floor writer's protocol, one JSON object a line like the workers':
//
//	writer → parent: {"type":"listening","addr":"127.0.0.1:PORT"}         first, once
//	parent → writer: {"op":"conns"}                                      → {"type":"conns","conns":N}
//	                 {"op":"publish","topics":[…],"rate":R,"size":B,"events":E}
//	                                                                     → {"type":"published","windows":[…],…} when every record is written
//	                 {"op":"stop"}                                       ends a publish early (the answer still comes)
//
// The writer exits when its stdin closes, closing every connection.

// floorCmd is a command to the floor writer.
type floorCmd struct {
	Op     string   `json:"op"`
	Topics []string `json:"topics,omitempty"`
	Rate   float64  `json:"rate,omitempty"`
	Size   int      `json:"size,omitempty"`
	Events int      `json:"events,omitempty"` // per topic
}

// floorMsg is a message from the floor writer.
type floorMsg struct {
	Type  string `json:"type"`
	Addr  string `json:"addr,omitempty"`
	Conns int    `json:"conns,omitempty"`
	// A publish's outcome: the seq range written per topic, how many
	// events, writes that failed (their connection is dropped) and the
	// furthest an event started behind its schedule.
	Windows     []Window `json:"windows,omitempty"`
	Published   int      `json:"published,omitempty"`
	WriteErrors int      `json:"write_errors,omitempty"`
	MaxLagMS    float64  `json:"max_lag_ms,omitempty"`
	Error       string   `json:"error,omitempty"`
}

// RunFloorServer is the floor's writer (`loadgen floor-server`): the
// plainest code that delivers the fanout workload over TCP, against which
// the transports are measured (see floor.go). It listens on a free
// 127.0.0.1 port and accepts connections; each names its topic in its first
// line. On publish it runs the open-loop schedule itself: at each due time,
// for each topic, it encodes the event once — the transports' wire JSON
// ({"type":"event","topic":…,"seq":…,"event":"tick","ts":…,"data":Payload}) and a
// newline — and writes those bytes to every connection of the topic, one
// write(2) each, no batching, no queue, no deadline. Connections are spread
// over GOMAXPROCS writer goroutines so that it can use every core, as the
// servers do. It reads commands from in and writes messages to out until in
// ends or ctx is done.
func RunFloorServer(ctx context.Context, in io.Reader, out io.Writer) error {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return fmt.Errorf("bench floor: %w", err)
	}
	fs := newFloorServer(ln)
	var pubWG sync.WaitGroup
	stopPub := func() {}
	defer func() {
		stopPub()
		fs.close() // unblocks a write to a reader that stopped reading
		pubWG.Wait()
	}()
	enc := json.NewEncoder(out)
	var encMu sync.Mutex
	send := func(m floorMsg) error {
		encMu.Lock()
		defer encMu.Unlock()
		return enc.Encode(m)
	}
	fs.wg.Go(fs.accept) // ends when close closes the listener
	if err := send(floorMsg{Type: "listening", Addr: ln.Addr().String()}); err != nil {
		return err
	}
	cmds := make(chan floorCmd)
	readErr := make(chan error, 1)
	go func() { // owner: RunFloorServer; ends when in ends
		defer close(cmds)
		sc := bufio.NewScanner(in)
		for sc.Scan() {
			var c floorCmd
			if err := json.Unmarshal(sc.Bytes(), &c); err != nil {
				readErr <- fmt.Errorf("bench floor: bad command: %w", err)
				return
			}
			select {
			case cmds <- c:
			case <-ctx.Done():
				return
			}
		}
		readErr <- sc.Err()
	}()
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case c, ok := <-cmds:
			if !ok {
				return <-readErr
			}
			switch c.Op {
			case "conns":
				if err := send(floorMsg{Type: "conns", Conns: fs.count()}); err != nil {
					return err
				}
			case "publish":
				pctx, cancel := context.WithCancel(ctx)
				stopPub = cancel
				pubWG.Go(func() {
					m := fs.publish(pctx, c)
					m.Type = "published"
					_ = send(m)
				})
			case "stop":
				stopPub()
			default:
				_ = send(floorMsg{Type: "error", Error: fmt.Sprintf("unknown op %q", c.Op)})
			}
		}
	}
}

// floorServer holds the writer's connections, by shard and topic.
type floorServer struct {
	ln     net.Listener
	shards []*floorShard
	next   atomic.Uint64 // round robin over shards
	n      atomic.Int64  // connections that named their topic
	wg     sync.WaitGroup

	mu     sync.Mutex
	conns  map[net.Conn]struct{} // every accepted connection, for close
	closed bool
}

// floorShard is one writer goroutine's connections.
type floorShard struct {
	mu      sync.Mutex
	byTopic map[string][]net.Conn
}

func newFloorServer(ln net.Listener) *floorServer {
	fs := &floorServer{ln: ln, conns: map[net.Conn]struct{}{}}
	for range runtime.GOMAXPROCS(0) {
		fs.shards = append(fs.shards, &floorShard{byTopic: map[string][]net.Conn{}})
	}
	return fs
}

func (fs *floorServer) accept() {
	for {
		c, err := fs.ln.Accept()
		if err != nil {
			return // closed
		}
		fs.mu.Lock()
		if fs.closed {
			fs.mu.Unlock()
			c.Close()
			return
		}
		fs.conns[c] = struct{}{}
		fs.mu.Unlock()
		fs.wg.Go(func() { fs.register(c) })
	}
}

// register reads the connection's topic line and adds it to a shard. The
// connection is write-only from then on.
func (fs *floorServer) register(c net.Conn) {
	_ = c.SetReadDeadline(time.Now().Add(30 * time.Second))
	line, err := bufio.NewReaderSize(c, 256).ReadSlice('\n')
	if err != nil || len(line) < 2 {
		fs.drop(c)
		return
	}
	_ = c.SetReadDeadline(time.Time{})
	topic := string(line[:len(line)-1])
	sh := fs.shards[fs.next.Add(1)%uint64(len(fs.shards))]
	sh.mu.Lock()
	sh.byTopic[topic] = append(sh.byTopic[topic], c)
	sh.mu.Unlock()
	fs.n.Add(1)
}

func (fs *floorServer) drop(c net.Conn) {
	fs.mu.Lock()
	delete(fs.conns, c)
	fs.mu.Unlock()
	c.Close()
}

func (fs *floorServer) count() int { return int(fs.n.Load()) }

// publish runs the open-loop schedule of c and reports what it wrote.
func (fs *floorServer) publish(ctx context.Context, c floorCmd) floorMsg {
	out := floorMsg{}
	if c.Rate <= 0 || len(c.Topics) == 0 {
		out.Error = "publish needs a rate and topics"
		return out
	}
	type item struct {
		topic string
		rec   []byte
	}
	chans := make([]chan item, len(fs.shards))
	var errs atomic.Int64
	var wg sync.WaitGroup
	for i, sh := range fs.shards {
		ch := make(chan item, 1024)
		chans[i] = ch
		wg.Go(func() {
			for it := range ch {
				errs.Add(int64(sh.write(it.topic, it.rec, fs)))
			}
		})
	}
	interval := time.Duration(float64(time.Second) / c.Rate)
	start := time.Now()
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	var maxLag time.Duration
	sent := 0
loop:
	for k := range c.Events {
		due := start.Add(time.Duration(k) * interval)
		if d := time.Until(due); d > 0 {
			timer.Reset(d)
			select {
			case <-timer.C:
			case <-ctx.Done():
				break loop
			}
		} else if ctx.Err() != nil {
			break
		}
		now := time.Now()
		maxLag = max(maxLag, now.Sub(due))
		data := Payload(0, due, c.Size)
		for _, topic := range c.Topics {
			e := transports.NewEvent(topic, uint64(k+1), EventKind, data, now)
			rec := append(e.JSON()[:len(e.JSON()):len(e.JSON())], '\n')
			for _, ch := range chans {
				ch <- item{topic, rec} // a full shard holds the schedule back: its lag shows
			}
		}
		sent = k + 1
	}
	for _, ch := range chans {
		close(ch)
	}
	wg.Wait()
	for _, t := range c.Topics {
		if sent > 0 {
			out.Windows = append(out.Windows, Window{Topic: t, From: 1, To: uint64(sent)})
		}
	}
	out.Published = sent * len(c.Topics)
	out.WriteErrors = int(errs.Load())
	out.MaxLagMS = round3(float64(maxLag) / float64(time.Millisecond))
	return out
}

// write sends rec to every connection of topic in the shard, one Write
// each, and drops those that fail; it returns how many failed.
func (sh *floorShard) write(topic string, rec []byte, fs *floorServer) int {
	sh.mu.Lock()
	conns := sh.byTopic[topic]
	sh.mu.Unlock()
	failed := 0
	var dead []net.Conn
	for _, c := range conns {
		if _, err := c.Write(rec); err != nil {
			failed++
			dead = append(dead, c)
		}
	}
	if len(dead) > 0 {
		sh.mu.Lock()
		live := sh.byTopic[topic][:0]
		for _, c := range sh.byTopic[topic] {
			if !containsConn(dead, c) {
				live = append(live, c)
			}
		}
		sh.byTopic[topic] = live
		sh.mu.Unlock()
		for _, c := range dead {
			fs.drop(c)
		}
	}
	return failed
}

func containsConn(list []net.Conn, c net.Conn) bool {
	for _, x := range list {
		if x == c {
			return true
		}
	}
	return false
}

// close stops accepting and closes every connection (which also ends any
// write blocked on a reader that stopped reading).
func (fs *floorServer) close() {
	_ = fs.ln.Close()
	fs.mu.Lock()
	fs.closed = true
	for c := range fs.conns {
		c.Close()
	}
	fs.conns = map[net.Conn]struct{}{}
	fs.mu.Unlock()
	fs.wg.Wait()
}
