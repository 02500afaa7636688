package ws_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/twinstream/twinstream/transports"
	"github.com/twinstream/twinstream/transports/internal/nodetest"
	"github.com/twinstream/twinstream/transports/taskstream"
	"github.com/twinstream/twinstream/transports/ws"
)

// nodeOut is one line the node client prints.
type nodeOut struct {
	Name    string `json:"name"`
	Kind    string `json:"kind"`
	Data    string `json:"data"`
	Binary  bool   `json:"binary"`
	Code    int    `json:"code"`
	Reason  string `json:"reason"`
	Status  int    `json:"status"`
	Message string `json:"message"`
}

// nodeClient drives testdata/ws_client.mjs.
type nodeClient struct {
	t     *testing.T
	in    io.Writer
	lines chan nodeOut
	pings int
}

func (n *nodeClient) do(op map[string]any) {
	n.t.Helper()
	b, _ := json.Marshal(op)
	if _, err := n.in.Write(append(b, '\n')); err != nil {
		n.t.Fatalf("node stdin: %v", err)
	}
}

// next returns the next line about conn name, skipping (and counting)
// app-level pings, which the node client answers itself.
func (n *nodeClient) next(name string) nodeOut {
	n.t.Helper()
	for {
		select {
		case l, ok := <-n.lines:
			if !ok {
				n.t.Fatalf("node client exited while waiting on %s", name)
			}
			if l.Kind == "frame" {
				var f frame
				if json.Unmarshal([]byte(l.Data), &f) == nil && f.Type == transports.TypePing {
					if f.TS <= 0 {
						n.t.Fatalf("ping without ts: %s", l.Data)
					}
					n.pings++
					continue
				}
			}
			if l.Name != name {
				n.t.Fatalf("node: %+v while waiting on %s", l, name)
			}
			return l
		case <-time.After(wait):
			n.t.Fatalf("node: nothing on %s", name)
		}
	}
}

// frame returns the next frame on conn name, decoded; it must be text.
func (n *nodeClient) frame(name string) frame {
	n.t.Helper()
	l := n.next(name)
	if l.Kind != "frame" || l.Binary {
		n.t.Fatalf("node %s: got %+v, want a text frame", name, l)
	}
	var f frame
	if err := json.Unmarshal([]byte(l.Data), &f); err != nil {
		n.t.Fatalf("node %s: frame is not JSON: %s", name, l.Data)
	}
	f.raw = l.Data
	return f
}

// exact checks that the next frame is byte for byte ev's wire form.
func (n *nodeClient) exact(name string, ev *transports.Event) {
	n.t.Helper()
	if f := n.frame(name); f.raw != string(ev.JSON()) {
		n.t.Fatalf("node %s: got %s, want %s", name, f.raw, ev.JSON())
	}
}

func (n *nodeClient) closed(name string, code int, reason string) {
	n.t.Helper()
	if l := n.next(name); l.Kind != "close" || l.Code != code || l.Reason != reason {
		n.t.Fatalf("node %s: got %+v, want close %d %q", name, l, code, reason)
	}
}

