package bench

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
)

// Centrifugo v6 through its unidirectional transports and its HTTP API:
//
//   - WebSocket: /connection/uni_websocket, then one text message, the
//     connect request naming the channel: {"token":…,"subs":{"<ch>":{}}}.
//   - SSE: /connection/uni_sse?cf_connect=<the same JSON>.
//   - publish: POST /api/publish {"channel":…,"data":<stamped payload>}
//     with X-API-Key; Centrifugo stamps nothing the accounting can use, so
//     the publisher stamps (StampPayload).
//   - a client receives pushes, {"channel":"<ch>","pub":{"data":…,
//     "offset":N}}; {} is a ping. Where the channel keeps history, a
//     reconnecting client asks to recover from its last offset and epoch
//     ({"subs":{"<ch>":{"recover":true,"offset":N,"epoch":"…"}}}) and the
//     connect push carries what it missed; a failed recovery is a reset.
//   - drop (reconnect): POST /api/disconnect {"user":…} with a reconnect
//     code. Centrifugo disconnects by user, so the clients must connect as
//     one: with a token secret (--token-secret, the server's
//     client.token.hmac_secret_key) they present an HS256 JWT of the user
//     "loadgen"; without one they connect anonymously (the server needs
//     client.allow_anonymous_connect_without_token) and reconnect is not
//     supported.
//   - connections: POST /api/info (num_clients over its nodes), so settling
//     counts both transports together (loadgen runs one at a time).
//   - metrics: its Prometheus /metrics (process_cpu_seconds_total,
//     process_resident_memory_bytes, go_goroutines, go_memstats_heap_inuse_bytes)
//     when prometheus.enabled.
type centrifugoAdapter struct {
	t      *target
	apiKey string
	token  string // connection JWT of centrifugoUser ("" = anonymous)
}

// centrifugoUser is the user the load generator's clients connect as.
const centrifugoUser = "loadgen"

// centrifugoDropCode is the disconnect code of a drop: in Centrifugo's
// 3000–3499 range, where clients reconnect.
const centrifugoDropCode = 3400

func newCentrifugoAdapter(t *target, apiKey, secret string) *centrifugoAdapter {
	a := &centrifugoAdapter{t: t, apiKey: apiKey}
	if secret != "" {
		a.token = hs256(secret, map[string]any{"sub": centrifugoUser})
	}
	return a
}

func (a *centrifugoAdapter) kind() string { return KindCentrifugo }
func (a *centrifugoAdapter) stamps() bool { return true }

func (a *centrifugoAdapter) spec() *AdapterSpec {
	return &AdapterSpec{Kind: KindCentrifugo, Token: a.token}
}

func (a *centrifugoAdapter) unsupported(scenario, _ string, c *Config) string {
	if why := unsupportedCommon("Centrifugo", scenario, c); why != "" {
		return why
	}
	if scenario == ScenarioReconnect && a.token == "" {
		return notSupported + "dropping Centrifugo's connections needs --token-secret (its client.token.hmac_secret_key): the disconnect API names a user, and anonymous clients have none"
	}
	return ""
}

// api calls a method of the HTTP API and decodes its result into out.
func (a *centrifugoAdapter) api(ctx context.Context, client *http.Client, method string, body any, out any) error {
	b, err := json.Marshal(body)
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, a.t.url+"/api/"+method, bytes.NewReader(b))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	if a.apiKey != "" {
		req.Header.Set("X-API-Key", a.apiKey)
	}
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	rb, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("centrifugo %s: %s: %s", method, resp.Status, bytes.TrimSpace(rb))
	}
	var r struct {
		Error *struct {
			Code    int    `json:"code"`
			Message string `json:"message"`
		} `json:"error"`
		Result json.RawMessage `json:"result"`
	}
	if err := json.Unmarshal(rb, &r); err != nil {
		return fmt.Errorf("centrifugo %s: %w", method, err)
	}
	if r.Error != nil {
		return fmt.Errorf("centrifugo %s: error %d: %s", method, r.Error.Code, r.Error.Message)
	}
	if out != nil && len(r.Result) > 0 {
		return json.Unmarshal(r.Result, out)
	}
	return nil
}

