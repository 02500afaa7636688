package bench

import (
	"bytes"
	"encoding/binary"
	"strconv"
	"strings"
	"sync"
)

// WireCount is what the clients of one transport received on their
// sockets, by what the bytes carry (wiretap.go). Every field is a byte
// count except Conns. The categories of the plaintext add up to Plain;
// RxSocket − TLSHandshake − Plain is the TLS record overhead.
type WireCount struct {
	Conns        uint64 `json:"conns"`         // TCP connections opened
	ConnsPeak    uint64 `json:"conns_peak"`    // most open at once (summed over workers)
	RxSocket     uint64 `json:"rx_socket"`     // received at the socket (TLS included)
	TxSocket     uint64 `json:"tx_socket"`     // sent at the socket (requests, pongs, masks, TLS)
	TLSHandshake uint64 `json:"tls_handshake"` // received during TLS handshakes
	Plain        uint64 `json:"plain"`         // received above TLS (or at the socket without it)
	Head         uint64 `json:"head"`          // HTTP/1.1 response heads; HTTP/2 HEADERS frames
	Chunked      uint64 `json:"chunked"`       // chunk-size lines and their CRLFs
	H2Framing    uint64 `json:"h2_framing"`    // HTTP/2 frame headers, SETTINGS, WINDOW_UPDATE, PING, padding
	Framing      uint64 `json:"framing"`       // WebSocket frame headers; SSE "data: " prefixes, line ends and frame ends
	IDLines      uint64 `json:"id_lines"`      // SSE id: lines
	Payload      uint64 `json:"payload"`       // event JSON, uncompressed
	Events       uint64 `json:"events"`        // event messages seen uncompressed (their Payload)
	Control      uint64 `json:"control"`       // other messages: subscribed, errors, retry: lines, close frames
	Heartbeat    uint64 `json:"heartbeat"`     // WS ping/pong frames and app-level pings; SSE comment lines
	Compressed   uint64 `json:"compressed"`    // compressed message payloads (permessage-deflate) and gzip bodies
}

// Add adds o to w.
func (w *WireCount) Add(o WireCount) {
	w.Conns += o.Conns
	w.ConnsPeak += o.ConnsPeak
	w.RxSocket += o.RxSocket
	w.TxSocket += o.TxSocket
	w.TLSHandshake += o.TLSHandshake
	w.Plain += o.Plain
	w.Head += o.Head
	w.Chunked += o.Chunked
	w.H2Framing += o.H2Framing
	w.Framing += o.Framing
	w.IDLines += o.IDLines
	w.Payload += o.Payload
	w.Events += o.Events
	w.Control += o.Control
	w.Heartbeat += o.Heartbeat
	w.Compressed += o.Compressed
}

// A wireTap classifies what one connection receives, passively: it is fed
// every byte read above TLS (feed) and follows the protocol (an HTTP/1.1
// response head, then chunked or plain SSE, or WebSocket frames after a
// 101; or HTTP/2 frames carrying SSE streams) without changing or holding
// anything. It costs a scan of the bytes (IndexByte over SSE lines, a
// frame header per WebSocket frame). Safe for one feeder and concurrent
// snapshots.
type wireTap struct {
	mu sync.Mutex
	n  WireCount

	gzipH2 bool // HTTP/2 SSE bodies are gzip (the client asked, the run says the server gzips)

	state   int // tapHead, tapChunked…
	head    []byte
	gzip    bool // the body is Content-Encoding: gzip
	chunked bool
	// chunked encoding
	chunkLeft  uint64
	chunkState int
	chunkLine  []byte
	sse        sseTap
	ws         wsTap
	h2         h2Tap
}

const (
	tapHead = iota
	tapSSE
	tapWS
	tapH2
	tapOther // anything else: counted as Control
)

// newWireTap starts a tap for an HTTP/1.1 connection (h2 false) or an
// HTTP/2 one.
func newWireTap(h2, gzipH2 bool) *wireTap {
	t := &wireTap{gzipH2: gzipH2}
	t.n.Conns = 1
	if h2 {
		t.state = tapH2
	}
	return t
}

