package bench

import (
	"crypto/rand"
	"crypto/sha1"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	mrand "math/rand/v2"
	"net/http"
	"strings"
	"time"

	"github.com/twinstream/twinstream/transports"
)

// WebSocket opcodes (RFC 6455 §5.2).
const (
	opContinuation = 0x0
	opText         = 0x1
	opBinary       = 0x2
	opClose        = 0x8
	opPing         = 0x9
	opPong         = 0xA
)

// wsGUID is the key suffix of the opening handshake (RFC 6455 §1.3).
const wsGUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

// leanCloseError is a session's end by a close frame from the server.
type leanCloseError struct {
	code   int
	reason string
}

func (e *leanCloseError) Error() string {
	for _, r := range transports.CloseReasons {
		if r.WSStatus == e.code {
			return "ws close: " + r.Code
		}
	}
	return fmt.Sprintf("ws close: status %d %s", e.code, e.reason)
}

// retryable reports whether the code invites a reconnect, as ws.Client
// decides: the close reasons table's Retry, and codes it does not know,
// except 1008 policy violation.
func (e *leanCloseError) retryable() bool {
	if e.code == 1008 {
		return false
	}
	for _, r := range transports.CloseReasons {
		if r.WSStatus == e.code {
			return r.Retry
		}
	}
	return true
}

func wsKey() string {
	var k [16]byte
	_, _ = rand.Read(k[:])
	return base64.StdEncoding.EncodeToString(k[:])
}

// wsRequest is the opening handshake, resuming from the last seqs
// received.
func (l *leanClient) wsRequest(key string) string {
	return requestLine(l.request()) +
		"Host: " + l.target.Host + "\r\n" +
		"Upgrade: websocket\r\nConnection: Upgrade\r\n" +
		"Sec-WebSocket-Key: " + key + "\r\nSec-WebSocket-Version: 13\r\n\r\n"
}

// checkUpgrade verifies a 101 answer to the handshake with key.
func checkUpgrade(resp *http.Response, key string) error {
	if !strings.EqualFold(resp.Header.Get("Upgrade"), "websocket") ||
		resp.Header.Get("Sec-WebSocket-Accept") != acceptKey(key) || resp.Header.Get("Sec-WebSocket-Extensions") != "" {
		return errors.New("bench: ws: bad upgrade response")
	}
	return nil
}

// acceptKey is the Sec-WebSocket-Accept answer to key.
func acceptKey(key string) string {
	h := sha1.Sum([]byte(key + wsGUID))
	return base64.StdEncoding.EncodeToString(h[:])
}

// wsParser reads server frames (unmasked, RFC 6455 §5): text messages,
// fragmented or not, go to leanClient.message; pings get a pong, the app
// level {"type":"ping"} the pong ws.Client sends; a close frame is
// answered and ends the session with a leanCloseError.
type wsParser struct {
	l    *leanClient
	msg  []byte // a fragmented message being assembled
	frag bool   // inside a fragmented message
	text bool   // of type text
	wbuf []byte // the frame being written
}

func (p *wsParser) reset() { p.msg, p.frag = p.msg[:0], false }

// goodbye is the close frame sent when ctx ends; it runs on the
// canceller's goroutine, so it builds its own frame.
func (p *wsParser) goodbye() []byte { return appendFrame(nil, opClose, closePayload(1000)) }

func (p *wsParser) feed(b []byte, now time.Time, w leanWriter) (int, error) {
	off := 0
	for {
		f := b[off:]
		if len(f) < 2 {
			return off, nil
		}
		b0, b1 := f[0], f[1]
		if b1&0x80 != 0 {
			return off, p.fail(w, 1002, "masked frame from the server")
		}
		hlen, n := 2, uint64(b1&0x7f)
		switch n {
		case 126:
			if hlen = 4; len(f) < hlen {
				return off, nil
			}
			n = uint64(binary.BigEndian.Uint16(f[2:]))
		case 127:
			if hlen = 10; len(f) < hlen {
				return off, nil
			}
			n = binary.BigEndian.Uint64(f[2:])
		}
		if n > leanMaxMessage {
			return off, p.fail(w, 1009, "message over the client's limit")
		}
		if uint64(len(f)-hlen) < n {
			return off, nil // the rest of the frame is still on its way
		}
		end := hlen + int(n)
		if err := p.frameIn(b0&0x80 != 0, b0&0x0f, f[hlen:end], now, w); err != nil {
			return off + end, err
		}
		off += end
	}
}

