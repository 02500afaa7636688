package web_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/twinstream/twinstream/cmd/demo/internal/server"
)

// chromiumPath is Debian's chromium; .ci/run installs it.
const chromiumPath = "/usr/bin/chromium"

// The page's state as window.__twinstream.snapshot() reports it.
type panelState struct {
	Task     string   `json:"task"`
	State    string   `json:"state"`
	Status   string   `json:"status"`
	Progress float64  `json:"progress"`
	Terminal bool     `json:"terminal"`
	Ended    bool     `json:"ended"`
	Seqs     []uint64 `json:"seqs"`
	Last     *uint64  `json:"last"`
	Missing  int      `json:"missing"`
	Dups     int      `json:"dups"`
	Resets   int      `json:"resets"`
	Verdict  string   `json:"verdict"`
	Stats    *struct {
		Connects   int `json:"connects"`
		Reconnects int `json:"reconnects"`
		Heartbeats int `json:"heartbeats"`
		Events     int `json:"events"`
		Bytes      int `json:"bytes"`
	} `json:"stats"`
}

func (p panelState) reconnects() int {
	if p.Stats == nil {
		return 0
	}
	return p.Stats.Reconnects
}

func (p panelState) done() bool { return p.Terminal && p.Ended }

type chatMessage struct {
	From    string `json:"from"`
	Message string `json:"message"`
	Topic   string `json:"topic"`
}

type chatState struct {
	Name     string        `json:"name"`
	State    string        `json:"state"`
	Messages []chatMessage `json:"messages"`
	Presence []struct {
		Kind     string `json:"kind"`
		ClientID string `json:"client_id"`
	} `json:"presence"`
}

func (c chatState) got(text string) bool {
	return slices.ContainsFunc(c.Messages, func(m chatMessage) bool { return m.Message == text })
}

func (c chatState) saw(kind, id string) bool {
	for _, p := range c.Presence {
		if p.Kind == kind && p.ClientID == id {
			return true
		}
	}
	return false
}

type pageState struct {
	Watched string     `json:"watched"`
	WS      panelState `json:"ws"`
	SSE     panelState `json:"sse"`
	Chat    struct {
		WS  chatState `json:"ws"`
		SSE chatState `json:"sse"`
	} `json:"chat"`
}

func (s pageState) String() string {
	b, _ := json.Marshal(struct {
		Watched string
		WS, SSE any
		ChatWS  any
		ChatSSE any
	}{s.Watched, summary(s.WS), summary(s.SSE), s.Chat.WS, s.Chat.SSE})
	return string(b)
}

func summary(p panelState) map[string]any {
	return map[string]any{
		"task": p.Task, "state": p.State, "status": p.Status, "progress": p.Progress,
		"terminal": p.Terminal, "ended": p.Ended, "n": len(p.Seqs), "last": p.Last,
		"missing": p.Missing, "dups": p.Dups, "resets": p.Resets, "verdict": p.Verdict,
		"reconnects": p.reconnects(),
	}
}

// browser drives one headless Chromium tab on the demo page.
type browser struct {
	t   *testing.T
	ctx context.Context

	mu     sync.Mutex
	errors []string // uncaught exceptions on the page
}

// needBrowser skips the test when Chromium is missing, except under CI=true
// where a missing browser fails the run.
func needBrowser(t *testing.T) {
	t.Helper()
	if testing.Short() {
		t.Skip("browser e2e test skipped in -short mode")
	}
	if _, err := os.Stat(chromiumPath); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("chromium is required under CI=true: %v (install it: apt-get install -y chromium)", err)
		}
		t.Skipf("chromium not installed (%v); apt-get install -y chromium to run the browser e2e test", err)
	}
}

func newBrowser(t *testing.T, ctx context.Context) *browser {
	t.Helper()
	needBrowser(t)
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(chromiumPath),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.Flag("disable-extensions", true),
		chromedp.Flag("disable-background-timer-throttling", true),
		chromedp.Flag("disable-renderer-backgrounding", true),
		chromedp.Flag("hide-scrollbars", true),
		chromedp.Flag("force-color-profile", "srgb"),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1400, 1000),
	}
	actx, cancelAlloc := chromedp.NewExecAllocator(ctx, opts...)
	bctx, cancelTab := chromedp.NewContext(actx)
	t.Cleanup(func() {
		cancelTab()
		cancelAlloc()
	})
	b := &browser{t: t, ctx: bctx}
	// Start the browser and subscribe to the console before the page loads.
	if err := chromedp.Do(bctx, chromedp.EmulateViewport(1400, 1000)); err != nil {
		t.Fatalf("starting chromium: %v", err)
	}
	msgs := chromedp.Console(bctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for m, err := range msgs {
			if err != nil {
				return
			}
			if m.IsException() {
				b.mu.Lock()
				b.errors = append(b.errors, m.Text)
				b.mu.Unlock()
			}
			if m.Type == chromedp.ConsoleError || m.IsException() {
				t.Logf("page console: %s", m)
			}
		}
	}()
	t.Cleanup(func() {
		cancelTab()
		<-done
	})
	return b
}

