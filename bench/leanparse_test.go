package bench

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	gosse "github.com/tmaxmax/go-sse"

	"github.com/twinstream/twinstream/transports"
)

// testRecorder is shared by the parser tests (a Recorder's histograms
// take megabytes; a Sub is small).
var testRecorder = sync.OnceValue(func() *Recorder { return NewRecorder(0) })

// testLean is a lean client of transport on a stream of topic "t", with
// a Sub of its own, without a connection: tests feed its parsers.
func testLean(tb testing.TB, transport string) *leanClient {
	tb.Helper()
	w := &worker{spec: WorkerSpec{Transport: transport, Streams: []StreamSpec{{Path: "/" + transport + "?topic=t", Topics: []string{"t"}}}},
		rec: testRecorder(), failures: map[string]int{}, disconnects: map[string]int{}}
	c := &wclient{w: w, sub: w.rec.NewSub(0, 0, []string{"t"})}
	c.ctx, c.cancel = context.WithCancel(context.Background())
	tb.Cleanup(c.cancel)
	l, err := newLeanClient(c, "http://127.0.0.1:1/"+transport+"?topic=t")
	if err != nil {
		tb.Fatal(err)
	}
	return l
}

// feedPieces feeds b to p in pieces cut at the given sizes (cycled), as
// a poller does: unconsumed bytes stay in front of the next piece.
func feedPieces(p leanProto, b []byte, cuts []byte, w leanWriter) error {
	var pending []byte
	now := time.Now()
	for i := 0; len(b) > 0; i++ {
		n := len(b)
		if len(cuts) > 0 {
			n = min(int(cuts[i%len(cuts)])+1, len(b))
		}
		pending = append(pending, b[:n]...)
		b = b[n:]
		k, err := p.feed(pending, now, w)
		if k < 0 || k > len(pending) {
			return fmt.Errorf("consumed %d of %d", k, len(pending))
		}
		if err != nil {
			return err
		}
		pending = append(pending[:0], pending[k:]...)
	}
	return nil
}

// recWriter records what a parser writes.
type recWriter struct{ frames [][]byte }

func (w *recWriter) write(b []byte) error {
	w.frames = append(w.frames, slices.Clone(b))
	return nil
}

// unmask decodes one masked client frame.
func unmask(tb testing.TB, f []byte) (op byte, payload []byte) {
	tb.Helper()
	if len(f) < 6 || f[1]&0x80 == 0 {
		tb.Fatalf("not a masked frame: %x", f)
	}
	n, off := int(f[1]&0x7f), 2
	switch n {
	case 126:
		n, off = int(binary.BigEndian.Uint16(f[2:])), 4
	case 127:
		n, off = int(binary.BigEndian.Uint64(f[2:])), 10
	}
	key, p := f[off:off+4], slices.Clone(f[off+4:])
	if len(p) != n {
		tb.Fatalf("frame of %d bytes says %d", len(p), n)
	}
	for i := range p {
		p[i] ^= key[i&3]
	}
	return f[0] & 0x0f, p
}

// serverFrame is an unmasked server frame; long uses the 64-bit length.
func serverFrame(fin bool, op byte, p []byte, long bool) []byte {
	b0 := op
	if fin {
		b0 |= 0x80
	}
	f := []byte{b0}
	switch n := len(p); {
	case long:
		f = binary.BigEndian.AppendUint64(append(f, 127), uint64(n))
	case n < 126:
		f = append(f, byte(n))
	default:
		f = binary.BigEndian.AppendUint16(append(f, 126), uint16(n))
	}
	return append(f, p...)
}

func wireEvent(seq uint64, size int) []byte {
	now := time.Now()
	return transports.NewEvent("t", seq, EventKind, Payload(0, now, size), now).JSON()
}

