package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
)

// customAdapter drives a server described by a target file (TargetFile):
// its publish request carries the stamped payload, its stream endpoints
// are opened as the file says, and the clients find the stamp anywhere in
// what they receive. It cannot resume anything, so a reconnect shows what
// the server loses; it can drop connections only with a drop request.
type customAdapter struct {
	t    *target
	file *TargetFile
}

// customTarget returns the target a file describes (proc: the process
// loadgen spawned for it, listening on the file's base URL).
func customTarget(f *TargetFile, proc *serverProc) *target {
	t := newTarget(strings.TrimRight(f.BaseURL, "/"), proc)
	t.adapter = &customAdapter{t: t, file: f}
	return t
}

func (a *customAdapter) kind() string       { return KindCustom }
func (a *customAdapter) stamps() bool       { return true }
func (a *customAdapter) spec() *AdapterSpec { return &AdapterSpec{Kind: KindCustom, File: a.file} }

func (a *customAdapter) unsupported(scenario, transport string, c *Config) string {
	if why := unsupportedCommon(a.file.Name, scenario, c); why != "" {
		return why
	}
	if a.file.endpoint(transport) == nil {
		return fmt.Sprintf("%sthe target file %s has no %q endpoint", notSupported, a.file.Name, transport)
	}
	if scenario == ScenarioReconnect && a.file.Drop == nil {
		return fmt.Sprintf("%sthe target file %s has no \"drop\" request", notSupported, a.file.Name)
	}
	return ""
}

// do sends one of the file's requests and returns the answer's body.
func (a *customAdapter) do(ctx context.Context, client *http.Client, r *Request, topic, transport string, payload []byte) ([]byte, error) {
	u := a.t.url + fill(r.URL, topic, transport, nil, true)
	var body io.Reader
	if r.Body != "" {
		body = strings.NewReader(fill(r.Body, topic, transport, payload, false))
	}
	req, err := http.NewRequestWithContext(ctx, r.Method, u, body)
	if err != nil {
		return nil, err
	}
	for k, v := range r.Headers {
		req.Header.Set(k, v)
	}
	resp, err := client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if ok := r.Status == resp.StatusCode || r.Status == 0 && resp.StatusCode/100 == 2; !ok {
		return b, fmt.Errorf("%s %s: %s: %s", r.Method, u, resp.Status, bytes.TrimSpace(b))
	}
	return b, nil
}

func (a *customAdapter) publish(ctx context.Context, client *http.Client, topic string, ev pubEvent) (uint64, error) {
	if _, err := a.do(ctx, client, a.file.Publish, topic, "", StampPayload(ev.index, ev.due, ev.size)); err != nil {
		return 0, err
	}
	return ev.index, nil
}

func (a *customAdapter) drop(ctx context.Context, transport string) (int, error) {
	if a.file.Drop == nil {
		return 0, fmt.Errorf("target file %s has no drop request", a.file.Name)
	}
	before, known := a.connections(ctx, transport)
	b, err := a.do(ctx, a.t.metrics.http, a.file.Drop, "", transport, nil)
	if err != nil {
		return 0, err
	}
	var r struct {
		Dropped *int `json:"dropped"`
	}
	if json.Unmarshal(b, &r) == nil && r.Dropped != nil {
		return *r.Dropped, nil
	}
	if !known {
		return 0, fmt.Errorf("target file %s: the drop answer has no \"dropped\" count and there is no metrics endpoint to count the connections", a.file.Name)
	}
	return before, nil
}

func (a *customAdapter) metrics(ctx context.Context) (procSample, error) {
	if a.file.Metrics == "" {
		return procSample{}, fmt.Errorf("target file %s has no metrics endpoint", a.file.Name)
	}
	m := a.t.metrics
	m.path = a.file.Metrics
	return m.read(ctx)
}

func (a *customAdapter) connections(ctx context.Context, transport string) (int, bool) {
	m, err := a.metrics(ctx)
	if err != nil || m.Conns == nil {
		return 0, false
	}
	n, ok := m.Conns[transport]
	return n, ok
}

// customClient is one client's side: the file's endpoint for its topic,
// its subscribe message, and the stamps in whatever arrives.
type customClient struct {
	path, query string
	subscribe   []byte
	topic       string
}

func newCustomClient(f *TargetFile, transport, topic string) (*customClient, error) {
	e := f.endpoint(transport)
	if e == nil {
		return nil, fmt.Errorf("bench: target file %s has no %s endpoint", f.Name, transport)
	}
	u, err := url.Parse(fill(e.URL, topic, transport, nil, true))
	if err != nil {
		return nil, fmt.Errorf("bench: target file %s: %s.url: %w", f.Name, transport, err)
	}
	c := &customClient{path: u.EscapedPath(), query: u.RawQuery, topic: topic}
	if transport == WS && e.Subscribe != "" {
		c.subscribe = []byte(fill(e.Subscribe, topic, transport, nil, false))
	}
	return c, nil
}

func (c *customClient) request() (string, string) { return c.path, c.query }
func (c *customClient) hello() []byte             { return c.subscribe }
func (c *customClient) anyEventName() bool        { return true }

func (c *customClient) message(b []byte, ev func(string, stamp), _ func()) {
	scanStamps(b, func(s stamp) { ev(c.topic, s) })
}

// ensure the interfaces hold.
var (
	_ adapter     = twinstreamAdapter{}
	_ adapter     = (*centrifugoAdapter)(nil)
	_ adapter     = (*customAdapter)(nil)
	_ clientProto = (*centrifugoClient)(nil)
	_ clientProto = (*customClient)(nil)
)
