package ws

import (
	"encoding/binary"
	"unicode/utf8"

	"github.com/coder/websocket"

	"github.com/twinstream/twinstream/transports"
)

// What the reader lets through of a client's data frames, before a command
// is parsed: valid UTF-8 in text frames (RFC 6455 §8.1; coder/websocket
// does not check it, and encoding/json would turn bad bytes into U+FFFD),
// and the command rate (Config.CommandRate: every data frame, pongs
// included, spends a token; over the rate a rate_limited error frame
// answers, past the grace the connection closes with 4029). A close frame
// whose reason is not UTF-8 is answered with 1007 (invalidCloseReply).

// A verdict is what the reader does with one data frame.
type verdict int

const (
	handleFrame verdict = iota // run it
	dropFrame                  // answered already (a rate_limited error frame)
	stopReading                // the connection is being closed (Kick)
)

// admit checks one data frame; it runs on the reader goroutine, which owns
// c.limit.
func (c *conn) admit(typ websocket.MessageType, b []byte) verdict {
	if typ == websocket.MessageText && !utf8.Valid(b) {
		c.sub.Kick(transports.ReasonInvalidUTF8)
		return stopReading
	}
	switch c.limit.Allow() {
	case transports.Refused:
		c.sub.Send(rateLimitedFrame)
		return dropFrame
	case transports.Exceeded:
		c.sub.Kick(transports.ReasonRateLimited)
		return stopReading
	}
	return handleFrame
}

// rateLimitedFrame answers a command refused by the command rate.
var rateLimitedFrame = transports.NewErrorFrame(transports.CodeRateLimited,
	"too many commands: this one was dropped; slow down or the connection closes with 4029").JSON()

// refuseOverLimit closes a connection the Limiter refused with the
// reason's code: 1013 over a cap, 4029 over the new-connection rate.
func (c *conn) refuseOverLimit(err error) { c.closeWith(transports.ReasonFor(err)) }

// invalidCloseReply returns the frame to send instead of p, and true, when
// p is a close frame whose reason is not valid UTF-8: coder/websocket
// echoes a peer's close frame as it came, and RFC 6455 (§7.1.6, §8.1) wants
// a 1007 close instead. p is one whole frame written by the library
// (unmasked: the server's); for anything else it returns false.
func invalidCloseReply(p []byte) ([]byte, bool) {
	if len(p) < 4 || p[0] != 0x88 || p[1]&0x80 != 0 {
		return nil, false
	}
	if n := int(p[1]); n > 125 || len(p) != 2+n || utf8.Valid(p[4:]) {
		return nil, false
	}
	return closeFrame(transports.ReasonInvalidUTF8), true
}

// closeFrame is an unmasked close frame with r's code and text.
func closeFrame(r *transports.CloseReason) []byte {
	b := []byte{0x88, byte(2 + len(r.Text))}
	b = binary.BigEndian.AppendUint16(b, uint16(r.WSStatus))
	return append(b, r.Text...)
}