// FuzzLeanWS: whatever the framing (fragments, pings between them, length
// encodings) and however the bytes are cut, every event reaches the Sub
// once and every ping gets its pong.
func FuzzLeanWS(f *testing.F) {
	f.Add(uint8(5), uint16(100), []byte{0, 1, 2}, []byte{3, 200, 7})
	f.Add(uint8(1), uint16(300), []byte{255}, []byte{0})
	f.Add(uint8(20), uint16(40), []byte{}, []byte{})
	f.Fuzz(func(t *testing.T, events uint8, size uint16, shape, cuts []byte) {
		l := testLean(t, WS)
		var stream []byte
		pings := 0
		for i := range int(events) {
			msg := wireEvent(uint64(i+1), int(size%2000))
			s := byte(0)
			if len(shape) > 0 {
				s = shape[i%len(shape)]
			}
			parts := int(s%4) + 1
			for k := range parts {
				lo, hi := len(msg)*k/parts, len(msg)*(k+1)/parts
				op := byte(opContinuation)
				if k == 0 {
					op = opText
				}
				stream = append(stream, serverFrame(k == parts-1, op, msg[lo:hi], s&0x40 != 0)...)
				if s&0x80 != 0 && k < parts-1 || s&0x20 != 0 && k == parts-1 {
					stream = append(stream, serverFrame(true, opPing, fmt.Appendf(nil, "%d", pings), false)...)
					pings++
				}
			}
		}
		w := &recWriter{}
		if err := feedPieces(&l.wsp, stream, cuts, w); err != nil {
			t.Fatal(err)
		}
		if tl := l.sub.SelfTally(); tl.Delivered != uint64(events) || tl.Duplicates != 0 || tl.Lost != 0 {
			t.Fatalf("%d events: tally %+v", events, tl)
		}
		if len(w.frames) != pings {
			t.Fatalf("%d pings, %d frames written", pings, len(w.frames))
		}
		for i, fr := range w.frames {
			if op, p := unmask(t, fr); op != opPong || string(p) != fmt.Sprint(i) {
				t.Fatalf("frame %d: op %d payload %q, want pong %d", i, op, p, i)
			}
		}
	})
}

// FuzzLeanWSBytes: any bytes at all, cut anyhow: no panic, and a parser
// consumes only what it was given.
func FuzzLeanWSBytes(f *testing.F) {
	f.Add([]byte{0x81, 0x02, '{', '}', 0x89, 0x00, 0x88, 0x02, 0x03, 0xe8}, []byte{1})
	f.Add([]byte{0x01, 0x7e, 0xff, 0xff}, []byte{})
	f.Add([]byte{0x81, 0x7f, 0xff, 0, 0, 0, 0, 0, 0, 0}, []byte{0})
	f.Fuzz(func(t *testing.T, b, cuts []byte) {
		l := testLean(t, WS)
		_ = feedPieces(&l.wsp, b, cuts, &recWriter{})
	})
}

func TestLeanWSControl(t *testing.T) {
	t.Parallel()
	l := testLean(t, WS)
	w := &recWriter{}
	ping := []byte(`{"type":"ping","ts":1764100000123456}`)
	stream := append(serverFrame(true, opText, ping, false),
		serverFrame(true, opText, []byte(`{"type":"subscribed","topic":"t","seq":41}`), false)...)
	stream = append(stream, serverFrame(true, opClose, []byte{0x03, 0xf4, 'b', 'y', 'e'}, false)...) // 1012
	err := feedPieces(&l.wsp, stream, nil, w)
	var ce *leanCloseError
	if !errors.As(err, &ce) || ce.code != 1012 || !ce.retryable() || ce.Error() != "ws close: dropped" {
		t.Fatalf("err = %v, want a retryable 1012", err)
	}
	if len(w.frames) != 2 {
		t.Fatalf("%d frames written, want pong and close", len(w.frames))
	}
	if op, p := unmask(t, w.frames[0]); op != opText || string(p) != `{"type":"pong","ts":1764100000123456}` {
		t.Errorf("answer to the app ping: op %d %s", op, p)
	}
	if op, p := unmask(t, w.frames[1]); op != opClose || !bytes.Equal(p, []byte{0x03, 0xf4}) {
		t.Errorf("close reply: op %d %x", op, p)
	}
	if l.resumeQuery() != "last_event_id=t%3D41&topic=t" {
		t.Errorf("resume query %q after subscribed seq 41", l.resumeQuery())
	}
	for code, retry := range map[int]bool{1000: false, 1001: true, 1008: false, 1011: true, 1013: true, 4004: false, 4008: true, 4400: false} {
		if got := (&leanCloseError{code: code}).retryable(); got != retry && code != 1000 {
			t.Errorf("close %d: retryable %v, want %v", code, got, retry)
		}
	}
}

