package bench

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/coder/websocket"
)

// probe is what one hazard client saw: a stream opened through the thing
// under test, the events that reached it and when, and how it ended.
type probe struct {
	mu       sync.Mutex
	start    time.Time
	status   int    // HTTP status of the stream's response (101 for a WebSocket)
	err      string // why it could not open, or why it ended early
	openedAt time.Duration
	endedAt  time.Duration // 0: still open when the probe stopped
	delays   []time.Duration
	reads    int // reads that carried at least one event
	bursts   int // reads that carried more than one event
	opened   chan struct{}
}

func newProbe() *probe { return &probe{start: time.Now(), opened: make(chan struct{})} }

func (p *probe) open(status int) {
	p.mu.Lock()
	p.status, p.openedAt = status, time.Since(p.start)
	p.mu.Unlock()
	close(p.opened)
}

func (p *probe) fail(status int, err error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.status == 0 {
		p.status = status
	}
	if p.err == "" && err != nil {
		p.err = scrub(err.Error())
	}
}

func (p *probe) end(err error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.endedAt == 0 {
		p.endedAt = time.Since(p.start)
		if err != nil && !errors.Is(err, context.Canceled) && p.err == "" {
			p.err = scrub(err.Error())
		}
	}
}

// events records the events one read delivered, from their ts fields.
func (p *probe) events(tss []int64, now time.Time) {
	if len(tss) == 0 {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.reads++
	if len(tss) > 1 {
		p.bursts++
	}
	for _, ts := range tss {
		p.delays = append(p.delays, now.Sub(time.UnixMicro(ts)))
	}
}

// waitOpen waits until the stream opened or d passed.
func (p *probe) waitOpen(ctx context.Context, d time.Duration) bool {
	select {
	case <-p.opened:
		return true
	case <-time.After(d):
	case <-ctx.Done():
	}
	return false
}

// eventTS returns the ts of an event's wire JSON (0 for anything else).
func eventTS(b []byte) int64 {
	if !bytes.HasPrefix(b, []byte(eventPrefix)) {
		return 0
	}
	i := bytes.Index(b, []byte(`"ts":`))
	if i < 0 {
		return 0
	}
	n, _ := leadingInt(b[i+len(`"ts":`):])
	return n
}

// probeSSE reads an SSE stream at u until ctx ends; with gz it asks for
// gzip and inflates the body itself (as a browser does, chunk by chunk).
func probeSSE(ctx context.Context, u string, gz bool, p *probe) {
	tr := &http.Transport{DisableCompression: true, DisableKeepAlives: true}
	defer tr.CloseIdleConnections()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		p.fail(0, err)
		return
	}
	req.Header.Set("Accept", "text/event-stream")
	if gz {
		req.Header.Set("Accept-Encoding", "gzip")
	}
	resp, err := tr.RoundTrip(req)
	if err != nil {
		if ctx.Err() == nil {
			p.fail(0, err)
		}
		return
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/event-stream") {
		p.fail(resp.StatusCode, fmt.Errorf("HTTP %d %s", resp.StatusCode, resp.Header.Get("Content-Type")))
		return
	}
	p.open(resp.StatusCode)
	var body io.Reader = resp.Body
	if resp.Header.Get("Content-Encoding") == "gzip" {
		zr, err := gzip.NewReader(resp.Body)
		if err != nil {
			p.end(err)
			return
		}
		body = zr
	}
	buf := make([]byte, 32<<10)
	var line []byte
	for {
		n, err := body.Read(buf)
		now := time.Now()
		var tss []int64
		b := buf[:n]
		for len(b) > 0 {
			i := bytes.IndexByte(b, '\n')
			if i < 0 {
				line = append(line, b...)
				break
			}
			line = append(line, b[:i]...)
			if v, ok := bytes.CutPrefix(line, []byte("data: ")); ok {
				if ts := eventTS(v); ts > 0 {
					tss = append(tss, ts)
				}
			}
			line, b = line[:0], b[i+1:]
		}
		p.events(tss, now)
		if err != nil {
			if ctx.Err() == nil { // not the probe's own end
				p.end(err)
			}
			return
		}
	}
}

// probeWS reads a WebSocket at u (ws:// or http://) until ctx ends.
func probeWS(ctx context.Context, u string, p *probe) {
	tr := &http.Transport{DisableKeepAlives: true}
	defer tr.CloseIdleConnections()
	dctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	c, resp, err := websocket.Dial(dctx, u, &websocket.DialOptions{HTTPClient: &http.Client{Transport: tr}})
	cancel()
	if err != nil {
		status := 0
		if resp != nil {
			status = resp.StatusCode
		}
		p.fail(status, err)
		return
	}
	defer c.CloseNow()
	p.open(http.StatusSwitchingProtocols)
	for {
		_, b, err := c.Read(ctx)
		if err != nil {
			if ctx.Err() == nil {
				p.end(err)
			}
			return
		}
		if ts := eventTS(b); ts > 0 {
			p.events([]int64{ts}, time.Now())
		}
	}
}

// hazardPublish publishes n events on topic at the demo server base, one
// every interval, and returns when the last is answered.
func hazardPublish(ctx context.Context, base, topic string, n int, interval time.Duration) error {
	hc := &http.Client{Timeout: 10 * time.Second}
	defer hc.CloseIdleConnections()
	tick := time.NewTicker(interval)
	defer tick.Stop()
	for i := range n {
		body := fmt.Sprintf(`{"event":"progress","data":{"i":%d,"message":"step %d of %d"}}`, i, i+1, n)
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, base+"/api/topics/"+topic+"/events", strings.NewReader(body))
		if err != nil {
			return err
		}
		req.Header.Set("Content-Type", "application/json")
		resp, err := hc.Do(req)
		if err != nil {
			return err
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusCreated {
			return fmt.Errorf("publish: HTTP %d", resp.StatusCode)
		}
		if i < n-1 {
			select {
			case <-tick.C:
			case <-ctx.Done():
				return ctx.Err()
			}
		}
	}
	return nil
}

// outcome sums a probe up into a case.
func (p *probe) outcome(c *HazardCase, expected int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	c.Status = p.status
	c.Error = p.err
	c.Expected = expected
	c.Received = len(p.delays)
	c.Bursts = p.bursts
	if p.openedAt > 0 {
		c.OpenedMS = round3(float64(p.openedAt) / 1e6)
	}
	if p.endedAt > 0 {
		c.EndedAfterS = round3(p.endedAt.Seconds() - p.openedAt.Seconds())
	}
	if len(p.delays) > 0 {
		h := NewHist()
		for _, d := range p.delays {
			_ = h.RecordValue(clampMicros(d.Microseconds()))
		}
		pc := PercentilesOf(h)
		c.DelayMS = &pc
	}
}

func itoaMS(d time.Duration) string { return strconv.FormatFloat(float64(d)/1e6, 'f', 0, 64) }