// An independent WebSocket implementation (npm ws) sees our wire format,
// commands, errors and close codes as documented.
func TestNodeWSConformance(t *testing.T) {
	deps := nodetest.Deps(t)
	e := newEnv(t, ws.Config{Heartbeat: 200 * time.Millisecond, IdleTimeout: 10 * time.Second}, transports.HubConfig{})
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "node", filepath.Join("testdata", "ws_client.mjs"), deps)
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	n := &nodeClient{t: t, in: stdin, lines: make(chan nodeOut)}
	go func() { // owner: n; ends at the node process's EOF on stdout, and closes n.lines
		defer close(n.lines)
		sc := bufio.NewScanner(stdout)
		sc.Buffer(nil, 1<<20)
		for sc.Scan() {
			var l nodeOut
			if err := json.Unmarshal(sc.Bytes(), &l); err != nil {
				l = nodeOut{Kind: "garbage", Message: sc.Text()}
			}
			n.lines <- l
		}
	}()
	defer func() {
		n.do(map[string]any{"op": "exit"})
		stdin.Close()
		for range n.lines {
		}
		_ = cmd.Wait()
	}()

	// Resume on connect: news after seq 1 is replayed first, byte for byte.
	var news []*transports.Event
	for i := 1; i <= 3; i++ {
		news = append(news, e.publish(t, "news", "headline", fmt.Sprintf(`{"title":"n%d"}`, i)))
	}
	n.do(map[string]any{"op": "open", "name": "chat", "url": e.url + "/ws?client_id=node&topic=news&last_event_id=news=1"})
	if l := n.next("chat"); l.Kind != "open" {
		t.Fatalf("got %+v", l)
	}
	n.exact("chat", news[1])
	n.exact("chat", news[2])
	// The URL topics that start live announce their starting seq
	// (broadcast: 1, node's own join; seq 0 is left out).
	for _, want := range []string{`{"type":"subscribed","topic":"client:node"}`, `{"type":"subscribed","topic":"broadcast","seq":1}`} {
		if f := n.frame("chat"); f.raw != want {
			t.Fatalf("got %s, want %s", f.raw, want)
		}
	}
	live := e.publish(t, "news", "headline", `{"title":"live","n":1.5,"ok":true,"tags":["a"]}`)
	n.exact("chat", live)

	// Commands.
	n.do(map[string]any{"op": "send", "name": "chat", "text": `{"type":"subscribe","topic":"extra","id":"s1"}`})
	if f := n.frame("chat"); f.raw != `{"type":"subscribed","topic":"extra","id":"s1"}` {
		t.Fatalf("got %s", f.raw)
	}
	n.do(map[string]any{"op": "send", "name": "chat", "text": `{"type":"broadcast","message":"hi from node","id":"b1"}`})
	msg := n.frame("chat")
	if msg.Topic != "broadcast" || msg.Event != "message" || string(msg.Data) != `{"from":"node","message":"hi from node"}` {
		t.Fatalf("got %s", msg.raw)
	}
	if f := n.frame("chat"); f.raw != fmt.Sprintf(`{"type":"ack","topic":"broadcast","seq":%d,"id":"b1","size":1}`, msg.Seq) {
		t.Fatalf("got %s", f.raw)
	}
	n.do(map[string]any{"op": "send", "name": "chat", "text": `{"type":"ping","ts":7,"id":"p1"}`})
	if f := n.frame("chat"); f.raw != `{"type":"pong","ts":7,"id":"p1"}` {
		t.Fatalf("got %s", f.raw)
	}
	for _, tt := range []struct{ op, text, want string }{
		{"send", `{"type":`, `{"type":"error","code":"invalid_json","message":"message is not valid JSON"}`},
		{"send", `{"type":"shout"}`, `{"type":"error","code":"invalid_message","message":"message is not a valid command","fields":{"type":"unknown type \"shout\"; want one of subscribe, unsubscribe, broadcast, personal, broadcast_except, ping, pong"}}`},
		{"binary", `{"type":"ping"}`, `{"type":"error","code":"invalid_message","message":"binary frames are not accepted: send commands as JSON text frames"}`},
	} {
		n.do(map[string]any{"op": tt.op, "name": "chat", "text": tt.text})
		if f := n.frame("chat"); f.raw != tt.want {
			t.Fatalf("after %s: got  %s\nwant %s", tt.text, f.raw, tt.want)
		}
	}
	// The app-level pings the node client answered kept it alive, and an
	// admin drop reaches it as 1012.
	waitFor(t, "a heartbeat", func() bool {
		e.publish(t, "extra", "tick", `{}`)
		n.frame("chat")
		return n.pings > 0
	})
	e.hub.DropAll(ws.Transport)
	n.closed("chat", 1012, transports.ReasonDropped.Text)

	// A task stream: snapshot first, events, terminal event, close 1000.
	e.addTask("7")
	progress(t, e, "7", taskstream.KindQueued, 0)
	n.do(map[string]any{"op": "open", "name": "task", "url": e.url + "/ws/tasks/7"})
	n.next("task") // open
	if f := n.frame("task"); f.raw != `{"type":"event","topic":"task:7","seq":1,"event":"snapshot","ts":`+itoa(f.TS)+`,"data":{"id":"7","progress":0}}` {
		t.Fatalf("got %s", f.raw)
	}
	n.exact("task", progress(t, e, "7", taskstream.KindProgress, 50))
	n.exact("task", progress(t, e, "7", taskstream.KindCompleted, 100))
	n.closed("task", 1000, transports.ReasonDone.Text)

	// Unknown stream: an error frame, then 4004.
	n.do(map[string]any{"op": "open", "name": "missing", "url": e.url + "/ws/tasks/nope"})
	n.next("missing") // open
	if f := n.frame("missing"); f.raw != `{"type":"error","code":"not_found","message":"no task \"nope\""}` {
		t.Fatalf("got %s", f.raw)
	}
	n.closed("missing", 4004, transports.ReasonNotFound.Text)

	// A foreign origin is refused before the upgrade.
	n.do(map[string]any{"op": "open", "name": "evil", "url": e.url + "/ws?topic=news", "origin": "https://evil.example"})
	if l := n.next("evil"); l.Kind != "http" || l.Status != 403 {
		t.Fatalf("got %+v, want a 403", l)
	}
}
