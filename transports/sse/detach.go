package sse

import (
	"bytes"
	"net"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/twinstream/twinstream/transports"
)

// detachedSink streams over a connection taken over from net/http
// (Config.Detach): the handler returns at once, and the stream costs what
// a WebSocket connection costs: the socket, a reader goroutine that
// notices the peer leaving, and the connection loop. It writes the same
// bytes net/http would (a chunked text/event-stream response, one chunk
// per batch), without net/http's per-request buffers and goroutines.
type detachedSink struct {
	nc net.Conn

	mu     sync.Mutex // orders send and end
	done   bool       // the response ended
	writes uint64     // write(2) calls (tests and stats)
}

// detach takes the connection over and writes the response header: it
// returns nil (having answered, or with the connection gone) when it
// cannot. Only HTTP/1.x connections can be taken over; the caller serves
// others through the ResponseWriter.
func (s *Server) detach(w http.ResponseWriter) *detachedSink {
	h := w.Header()
	setStreamHeaders(h)
	h.Set("Transfer-Encoding", "chunked")
	// The connection is closed when the stream ends: say so, or a client
	// that saw a clean end would put the dead connection back in its pool
	// and send its next request into it.
	h.Set("Connection", "close")
	h.Del("Content-Length")
	var head bytes.Buffer
	head.WriteString("HTTP/1.1 200 OK\r\n")
	h.Set("Date", time.Now().UTC().Format(http.TimeFormat))
	_ = h.Write(&head)
	head.WriteString("\r\n")
	nc, _, err := http.NewResponseController(w).Hijack()
	if err != nil {
		s.log.Error("sse: cannot take the connection over", "err", err)
		writeError(w, http.StatusInternalServerError, transports.NewErrorFrame(transports.CodeInternal, "streaming unsupported"))
		return nil
	}
	ds := &detachedSink{nc: nc}
	_ = nc.SetDeadline(time.Now().Add(s.writeTimeout))
	_, err = nc.Write(head.Bytes())
	_ = nc.SetDeadline(time.Time{})
	if err != nil {
		_ = nc.Close()
		return nil
	}
	ds.writes++
	return ds
}

// canDetach reports whether the request's connection can be taken over:
// HTTP/1.1 only. An HTTP/1.0 request (nginx's default proxy_http_version)
// cannot take a chunked response; it is served through the ResponseWriter,
// whose body ends when the connection closes.
func (s *Server) canDetach(r *http.Request) bool {
	return s.detached && r.ProtoMajor == 1 && r.ProtoMinor >= 1
}

// send writes one batch as one chunk: its header goes in the headroom.
func (ds *detachedSink) send(b []byte) error {
	n := len(b) - headroom
	var hex [16]byte
	head := strconv.AppendInt(hex[:0], int64(n), 16)
	start := headroom - len(head) - 2
	copy(b[start:], head)
	b[headroom-2], b[headroom-1] = '\r', '\n'
	b = append(b, '\r', '\n')
	ds.mu.Lock()
	defer ds.mu.Unlock()
	if ds.done {
		return net.ErrClosed
	}
	ds.writes++
	_, err := ds.nc.Write(b[start:])
	return err
}

// end finishes the response with the last chunk, unless cut, and closes
// the connection (the response did not offer to keep it alive).
func (ds *detachedSink) end(cut bool) {
	ds.mu.Lock()
	defer ds.mu.Unlock()
	if ds.done {
		return
	}
	ds.done = true
	if !cut {
		_ = ds.nc.SetWriteDeadline(time.Now().Add(time.Second))
		ds.writes++
		_, _ = ds.nc.Write([]byte("0\r\n\r\n"))
	}
	_ = ds.nc.Close()
}

// unsent tells the kernel's unsent bytes (transports.Unsenter).
func (ds *detachedSink) unsent() (int, bool) { return transports.SocketUnsent(ds.nc) }

func (ds *detachedSink) expire() { _ = ds.nc.SetWriteDeadline(time.Now()) }

// watch reads the connection until the peer leaves (a client sends nothing
// after its request; whatever it sends is discarded), then closes gone and
// wakes the stream's loop. Its buffer is on its stack: an idle stream's
// reader holds no heap memory.
func (ds *detachedSink) watch(gone chan<- struct{}, sub *transports.Subscriber) {
	defer sub.Wake()
	defer close(gone)
	var buf [64]byte
	for {
		if _, err := ds.nc.Read(buf[:]); err != nil {
			return
		}
	}
}
