package bench

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"sync"
	"time"
)

// target is one server under test: spawned by loadgen (proc set) or given
// by --target.
type target struct {
	url     string
	metrics metricsClient

	mu   sync.Mutex
	proc *serverProc // replaced by a restart
}

// process returns the spawned server process (nil for a target).
func (t *target) process() *serverProc {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.proc
}

func (t *target) setProcess(p *serverProc) {
	t.mu.Lock()
	t.proc = p
	t.mu.Unlock()
}

func newTarget(u string, proc *serverProc) *target {
	c := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 4}}
	return &target{url: u, proc: proc, metrics: metricsClient{http: c, base: u}}
}

// sample reads the server's memory and CPU: from /proc when spawned (and
// goroutines and connection counts from /metrics), else from /metrics.
func (t *target) sample(ctx context.Context) (procSample, error) {
	ctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	proc := t.process()
	if proc == nil {
		return t.metrics.read(ctx)
	}
	s, err := readProc(proc.pid())
	if err != nil {
		return s, err
	}
	if m, err := t.metrics.read(ctx); err == nil {
		s.Goroutines, s.Conns, s.HeapBytes, s.StacksBytes, s.Allocs = m.Goroutines, m.Conns, m.HeapBytes, m.StacksBytes, m.Allocs
	}
	return s, nil
}

// connections asks /metrics how many connections of a transport the server
// holds (ok false when it does not say).
func (t *target) connections(ctx context.Context, transport string) (int, bool) {
	ctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	m, err := t.metrics.read(ctx)
	if err != nil || m.Conns == nil {
		return 0, false
	}
	n, ok := m.Conns[transport]
	return n, ok
}

// drop asks the server to drop every connection of a transport
// (POST /api/admin/drop?transport=X) and returns how many it dropped.
func (t *target) drop(ctx context.Context, transport, token string) (int, error) {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, t.url+"/api/admin/drop?transport="+url.QueryEscape(transport), nil)
	if err != nil {
		return 0, err
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := t.metrics.http.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode != http.StatusOK {
		return 0, fmt.Errorf("bench: admin drop: %s: %s", resp.Status, b)
	}
	var r struct {
		Dropped int `json:"dropped"`
	}
	if err := json.Unmarshal(b, &r); err != nil {
		return 0, fmt.Errorf("bench: admin drop: %w", err)
	}
	return r.Dropped, nil
}

// isLoopback reports whether every target is on this machine's loopback.
func isLoopback(urls []string) bool {
	for _, u := range urls {
		pu, err := url.Parse(u)
		if err != nil {
			return false
		}
		host := pu.Hostname()
		if host == "localhost" {
			continue
		}
		ip := net.ParseIP(host)
		if ip == nil || !ip.IsLoopback() {
			return false
		}
	}
	return true
}

// autoSourceIPs spreads n clients over loopback source addresses,
// 127.0.0.2 upwards, at most perIP each, so that no address runs out of
// ephemeral ports (about 28,000 per address here).
func autoSourceIPs(n, perIP int) []string {
	k := max(1, (n+perIP-1)/perIP)
	out := make([]string, 0, k)
	for i := range min(k, 250) {
		out = append(out, fmt.Sprintf("127.0.0.%d", i+2))
	}
	return out
}