// socket counts raw bytes received and sent at the socket.
func (t *wireTap) socket(rx, tx int) {
	t.mu.Lock()
	t.n.RxSocket += uint64(rx)
	t.n.TxSocket += uint64(tx)
	t.mu.Unlock()
}

// handshake counts raw bytes received during the TLS handshake.
func (t *wireTap) handshake(rx int) {
	t.mu.Lock()
	t.n.TLSHandshake += uint64(rx)
	t.mu.Unlock()
}

// snapshot returns the counts so far.
func (t *wireTap) snapshot() WireCount {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.n
}

// feed classifies b, bytes received above TLS.
func (t *wireTap) feed(b []byte) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.n.Plain += uint64(len(b))
	for len(b) > 0 {
		switch t.state {
		case tapHead:
			b = t.feedHead(b)
		case tapSSE:
			if t.chunked {
				b = t.feedChunked(b)
			} else {
				t.body(b)
				b = nil
			}
		case tapWS:
			t.ws.feed(b, &t.n)
			b = nil
		case tapH2:
			t.h2.feed(b, t)
			b = nil
		default:
			t.n.Control += uint64(len(b))
			b = nil
		}
	}
}

// body classifies bytes of an HTTP/1.1 SSE body (chunking removed).
func (t *wireTap) body(b []byte) {
	if t.gzip {
		t.n.Compressed += uint64(len(b))
		return
	}
	t.sse.feed(b, &t.n)
}

// feedHead consumes a response head up to its blank line.
func (t *wireTap) feedHead(b []byte) []byte {
	for i, c := range b {
		t.head = append(t.head, c)
		if c == '\n' && bytes.HasSuffix(t.head, []byte("\r\n\r\n")) {
			t.n.Head += uint64(len(t.head))
			t.startBody()
			return b[i+1:]
		}
		if len(t.head) > 64<<10 { // not HTTP as we know it
			t.n.Control += uint64(len(t.head))
			t.state, t.head = tapOther, nil
			return b[i+1:]
		}
	}
	return nil
}

// startBody reads the head and picks how the body is classified.
func (t *wireTap) startBody() {
	head := string(t.head)
	t.head = nil
	status := 0
	if _, rest, ok := strings.Cut(head, " "); ok && len(rest) >= 3 {
		status, _ = strconv.Atoi(rest[:3])
	}
	lower := strings.ToLower(head)
	t.chunked = strings.Contains(lower, "\r\ntransfer-encoding: chunked")
	t.gzip = strings.Contains(lower, "\r\ncontent-encoding: gzip")
	switch {
	case status == 101:
		t.state = tapWS
	case status == 200 && strings.Contains(lower, "\r\ncontent-type: text/event-stream"):
		t.state = tapSSE
	default:
		t.state = tapOther
	}
}

// Chunk parser states.
const (
	tapChunkSize = iota
	tapChunkData
	tapChunkCRLF
	tapChunkTrailer
)

// feedChunked takes chunked encoding off, counting its framing.
func (t *wireTap) feedChunked(b []byte) []byte {
	for len(b) > 0 {
		switch t.chunkState {
		case tapChunkSize, tapChunkTrailer:
			i := bytes.IndexByte(b, '\n')
			if i < 0 {
				t.n.Chunked += uint64(len(b))
				if len(t.chunkLine) < 64 {
					t.chunkLine = append(t.chunkLine, b...)
				}
				return nil
			}
			t.n.Chunked += uint64(i + 1)
			line := append(t.chunkLine, b[:i]...)
			t.chunkLine = t.chunkLine[:0]
			b = b[i+1:]
			if t.chunkState == tapChunkTrailer {
				continue // trailer lines until the connection ends
			}
			hexLen, _, _ := bytes.Cut(bytes.TrimRight(line, "\r"), []byte(";"))
			n, err := strconv.ParseUint(string(bytes.TrimSpace(hexLen)), 16, 63)
			switch {
			case err != nil:
				t.state = tapOther
				return b
			case n == 0:
				t.chunkState = tapChunkTrailer
			default:
				t.chunkLeft, t.chunkState = n, tapChunkData
			}
		case tapChunkData:
			k := min(uint64(len(b)), t.chunkLeft)
			t.body(b[:k])
			b, t.chunkLeft = b[k:], t.chunkLeft-k
			if t.chunkLeft == 0 {
				t.chunkState, t.chunkLeft = tapChunkCRLF, 2
			}
		case tapChunkCRLF:
			k := min(uint64(len(b)), t.chunkLeft)
			t.n.Chunked += k
			b, t.chunkLeft = b[k:], t.chunkLeft-k
			if t.chunkLeft == 0 {
				t.chunkState = tapChunkSize
			}
		}
	}
	return nil
}

