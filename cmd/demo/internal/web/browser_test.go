package web_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
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
	go func() { // owner: b; ends when the tab closes, and the cleanup below waits for it
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
