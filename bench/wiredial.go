package bench

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"golang.org/x/net/http2"
)

// A wireMeter is a worker's view of the wire: every connection its
// clients dial is counted at the socket and classified by a wireTap
// (wiretap.go), and it serves the worker's TLS and HTTP/2 needs: https
// targets (the demo's --tls-self-signed; certificates are not checked,
// this is a load generator on loopback) and, with WorkerSpec.HTTP2, SSE
// streams multiplexed over as few TCP connections as the server's
// concurrent-stream limit allows (h2Pool).
type wireMeter struct {
	spec WorkerSpec

	mu   sync.Mutex
	taps []*wireTap
	h2   []*h2Pool

	open, peak atomic.Int64 // TCP connections open now, and the most at once
}

func newWireMeter(spec WorkerSpec) *wireMeter { return &wireMeter{spec: spec} }

// instrument makes t dial through the meter (plain and TLS), asks for
// gzip when the spec says so, and returns the round tripper a client of
// this source address uses: t itself, or an h2Pool over the same dialer
// for SSE over HTTP/2.
func (m *wireMeter) instrument(t *http.Transport, ip string, timeout time.Duration) (http.RoundTripper, error) {
	d := &net.Dialer{Timeout: timeout, KeepAlive: -1}
	if ip != "" {
		addr := net.ParseIP(ip)
		if addr == nil {
			return nil, fmt.Errorf("bench worker: bad source IP %q", ip)
		}
		d.LocalAddr = &net.TCPAddr{IP: addr}
	}
	t.DialContext = m.dialer(d, false, nil)
	t.DialTLSContext = m.dialer(d, false, []string{"http/1.1"})
	t.DisableCompression = !m.spec.Gzip
	if m.spec.HTTP2 && m.spec.Transport == SSE {
		p := &h2Pool{
			t:    &http2.Transport{DisableCompression: !m.spec.Gzip, ReadIdleTimeout: 0},
			dial: m.dialer(d, true, []string{"h2"}),
		}
		m.mu.Lock()
		m.h2 = append(m.h2, p)
		m.mu.Unlock()
		return p, nil
	}
	return t, nil
}

// dialer returns a dial function whose connections are metered; with
// alpn it speaks TLS (offering those protocols) and classifies the
// plaintext above it.
func (m *wireMeter) dialer(d *net.Dialer, h2 bool, alpn []string) func(ctx context.Context, network, addr string) (net.Conn, error) {
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		raw, err := d.DialContext(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		tap := newWireTap(h2, h2 && m.spec.Gzip)
		m.mu.Lock()
		m.taps = append(m.taps, tap)
		m.mu.Unlock()
		if n := m.open.Add(1); n > m.peak.Load() {
			m.peak.Store(n) // a racy max: close enough for a peak
		}
		mc := &meteredConn{tap: tap, m: m}
		if alpn == nil {
			mc.Conn, mc.plain = raw, true
			return mc, nil
		}
		host, _, _ := net.SplitHostPort(addr)
		cc := &countConn{Conn: raw, tap: tap}
		tc := tls.Client(cc, &tls.Config{ServerName: host, NextProtos: alpn, InsecureSkipVerify: true})
		if err := tc.HandshakeContext(ctx); err != nil {
			_ = tc.Close()
			m.open.Add(-1)
			return nil, err
		}
		if h2 && tc.ConnectionState().NegotiatedProtocol != "h2" {
			_ = tc.Close()
			m.open.Add(-1)
			return nil, errors.New("bench: the server did not negotiate HTTP/2")
		}
		tap.handshake(int(cc.rx.Load()))
		mc.Conn = tc
		return mc, nil
	}
}

// total sums every connection's counts.
func (m *wireMeter) total() WireCount {
	m.mu.Lock()
	taps := append([]*wireTap(nil), m.taps...)
	m.mu.Unlock()
	var w WireCount
	for _, t := range taps {
		w.Add(t.snapshot())
	}
	w.ConnsPeak = uint64(m.peak.Load())
	return w
}

// close closes the HTTP/2 pools' connections.
func (m *wireMeter) close() {
	m.mu.Lock()
	pools := m.h2
	m.mu.Unlock()
	for _, p := range pools {
		p.close()
	}
}

