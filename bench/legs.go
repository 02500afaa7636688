package bench

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// SSEH2 is the result key of SSE measured over HTTP/2 (--sse-http 2): the
// same SSE transport, its clients multiplexing many streams on each TCP
// connection.
const SSEH2 = "sse-h2"

// Result keys of the compression legs (the compression scenario, or
// fanout with --ws-compression / --sse-gzip).
const (
	WSDeflate      = "ws-deflate"     // permessage-deflate, context takeover
	WSDeflateNoCtx = "ws-deflate-nct" // permessage-deflate, no context takeover
	SSEGzip        = "sse-gzip"       // SSE over HTTP/1.1, gzip
	SSEH2Gzip      = "sse-h2-gzip"    // SSE over HTTP/2, gzip
)

// A leg is one column of a measurement: a transport, and how its clients
// speak it (HTTP version, compression). Its name is the result key
// (Result.Transports), so a leg is known from its name alone (legOf).
type leg struct {
	name, transport string
	http2           bool
	wsCompression   string // ws.ParseCompression's names; "" off
	gzip            bool
}

// legOf returns the leg a result key names ("ws", "sse", "sse-h2",
// "ws-deflate"…); a plain transport name is its plain leg.
func legOf(name string) leg {
	l := leg{name: name, transport: name}
	switch name {
	case WSDeflate:
		l.transport, l.wsCompression = WS, "context-takeover"
	case WSDeflateNoCtx:
		l.transport, l.wsCompression = WS, "no-context-takeover"
	case SSEGzip:
		l.transport, l.gzip = SSE, true
	case SSEH2:
		l.transport, l.http2 = SSE, true
	case SSEH2Gzip:
		l.transport, l.http2, l.gzip = SSE, true, true
	}
	return l
}

// sseHTTP is Config.SSEHTTP, defaulting to HTTP/1.1.
func (c Config) sseHTTP() []int {
	if len(c.SSEHTTP) == 0 {
		return []int{1}
	}
	return c.SSEHTTP
}

// TLS reports whether the run's spawned servers serve HTTPS (and every
// leg speaks TLS): whenever SSE runs over HTTP/2, so that its figures
// compare with the other legs' on equal terms.
func (c Config) TLS() bool { return slices.Contains(c.SSEHTTP, 2) }

// legNames lists the legs of a fanout (or sweep) run: each transport of
// Transports, WebSocket with --ws-compression, SSE once per --sse-http
// version, with --sse-gzip.
func (c Config) legNames() []string {
	var out []string
	for _, t := range c.Transports {
		switch t {
		case WS:
			switch c.WSCompression {
			case "context-takeover":
				out = append(out, WSDeflate)
			case "no-context-takeover":
				out = append(out, WSDeflateNoCtx)
			default:
				out = append(out, WS)
			}
		case SSE:
			for _, v := range c.sseHTTP() {
				name := SSE
				if v == 2 {
					name = SSEH2
				}
				if c.SSEGzip {
					name += "-gzip"
				}
				out = append(out, name)
			}
		default:
			out = append(out, t)
		}
	}
	return out
}

// clients is the worker spec tweak of a leg's clients, after base (the
// scenario's own). Lean clients speak plain HTTP/1.1 without compression:
// a leg that needs more, or a TLS run, uses the product clients (every
// leg of a TLS run does, so that they compare).
func (l leg) clients(base func(*WorkerSpec), tls bool) func(*WorkerSpec) {
	return func(s *WorkerSpec) {
		if base != nil {
			base(s)
		}
		s.HTTP2, s.WSCompression, s.Gzip = l.http2, l.wsCompression, l.gzip
		if tls || l.http2 || l.wsCompression != "" || l.gzip {
			s.Client = ClientProduct
		}
	}
}

// deployFlags are the spawned demo server's flags for the run's legs: TLS
// (HTTPS with HTTP/2) for an --sse-http 2 run, and the compression the
// legs ask for (the server offers it; each client asks or not). A server
// offering context takeover also accepts a client that asks for none.
func (c Config) deployFlags(names []string) []string {
	var out []string
	if c.TLS() {
		out = append(out, "--tls-self-signed")
	}
	ws, gz := "", false
	for _, n := range names {
		l := legOf(n)
		switch {
		case l.wsCompression == "context-takeover" || l.wsCompression != "" && ws == "":
			ws = l.wsCompression
		}
		gz = gz || l.gzip
	}
	if ws != "" {
		out = append(out, "--ws-compression", ws)
	}
	if gz {
		out = append(out, "--sse-gzip")
	}
	return out
}

// legResult adds a leg's per-subscriber memory to its result.
func legResult(tr *TransportResult, subscribers int) {
	if tr == nil || subscribers <= 0 || tr.ServerRSSBytes <= tr.ServerRSSBeforeBytes || tr.ServerRSSBeforeBytes == 0 {
		return
	}
	tr.ServerBytesPerSubscriber = round3(float64(tr.ServerRSSBytes-tr.ServerRSSBeforeBytes) / float64(subscribers))
}

// ParseHTTPVersions reads --sse-http: "1", "2" or "1,2".
func ParseHTTPVersions(v string) ([]int, error) {
	var out []int
	for p := range strings.SplitSeq(v, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(p))
		if err != nil || n != 1 && n != 2 {
			return nil, errHTTPVersion
		}
		if !slices.Contains(out, n) {
			out = append(out, n)
		}
	}
	return out, nil
}

// validateDeploy checks the HTTP version, compression and payload flags.
func (c Config) validateDeploy() error {
	for _, v := range c.SSEHTTP {
		if v != 1 && v != 2 {
			return errHTTPVersion
		}
	}
	switch c.WSCompression {
	case "", "disabled", "context-takeover", "no-context-takeover":
	default:
		return fmt.Errorf("--ws-compression %q: want disabled, context-takeover or no-context-takeover", c.WSCompression)
	}
	if c.Payload != "" && !slices.Contains(Payloads, c.Payload) {
		return fmt.Errorf("--payload %q: want one of %s", c.Payload, strings.Join(Payloads, ", "))
	}
	if (c.TLS() || c.WSCompression != "" && c.WSCompression != "disabled" || c.SSEGzip) && len(c.Targets) > 0 {
		return fmt.Errorf("--sse-http 2, --ws-compression and --sse-gzip set up the spawned demo server: no --target")
	}
	return nil
}
