package web_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/twinstream/twinstream/cmd/demo/internal/server"
)

// checkSame verifies both panels ended the same task identically: every
// seq from 1 to want exactly once, in order, the same final state.
func checkSame(t *testing.T, s pageState, want uint64, status string) {
	t.Helper()
	wantSeqs := make([]uint64, 0, want)
	for i := uint64(1); i <= want; i++ {
		wantSeqs = append(wantSeqs, i)
	}
	for name, p := range map[string]panelState{"ws": s.WS, "sse": s.SSE} {
		if !slices.Equal(p.Seqs, wantSeqs) {
			t.Errorf("%s panel seqs = %v, want 1..%d exactly once each", name, p.Seqs, want)
		}
		if p.Missing != 0 || p.Dups != 0 || p.Resets != 0 {
			t.Errorf("%s panel: missing %d, doubled %d, resets %d; want none", name, p.Missing, p.Dups, p.Resets)
		}
		if p.Status != status {
			t.Errorf("%s panel status %q, want %q", name, p.Status, status)
		}
		if !strings.Contains(p.Verdict, "0 lost") {
			t.Errorf("%s panel verdict %q, want it to say 0 lost", name, p.Verdict)
		}
	}
	if !slices.Equal(s.WS.Seqs, s.SSE.Seqs) {
		t.Errorf("panels differ: ws seqs %v, sse seqs %v", s.WS.Seqs, s.SSE.Seqs)
	}
	if s.WS.Status != s.SSE.Status || s.WS.Progress != s.SSE.Progress {
		t.Errorf("final state differs: ws %s %v%%, sse %s %v%%", s.WS.Status, s.WS.Progress, s.SSE.Status, s.SSE.Progress)
	}
}