func (b *browser) do(what string, actions ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 30*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, actions...); err != nil {
		b.t.Fatalf("%s: %v", what, err)
	}
}

func (b *browser) state() pageState {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 10*time.Second)
	defer cancel()
	s, err := chromedp.Run(ctx, chromedp.Evaluate[pageState](`window.__twinstream.snapshot()`))
	if err != nil {
		b.t.Fatalf("reading window.__twinstream: %v", err)
	}
	return s
}

// waitFor polls the page state until ok holds; generous timeouts, no timing asserts.
func (b *browser) waitFor(what string, timeout time.Duration, ok func(pageState) bool) pageState {
	b.t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		s := b.state()
		if ok(s) {
			return s
		}
		if time.Now().After(deadline) {
			b.t.Fatalf("timed out after %v waiting for %s; page state: %s", timeout, what, s)
		}
		select {
		case <-b.ctx.Done():
			b.t.Fatalf("waiting for %s: %v", what, b.ctx.Err())
		case <-time.After(100 * time.Millisecond):
		}
	}
}

func (b *browser) click(sel string) {
	b.t.Helper()
	b.do("click "+sel, chromedp.Click(chromedp.CSS(sel)))
}

func (b *browser) exceptions() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return slices.Clone(b.errors)
}

// startTask fills the start form and submits it; it returns the new task id
// once both panels watch it.
func (b *browser) startTask(files, stepMS, failAt int) string {
	b.t.Helper()
	before := b.state().Watched
	fail := ""
	if failAt > 0 {
		fail = fmt.Sprint(failAt)
	}
	b.do("fill the start form",
		chromedp.SetValue(chromedp.CSS(`#start-form input[name=files]`), fmt.Sprint(files)),
		chromedp.SetValue(chromedp.CSS(`#start-form input[name=step_ms]`), fmt.Sprint(stepMS)),
		chromedp.SetValue(chromedp.CSS(`#start-form input[name=fail_at]`), fail),
		chromedp.Click(chromedp.CSS(`#start-btn`)),
	)
	s := b.waitFor("the new task in both panels", 15*time.Second, func(s pageState) bool {
		return s.Watched != "" && s.Watched != before && s.WS.Task == s.Watched && s.SSE.Task == s.Watched
	})
	return s.Watched
}

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
		const files = 150
		b.startTask(files, 80, 0)
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
		text, err := chromedp.Run(b.ctx, chromedp.Text(chromedp.CSS("#panel-"+name+" .verdict")))
		if err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(text, "⚠ reset: history lost") && !strings.HasPrefix(text, "reset: history lost") {
			t.Errorf("%s panel verdict shows %q, want the reset called out", name, text)
		}
	}
	if ex := b.exceptions(); len(ex) > 0 {
		t.Errorf("uncaught exceptions on the page: %q", ex)
	}
}

// writeScreenshot saves the 1400x1000 view of the finished page as
// docs/demo.png (the README shows it). Only a passing run writes it.
func writeScreenshot(t *testing.T, b *browser) {
	t.Helper()
	b.do("scroll to the top", chromedp.Evaluate[chromedp.Void](`window.scrollTo(0, 0)`))
	time.Sleep(300 * time.Millisecond) // let the last animation frame paint
	ctx, cancel := context.WithTimeout(b.ctx, 30*time.Second)
	defer cancel()
	png, err := chromedp.Run(ctx, chromedp.CaptureScreenshot())
	if err != nil {
		t.Fatalf("screenshot: %v", err)
	}
	root, err := repoRoot()
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(root, "docs", "demo.png")
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, png, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshot written to %s (%d bytes)", path, len(png))
}

func repoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", fmt.Errorf("no go.mod above the working directory")
		}
		dir = parent
	}
}
