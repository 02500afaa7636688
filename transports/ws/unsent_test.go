package ws_test

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/twinstream/twinstream/transports"
	"github.com/twinstream/twinstream/transports/ws"
)

// Issue 10, "clients that read nothing but answer heartbeats are never
// closed as slow": about 3 MB each piled up in kernel socket buffers, then
// they were cut abruptly at the write deadline, with no close frame. Now
// the connection loop counts the kernel's unsent bytes against the
// connection's budget (QueueBytes): such a client is closed with 4008
// while its socket still has room for the close frame, long before the
// write deadline. (A client whose socket buffers are smaller than the
// budget cannot pile up memory; it fills its queue and is closed as slow
// too, but its close frame may not fit.)
func TestUnreadingClientThatPingsIsClosedSlow(t *testing.T) {
	e := newEnv(t, ws.Config{WriteTimeout: time.Minute, IdleTimeout: time.Minute}, transports.HubConfig{QueueBytes: 256 << 10})
	addr := strings.TrimPrefix(e.url, "ws://")
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := io.WriteString(c, "GET /ws?topic=flood HTTP/1.1\r\nHost: "+addr+"\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"+
		"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReader(c)
	resp, err := http.ReadResponse(br, nil)
	if err != nil || resp.StatusCode != http.StatusSwitchingProtocols {
		t.Fatalf("upgrade: %v %v", resp, err)
	}
	waitFor(t, "attached", func() bool { return e.hub.Stats().Connections[ws.Transport] == 1 })
	// From here the client never reads, but keeps sending masked pings,
	// so it never looks silent.
	stop := make(chan struct{})
	defer close(stop)
	go func() { // owner: this test, which closes stop
		ping := []byte{0x89, 0x80, 1, 2, 3, 4}
		for {
			select {
			case <-stop:
				return
			case <-time.After(50 * time.Millisecond):
			}
			if _, err := c.Write(ping); err != nil {
				return
			}
		}
	}()
	data := `{"pad":"` + strings.Repeat("x", 16<<10) + `"}`
	start := time.Now()
	for e.hub.Stats().SlowClosed == 0 {
		if time.Since(start) > 30*time.Second {
			t.Fatalf("an unreading client that pings was not closed as slow in 30 s: %+v", e.hub.Stats())
		}
		e.publish(t, "flood", "tick", data)
		time.Sleep(2 * time.Millisecond)
	}
	// The close frame made it into the socket: read everything that is
	// left and find 4008 in the last frame.
	_ = c.SetReadDeadline(time.Now().Add(wait))
	rest, _ := io.ReadAll(br)
	i := bytes.LastIndex(rest, []byte{0x88})
	if i < 0 || i+4 > len(rest) || binary.BigEndian.Uint16(rest[i+2:]) != 4008 {
		t.Fatalf("no 4008 close frame at the end of the %d bytes the server sent", len(rest))
	}
}
