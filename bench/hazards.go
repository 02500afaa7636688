package bench

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"
)

// ScenarioHazards runs deployment hazards through the real thing (nginx,
// a gzip middleware, headless Chromium) in front of spawned demo servers
// and reports what a user would see, broken and fixed (hazards.go).
const ScenarioHazards = "hazards"

// Hazard names (Config.Hazards, --hazards).
const (
	HazardProxyBuffering = "proxy-buffering"
	HazardProxyUpgrade   = "proxy-websocket-upgrade"
	HazardGzipMiddleware = "gzip-middleware"
	HazardProxyIdle      = "proxy-idle-timeout"
	HazardBrowserLimit   = "browser-connection-limit"
)

// Hazards lists every hazard, in the order the scenario runs them.
var Hazards = []string{HazardProxyBuffering, HazardProxyUpgrade, HazardGzipMiddleware, HazardProxyIdle, HazardBrowserLimit}

// HazardsResult is the hazards scenario's outcome.
type HazardsResult struct {
	Hazards []Hazard `json:"hazards"`
}

// Hazard is one deployment hazard: what it is, the one-line fix, and each
// configuration tried (the broken ones and the fixed ones).
type Hazard struct {
	Name  string `json:"name"`
	Title string `json:"title"`
	Fix   string `json:"fix"`
	// Skipped says why the hazard could not run (nginx or chromium
	// missing); its cases are then empty.
	Skipped string       `json:"skipped,omitempty"`
	Cases   []HazardCase `json:"cases"`
}

// HazardCase is one configuration of a hazard and what a client saw.
type HazardCase struct {
	Name string `json:"name"`
	// Broken marks the hazardous configuration (the symptom is expected);
	// Symptom says whether the symptom was observed; Verdict is what a
	// user would see, in a line.
	Broken  bool   `json:"broken"`
	Symptom bool   `json:"symptom"`
	Verdict string `json:"verdict"`

	Status      int          `json:"status,omitempty"`        // HTTP status of the stream's response
	Error       string       `json:"error,omitempty"`         // why the stream failed or ended
	Expected    int          `json:"expected,omitempty"`      // events published
	Received    int          `json:"received,omitempty"`      // events that arrived in time
	Bursts      int          `json:"bursts,omitempty"`        // reads that carried more than one event
	DelayMS     *Percentiles `json:"delay_ms,omitempty"`      // arrival − publish (the event's ts)
	OpenedMS    float64      `json:"opened_ms,omitempty"`     // from the request to the stream's response
	HeldS       float64      `json:"held_s,omitempty"`        // how long the client kept the stream open
	EndedAfterS float64      `json:"ended_after_s,omitempty"` // the stream ended this long after it opened (0: kept)
	// The browser hazard.
	Streams  int     `json:"streams,omitempty"`   // streams the page opened
	Open     int     `json:"open,omitempty"`      // streams open within a second
	FetchMS  float64 `json:"fetch_ms,omitempty"`  // a fetch of /healthz meanwhile; -1: it hung
	Protocol string  `json:"protocol,omitempty"`  // of the page's connection (http/1.1, h2)
	OpenedAt []int64 `json:"opened_at,omitempty"` // ms after the page began, per stream (-1: never)
}

// hazardLate is the delivery delay past which an event counts as held
// back by what stands in between.
const hazardLate = 500 * time.Millisecond

// hazardEnv is what the hazards share: spawned demo servers by their
// flags, nginx, a scratch directory.
type hazardEnv struct {
	r     *Runner
	dir   string
	mu    sync.Mutex
	procs map[string]*serverProc
}

// server returns a demo server spawned with extra flags (one per flag set).
func (e *hazardEnv) server(ctx context.Context, extra ...string) (*serverProc, error) {
	key := strings.Join(extra, " ")
	e.mu.Lock()
	defer e.mu.Unlock()
	if p := e.procs[key]; p != nil {
		return p, nil
	}
	p, err := spawnServer(ctx, e.r.serverBin, "127.0.0.1:0", append(e.r.serverArgs(), extra...))
	if err != nil {
		return nil, err
	}
	e.procs[key] = p
	return p, nil
}

func (e *hazardEnv) close() {
	for _, p := range e.procs {
		_ = p.stop(10 * time.Second)
	}
	_ = os.RemoveAll(e.dir)
}

