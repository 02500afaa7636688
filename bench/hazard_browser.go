package bench

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"time"

	"github.com/chromedp/chromedp"
)

// ChromiumPath is Debian's chromium, which the browser hazard drives
// headless (.ci/test installs it).
const ChromiumPath = "/usr/bin/chromium"

// browserStreams is the page script of the browser hazard: it opens n
// streams of one kind ("sse": EventSource, "ws": WebSocket) to the page's
// own origin, waits a second, then times a fetch of /healthz (given up
// after fetchWait), and reports when each stream opened (-1: never), the
// fetch's time (-1: it hung) and the protocol of the page's connection.
const browserStreams = `(async () => {
  const n = %d, kind = %q, fetchWait = %d, t0 = performance.now();
  const opened = new Array(n).fill(-1), conns = [];
  for (let i = 0; i < n; i++) {
    const topic = "hazard-browser-" + i;
    const c = kind === "ws"
      ? new WebSocket(location.origin.replace(/^http/, "ws") + "/ws?topic=" + topic)
      : new EventSource("/sse?topic=" + topic);
    c.onopen = () => { if (opened[i] < 0) opened[i] = performance.now() - t0; };
    conns.push(c);
  }
  await new Promise(r => setTimeout(r, 1000));
  let fetchMS = -1;
  const ctl = new AbortController(), f0 = performance.now();
  const timer = setTimeout(() => ctl.abort(), fetchWait);
  try { await fetch("/healthz", {signal: ctl.signal, cache: "no-store"}); fetchMS = performance.now() - f0; } catch (e) {}
  clearTimeout(timer);
  const nav = performance.getEntriesByType("navigation")[0];
  conns.forEach(c => c.close());
  return JSON.stringify({opened, fetchMS, proto: nav ? nav.nextHopProtocol : ""});
})()`

// browserOutcome is what the page script reports.
type browserOutcome struct {
	Opened  []float64 `json:"opened"`
	FetchMS float64   `json:"fetchMS"`
	Proto   string    `json:"proto"`
}

// probeBrowser opens origin + "/healthz" in a fresh headless Chromium (one
// process per probe: no shared connection pool), runs the page script and
// returns its outcome. Certificates are not checked (the demo's
// --tls-self-signed).
func probeBrowser(ctx context.Context, origin, kind string, n int, fetchWait time.Duration, dataDir string) (browserOutcome, error) {
	var out browserOutcome
	if _, err := os.Stat(ChromiumPath); err != nil {
		return out, fmt.Errorf("chromium not installed (apt-get install chromium): %w", err)
	}
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(ChromiumPath),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("ignore-certificate-errors", true),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.Flag("disable-extensions", true),
		chromedp.UserDataDir(dataDir),
	}
	actx, cancelAlloc := chromedp.NewExecAllocator(ctx, opts...)
	defer cancelAlloc()
	bctx, cancelTab := chromedp.NewContext(actx)
	defer cancelTab()
	rctx, cancel := context.WithTimeout(bctx, 60*time.Second)
	defer cancel()
	if err := chromedp.Do(rctx, chromedp.Navigate(origin+"/healthz")); err != nil {
		return out, fmt.Errorf("chromium: opening %s: %w", origin, err)
	}
	script := fmt.Sprintf(browserStreams, n, kind, fetchWait.Milliseconds())
	s, err := chromedp.Run(rctx, chromedp.Evaluate[string](script, chromedp.EvalAwaitPromise))
	if err != nil {
		return out, fmt.Errorf("chromium: page script: %w", err)
	}
	if err := json.Unmarshal([]byte(s), &out); err != nil {
		return out, fmt.Errorf("chromium: page script said %q: %w", s, err)
	}
	return out, nil
}