func (a *centrifugoAdapter) publish(ctx context.Context, client *http.Client, topic string, ev pubEvent) (uint64, error) {
	body := struct {
		Channel string          `json:"channel"`
		Data    json.RawMessage `json:"data"`
	}{topic, StampPayload(ev.index, ev.due, ev.size)}
	if err := a.api(ctx, client, "publish", body, nil); err != nil {
		return 0, err
	}
	return ev.index, nil
}

func (a *centrifugoAdapter) numClients(ctx context.Context) (int, error) {
	var info struct {
		Nodes []struct {
			NumClients int `json:"num_clients"`
		} `json:"nodes"`
	}
	if err := a.api(ctx, a.t.metrics.http, "info", struct{}{}, &info); err != nil {
		return 0, err
	}
	n := 0
	for _, node := range info.Nodes {
		n += node.NumClients
	}
	return n, nil
}

func (a *centrifugoAdapter) connections(ctx context.Context, _ string) (int, bool) {
	n, err := a.numClients(ctx)
	return n, err == nil
}

func (a *centrifugoAdapter) drop(ctx context.Context, _ string) (int, error) {
	if a.token == "" {
		return 0, errors.New("centrifugo: drop needs the clients to connect as a user (--token-secret)")
	}
	n, err := a.numClients(ctx)
	if err != nil {
		return 0, err
	}
	body := map[string]any{"user": centrifugoUser, "disconnect": map[string]any{"code": centrifugoDropCode, "reason": "loadgen drop"}}
	if err := a.api(ctx, a.t.metrics.http, "disconnect", body, nil); err != nil {
		return 0, err
	}
	return n, nil
}

func (a *centrifugoAdapter) metrics(ctx context.Context) (procSample, error) {
	s := procSample{}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, a.t.url+"/metrics", nil)
	if err != nil {
		return s, err
	}
	resp, err := a.t.metrics.http.Do(req)
	if err != nil {
		return s, err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 8<<20))
	if resp.StatusCode != http.StatusOK {
		return s, fmt.Errorf("centrifugo /metrics: %s", resp.Status)
	}
	return parsePrometheus(b)
}

// parsePrometheus picks the process figures out of a Prometheus text
// exposition (the Go client's standard names).
func parsePrometheus(b []byte) (procSample, error) {
	var s procSample
	found := false
	for line := range strings.SplitSeq(string(b), "\n") {
		name, value, ok := strings.Cut(line, " ")
		if !ok || strings.HasPrefix(line, "#") {
			continue
		}
		v, err := strconv.ParseFloat(strings.TrimSpace(value), 64)
		if err != nil {
			continue
		}
		switch name {
		case "process_cpu_seconds_total":
			s.CPUSeconds, found = v, true
		case "process_resident_memory_bytes":
			s.RSS, found = int64(v), true
		case "go_goroutines":
			s.Goroutines = int(v)
		case "go_memstats_heap_inuse_bytes":
			s.HeapBytes = int64(v)
		}
	}
	if !found {
		return s, errors.New("centrifugo /metrics: no process_cpu_seconds_total or process_resident_memory_bytes")
	}
	return s, nil
}

// hs256 signs claims as a JWT with HMAC-SHA256.
func hs256(secret string, claims map[string]any) string {
	enc := base64.RawURLEncoding
	head := enc.EncodeToString([]byte(`{"alg":"HS256","typ":"JWT"}`))
	body, _ := json.Marshal(claims)
	msg := head + "." + enc.EncodeToString(body)
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte(msg))
	return msg + "." + enc.EncodeToString(mac.Sum(nil))
}

// centrifugoClient is one client's side: it subscribes through the
// connect request, reads publications and recovers from the last offset
// and epoch it saw.
type centrifugoClient struct {
	ws     bool
	token  string
	topics []string

	mu     sync.Mutex // the poller writes positions, the client's goroutine reads them between sessions
	offset map[string]uint64
	epoch  map[string]string
}

func newCentrifugoClient(transport string, topics []string, token string) *centrifugoClient {
	return &centrifugoClient{ws: transport == WS, token: token, topics: topics,
		offset: map[string]uint64{}, epoch: map[string]string{}}
}

func (c *centrifugoClient) anyEventName() bool { return true }