func TestE2EBrowser(t *testing.T) {
	needBrowser(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	// Frequent heartbeats so that the page sees some during a short task.
	base := startDemoServer(t, server.Config{Heartbeat: time.Second})
	b := newBrowser(t, ctx)

	b.do("open the page",
		chromedp.Navigate(base+"/"),
		chromedp.WaitVisible(chromedp.CSS(`#panel-ws .verdict`)),
	)
	b.waitFor("both chat connections", 15*time.Second, func(s pageState) bool {
		return s.Chat.WS.State == "open" && s.Chat.SSE.State == "open"
	})

	t.Run("task completes identically on both panels", func(t *testing.T) {
		b.t = t
		const files = 15
		b.startTask(files, 20, 0)
		s := b.waitFor("both panels complete", 60*time.Second, func(s pageState) bool { return s.WS.done() && s.SSE.done() })
		checkSame(t, s, files+2, "completed")
		if s.WS.Progress != 100 || s.SSE.Progress != 100 {
			t.Errorf("progress ws %v%%, sse %v%%, want 100%%", s.WS.Progress, s.SSE.Progress)
		}
	})

	t.Run("failed task ends failed on both panels", func(t *testing.T) {
		b.t = t
		b.startTask(10, 20, 4)
		s := b.waitFor("both panels end", 60*time.Second, func(s pageState) bool { return s.WS.done() && s.SSE.done() })
		checkSame(t, s, 4+2, "failed")
	})

	t.Run("drop and kill mid-task: both resume with no gap", func(t *testing.T) {
		b.t = t
		// ~15 s of task: long enough to press four buttons and watch each
		// recovery (SSE waits for the server's 2 s retry) on a loaded machine.
		const files = 200
		b.startTask(files, 75, 0)
		b.waitFor("events on both panels", 30*time.Second, func(s pageState) bool {
			return len(s.WS.Seqs) >= 5 && len(s.SSE.Seqs) >= 5 && s.WS.State == "open" && s.SSE.State == "open"
		})
		steps := []struct {
			button, panel string
			reconnects    int
		}{
			{"drop", "ws", 1},
			{"drop", "sse", 1},
			{"kill", "ws", 2},
			{"kill", "sse", 2},
		}
		for _, st := range steps {
			pick := func(s pageState) panelState {
				if st.panel == "ws" {
					return s.WS
				}
				return s.SSE
			}
			before := pick(b.state())
			if before.Terminal {
				t.Fatalf("the task finished before %q could be pressed on the %s panel; make it longer", st.button, st.panel)
			}
			b.click(fmt.Sprintf(`#panel-%s button[data-el=%s]`, st.panel, st.button))
			b.waitFor(fmt.Sprintf("%s panel to recover from %q", st.panel, st.button), 30*time.Second, func(s pageState) bool {
				p := pick(s)
				return p.reconnects() >= st.reconnects && (p.State == "open" || p.done()) && len(p.Seqs) > len(before.Seqs)
			})
		}
		s := b.waitFor("both panels complete", 90*time.Second, func(s pageState) bool { return s.WS.done() && s.SSE.done() })
		checkSame(t, s, files+2, "completed")
		for name, p := range map[string]panelState{"ws": s.WS, "sse": s.SSE} {
			if p.reconnects() < 2 {
				t.Errorf("%s panel reconnected %d times, want >= 2 (one drop, one kill)", name, p.reconnects())
			}
			if !strings.HasPrefix(p.Verdict, "resumed") {
				t.Errorf("%s panel verdict %q, want resumed ..., 0 lost", name, p.Verdict)
			}
		}
		if s.WS.Stats == nil || s.WS.Stats.Heartbeats == 0 {
			t.Errorf("the WebSocket panel saw no app-level ping during a %d-file task", files)
		}
	})

	t.Run("chat routes over both transports", func(t *testing.T) {
		b.t = t
		s := b.state()
		alice, bob := s.Chat.WS.Name, s.Chat.SSE.Name
		say := func(side, cmd, text, to string) {
			t.Helper()
			root := "#chat-" + side
			actions := []chromedp.Action[chromedp.Void]{
				chromedp.SetValue(chromedp.CSS(root+` input[data-el=msg]`), text),
			}
			if to != "" {
				actions = append(actions, chromedp.SetValue(chromedp.CSS(root+` input[data-el=to]`), to))
			}
			actions = append(actions, chromedp.Click(chromedp.CSS(root+` button[data-cmd=`+cmd+`]`)))
			b.do(fmt.Sprintf("%s sends %s", side, cmd), actions...)
		}
		b.waitFor("chat reconnected after the kills", 30*time.Second, func(s pageState) bool {
			return s.Chat.WS.State == "open" && s.Chat.SSE.State == "open"
		})

		say("ws", "broadcast", "hello from the websocket side", "")
		b.waitFor("a WS broadcast on both sides", 15*time.Second, func(s pageState) bool {
			return s.Chat.WS.got("hello from the websocket side") && s.Chat.SSE.got("hello from the websocket side")
		})
		say("sse", "broadcast", "hello via HTTP POST", "")
		b.waitFor("an SSE (POST) broadcast on both sides", 15*time.Second, func(s pageState) bool {
			return s.Chat.WS.got("hello via HTTP POST") && s.Chat.SSE.got("hello via HTTP POST")
		})
		say("ws", "personal", "psst, only for bob", bob)
		b.waitFor("a personal message on the SSE side", 15*time.Second, func(s pageState) bool {
			return s.Chat.SSE.got("psst, only for bob")
		})
		say("sse", "broadcast_except", "everyone but bob", "")
		say("sse", "broadcast", "barrier", "")
		s = b.waitFor("broadcast_except and the barrier", 15*time.Second, func(s pageState) bool {
			return s.Chat.WS.got("everyone but bob") && s.Chat.SSE.got("barrier") && s.Chat.WS.got("barrier")
		})
		if s.Chat.SSE.got("everyone but bob") {
			t.Errorf("broadcast_except reached its sender %s", bob)
		}
		if s.Chat.WS.got("psst, only for bob") {
			t.Errorf("a personal message for %s reached %s", bob, alice)
		}
		// The server kill dropped alice's chat WebSocket: bob saw her leave and come back.
		if !s.Chat.SSE.saw("leave", alice) || !s.Chat.SSE.saw("join", alice) {
			t.Errorf("the SSE side did not see %s leave and rejoin; presence: %+v", alice, s.Chat.SSE.Presence)
		}
	})
	b.t = t

	if ex := b.exceptions(); len(ex) > 0 {
		t.Errorf("uncaught exceptions on the page: %q", ex)
	}
	if t.Failed() {
		return
	}
	writeScreenshot(t, b)
}

// A task watched after its history is gone must show the loss, on both
// panels, instead of hiding it: reset event, then the snapshot.
func TestE2EResetIsShown(t *testing.T) {
	needBrowser(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	base := startDemoServer(t, server.Config{History: 3})
	api := newAPIClient(t, base)
	const files = 12
	task := api.finishedTask(files, 1)
	if task.Status != "completed" {
		t.Fatalf("task ended %s, want completed", task.Status)
	}

	b := newBrowser(t, ctx)
	chip := fmt.Sprintf(`#task-list .task[data-id=%q]`, task.ID)
	b.do("open the page and pick the finished task from the list",
		chromedp.Navigate(base+"/"),
		chromedp.WaitVisible(chromedp.CSS(chip)),
		chromedp.Click(chromedp.CSS(chip)),
	)
	s := b.waitFor("both panels end", 30*time.Second, func(s pageState) bool {
		return s.WS.Task == task.ID && s.SSE.Task == task.ID && s.WS.done() && s.SSE.done()
	})
	last := uint64(files + 2)
	for name, p := range map[string]panelState{"ws": s.WS, "sse": s.SSE} {
		if p.Resets != 1 {
			t.Errorf("%s panel got %d resets, want 1", name, p.Resets)
		}
		if !slices.Equal(p.Seqs, []uint64{last}) {
			t.Errorf("%s panel seqs %v, want only the snapshot at %d", name, p.Seqs, last)
		}
		if p.Status != "completed" || p.Progress != 100 {
			t.Errorf("%s panel ended %s %v%%, want the snapshot's completed 100%%", name, p.Status, p.Progress)
		}
		if p.State != "ended" {
			t.Errorf("%s panel connection %q, want ended", name, p.State)
		}
		// The verdict is rendered after the state it reflects: poll it.
		var text string
		deadline := time.Now().Add(10 * time.Second)
		for {
			var err error
			text, err = chromedp.Run(b.ctx, chromedp.Text(chromedp.CSS("#panel-"+name+" .verdict")))
			if err != nil {
				t.Fatal(err)
			}
			if strings.HasPrefix(text, "⚠ reset: history lost") || strings.HasPrefix(text, "reset: history lost") || time.Now().After(deadline) {
				break
			}
			time.Sleep(50 * time.Millisecond)
		}
		if !strings.HasPrefix(text, "⚠ reset: history lost") && !strings.HasPrefix(text, "reset: history lost") {
			t.Errorf("%s panel verdict shows %q, want the reset called out", name, text)
		}
	}
	if ex := b.exceptions(); len(ex) > 0 {
		t.Errorf("uncaught exceptions on the page: %q", ex)
	}
}