// Prefixes that tell an event and an app-level ping from other messages.
const (
	eventPrefix = `{"type":"event"`
	pingPrefix  = `{"type":"ping"`
)

// kindOf classifies a message by its first bytes (at least len(eventPrefix)
// of them, or the whole message).
func kindOf(p []byte) int {
	switch {
	case bytes.HasPrefix(p, []byte(eventPrefix)):
		return kindEvent
	case bytes.HasPrefix(p, []byte(pingPrefix)):
		return kindPing
	}
	return kindControl
}

const (
	kindUnknown = iota
	kindEvent
	kindPing
	kindControl
)

// sseTap classifies an SSE body line by line.
type sseTap struct {
	line     []byte // the current line's first bytes, until its kind is known
	kind     int    // the current line's kind once known (lineData…)
	dataKind int    // for a data line: what its value is (kindEvent…)
	frame    int    // what the current frame carried: frameData, frameComment
}

// SSE line kinds.
const (
	lineUnknown = iota
	lineData
	lineID
	lineComment
	lineOther
)

// SSE frame contents so far (for the blank line that ends it).
const (
	frameNone = iota
	frameData
	frameComment
)

// sseDecide is how many bytes of a line decide its kind: "data: " and the
// event prefix.
const sseDecide = len("data: ") + len(eventPrefix)

func (s *sseTap) feed(b []byte, n *WireCount) {
	for len(b) > 0 {
		i := bytes.IndexByte(b, '\n')
		end := i >= 0
		seg := b
		if end {
			seg = b[:i+1]
		}
		b = b[len(seg):]
		if s.kind == lineUnknown {
			need := sseDecide - len(s.line)
			if !end && len(seg) < need {
				s.line = append(s.line, seg...)
				continue
			}
			take := min(need, len(seg))
			s.line = append(s.line, seg[:take]...)
			s.decide(n)
			seg = seg[take:]
		}
		s.count(seg, n)
		if end {
			s.kind, s.line = lineUnknown, s.line[:0]
		}
	}
}

// decide sets the kind of the current line from its first bytes and
// counts them.
func (s *sseTap) decide(n *WireCount) {
	l := s.line
	switch {
	case len(l) == 1 && l[0] == '\n' || len(l) == 2 && l[0] == '\r':
		// A blank line ends the frame.
		if s.frame == frameComment {
			n.Heartbeat += uint64(len(l))
		} else {
			n.Framing += uint64(len(l))
		}
		s.frame = frameNone
		s.kind = lineOther // counted; the rest of the line (none) too
		return
	case bytes.HasPrefix(l, []byte("data:")):
		s.kind, s.frame = lineData, frameData
		value := bytes.TrimPrefix(l[len("data:"):], []byte(" "))
		prefix := len(l) - len(value)
		s.dataKind = kindOf(value)
		n.Framing += uint64(prefix)
		s.countValue(value, n)
		return
	case bytes.HasPrefix(l, []byte("id:")):
		s.kind = lineID
	case len(l) > 0 && l[0] == ':':
		s.kind = lineComment
		if s.frame == frameNone {
			s.frame = frameComment
		}
	default:
		s.kind = lineOther
	}
	s.count(l, n)
}

