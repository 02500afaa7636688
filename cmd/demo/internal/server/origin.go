package server

import (
	"mime"
	"net"
	"net/http"
	"net/url"
	"os"
	"path"
	"strconv"
	"strings"

	"github.com/twinstream/twinstream/transports"
)

// Which browser origins may use the server: those naming the address it
// listens on, and the --allow-origin patterns. The request's own Host
// header is not trusted: a DNS-rebinding page sends its own name as both
// Host and Origin.
//
//   - A WebSocket upgrade with a foreign Origin gets 403 (ws.Config.CheckOrigin).
//   - A POST with a foreign Origin gets 403; a POST with an Origin (it comes
//     from a browser) must be Content-Type: application/json, or it gets 415:
//     a foreign page can send a "simple" cross-site POST (text/plain, a form)
//     without asking, but not a JSON one.
//   - Requests without Origin (curl, programs) are not browsers' and pass.

// listenNames returns the host:port names of a listener at addr, as an
// Origin carries them: the address itself; for a loopback or unspecified
// address also localhost, 127.0.0.1 and [::1]; for an unspecified one also
// the host's name and every interface address. On ports 80 and 443 the
// names without a port too (a browser leaves the default port out).
func listenNames(addr net.Addr) map[string]bool {
	ta, ok := addr.(*net.TCPAddr)
	if !ok {
		return map[string]bool{}
	}
	port := strconv.Itoa(ta.Port)
	hosts := []string{ta.IP.String()}
	if ta.IP.IsLoopback() || ta.IP.IsUnspecified() {
		hosts = append(hosts, "localhost", "127.0.0.1", "::1")
	}
	if ta.IP.IsUnspecified() {
		if h, err := os.Hostname(); err == nil {
			hosts = append(hosts, h)
		}
		if addrs, err := net.InterfaceAddrs(); err == nil {
			for _, a := range addrs {
				if ipn, ok := a.(*net.IPNet); ok {
					hosts = append(hosts, ipn.IP.String())
				}
			}
		}
	}
	names := map[string]bool{}
	for _, h := range hosts {
		h = strings.ToLower(h)
		names[net.JoinHostPort(h, port)] = true
		if port == "80" || port == "443" {
			if strings.Contains(h, ":") {
				h = "[" + h + "]"
			}
			names[h] = true
		}
	}
	return names
}

// originAllowed reports whether a browser Origin header value names this
// server (listenNames) or matches an --allow-origin pattern (path.Match on
// the host, or on scheme://host for a pattern with "://", as
// coder/websocket's OriginPatterns).
func (s *Server) originAllowed(origin string) bool {
	u, err := url.Parse(origin)
	if err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") {
		return false // "null" (sandboxed frames, file:), or garbage
	}
	host := strings.ToLower(u.Host)
	if names := s.names.Load(); names != nil && (*names)[host] {
		return true
	}
	for _, p := range s.cfg.AllowOrigins {
		target := host
		if strings.Contains(p, "://") {
			target = strings.ToLower(u.Scheme) + "://" + host
		}
		if ok, _ := path.Match(strings.ToLower(p), target); ok {
			return true
		}
	}
	return false
}

// wsOrigin is the WebSocket transports' CheckOrigin.
func (s *Server) wsOrigin(r *http.Request) bool {
	o := r.Header.Get("Origin")
	return o == "" || s.originAllowed(o)
}

// sameSite refuses a POST a foreign page could have sent: 403 for a
// foreign Origin, 415 for a browser's POST that is not JSON.
func (s *Server) sameSite(r *http.Request) error {
	o := r.Header.Get("Origin")
	if o == "" {
		return nil
	}
	if !s.originAllowed(o) {
		return newAPIError(http.StatusForbidden, transports.CodeForbidden,
			"cross-site request refused: origin "+o+" is not this server's (see --allow-origin)")
	}
	if mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err != nil || mt != "application/json" {
		return newAPIError(http.StatusUnsupportedMediaType, transports.CodeInvalidMessage,
			"a request from a browser must be Content-Type: application/json")
	}
	return nil
}