// FuzzLeanSSE holds the lean SSE parser to go-sse's (sse.Client's): over
// any stream text, cut anyhow and sent with or without chunked encoding,
// the frames it hands on (unnamed, with data) are go-sse's, with the same
// last event ID.
func FuzzLeanSSE(f *testing.F) {
	f.Add("retry: 2000\nid: t=0\n\nid: t=1\ndata: {\"a\":1}\n\n: ping\n\n", []byte{3}, true)
	f.Add("\xEF\xBB\xBFdata: x\r\ndata:y\r\rid\nevent: e\ndata: z\n\ndata: w\r\n\r\n", []byte{0, 5}, false)
	f.Add("data\nid: 1\x00\n\ndata:  two spaces\nid:\n\n", []byte{}, true)
	f.Fuzz(func(t *testing.T, text string, cuts []byte, chunked bool) {
		type frame struct{ id, data string }
		var want []frame
		for ev, err := range gosse.Read(strings.NewReader(text), nil) {
			if err != nil {
				return // over go-sse's limits: not a comparison
			}
			if ev.Type == "" && ev.Data != "" {
				want = append(want, frame{ev.LastEventID, ev.Data})
			}
		}
		l := testLean(t, SSE)
		var got []frame
		l.sse.out = func(data []byte, _ time.Time) { got = append(got, frame{string(l.sse.lastID), string(data)}) }
		resp := &http.Response{}
		body := []byte(text)
		if chunked {
			resp.TransferEncoding = []string{"chunked"}
			body = chunkText(body, cuts)
		}
		l.sse.reset(resp)
		if err := feedPieces(&l.sse, body, cuts, &recWriter{}); err != nil && !(chunked && errors.Is(err, io.EOF)) {
			t.Fatalf("feed: %v", err)
		}
		if !slices.Equal(got, want) {
			t.Fatalf("%q:\n got %q\nwant %q", text, got, want)
		}
	})
}

// chunkText encodes b in chunks cut at cuts (as net/http's server would
// for flushes), with the last chunk.
func chunkText(b, cuts []byte) []byte {
	var out []byte
	for i := 0; len(b) > 0; i++ {
		n := len(b)
		if len(cuts) > 0 {
			n = min(int(cuts[len(cuts)-1-i%len(cuts)])*3+1, len(b))
		}
		out = fmt.Appendf(out, "%x\r\n%s\r\n", n, b[:n])
		b = b[n:]
	}
	return append(out, "0\r\n\r\n"...)
}

// TestLeanSSEEvents: events in an SSE stream reach the Sub; the resume
// position is the last id; the final chunk ends the stream.
func TestLeanSSEEvents(t *testing.T) {
	t.Parallel()
	l := testLean(t, SSE)
	var text []byte
	text = append(text, "retry: 1500\nid: t=0\n\n"...)
	for seq := range uint64(30) {
		text = fmt.Appendf(text, "id: t=%d\ndata: %s\n\n", seq+1, wireEvent(seq+1, 100))
		if seq%7 == 0 {
			text = append(text, ": ping\n\n"...)
		}
	}
	l.sse.reset(&http.Response{TransferEncoding: []string{"chunked"}})
	err := feedPieces(&l.sse, chunkText(text, []byte{40, 9, 77}), []byte{13, 200, 1}, &recWriter{})
	if !errors.Is(err, io.EOF) {
		t.Fatalf("err = %v, want EOF at the last chunk", err)
	}
	if tl := l.sub.SelfTally(); tl.Delivered != 30 || tl.Lost != 0 || tl.Duplicates != 0 {
		t.Errorf("tally %+v", tl)
	}
	if string(l.sse.lastID) != "t=30" || l.retry != 1500*time.Millisecond {
		t.Errorf("last id %q, retry %v", l.sse.lastID, l.retry)
	}
	if req := l.sseRequest(); !strings.Contains(req, "\r\nLast-Event-ID: t=30\r\n") {
		t.Errorf("reconnect request %q", req)
	}
}

// FuzzLeanSSEBytes: any body bytes, chunked or not: no panic.
func FuzzLeanSSEBytes(f *testing.F) {
	f.Add([]byte("5\r\ndata:\r\n0\r\n\r\n"), []byte{2}, true)
	f.Add([]byte("ffffffff\r\n"), []byte{}, true)
	f.Add([]byte("data: {\"type\":\"event\"\n\n"), []byte{1}, false)
	f.Fuzz(func(t *testing.T, b, cuts []byte, chunked bool) {
		l := testLean(t, SSE)
		resp := &http.Response{}
		if chunked {
			resp.TransferEncoding = []string{"chunked"}
		}
		l.sse.reset(resp)
		_ = feedPieces(&l.sse, b, cuts, &recWriter{})
	})
}