// count counts bytes of the current line, whose kind is known.
func (s *sseTap) count(seg []byte, n *WireCount) {
	if len(seg) == 0 {
		return
	}
	switch s.kind {
	case lineData:
		s.countValue(seg, n)
	case lineID:
		n.IDLines += uint64(len(seg))
	case lineComment:
		n.Heartbeat += uint64(len(seg))
	default:
		n.Control += uint64(len(seg))
	}
}

// countValue counts bytes of a data line's value (its line end is framing).
func (s *sseTap) countValue(seg []byte, n *WireCount) {
	v := seg
	if k := len(v); k > 0 && v[k-1] == '\n' {
		n.Framing++
		v = v[:k-1]
		if s.dataKind == kindEvent {
			n.Events++
		}
	}
	switch s.dataKind {
	case kindEvent:
		n.Payload += uint64(len(v))
	case kindPing:
		n.Heartbeat += uint64(len(v))
	default:
		n.Control += uint64(len(v))
	}
}

// wsTap classifies server WebSocket frames.
type wsTap struct {
	hdr      [14]byte
	hdrN     int
	left     uint64 // payload bytes of the current frame still to come
	pfx      []byte // the payload's first bytes, until its kind is known
	kind     int    // the current message's kind (kindEvent…); continuation frames keep it
	fkind    int    // the current frame's kind
	compress bool   // the current message is compressed (RSV1)
	fin      bool   // the current frame ends its message
	hdrLen   uint64 // the current frame's header, until counted
	inFrame  bool
}

// wsHeaderLen is a frame header's length given its first two bytes.
func wsHeaderLen(b0, b1 byte) int {
	n := 2
	switch b1 & 0x7f {
	case 126:
		n += 2
	case 127:
		n += 8
	}
	if b1&0x80 != 0 {
		n += 4
	}
	return n
}

func (w *wsTap) feed(b []byte, n *WireCount) {
	for len(b) > 0 {
		if !w.inFrame {
			// Gather the header.
			need := 2
			if w.hdrN >= 2 {
				need = wsHeaderLen(w.hdr[0], w.hdr[1])
			}
			k := min(need-w.hdrN, len(b))
			copy(w.hdr[w.hdrN:], b[:k])
			w.hdrN += k
			b = b[k:]
			if w.hdrN < need || w.hdrN == 2 && wsHeaderLen(w.hdr[0], w.hdr[1]) > 2 {
				continue
			}
			w.startFrame(n)
			continue
		}
		k := min(uint64(len(b)), w.left)
		w.payload(b[:k], n)
		b, w.left = b[k:], w.left-k
		if w.left == 0 {
			w.endFrame(n)
		}
	}
}

// startFrame reads a complete header and counts it.
func (w *wsTap) startFrame(n *WireCount) {
	h := w.hdr[:w.hdrN]
	op := h[0] & 0x0f
	w.fin = h[0]&0x80 != 0
	length := uint64(h[1] & 0x7f)
	switch length {
	case 126:
		length = uint64(binary.BigEndian.Uint16(h[2:4]))
	case 127:
		length = binary.BigEndian.Uint64(h[2:10])
	}
	switch op {
	case 0x9, 0xa: // ping, pong
		w.fkind = kindPing
	case 0x8:
		w.fkind = kindControl
	case 0x1, 0x2:
		w.compress = h[0]&0x40 != 0
		w.kind = kindUnknown
		w.fkind = kindUnknown
	default: // continuation: the message's kind
		w.fkind = w.kind
	}
	if w.compress && (op == 0x0 || op == 0x1 || op == 0x2) {
		w.fkind = kindEvent // compressed: counted as Compressed below
	}
	w.hdrLen = uint64(len(h))
	if w.fkind != kindUnknown { // known now; a data frame's header waits for its kind
		w.countHeader(n)
	}
	w.hdrN, w.left, w.inFrame, w.pfx = 0, length, true, w.pfx[:0]
	if length == 0 {
		w.endFrame(n)
	}
}

