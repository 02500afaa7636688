package sse

import (
	"math/rand/v2"
	"time"

	"github.com/twinstream/twinstream/transports"
)

// heartbeatComment is the text of the heartbeat comment line (": ping").
const heartbeatComment = "ping"

// heartbeatFrame is the heartbeat comment.
const heartbeatFrame = ": " + heartbeatComment + "\n\n"

// A writer is one stream's single writer: it frames events as SSE and hands
// each batch to its sink, which owns the I/O (the ResponseWriter, or the
// connection taken over from net/http with Config.Detach). It implements
// transports.Conn: the shared connection loop (transports.Serve) decides
// when to write, ping and close.
type writer struct {
	s       *Server
	sub     *transports.Subscriber
	sink    sink
	stream  *transports.Stream
	cursors transports.Cursors
	release func() // the limiter slot
	clock   *transports.WriteClock
	remote  string
}

var _ transports.Conn = (*writer)(nil)

// A sink is where a stream's bytes go. send writes one batch of frames,
// which the writer built at b[headroom:] (the first headroom bytes are
// free for the sink's own framing, such as a chunk header), and flushes
// it; end finishes the stream, cleanly or (cut) by dropping the
// connection; expire makes a running send fail (WriteGuard).
type sink interface {
	send(b []byte) error
	end(cut bool)
	expire()
}

// headroom is the room left before a batch's frames for a chunk header.
const headroom = 18

// maxPooledBuf is the largest batch buffer returned to the pool.
const maxPooledBuf = 256 << 10

// hello writes the first frame: retry:, and the stream's resume position as
// id: when it has one. A live stream's starting cursors are a position the
// client has seen by definition, so a reconnect before any event still
// resumes without a gap. A snapshot stream started without a cursor has no
// position until its snapshot arrives.
func (wr *writer) hello() error {
	return wr.frames(func(b []byte) []byte {
		if !wr.stream.Snapshot || len(wr.stream.Cursors) > 0 {
			b = append(b, "id: "...)
			b = wr.cursors.AppendFormat(b, wr.stream.Single)
			b = append(b, '\n')
		}
		return appendRetry(b, wr.s.retryFor())
	})
}

// retryFor is the retry: of one response (see Config.RetrySpread).
func (s *Server) retryFor() time.Duration {
	if s.retrySpread == 0 {
		return s.retry
	}
	f := 1 + s.retrySpread*(2*rand.Float64()-1)
	return max(time.Duration(float64(s.retry)*f), time.Millisecond)
}

// appendRetry appends a retry: field and the end of its frame.
func appendRetry(b []byte, d time.Duration) []byte {
	b = append(b, "retry: "...)
	b = appendInt(b, d.Milliseconds())
	return append(b, "\n\n"...)
}

// WriteBatch writes a drained batch: every frame is encoded into one buffer
// (id: the stream's cursor after the event, data: its wire JSON; control
// frames as data only), which goes out in one write and one flush, bounded
// by the server's WriteGuard.
func (wr *writer) WriteBatch(items []transports.Item) error {
	return wr.frames(func(b []byte) []byte {
		for _, it := range items {
			if it.Event != nil {
				wr.cursors.Advance(it.Event)
				b = append(b, "id: "...)
				b = wr.cursors.AppendFormat(b, wr.stream.Single)
				b = append(b, "\ndata: "...)
				b = append(b, it.Event.JSON()...)
			} else {
				b = append(b, "data: "...)
				b = append(b, it.Control...)
			}
			b = append(b, "\n\n"...)
		}
		return b
	})
}

// Heartbeat writes a comment line (": ping").
func (wr *writer) Heartbeat() error {
	return wr.frames(func(b []byte) []byte { return append(b, heartbeatFrame...) })
}

// frames builds frames with build into a pooled buffer and sends them.
func (wr *writer) frames(build func([]byte) []byte) error {
	bp := wr.s.bufs.Get().(*[]byte)
	b := build((*bp)[:headroom])
	wr.clock.Begin()
	err := wr.sink.send(b)
	wr.clock.End()
	if err != nil {
		wr.s.log.Debug("sse: write failed", "remote", wr.remote, "err", err)
	}
	if cap(b) <= maxPooledBuf {
		*bp = b[:0]
		wr.s.bufs.Put(bp)
	}
	return err
}

// Close ends the stream as the close reason table says (SSEEnd): the
// connection is cut for transports.SSECut (a slow consumer); every other
// end is a clean end of the response, which EventSource follows with a
// reconnect (or, after a finished task, with a 204 that stops it).
func (wr *writer) Close(r *transports.CloseReason) {
	if r != nil {
		wr.s.log.Debug("sse: stream closed by server", "remote", wr.remote, "reason", r.Code)
	}
	wr.sink.end(r != nil && r.SSEEnd == transports.SSECut)
}

// close releases the stream's hub and server resources.
func (wr *writer) close() {
	if wr.clock != nil {
		wr.clock.Release()
	}
	wr.sub.Close(nil)
	wr.release()
	wr.s.tracker.Leave()
}

// Unsent implements transports.Unsenter for detached streams (the
// ResponseWriter cannot tell).
func (wr *writer) Unsent() (int, bool) {
	if ds, ok := wr.sink.(*detachedSink); ok {
		return ds.unsent()
	}
	return 0, false
}

// expire makes a write that overran the write timeout fail (WriteGuard).
func (wr *writer) expire() { wr.sink.expire() }

func appendInt(b []byte, n int64) []byte {
	var tmp [20]byte
	i := len(tmp)
	for {
		i--
		tmp[i] = byte('0' + n%10)
		n /= 10
		if n == 0 {
			break
		}
	}
	return append(b, tmp[i:]...)
}
