package bench

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"testing"
)

func wsFrame(op byte, rsv1 bool, p []byte) []byte {
	b0 := 0x80 | op
	if rsv1 {
		b0 |= 0x40
	}
	b := []byte{b0}
	switch n := len(p); {
	case n < 126:
		b = append(b, byte(n))
	case n <= 0xffff:
		b = append(b, 126)
		b = binary.BigEndian.AppendUint16(b, uint16(n))
	default:
		b = append(b, 127)
		b = binary.BigEndian.AppendUint64(b, uint64(n))
	}
	return append(b, p...)
}

func event(seq int, size int) []byte {
	return fmt.Appendf(nil, `{"type":"event","topic":"t","seq":%d,"event":"tick","ts":1,"data":{"p":"%s"}}`, seq, bytes.Repeat([]byte("x"), size))
}

// feedAll feeds b to a fresh tap whole, byte by byte and in random pieces,
// and checks that every way counts the same.
func feedAll(t *testing.T, h2 bool, b []byte) WireCount {
	t.Helper()
	whole := newWireTap(h2, false)
	whole.feed(b)
	want := whole.snapshot()
	bytewise := newWireTap(h2, false)
	for i := range b {
		bytewise.feed(b[i : i+1])
	}
	if got := bytewise.snapshot(); got != want {
		t.Fatalf("byte by byte:\n%+v\nwhole:\n%+v", got, want)
	}
	r := rand.New(rand.NewPCG(1, 2))
	for range 20 {
		pieces := newWireTap(h2, false)
		for rest := b; len(rest) > 0; {
			k := min(len(rest), 1+r.IntN(300))
			pieces.feed(rest[:k])
			rest = rest[k:]
		}
		if got := pieces.snapshot(); got != want {
			t.Fatalf("in pieces:\n%+v\nwhole:\n%+v", got, want)
		}
	}
	return want
}

func TestWireTapWebSocket(t *testing.T) {
	head := "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n"
	b := []byte(head)
	b = append(b, wsFrame(0x1, false, []byte(`{"type":"subscribed","topic":"t","seq":0}`))...)
	var payload uint64
	for i, size := range []int{10, 200, 70000} {
		ev := event(i+1, size)
		payload += uint64(len(ev))
		b = append(b, wsFrame(0x1, false, ev)...)
	}
	b = append(b, wsFrame(0x9, false, nil)...)
	ping := []byte(`{"type":"ping","ts":1764100000123456}`)
	b = append(b, wsFrame(0x1, false, ping)...)
	b = append(b, wsFrame(0x1, true, []byte("compressed-bytes"))...)
	n := feedAll(t, false, b)
	if n.Head != uint64(len(head)) || n.Payload != payload || n.Events != 3 {
		t.Errorf("head %d payload %d events %d; want %d %d 3", n.Head, n.Payload, n.Events, len(head), payload)
	}
	if n.Framing != 2+4+10+2 || n.Heartbeat != 2+2+uint64(len(ping)) || n.Compressed != 16 {
		t.Errorf("framing %d heartbeat %d compressed %d", n.Framing, n.Heartbeat, n.Compressed)
	}
	if n.Plain != uint64(len(b)) || n.Head+n.Framing+n.Payload+n.Control+n.Heartbeat+n.Compressed != n.Plain {
		t.Errorf("categories do not add up: %+v", n)
	}
}

func tapChunk(p []byte) []byte {
	return append(fmt.Appendf(nil, "%x\r\n", len(p)), append(p, '\r', '\n')...)
}

func TestWireTapSSEChunked(t *testing.T) {
	head := "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n"
	b := []byte(head)
	b = append(b, tapChunk([]byte("id: 0\nretry: 2000\n\n"))...)
	var batch []byte
	var payload uint64
	for i := range 3 {
		ev := event(i+1, 50)
		payload += uint64(len(ev))
		batch = fmt.Appendf(batch, "id: %d\ndata: %s\n\n", i+1, ev)
	}
	b = append(b, tapChunk(batch)...)
	b = append(b, tapChunk([]byte(": ping\n\n"))...)
	b = append(b, "0\r\n\r\n"...)
	n := feedAll(t, false, b)
	if n.Payload != payload || n.Events != 3 || n.IDLines != uint64(len("id: 0\n")+3*len("id: 1\n")) {
		t.Errorf("payload %d events %d id lines %d", n.Payload, n.Events, n.IDLines)
	}
	if n.Framing != 3*8+1 || n.Heartbeat != uint64(len(": ping\n\n")) || n.Control != uint64(len("retry: 2000\n")) {
		t.Errorf("framing %d heartbeat %d control %d", n.Framing, n.Heartbeat, n.Control)
	}
	if n.Plain != uint64(len(b)) || n.Head+n.Chunked+n.Framing+n.IDLines+n.Payload+n.Control+n.Heartbeat != n.Plain {
		t.Errorf("categories do not add up: %+v", n)
	}
}

func h2Frame(typ byte, flags byte, stream uint32, p []byte) []byte {
	b := []byte{byte(len(p) >> 16), byte(len(p) >> 8), byte(len(p)), typ, flags}
	b = binary.BigEndian.AppendUint32(b, stream)
	return append(b, p...)
}

func TestWireTapHTTP2(t *testing.T) {
	var b []byte
	b = append(b, h2Frame(0x4, 0, 0, make([]byte, 18))...) // SETTINGS
	var payload uint64
	for s := uint32(1); s <= 5; s += 2 {
		b = append(b, h2Frame(0x1, 0x4, s, make([]byte, 30))...) // HEADERS
		ev := event(int(s), 40)
		payload += uint64(len(ev))
		b = append(b, h2Frame(0x0, 0, s, fmt.Appendf(nil, "id: %d\ndata: %s\n\n", s, ev))...)
	}
	padded := append([]byte{4}, fmt.Appendf(nil, "data: %s\n\n", event(9, 1))...)
	payload += uint64(len(event(9, 1)))
	b = append(b, h2Frame(0x0, 0x8, 1, append(padded, 0, 0, 0, 0))...)
	b = append(b, h2Frame(0x8, 0, 0, make([]byte, 4))...) // WINDOW_UPDATE
	n := feedAll(t, true, b)
	if n.Payload != payload || n.Events != 4 || n.Head != 90 {
		t.Errorf("payload %d (want %d) events %d head %d", n.Payload, payload, n.Events, n.Head)
	}
	if n.H2Framing != 9*9+18+1+4+4 {
		t.Errorf("h2 framing %d", n.H2Framing)
	}
	if n.Plain != uint64(len(b)) || n.Head+n.H2Framing+n.Framing+n.IDLines+n.Payload+n.Control+n.Heartbeat != n.Plain {
		t.Errorf("categories do not add up: %+v", n)
	}
}