func (w *wsTap) countHeader(n *WireCount) {
	k := w.hdrLen
	w.hdrLen = 0
	if w.fkind == kindPing {
		n.Heartbeat += k
		return
	}
	if w.fkind == kindControl {
		n.Control += k
		return
	}
	n.Framing += k // an event's or a compressed message's
}

// payload counts payload bytes of the current frame.
func (w *wsTap) payload(p []byte, n *WireCount) {
	if w.compress && w.fkind != kindPing && w.fkind != kindControl {
		n.Compressed += uint64(len(p))
		return
	}
	if w.fkind == kindUnknown {
		need := len(eventPrefix) - len(w.pfx)
		if len(p) < need && uint64(len(p)) < w.left {
			w.pfx = append(w.pfx, p...)
			return
		}
		take := min(need, len(p))
		w.pfx = append(w.pfx, p[:take]...)
		w.fkind = kindOf(w.pfx)
		w.kind = w.fkind
		w.countHeader(n)
		w.countPayload(uint64(len(w.pfx)), n)
		p = p[take:]
	}
	w.countPayload(uint64(len(p)), n)
}

func (w *wsTap) countPayload(k uint64, n *WireCount) {
	switch w.fkind {
	case kindEvent:
		n.Payload += k
	case kindPing:
		n.Heartbeat += k
	default:
		n.Control += k
	}
}

// endFrame finishes a frame: a short payload whose kind was not decided
// yet is decided now.
func (w *wsTap) endFrame(n *WireCount) {
	if w.fkind == kindUnknown {
		w.fkind = kindOf(w.pfx)
		w.kind = w.fkind
		w.countHeader(n)
		w.countPayload(uint64(len(w.pfx)), n)
	}
	if w.fin && w.fkind == kindEvent && !w.compress {
		n.Events++
	}
	w.inFrame = false
}

// h2Tap classifies HTTP/2 frames from the server and the SSE streams in
// their DATA frames.
type h2Tap struct {
	hdr     [9]byte
	hdrN    int
	left    uint32
	typ     byte
	padLeft uint32
	first   bool // at the first payload byte of a padded frame
	stream  uint32
	streams map[uint32]*sseTap
}

func (h *h2Tap) feed(b []byte, t *wireTap) {
	n := &t.n
	for len(b) > 0 {
		if h.hdrN < 9 {
			k := copy(h.hdr[h.hdrN:], b)
			h.hdrN += k
			b = b[k:]
			if h.hdrN < 9 {
				return
			}
			n.H2Framing += 9
			h.left = uint32(h.hdr[0])<<16 | uint32(h.hdr[1])<<8 | uint32(h.hdr[2])
			h.typ = h.hdr[3]
			h.stream = binary.BigEndian.Uint32(h.hdr[5:9]) & 0x7fffffff
			h.first = h.typ == 0 && h.hdr[4]&0x8 != 0 // DATA, PADDED
			h.padLeft = 0
			if h.left == 0 {
				h.hdrN = 0
			}
			continue
		}
		k := min(uint32(len(b)), h.left)
		p := b[:k]
		b, h.left = b[k:], h.left-k
		switch h.typ {
		case 0x0: // DATA
			if h.first && len(p) > 0 {
				h.padLeft = uint32(p[0])
				n.H2Framing++
				p, h.first = p[1:], false
			}
			if body := uint32(len(p)); h.left < h.padLeft { // padding at the frame's end
				pad := min(h.padLeft-h.left, body)
				n.H2Framing += uint64(pad)
				p = p[:body-pad]
			}
			if t.gzipH2 {
				n.Compressed += uint64(len(p))
			} else {
				h.sse(h.stream).feed(p, n)
			}
		case 0x1, 0x9: // HEADERS, CONTINUATION
			n.Head += uint64(len(p))
		default:
			n.H2Framing += uint64(len(p))
		}
		if h.left == 0 {
			h.hdrN = 0
		}
	}
}

func (h *h2Tap) sse(id uint32) *sseTap {
	if h.streams == nil {
		h.streams = map[uint32]*sseTap{}
	}
	s := h.streams[id]
	if s == nil {
		s = &sseTap{}
		h.streams[id] = s
	}
	return s
}