// hazards runs the configured hazards one after the other.
func (r *Runner) hazards(ctx context.Context, res *Result) error {
	names := r.Config.Hazards
	if len(names) == 0 {
		names = Hazards
	}
	dir, err := os.MkdirTemp("", "twinstream-hazards-")
	if err != nil {
		return err
	}
	e := &hazardEnv{r: r, dir: dir, procs: map[string]*serverProc{}}
	defer e.close()
	res.Hazards = &HazardsResult{}
	for _, name := range names {
		if ctx.Err() != nil {
			break
		}
		fmt.Fprintf(r.logw(), "[hazards] %s\n", name)
		h, err := e.run(ctx, name)
		if err != nil {
			return fmt.Errorf("hazard %s: %w", name, err)
		}
		for _, c := range h.Cases {
			fmt.Fprintf(r.logw(), "[hazards] %s / %s: %s\n", name, c.Name, c.Verdict)
		}
		if h.Skipped != "" {
			fmt.Fprintf(r.logw(), "[hazards] %s skipped: %s\n", name, h.Skipped)
		}
		res.Hazards.Hazards = append(res.Hazards.Hazards, h)
	}
	return nil
}

func (e *hazardEnv) run(ctx context.Context, name string) (Hazard, error) {
	switch name {
	case HazardProxyBuffering:
		return e.proxyBuffering(ctx)
	case HazardProxyUpgrade:
		return e.proxyUpgrade(ctx)
	case HazardGzipMiddleware:
		return e.gzipMiddleware(ctx)
	case HazardProxyIdle:
		return e.proxyIdle(ctx)
	case HazardBrowserLimit:
		return e.browserLimit(ctx)
	}
	return Hazard{}, fmt.Errorf("unknown hazard %q (want one of %v)", name, Hazards)
}

// Delivery through a proxy: 20 events at 10/s, and a second for the last.
const (
	hazardEvents   = 20
	hazardInterval = 100 * time.Millisecond
)

// deliveryCase opens an SSE (or WebSocket) stream at streamURL, publishes
// hazardEvents events on topic to the demo server base, waits a second
// more and sums up what arrived.
func deliveryCase(ctx context.Context, c HazardCase, base, streamURL, topic string, ws, gz bool) (HazardCase, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	p := newProbe()
	done := make(chan struct{})
	go func() { // owner: deliveryCase, which waits for done
		defer close(done)
		if ws {
			probeWS(ctx, streamURL, p)
		} else {
			probeSSE(ctx, streamURL, gz, p)
		}
	}()
	// A proxy that holds the body back may hold the response headers with
	// it: publish anyway once the request had time to reach the server.
	opened := p.waitOpen(ctx, 2*time.Second)
	failed := func() bool {
		p.mu.Lock()
		defer p.mu.Unlock()
		return p.err != "" || p.status != 0 && !opened
	}
	if !failed() {
		time.Sleep(200 * time.Millisecond) // attached: a live stream starts at the next event
		start := time.Now()
		if err := hazardPublish(ctx, base, topic, hazardEvents, hazardInterval); err != nil {
			return c, err
		}
		sleepCtx(ctx, time.Second)
		c.HeldS = round3(time.Since(start).Seconds())
	}
	cancel()
	<-done
	p.outcome(&c, hazardEvents)
	switch {
	case c.Status == 0 && c.Error == "":
		c.Symptom = true
		c.Verdict = fmt.Sprintf("nothing arrived, not even the response headers, in the %.1f s after the first of %d events was published: held back",
			c.HeldS, c.Expected)
		return c, nil
	case c.Status == 0 || c.Status >= 300 && c.Status != 101:
		c.Symptom = true
		c.Verdict = fmt.Sprintf("the stream never opened: %s", orText(c.Error, fmt.Sprintf("HTTP %d", c.Status)))
		if c.Status != 0 {
			c.Verdict = fmt.Sprintf("the stream never opened: HTTP %d", c.Status)
		}
		return c, nil
	}
	late := c.DelayMS == nil || c.DelayMS.P99 > float64(hazardLate/time.Millisecond)
	c.Symptom = c.Received < c.Expected || late
	switch {
	case c.Received == 0:
		c.Verdict = fmt.Sprintf("0 of %d events arrived within %.1f s of the first publish: held back", c.Expected, c.HeldS)
	case c.Symptom:
		c.Verdict = fmt.Sprintf("%d of %d events arrived, p99 delay %.0f ms, max %.0f ms, %d reads with several events (bursts)",
			c.Received, c.Expected, c.DelayMS.P99, c.DelayMS.Max, c.Bursts)
	default:
		c.Verdict = fmt.Sprintf("%d of %d events on time: p50 %.1f ms, p99 %.1f ms", c.Received, c.Expected, c.DelayMS.P50, c.DelayMS.P99)
	}
	return c, nil
}

