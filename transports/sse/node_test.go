package sse_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/twinstream/twinstream/transports"
	"github.com/twinstream/twinstream/transports/internal/nodetest"
	"github.com/twinstream/twinstream/transports/sse"
)

// nodeLine is one line the conformance client prints.
type nodeLine struct {
	Kind   string  `json:"kind"`
	Type   string  `json:"type"`
	ID     string  `json:"id"`
	Data   string  `json:"data"`
	Code   *int    `json:"code"`
	Msg    string  `json:"message"`
	Closed bool    `json:"closed"`
	Events float64 `json:"events"`
}

// An independent EventSource implementation (npm eventsource) receives
// our events through onmessage with the exact wire JSON as data, and after
// a server-side drop reconnects by itself with Last-Event-ID and resumes
// with no gap and no duplicate.
func TestNodeEventSourceConformance(t *testing.T) {
	deps := nodetest.Deps(t)
	e := newEnv(t, envOpts{cfg: sse.Config{Retry: 50 * time.Millisecond}})

	const want = 6
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "node", filepath.Join("testdata", "eventsource_client.mjs"), deps, e.ts.URL+"/sse?topic=news&topic=sports", fmt.Sprint(want))
	cmd.Stderr = os.Stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	lines := make(chan nodeLine)
	go func() { // owner: this test; ends at the node process's EOF on stdout, and closes lines
		defer close(lines)
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			var l nodeLine
			if err := json.Unmarshal(sc.Bytes(), &l); err != nil {
				l = nodeLine{Kind: "garbage", Msg: sc.Text()}
			}
			lines <- l
		}
	}()
	defer func() {
		cancel()
		for range lines { // drain so the reader ends
		}
		_ = cmd.Wait()
	}()

	next := func(kinds ...string) nodeLine {
		t.Helper()
		for {
			select {
			case l, ok := <-lines:
				if !ok {
					t.Fatalf("node client exited while waiting for %v", kinds)
				}
				for _, k := range kinds {
					if l.Kind == k {
						return l
					}
				}
				if l.Kind != "error" { // errors are the ends of responses
					t.Fatalf("node client: unexpected %+v while waiting for %v", l, kinds)
				}
				if l.Closed {
					t.Fatalf("EventSource gave up: %+v", l)
				}
			case <-time.After(wait):
				t.Fatalf("node client: nothing while waiting for %v", kinds)
			}
		}
	}
	// message checks that l is the frame of ev: onmessage (no event:
	// field), the exact wire JSON, the composite cursor as lastEventId.
	message := func(l nodeLine, ev *transports.Event) {
		t.Helper()
		if l.Type != "message" || l.Data != string(ev.JSON()) { // onmessage: no event: field
			t.Fatalf("node got %+v, want a message with data %s", l, ev.JSON())
		}
		c, err := transports.ParseCursors(l.ID, "")
		if err != nil || c[ev.Topic] != ev.Seq {
			t.Fatalf("lastEventId %q does not resume after %s#%d (%v)", l.ID, ev.Topic, ev.Seq, err)
		}
	}

	next("open")
	var evs []*transports.Event
	for i := 1; i <= want/2; i++ {
		ev := e.publish(t, "news", "n", fmt.Sprintf(`{"i":%d}`, i))
		evs = append(evs, ev)
		message(next("message"), ev)
	}
	if n := e.hub.DropAll(sse.Transport); n != 1 {
		t.Fatalf("dropped %d streams, want 1", n)
	}
	for i := want/2 + 1; i <= want; i++ { // published while EventSource reconnects
		evs = append(evs, e.publish(t, "news", "n", fmt.Sprintf(`{"i":%d}`, i)))
	}
	next("open")
	for _, ev := range evs[want/2:] {
		message(next("message"), ev)
	}
	if l := next("done"); l.Events != want {
		t.Fatalf("done after %v events", l.Events)
	}
	for l := range lines {
		t.Errorf("node client after done: %+v", l)
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("node client: %v", err)
	}
	hdrs := e.headers()
	if len(hdrs) != 2 || hdrs[0] != "" {
		t.Fatalf("Last-Event-ID headers %q, want none then the cursor", hdrs)
	}
	if c, err := transports.ParseCursors(hdrs[1], ""); err != nil || c["news"] != uint64(want/2) {
		t.Errorf("reconnect sent Last-Event-ID %q, want news=%d in it", hdrs[1], want/2)
	}
}
