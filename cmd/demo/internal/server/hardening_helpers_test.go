package server_test

import (
	"bufio"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/twinstream/twinstream/cmd/demo/internal/auth"
)

// testSecret is the --auth-secret of the identity tests.
const testSecret = "test secret of at least 32 bytes."

// token signs an identity with testSecret.
func token(t *testing.T, clientID string, publisher bool) string {
	t.Helper()
	tok, err := auth.Sign([]byte(testSecret), auth.Identity{ClientID: clientID, Publisher: publisher}, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// rawConn is a raw TCP connection to the test server, for requests and
// frames no well-behaved client sends.
type rawConn struct {
	t  *testing.T
	c  net.Conn
	br *bufio.Reader
}

// dialRaw opens a TCP connection to the server; it closes at test end.
func (ts *testServer) dialRaw() *rawConn {
	ts.t.Helper()
	c, err := net.Dial("tcp", strings.TrimPrefix(ts.url, "http://"))
	if err != nil {
		ts.t.Fatal(err)
	}
	ts.t.Cleanup(func() { c.Close() })
	return &rawConn{t: ts.t, c: c, br: bufio.NewReader(c)}
}

func (rc *rawConn) write(s string) error {
	_ = rc.c.SetWriteDeadline(time.Now().Add(10 * time.Second))
	_, err := io.WriteString(rc.c, s)
	return err
}

// response reads one HTTP response (within 20 s).
func (rc *rawConn) response(method string) (*http.Response, error) {
	_ = rc.c.SetReadDeadline(time.Now().Add(20 * time.Second))
	return http.ReadResponse(rc.br, &http.Request{Method: method})
}

// closedWithin reports whether the server closes the connection within d
// (reading and discarding whatever it sends first).
func (rc *rawConn) closedWithin(d time.Duration) bool {
	_ = rc.c.SetReadDeadline(time.Now().Add(d))
	_, err := io.Copy(io.Discard, rc.br)
	var ne net.Error
	return !(errors.As(err, &ne) && ne.Timeout())
}

// upgrade sends a WebSocket upgrade request for path with extra header
// lines and returns the response (its body read when it is no 101).
func (rc *rawConn) upgrade(path, host string, headers ...string) *http.Response {
	rc.t.Helper()
	req := "GET " + path + " HTTP/1.1\r\nHost: " + host + "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
		"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"
	for _, h := range headers {
		req += h + "\r\n"
	}
	if err := rc.write(req + "\r\n"); err != nil {
		rc.t.Fatal(err)
	}
	res, err := rc.response("GET")
	if err != nil {
		rc.t.Fatalf("upgrade %s: %v", path, err)
	}
	if res.StatusCode != http.StatusSwitchingProtocols {
		_, _ = io.ReadAll(res.Body)
	}
	return res
}

// WebSocket opcodes.
const (
	opText  = 0x1
	opClose = 0x8
)

// frame writes one final, masked client frame.
func (rc *rawConn) frame(op byte, payload []byte) error {
	b := []byte{0x80 | op}
	switch n := len(payload); {
	case n < 126:
		b = append(b, 0x80|byte(n))
	default:
		b = append(b, 0x80|126)
		b = binary.BigEndian.AppendUint16(b, uint16(n))
	}
	var key [4]byte
	_, _ = rand.Read(key[:])
	b = append(b, key[:]...)
	for i, c := range payload {
		b = append(b, c^key[i%4])
	}
	_ = rc.c.SetWriteDeadline(time.Now().Add(10 * time.Second))
	_, err := rc.c.Write(b)
	return err
}

// closePayload is a close frame's payload: the code, then the reason.
func closePayload(code uint16, reason string) []byte {
	return append(binary.BigEndian.AppendUint16(nil, code), reason...)
}

// readFrame reads one server frame (unmasked, unfragmented).
func (rc *rawConn) readFrame() (op byte, payload []byte, err error) {
	_ = rc.c.SetReadDeadline(time.Now().Add(20 * time.Second))
	var h [2]byte
	if _, err := io.ReadFull(rc.br, h[:]); err != nil {
		return 0, nil, err
	}
	n := uint64(h[1] & 0x7f)
	switch n {
	case 126:
		var l [2]byte
		if _, err := io.ReadFull(rc.br, l[:]); err != nil {
			return 0, nil, err
		}
		n = uint64(binary.BigEndian.Uint16(l[:]))
	case 127:
		var l [8]byte
		if _, err := io.ReadFull(rc.br, l[:]); err != nil {
			return 0, nil, err
		}
		n = binary.BigEndian.Uint64(l[:])
	}
	payload = make([]byte, n)
	_, err = io.ReadFull(rc.br, payload)
	return h[0] & 0x0f, payload, err
}

// closeFrame reads frames until the server's close frame and returns its
// code and reason.
func (rc *rawConn) closeFrame() (code int, reason string) {
	rc.t.Helper()
	for {
		op, p, err := rc.readFrame()
		if err != nil {
			rc.t.Fatalf("no close frame: %v", err)
		}
		if op == opClose {
			if len(p) < 2 {
				return 1005, ""
			}
			return int(binary.BigEndian.Uint16(p)), string(p[2:])
		}
	}
}