// frameIn handles one frame; payload is valid only during the call.
func (p *wsParser) frameIn(fin bool, op byte, payload []byte, now time.Time, w leanWriter) error {
	switch op {
	case opText, opBinary:
		if p.frag {
			return p.fail(w, 1002, "new message inside a fragmented one")
		}
		if !fin {
			p.frag, p.text = true, op == opText
			p.msg = append(p.msg[:0], payload...)
			return nil
		}
		if op == opText {
			return p.message(payload, now, w)
		}
		return nil // binary messages are not ours; ws.Client ignores them too
	case opContinuation:
		if !p.frag {
			return p.fail(w, 1002, "continuation without a message")
		}
		if len(p.msg)+len(payload) > leanMaxMessage {
			return p.fail(w, 1009, "message over the client's limit")
		}
		if p.msg = append(p.msg, payload...); !fin {
			return nil
		}
		p.frag = false
		var err error
		if p.text {
			err = p.message(p.msg, now, w)
		}
		if cap(p.msg) > 64<<10 {
			p.msg = nil
		}
		return err
	case opPing:
		return w.write(p.frame(opPong, payload))
	case opPong:
		return nil
	case opClose:
		ce := &leanCloseError{code: 1005}
		reply := []byte(nil)
		if len(payload) >= 2 {
			ce.code, ce.reason = int(binary.BigEndian.Uint16(payload)), string(payload[2:])
			reply = closePayload(ce.code)
		}
		_ = w.write(p.frame(opClose, reply))
		return ce
	}
	return p.fail(w, 1002, fmt.Sprintf("unknown opcode %d", op))
}

func (p *wsParser) message(b []byte, now time.Time, w leanWriter) error {
	if typ, we := p.l.message(b, now); typ == transports.TypePing {
		// The app-level heartbeat gets the answer ws.Client gives.
		return w.write(p.frame(opText, transports.ControlFrame{Type: transports.TypePong, TS: we.TS}.JSON()))
	}
	return nil
}

// fail closes with code and returns the session's error.
func (p *wsParser) fail(w leanWriter, code int, reason string) error {
	_ = w.write(p.frame(opClose, closePayload(code)))
	return fmt.Errorf("bench: ws: %s (closed with %d)", reason, code)
}

// frame builds a masked client frame in p.wbuf (valid until the next
// call).
func (p *wsParser) frame(op byte, payload []byte) []byte {
	b := appendFrame(p.wbuf[:0], op, payload)
	if p.wbuf = b; cap(b) > 4<<10 {
		p.wbuf = nil
	}
	return b
}

// appendFrame appends a masked client frame to b.
func appendFrame(b []byte, op byte, payload []byte) []byte {
	b = append(b, 0x80|op)
	switch n := len(payload); {
	case n < 126:
		b = append(b, 0x80|byte(n))
	case n < 1<<16:
		b = append(b, 0x80|126)
		b = binary.BigEndian.AppendUint16(b, uint16(n))
	default:
		b = append(b, 0x80|127)
		b = binary.BigEndian.AppendUint64(b, uint64(n))
	}
	var key [4]byte
	binary.LittleEndian.PutUint32(key[:], mrand.Uint32())
	b = append(b, key[:]...)
	start := len(b)
	b = append(b, payload...)
	for i := range b[start:] {
		b[start+i] ^= key[i&3]
	}
	return b
}

func closePayload(code int) []byte { return binary.BigEndian.AppendUint16(nil, uint16(code)) }
