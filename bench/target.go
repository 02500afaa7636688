package bench

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"
)

// target is one server under test: spawned by loadgen (proc set) or given
// by --target. Its adapter speaks the server's kind of protocol.
type target struct {
	url     string
	adapter adapter
	metrics metricsClient
	// adminToken is the bearer token of a twinstream server's admin drop.
	adminToken string
	// dropPace spreads an admin drop over this long (?pace=).
	dropPace time.Duration

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

// newTarget returns a twinstream server at base URL u.
func newTarget(u string, proc *serverProc) *target {
	c := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 4, TLSClientConfig: insecureTLS()}}
	t := &target{url: u, proc: proc, metrics: metricsClient{http: c, base: u}}
	t.adapter = twinstreamAdapter{t}
	return t
}

// openTarget returns the server of a --target entry (proc: the process
// loadgen spawned for it, or nil).
func openTarget(spec TargetSpec, proc *serverProc, c *Config) (*target, error) {
	switch spec.Kind {
	case KindCentrifugo:
		t := newTarget(strings.TrimRight(spec.URL, "/"), proc)
		t.adapter = newCentrifugoAdapter(t, c.APIKey, c.TokenSecret)
		return t, nil
	case KindCustom:
		f, err := LoadTargetFile(spec.URL)
		if err != nil {
			return nil, err
		}
		return customTarget(f, proc), nil
	}
	return newTarget(strings.TrimRight(spec.URL, "/"), proc), nil
}

// kind is the target's kind (KindTwinstream…).
func (t *target) kind() string { return t.adapter.kind() }

// name is a custom target's name ("" for the other kinds).
func (t *target) name() string {
	if a, ok := t.adapter.(*customAdapter); ok {
		return a.file.Name
	}
	return ""
}

// sample reads the server's memory and CPU: from /proc when spawned (and
// goroutines and connection counts from /metrics), else from /metrics.
func (t *target) sample(ctx context.Context) (procSample, error) {
	ctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	proc := t.process()
	if proc == nil {
		return t.adapter.metrics(ctx)
	}
	s, err := readProc(proc.pid())
	if err != nil {
		return s, err
	}
	if m, err := t.adapter.metrics(ctx); err == nil {
		s.Goroutines, s.Conns, s.HeapBytes, s.StacksBytes, s.Allocs = m.Goroutines, m.Conns, m.HeapBytes, m.StacksBytes, m.Allocs
	}
	return s, nil
}

// connections asks the server how many connections of a transport it
// holds (ok false when it does not say).
func (t *target) connections(ctx context.Context, transport string) (int, bool) {
	ctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	return t.adapter.connections(ctx, transport)
}

// drop asks the server to drop every connection of a transport and
// returns how many it dropped.
func (t *target) drop(ctx context.Context, transport string) (int, error) {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	return t.adapter.drop(ctx, transport)
}

// adminDrop is a twinstream server's drop: POST /api/admin/drop?transport=X
// with the admin token.
func (t *target) adminDrop(ctx context.Context, transport string) (int, error) {
	token := t.adminToken
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, t.url+"/api/admin/drop?transport="+url.QueryEscape(transport)+"&pace="+t.dropPace.String(), nil)
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
