package sse

import (
	"bytes"
	"context"
	"io"
	"net/http"

	"github.com/twinstream/twinstream/transports/internal/client"
)

// httpClient returns a copy of the configured HTTP client whose transport
// counts response body bytes and heartbeat comment lines (go-sse's parser
// drops comments, so they are counted on the way in) and cuts requests
// that receive nothing for IdleTimeout.
func (c *Client) httpClient() *http.Client {
	var hc http.Client
	if c.cfg.HTTPClient != nil {
		hc = *c.cfg.HTTPClient
	}
	base := hc.Transport
	if base == nil {
		base = http.DefaultTransport
	}
	hc.Transport = &countingTransport{base: base, c: c}
	return &hc
}

type countingTransport struct {
	base http.RoundTripper
	c    *Client
}

// RoundTrip sends r and wraps the response body. With an IdleTimeout, r
// goes out with a context of its own, cancelled (cause client.ErrIdle) once
// nothing arrived for that long: while waiting for the response headers,
// or between two reads of the body. go-sse sees a failed read (its own
// request's context is not done) and reconnects after its backoff with
// Last-Event-ID, as after any lost connection.
func (t *countingTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	idle := t.c.idleTimeout()
	if idle <= 0 {
		res, err := t.base.RoundTrip(r)
		if err == nil && res.Body != nil {
			res.Body = &countingBody{ReadCloser: res.Body, c: t.c, lineStart: true}
		}
		return res, err
	}
	ctx, cancel := context.WithCancelCause(r.Context())
	watch := client.NewWatchdog()
	watch.Start(idle, func() { cancel(client.ErrIdle) })
	res, err := t.base.RoundTrip(r.WithContext(ctx))
	if err != nil || res.Body == nil {
		watch.Stop()
		cancel(nil)
		return res, err
	}
	watch.Note()
	res.Body = &countingBody{ReadCloser: res.Body, c: t.c, lineStart: true, watch: watch, cancel: cancel}
	return res, nil
}

// countingBody counts bytes and lines that start with ':' (comments), and
// notes activity on the request's idle timer, if any.
type countingBody struct {
	io.ReadCloser
	c         *Client
	lineStart bool // the next byte starts a line

	watch  *client.Watchdog        // nil without an IdleTimeout
	cancel context.CancelCauseFunc // the request's context; with watch
}

func (b *countingBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	if n > 0 {
		b.c.n.Received(n)
		b.c.n.Pinged(countComments(p[:n], &b.lineStart))
		if b.watch != nil {
			b.watch.Note()
		}
	}
	return n, err
}

// Close closes the body, then releases the request's context (after the
// body, so that a response read to its end leaves its connection reusable).
func (b *countingBody) Close() error {
	if b.watch == nil {
		return b.ReadCloser.Close()
	}
	b.watch.Stop()
	err := b.ReadCloser.Close()
	b.cancel(nil)
	return err
}

// countComments counts the lines of p that start with ':', carrying whether
// the next byte starts a line across calls. Lines end in \n, \r or \r\n.
func countComments(p []byte, lineStart *bool) uint64 {
	var n uint64
	for len(p) > 0 {
		if *lineStart && p[0] == ':' {
			n++
		}
		i := bytes.IndexAny(p, "\r\n")
		if i < 0 {
			*lineStart = false
			break
		}
		*lineStart = true
		p = p[i+1:]
	}
	return n
}
