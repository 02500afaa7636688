package sse

import (
	"bytes"
	"io"
	"net/http"
)

// httpClient returns a copy of the configured HTTP client whose transport
// counts response body bytes and heartbeat comment lines (go-sse's parser
// drops comments, so they are counted on the way in).
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

func (t *countingTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	res, err := t.base.RoundTrip(r)
	if err == nil && res.Body != nil {
		res.Body = &countingBody{ReadCloser: res.Body, c: t.c, lineStart: true}
	}
	return res, err
}

// countingBody counts bytes and lines that start with ':' (comments).
type countingBody struct {
	io.ReadCloser
	c         *Client
	lineStart bool // the next byte starts a line
}

func (b *countingBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	if n > 0 {
		b.c.bytes.Add(uint64(n))
		b.c.pings.Add(countComments(p[:n], &b.lineStart))
	}
	return n, err
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