func orText(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

func hazardTopic(name string) string { return "hazard-" + name + "-" + runID() }

// proxyBuffering: SSE through nginx's default proxy buffering.
func (e *hazardEnv) proxyBuffering(ctx context.Context) (Hazard, error) {
	h := Hazard{Name: HazardProxyBuffering, Title: "SSE through nginx with its default proxy buffering",
		Fix: "send X-Accel-Buffering: no on event streams (twinstream's SSE responses do), or proxy_buffering off; for the stream's location"}
	if NginxPath() == "" {
		return skipIfMissing(h, errors.New("nginx not found (apt-get install nginx)"))
	}
	srv, err := e.server(ctx)
	if err != nil {
		return h, err
	}
	up := srv.addr()
	ignore := "proxy_ignore_headers X-Accel-Buffering"
	gzipOn := []string{"gzip on", "gzip_types text/event-stream"}
	ng, err := startNginx(ctx, NginxPath(), e.dir, []nginxLocation{
		{prefix: "/plain/", upstream: up, directives: []string{ignore}},
		{prefix: "/http11/", upstream: up, directives: []string{ignore, "proxy_http_version 1.1"}},
		{prefix: "/gzip/", upstream: up, directives: append([]string{ignore, "proxy_http_version 1.1"}, gzipOn...)},
		{prefix: "/accel/", upstream: up, directives: gzipOn},
	})
	if err != nil {
		return h, err
	}
	defer ng.stop()
	for _, c := range []struct {
		hc   HazardCase
		path string
	}{
		{HazardCase{Name: "nginx defaults (proxy_buffering on, HTTP/1.0 to the upstream), the upstream's X-Accel-Buffering ignored", Broken: true}, "/plain/"},
		{HazardCase{Name: "the same with proxy_http_version 1.1 (a chunked upstream response), X-Accel-Buffering ignored"}, "/http11/"},
		{HazardCase{Name: "proxy_http_version 1.1 and gzip on for text/event-stream (a common site config), X-Accel-Buffering ignored", Broken: true}, "/gzip/"},
		{HazardCase{Name: "nginx defaults and gzip on, honouring the stream's X-Accel-Buffering: no"}, "/accel/"},
	} {
		topic := hazardTopic("buffering")
		hc, err := deliveryCase(ctx, c.hc, srv.url, ng.url()+c.path+"sse?topic="+topic, topic, false, true)
		if err != nil {
			return h, err
		}
		h.Cases = append(h.Cases, hc)
	}
	return h, nil
}

// proxyUpgrade: a WebSocket through nginx with and without the Upgrade
// headers.
func (e *hazardEnv) proxyUpgrade(ctx context.Context) (Hazard, error) {
	h := Hazard{Name: HazardProxyUpgrade, Title: "WebSocket through nginx",
		Fix: "proxy_http_version 1.1; proxy_set_header Upgrade $http_upgrade; proxy_set_header Connection $connection_upgrade; in the WebSocket location"}
	if NginxPath() == "" {
		return skipIfMissing(h, errors.New("nginx not found (apt-get install nginx)"))
	}
	srv, err := e.server(ctx)
	if err != nil {
		return h, err
	}
	up := srv.addr()
	ng, err := startNginx(ctx, NginxPath(), e.dir, []nginxLocation{
		{prefix: "/plain/", upstream: up},
		{prefix: "/upgrade/", upstream: up, directives: upgradeDirectives},
	})
	if err != nil {
		return h, err
	}
	defer ng.stop()
	for _, c := range []struct {
		hc   HazardCase
		path string
	}{
		{HazardCase{Name: "nginx defaults: HTTP/1.0 to the upstream, Upgrade and Connection not passed on", Broken: true}, "/plain/"},
		{HazardCase{Name: "proxy_http_version 1.1 and the Upgrade and Connection headers passed on"}, "/upgrade/"},
	} {
		topic := hazardTopic("upgrade")
		hc, err := deliveryCase(ctx, c.hc, srv.url, ng.url()+c.path+"ws?topic="+topic, topic, true, false)
		if err != nil {
			return h, err
		}
		h.Cases = append(h.Cases, hc)
	}
	return h, nil
}

// upgradeDirectives let WebSockets through nginx.
var upgradeDirectives = []string{"proxy_http_version 1.1", "proxy_set_header Upgrade $http_upgrade", "proxy_set_header Connection $connection_upgrade"}

// gzipMiddleware: SSE behind a gzip middleware that does not flush.
func (e *hazardEnv) gzipMiddleware(ctx context.Context) (Hazard, error) {
	h := Hazard{Name: HazardGzipMiddleware, Title: "SSE behind a gzip middleware",
		Fix: "flush the compressor on every Flush (or leave text/event-stream uncompressed); twinstream's --sse-gzip flushes per batch"}
	srv, err := e.server(ctx)
	if err != nil {
		return h, err
	}
	gp, err := startGzipProxy(srv.url)
	if err != nil {
		return h, err
	}
	defer gp.stop()
	gzSrv, err := e.server(ctx, "--sse-gzip")
	if err != nil {
		return h, err
	}
	for _, c := range []struct {
		hc         HazardCase
		base, path string
	}{
		{HazardCase{Name: "gzip middleware whose Flush does not flush the compressor", Broken: true}, srv.url, gp.url() + "/broken"},
		{HazardCase{Name: "gzip middleware that flushes the compressor on Flush"}, srv.url, gp.url() + "/fixed"},
		{HazardCase{Name: "no middleware: the demo's own --sse-gzip (a sync flush per batch)"}, gzSrv.url, gzSrv.url},
	} {
		topic := hazardTopic("gzip")
		hc, err := deliveryCase(ctx, c.hc, c.base, c.path+"/sse?topic="+topic, topic, false, true)
		if err != nil {
			return h, err
		}
		h.Cases = append(h.Cases, hc)
	}
	return h, nil
}

// proxyIdleHold is how long the idle-timeout hazard keeps quiet streams
// open behind nginx's proxy_read_timeout 5s.
const proxyIdleHold = 9 * time.Second

// proxyIdle: quiet streams behind nginx's proxy_read_timeout 5s, with
// heartbeats off and every 2 s.
func (e *hazardEnv) proxyIdle(ctx context.Context) (Hazard, error) {
	h := Hazard{Name: HazardProxyIdle, Title: "quiet streams behind a proxy's idle timeout (nginx proxy_read_timeout 5s)",
		Fix: "heartbeat more often than the proxy's read timeout (twinstream's --heartbeat, 15 s by default, under nginx's default 60 s)"}
	if NginxPath() == "" {
		return skipIfMissing(h, errors.New("nginx not found (apt-get install nginx)"))
	}
	off, err := e.server(ctx, "--heartbeat", "1h", "--idle-timeout", "2h")
	if err != nil {
		return h, err
	}
	on, err := e.server(ctx, "--heartbeat", "2s", "--idle-timeout", "10s")
	if err != nil {
		return h, err
	}
	dirs := append([]string{"proxy_read_timeout 5s"}, upgradeDirectives...)
	ng, err := startNginx(ctx, NginxPath(), e.dir, []nginxLocation{
		{prefix: "/off/", upstream: off.addr(), directives: dirs},
		{prefix: "/on/", upstream: on.addr(), directives: dirs},
	})
	if err != nil {
		return h, err
	}
	defer ng.stop()
	cases := []struct {
		hc       HazardCase
		path     string
		ws       bool
		heatbeat bool
	}{
		{HazardCase{Name: "SSE, heartbeats off (1 h)", Broken: true}, "/off/sse?topic=", false, false},
		{HazardCase{Name: "SSE, a heartbeat every 2 s"}, "/on/sse?topic=", false, true},
		{HazardCase{Name: "WebSocket, heartbeats off (1 h)", Broken: true}, "/off/ws?topic=", true, false},
		{HazardCase{Name: "WebSocket, a ping every 2 s"}, "/on/ws?topic=", true, true},
	}
	out := make([]HazardCase, len(cases))
	var wg sync.WaitGroup
	for i, c := range cases {
		wg.Go(func() {
			pctx, cancel := context.WithTimeout(ctx, proxyIdleHold)
			defer cancel()
			p := newProbe()
			u := ng.url() + c.path + hazardTopic("idle")
			if c.ws {
				probeWS(pctx, u, p)
			} else {
				probeSSE(pctx, u, false, p)
			}
			hc := c.hc
			p.outcome(&hc, 0)
			hc.HeldS = round3(proxyIdleHold.Seconds() - hc.OpenedMS/1e3)
			switch {
			case hc.Status == 0 || hc.Status >= 300 && hc.Status != 101:
				hc.Symptom, hc.Verdict = true, "the stream never opened: "+orText(hc.Error, fmt.Sprintf("HTTP %d", hc.Status))
			case hc.EndedAfterS > 0:
				hc.Symptom = true
				hc.Verdict = fmt.Sprintf("cut by the proxy %.1f s after it opened: the client must reconnect (and resume)", hc.EndedAfterS)
			default:
				hc.Verdict = fmt.Sprintf("kept open for the whole %.0f s", proxyIdleHold.Seconds())
			}
			out[i] = hc
		})
	}
	wg.Wait()
	h.Cases = out
	return h, nil
}

// browserLimit: 7 streams to one origin in real Chromium.
func (e *hazardEnv) browserLimit(ctx context.Context) (Hazard, error) {
	h := Hazard{Name: HazardBrowserLimit, Title: "the browser's six connections per origin over HTTP/1.1 (headless Chromium)",
		Fix: "serve SSE over HTTP/2 (demo --tls-cert/--tls-key; every stream shares one connection), or use one stream per tab (topics in one /sse), or WebSockets"}
	if _, err := os.Stat(ChromiumPath); err != nil {
		return skipIfMissing(h, fmt.Errorf("chromium not found (apt-get install chromium): %w", err))
	}
	plain, err := e.server(ctx)
	if err != nil {
		return h, err
	}
	tls, err := e.server(ctx, "--tls-self-signed")
	if err != nil {
		return h, err
	}
	const n = 7
	const fetchWait = 3 * time.Second
	for i, c := range []struct {
		hc     HazardCase
		origin string
		kind   string
	}{
		{HazardCase{Name: "7 EventSources over HTTP/1.1", Broken: true}, plain.url, "sse"},
		{HazardCase{Name: "7 EventSources over HTTP/2 (TLS)"}, tls.url, "sse"},
		{HazardCase{Name: "7 WebSockets (HTTP/1.1 upgrades)"}, plain.url, "ws"},
	} {
		out, err := probeBrowser(ctx, c.origin, c.kind, n, fetchWait, filepath.Join(e.dir, fmt.Sprintf("chromium-%d", i)))
		if err != nil {
			return h, err
		}
		hc := c.hc
		hc.Streams, hc.FetchMS, hc.Protocol = n, round3(out.FetchMS), out.Proto
		for _, ms := range out.Opened {
			hc.OpenedAt = append(hc.OpenedAt, int64(ms))
			if ms >= 0 {
				hc.Open++
			}
		}
		hc.Symptom = hc.Open < n || hc.FetchMS < 0
		fetch := fmt.Sprintf("a fetch took %.0f ms", hc.FetchMS)
		if hc.FetchMS < 0 {
			fetch = fmt.Sprintf("a fetch of /healthz hung (given up after %.0f s)", fetchWait.Seconds())
		}
		hc.Verdict = fmt.Sprintf("%d of %d streams open, %s; page over %s", hc.Open, n, fetch, orText(hc.Protocol, "?"))
		h.Cases = append(h.Cases, hc)
	}
	return h, nil
}

// skipIfMissing reports a hazard whose tool is missing as skipped (an
// error under CI=true, where the test command installs it).
func skipIfMissing(h Hazard, err error) (Hazard, error) {
	if os.Getenv("CI") == "true" {
		return h, err
	}
	h.Skipped = err.Error()
	return h, nil
}

// hazardNames validates a --hazards list.
func hazardNames(names []string) error {
	for _, n := range names {
		if !slices.Contains(Hazards, n) {
			return fmt.Errorf("--hazards: unknown hazard %q (want some of %s)", n, strings.Join(Hazards, ","))
		}
	}
	return nil
}
