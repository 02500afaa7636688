package bench

import (
	"bytes"
	"errors"
	"io"
	"net/http"
	"strconv"
	"time"
)

// sseStream parses an SSE response body as it arrives: it takes off the
// chunked transfer encoding net/http's server uses for a stream (any
// other body is read to its end), then reads the event stream as
// sse.Client's parser (go-sse's) does, which is the WHATWG way for what a
// stream client keeps: a leading BOM goes, lines end in LF, CRLF or CR;
// data lines accumulate, id and retry are kept, a frame with an event name
// is not ours (sse.Client takes unnamed frames only), comments (the
// ": ping" heartbeat) and unknown fields are skipped, and a blank line
// dispatches a frame's non-empty data to leanClient.message. FuzzLeanSSE
// holds it to go-sse's parser. Once its buffers have grown it allocates
// nothing per frame.
type sseStream struct {
	l   *leanClient
	out func(data []byte, now time.Time) // l.message (tests watch here)

	chunked bool
	state   int // chunkHead, chunkData or chunkEnd
	left    int // bytes left in the current chunk

	line   []byte // the start of a line that arrived in pieces
	skipLF bool   // the previous line ended in CR: a leading LF ends it too
	first  bool   // the next line is the stream's first (it may start with a BOM)
	data   []byte // the data buffer of the frame being read
	named  bool   // the frame being read has an event name
	idBuf  []byte // the last event ID buffer: set by id:, committed at dispatch
	idSet  bool
	lastID []byte // the stream's last event ID, the resume position
	hasID  bool
	// anyName: frames with an event name are ours too (a target that is
	// not twinstream may name its events).
	anyName bool
}

// Chunked body states.
const (
	chunkHead = iota // reading a chunk-size line
	chunkData        // inside a chunk
	chunkEnd         // expecting the CRLF after a chunk's data
)

var errBadChunk = errors.New("bench: sse: bad chunked encoding")

// sseRequest is the stream's GET, resuming with Last-Event-ID.
func (l *leanClient) sseRequest() string {
	req := requestLine(l.request()) +
		"Host: " + l.target.Host + "\r\nAccept: text/event-stream\r\nCache-Control: no-cache\r\n"
	if l.sse.hasID {
		req += "Last-Event-ID: " + string(l.sse.lastID) + "\r\n"
	}
	return req + "\r\n"
}

// reset readies the parser for a new response; the last event ID carries
// over, as in an EventSource.
func (s *sseStream) reset(resp *http.Response) {
	s.chunked = len(resp.TransferEncoding) > 0 && resp.TransferEncoding[0] == "chunked"
	s.state, s.left = chunkHead, 0
	s.line, s.skipLF, s.first, s.data, s.named = s.line[:0], false, true, s.data[:0], false
	s.idBuf, s.idSet = append(s.idBuf[:0], s.lastID...), s.hasID
}

func (s *sseStream) goodbye() []byte { return nil }

func (s *sseStream) feed(b []byte, now time.Time, _ leanWriter) (int, error) {
	if !s.chunked {
		return len(b), s.body(b, now)
	}
	off := 0
	for off < len(b) {
		f := b[off:]
		switch s.state {
		case chunkHead:
			i := bytes.IndexByte(f, '\n')
			if i < 0 {
				if len(f) > 1<<10 {
					return off, errBadChunk
				}
				return off, nil
			}
			size, ok := chunkSize(f[:i])
			if !ok {
				return off, errBadChunk
			}
			off += i + 1
			if size == 0 {
				return off, io.EOF // the last chunk: the response is over
			}
			s.state, s.left = chunkData, size
		case chunkData:
			k := min(s.left, len(f))
			if err := s.body(f[:k], now); err != nil {
				return off + k, err
			}
			off += k
			if s.left -= k; s.left == 0 {
				s.state = chunkEnd
			}
		case chunkEnd:
			if len(f) < 2 {
				if f[0] != '\r' {
					return off, errBadChunk
				}
				return off, nil
			}
			if f[0] != '\r' || f[1] != '\n' {
				return off, errBadChunk
			}
			off += 2
			s.state = chunkHead
		}
	}
	return off, nil
}

// chunkSize parses a chunk-size line (without its LF): hex digits, then
// optional extensions after ';'.
func chunkSize(line []byte) (int, bool) {
	line = bytes.TrimSuffix(line, []byte("\r"))
	if i := bytes.IndexByte(line, ';'); i >= 0 {
		line = line[:i]
	}
	line = bytes.TrimRight(line, " \t")
	if len(line) == 0 || len(line) > 8 {
		return 0, false
	}
	n, err := strconv.ParseUint(string(line), 16, 32)
	return int(n), err == nil
}

// body parses a piece of the event stream.
func (s *sseStream) body(seg []byte, now time.Time) error {
	for len(seg) > 0 {
		if s.skipLF {
			s.skipLF = false
			if seg[0] == '\n' {
				seg = seg[1:]
				continue
			}
		}
		i := bytes.IndexByte(seg, '\n')
		head := seg
		if i >= 0 {
			head = seg[:i]
		}
		if j := bytes.IndexByte(head, '\r'); j >= 0 {
			i = j
		}
		if i < 0 { // no line end yet: keep the start for the next piece
			if len(s.line)+len(seg) > leanMaxMessage {
				return errors.New("bench: sse: line over the client's limit")
			}
			s.line = append(s.line, seg...)
			return nil
		}
		line := seg[:i]
		s.skipLF = seg[i] == '\r'
		seg = seg[i+1:]
		if len(s.line) > 0 {
			s.line = append(s.line, line...)
			line = s.line
		}
		if s.first {
			s.first = false
			line = bytes.TrimPrefix(line, []byte("\xEF\xBB\xBF"))
		}
		s.lineIn(line, now)
		if s.line = s.line[:0]; cap(s.line) > 64<<10 {
			s.line = nil
		}
	}
	return nil
}

// lineIn processes one line.
func (s *sseStream) lineIn(line []byte, now time.Time) {
	if len(line) == 0 {
		s.dispatch(now)
		return
	}
	if line[0] == ':' {
		return // a comment
	}
	name, value := line, []byte(nil)
	if i := bytes.IndexByte(line, ':'); i >= 0 {
		name, value = line[:i], line[i+1:]
		if len(value) > 0 && value[0] == ' ' {
			value = value[1:]
		}
	}
	switch string(name) {
	case "data":
		s.data = append(append(s.data, value...), '\n')
	case "id":
		if bytes.IndexByte(value, 0) < 0 {
			s.idBuf, s.idSet = append(s.idBuf[:0], value...), true
		}
	case "event":
		s.named = len(value) > 0
	case "retry":
		if n, err := strconv.ParseUint(string(value), 10, 32); err == nil {
			s.l.retry = time.Duration(n) * time.Millisecond
		}
	}
}

// dispatch ends a frame: the last event ID moves, and the data of an
// unnamed frame with data is handled.
func (s *sseStream) dispatch(now time.Time) {
	s.lastID, s.hasID = append(s.lastID[:0], s.idBuf...), s.idSet
	data, named := s.data, s.named
	s.data, s.named = s.data[:0], false
	if len(data) > 1 && (!named || s.anyName) { // (data ends in the last data line's LF)
		s.out(data[:len(data)-1], now)
	}
	if cap(s.data) > 64<<10 {
		s.data = nil
	}
}
