package bench

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// A TargetFile describes a server of any kind to the load generator (the
// custom target kind, --target custom=FILE): where a client subscribes,
// what it sends first, and how an event is published. Placeholders:
// {topic} (in URLs, subscribe messages and bodies), {payload} (in the
// publish body: the load generator's stamped payload, a JSON object, see
// StampPayload) and {transport} (in the drop request: ws or sse). Every
// path is relative to BaseURL.
//
// The server needs no knowledge of the load generator: it publishes the
// payload it was given, wrapped or re-encoded in any way that keeps it a
// JSON object, and the clients find the stamp (lg_ts, lg_i) wherever it
// sits in what they receive.
type TargetFile struct {
	// Name labels the target in reports (default: the file's base name).
	Name string `json:"name,omitempty"`
	// BaseURL is the server's http:// or https:// base URL. loadgen peers
	// replaces it with the address of the server it spawned.
	BaseURL string `json:"base_url"`
	// WS and SSE are the stream endpoints; a file needs at least one, and
	// a transport without one is "not supported by target".
	WS  *StreamEndpoint `json:"ws,omitempty"`
	SSE *StreamEndpoint `json:"sse,omitempty"`
	// Publish is the request that publishes one event.
	Publish *Request `json:"publish"`
	// Drop, optional, is a request that drops every connection of a
	// transport (the reconnect scenario needs it). An answer with a
	// "dropped" count is read; any other 2xx answer counts the connections
	// open before it.
	Drop *Request `json:"drop,omitempty"`
	// Metrics, optional, is the path of a JSON document with the names the
	// demo's /metrics uses ("connections": {"ws":N,"sse":M}, "rss_bytes",
	// "cpu_seconds"), read once a second for a target loadgen did not spawn
	// and to confirm that every client is attached.
	Metrics string `json:"metrics,omitempty"`

	path string // the file it was read from
}

// StreamEndpoint is where a client of one transport subscribes.
type StreamEndpoint struct {
	// URL is the stream's path and query, with {topic}.
	URL string `json:"url"`
	// Subscribe, WebSocket only and optional, is the text message a client
	// sends right after the upgrade, with {topic}.
	Subscribe string `json:"subscribe,omitempty"`
}

// Request is an HTTP request of a target file.
type Request struct {
	Method  string            `json:"method,omitempty"` // default POST
	URL     string            `json:"url"`              // path and query
	Headers map[string]string `json:"headers,omitempty"`
	Body    string            `json:"body,omitempty"`
	// Status is the answer that means success (default: any 2xx).
	Status int `json:"status,omitempty"`
}

// LoadTargetFile reads and checks a target file. Its errors name the file
// and the field at fault ("publish.body: must contain {payload}").
func LoadTargetFile(path string) (*TargetFile, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("target file: %w", err)
	}
	f, err := ParseTargetFile(b)
	if err != nil {
		return nil, fmt.Errorf("target file %s: %w", path, err)
	}
	f.path = path
	if f.Name == "" {
		f.Name = strings.TrimSuffix(filepath.Base(path), filepath.Ext(path))
	}
	return f, nil
}