// meteredConn counts what crosses it and feeds what it reads to its tap.
// plain: it is the socket itself (no TLS below), so it counts the socket
// bytes too.
type meteredConn struct {
	net.Conn
	tap      *wireTap
	m        *wireMeter
	plain    bool
	closed   atomic.Bool
	detached atomic.Bool // taken over by a lean client (SyscallConn)
}

func (c *meteredConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	if n > 0 {
		if c.plain {
			c.tap.socket(n, 0)
		}
		c.tap.feed(p[:n])
	}
	return n, err
}

func (c *meteredConn) Write(p []byte) (int, error) {
	n, err := c.Conn.Write(p)
	if c.plain && n > 0 {
		c.tap.socket(0, n)
	}
	return n, err
}

func (c *meteredConn) Close() error {
	if c.closed.CompareAndSwap(false, true) && !c.detached.Load() {
		c.m.open.Add(-1)
	}
	return c.Conn.Close()
}

// SyscallConn lets a lean client take the socket over (detach); the lean
// poller then feeds the tap itself (wireTapOf).
func (c *meteredConn) SyscallConn() (syscall.RawConn, error) {
	sc, ok := c.Conn.(syscall.Conn)
	if !ok || !c.plain {
		return nil, errors.New("bench: not a plain socket")
	}
	// The descriptor lives on after this conn is closed: the connection
	// stays counted as open (a lean client's peak is its connections).
	c.detached.Store(true)
	return sc.SyscallConn()
}

// wireTapOf returns the tap of a metered plain connection (nil otherwise),
// for a reader that reads its descriptor directly: it must then call
// socket and feed with what it reads.
func wireTapOf(c net.Conn) *wireTap {
	if mc, ok := c.(*meteredConn); ok && mc.plain {
		return mc.tap
	}
	return nil
}

// countConn counts the raw bytes under TLS.
type countConn struct {
	net.Conn
	tap *wireTap
	rx  atomic.Int64 // during the handshake
}

func (c *countConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	if n > 0 {
		c.rx.Add(int64(n))
		c.tap.socket(n, 0)
	}
	return n, err
}

func (c *countConn) Write(p []byte) (int, error) {
	n, err := c.Conn.Write(p)
	if n > 0 {
		c.tap.socket(0, n)
	}
	return n, err
}

// h2Pool is an HTTP/2 client for one source address: a request goes on
// the first connection that can take another stream (the server's
// SETTINGS_MAX_CONCURRENT_STREAMS: 250 for Go's server), else on a new
// one. So N SSE streams use about N / 250 TCP connections.
type h2Pool struct {
	t    *http2.Transport
	dial func(ctx context.Context, network, addr string) (net.Conn, error)

	mu    sync.Mutex
	conns []*http2.ClientConn
}

// RoundTrip implements http.RoundTripper.
func (p *h2Pool) RoundTrip(req *http.Request) (*http.Response, error) {
	cc, err := p.conn(req)
	if err != nil {
		return nil, err
	}
	return cc.RoundTrip(req)
}

func (p *h2Pool) conn(req *http.Request) (*http2.ClientConn, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	live := p.conns[:0]
	for _, cc := range p.conns {
		if !cc.State().Closed {
			live = append(live, cc)
		}
	}
	p.conns = live
	for _, cc := range p.conns {
		if cc.ReserveNewRequest() {
			return cc, nil
		}
	}
	addr := req.URL.Host
	if req.URL.Port() == "" {
		addr = net.JoinHostPort(req.URL.Hostname(), "443")
	}
	ctx, cancel := context.WithTimeout(req.Context(), 30*time.Second)
	defer cancel()
	c, err := p.dial(ctx, "tcp", addr)
	if err != nil {
		return nil, err
	}
	cc, err := p.t.NewClientConn(c)
	if err != nil {
		_ = c.Close()
		return nil, err
	}
	cc.ReserveNewRequest()
	p.conns = append(p.conns, cc)
	return cc, nil
}

func (p *h2Pool) close() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, cc := range p.conns {
		_ = cc.Close()
	}
	p.conns = nil
}

// insecureTLS is the TLS configuration of the load generator's own HTTP
// clients (publisher, /metrics): a spawned demo server with
// --tls-self-signed has a certificate nothing trusts.
func insecureTLS() *tls.Config { return &tls.Config{InsecureSkipVerify: true} }
