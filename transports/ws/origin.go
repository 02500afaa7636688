package ws

import (
	"net/http"

	"github.com/twinstream/twinstream/transports"
)

// allowOrigin applies Config.CheckOrigin before the upgrade: a request it
// refuses gets 403 with a JSON error body, and coder/websocket's own check
// (the request's own Host, or OriginPatterns) is then skipped. Without
// CheckOrigin, the library's check applies.
func (s *Server) allowOrigin(w http.ResponseWriter, r *http.Request) bool {
	if s.cfg.CheckOrigin == nil || s.cfg.CheckOrigin(r) {
		return true
	}
	s.log.Debug("origin refused", "remote", r.RemoteAddr, "origin", r.Header.Get("Origin"), "host", r.Host)
	writeError(w, http.StatusForbidden, transports.NewErrorFrame(transports.CodeForbidden,
		"origin not allowed: "+r.Header.Get("Origin")))
	return false
}