// ParseTargetFile decodes and checks a target file's JSON.
func ParseTargetFile(b []byte) (*TargetFile, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	var f TargetFile
	if err := dec.Decode(&f); err != nil {
		return nil, jsonFieldError(err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, errors.New("more than one JSON value")
	}
	if err := f.Validate(); err != nil {
		return nil, err
	}
	return &f, nil
}

// jsonFieldError rewords a decoding error so that it names the field.
func jsonFieldError(err error) error {
	var te *json.UnmarshalTypeError
	var se *json.SyntaxError
	switch {
	case errors.As(err, &te) && te.Field != "":
		return fmt.Errorf("%s: want %s, got a JSON %s", te.Field, te.Type, te.Value)
	case errors.As(err, &se):
		return fmt.Errorf("not valid JSON at byte %d: %v", se.Offset, err)
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		return fmt.Errorf("unknown field %s (want name, base_url, ws, sse, publish, drop, metrics; ws and sse take url and subscribe; requests take method, url, headers, body, status)",
			strings.TrimPrefix(err.Error(), "json: unknown field "))
	}
	return err
}

// Validate checks every field; the error names the first one at fault.
func (f *TargetFile) Validate() error {
	if f.BaseURL == "" {
		return errors.New("base_url: missing (the server's http://host:port)")
	}
	if u, err := url.Parse(f.BaseURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("base_url: %q is not an http:// or https:// URL with a host", f.BaseURL)
	}
	if f.WS == nil && f.SSE == nil {
		return errors.New("ws, sse: give at least one stream endpoint")
	}
	for _, name := range []string{WS, SSE} {
		e := f.endpoint(name)
		if e == nil {
			continue
		}
		if err := checkPath(e.URL); err != nil {
			return fmt.Errorf("%s.url: %w", name, err)
		}
		if name == "sse" && e.Subscribe != "" {
			return errors.New("sse.subscribe: SSE is one-way; a stream's topic goes in sse.url")
		}
	}
	if f.Publish == nil {
		return errors.New("publish: missing (the request that publishes one event)")
	}
	if err := f.Publish.check("publish"); err != nil {
		return err
	}
	if !strings.Contains(f.Publish.Body, "{payload}") {
		return errors.New("publish.body: must contain {payload} (the stamped event the clients look for)")
	}
	if f.Drop != nil {
		if err := f.Drop.check("drop"); err != nil {
			return err
		}
	}
	if f.Metrics != "" {
		if err := checkPath(f.Metrics); err != nil {
			return fmt.Errorf("metrics: %w", err)
		}
	}
	return nil
}

func (r *Request) check(field string) error {
	if r.Method == "" {
		r.Method = http.MethodPost
	}
	r.Method = strings.ToUpper(r.Method)
	if !slices.Contains([]string{http.MethodPost, http.MethodPut, http.MethodGet, http.MethodPatch}, r.Method) {
		return fmt.Errorf("%s.method: %q (want POST, PUT, PATCH or GET)", field, r.Method)
	}
	if err := checkPath(r.URL); err != nil {
		return fmt.Errorf("%s.url: %w", field, err)
	}
	for k := range r.Headers {
		if k == "" || strings.ContainsAny(k, " :\r\n") {
			return fmt.Errorf("%s.headers: %q is not a header name", field, k)
		}
	}
	if r.Status != 0 && (r.Status < 100 || r.Status > 599) {
		return fmt.Errorf("%s.status: %d is not an HTTP status", field, r.Status)
	}
	return nil
}

// checkPath accepts a path (and query) relative to the base URL.
func checkPath(p string) error {
	switch {
	case p == "":
		return errors.New("missing (a path such as /ws/{topic})")
	case !strings.HasPrefix(p, "/"):
		return fmt.Errorf("%q must be a path starting with / (relative to base_url)", p)
	}
	if _, err := url.Parse(strings.NewReplacer("{topic}", "t", "{transport}", "ws").Replace(p)); err != nil {
		return fmt.Errorf("%q is not a valid path: %v", p, err)
	}
	return nil
}

// endpoint returns the stream endpoint of a transport (nil: none).
func (f *TargetFile) endpoint(transport string) *StreamEndpoint {
	if transport == WS {
		return f.WS
	}
	return f.SSE
}

// fill replaces the placeholders of s: {topic} as it fits where it goes
// (path-escaped in a URL, JSON-escaped in a body), {transport} and
// {payload} (a JSON object) as they are.
func fill(s, topic, transport string, payload []byte, inURL bool) string {
	t := topic
	if inURL {
		t = url.PathEscape(topic)
	} else if b, err := json.Marshal(topic); err == nil {
		t = string(b[1 : len(b)-1])
	}
	return strings.NewReplacer("{topic}", t, "{transport}", transport, "{payload}", string(payload)).Replace(s)
}