// connectRequest is the connect command: the token, and each channel with
// the position to recover from once one is known.
func (c *centrifugoClient) connectRequest() []byte {
	type sub struct {
		Recover bool   `json:"recover,omitempty"`
		Offset  uint64 `json:"offset,omitempty"`
		Epoch   string `json:"epoch,omitempty"`
	}
	req := struct {
		Token string         `json:"token,omitempty"`
		Subs  map[string]sub `json:"subs"`
	}{Token: c.token, Subs: map[string]sub{}}
	c.mu.Lock()
	for _, ch := range c.topics {
		s := sub{}
		if e := c.epoch[ch]; e != "" {
			s = sub{Recover: true, Offset: c.offset[ch], Epoch: e}
		}
		req.Subs[ch] = s
	}
	c.mu.Unlock()
	b, _ := json.Marshal(req)
	return b
}

func (c *centrifugoClient) request() (string, string) {
	if c.ws {
		return "/connection/uni_websocket", ""
	}
	return "/connection/uni_sse", "cf_connect=" + url.QueryEscape(string(c.connectRequest()))
}

func (c *centrifugoClient) hello() []byte {
	if !c.ws {
		return nil
	}
	return c.connectRequest()
}

func (c *centrifugoClient) message(b []byte, ev func(string, stamp), reset func()) {
	switch {
	case bytes.HasPrefix(b, []byte(`{"channel":"`)):
		c.publication(b, ev)
	case bytes.HasPrefix(b, []byte(`{"connect":`)):
		c.connected(b, ev, reset)
	}
	// Anything else ({} pings, disconnect pushes) carries no event.
}

// publication handles a push {"channel":"<ch>","pub":{"data":…,"offset":N,…}}
// without decoding it: the stamp is found in place, the offset is the last
// one in the message (the data, a stamped payload, has none).
func (c *centrifugoClient) publication(b []byte, ev func(string, stamp)) {
	rest := b[len(`{"channel":"`):]
	end := bytes.IndexByte(rest, '"')
	if end < 0 {
		return
	}
	ch := c.topicOf(rest[:end])
	scanStamps(rest[end:], func(s stamp) { ev(ch, s) })
	if i := bytes.LastIndex(b, []byte(`"offset":`)); i >= 0 {
		if off, _, ok := stampValue(b, i+len(`"offset"`)); ok && off > 0 {
			c.mu.Lock()
			c.offset[ch] = uint64(off)
			if j := bytes.Index(b, []byte(`"epoch":"`)); j >= 0 {
				if e, _, ok := strings.Cut(string(b[j+len(`"epoch":"`):]), `"`); ok {
					c.epoch[ch] = e
				}
			}
			c.mu.Unlock()
		}
	}
}

// topicOf returns the client's own topic string for name (no allocation
// for the topics it follows).
func (c *centrifugoClient) topicOf(name []byte) string {
	for _, t := range c.topics {
		if string(name) == t {
			return t
		}
	}
	return string(name)
}

// connected handles the connect push: the channels' positions and what a
// recovery brought.
func (c *centrifugoClient) connected(b []byte, ev func(string, stamp), reset func()) {
	var p struct {
		Connect struct {
			Subs map[string]struct {
				Epoch         string `json:"epoch"`
				Offset        uint64 `json:"offset"`
				Recovered     bool   `json:"recovered"`
				WasRecovering bool   `json:"was_recovering"`
				Publications  []struct {
					Data   json.RawMessage `json:"data"`
					Offset uint64          `json:"offset"`
				} `json:"publications"`
			} `json:"subs"`
		} `json:"connect"`
	}
	if json.Unmarshal(b, &p) != nil {
		return
	}
	for name, s := range p.Connect.Subs {
		ch := c.topicOf([]byte(name))
		if s.WasRecovering && !s.Recovered {
			reset()
		}
		c.mu.Lock()
		if s.Epoch != "" {
			c.epoch[ch] = s.Epoch
		}
		if s.Offset > c.offset[ch] {
			c.offset[ch] = s.Offset
		}
		c.mu.Unlock()
		for _, pub := range s.Publications {
			scanStamps(pub.Data, func(st stamp) { ev(ch, st) })
			c.mu.Lock()
			c.offset[ch] = max(c.offset[ch], pub.Offset)
			c.mu.Unlock()
		}
	}
}
