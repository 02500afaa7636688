package server

import (
	"crypto/subtle"
	"net/http"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/twinstream/twinstream/transports"
)

// adminMode describes how the admin endpoint is enabled, for the log.
func (s *Server) adminMode() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case s.cfg.AdminToken != "":
		return "token"
	case s.adminOpen:
		return "loopback"
	}
	return "disabled"
}

// adminDrop: POST /api/admin/drop?transport=ws|sse|all kicks every
// connection of a transport with close reason "dropped" (WebSocket 1012;
// SSE response ends) so clients reconnect and resume → {"dropped":N}.
//
// It is enabled with Config.AdminToken (then "Authorization: Bearer <token>"
// is required: 401 without it) or, with no token, when the server listens
// on a loopback address; otherwise it answers 403.
func (s *Server) adminDrop(c echo.Context) error {
	if err := s.authorizeAdmin(c.Request()); err != nil {
		return err
	}
	tr := c.QueryParam("transport")
	switch tr {
	case "ws", "sse":
	case "all", "":
		tr = ""
	default:
		return invalid("bad transport", map[string]string{"transport": "must be ws, sse or all"})
	}
	n := s.hub.DropAll(tr)
	s.log.Info("admin drop", "transport", c.QueryParam("transport"), "dropped", n, "remote", c.Request().RemoteAddr)
	return c.JSON(http.StatusOK, map[string]int{"dropped": n})
}

func (s *Server) authorizeAdmin(r *http.Request) error {
	s.mu.Lock()
	token, open := s.cfg.AdminToken, s.adminOpen
	s.mu.Unlock()
	if token == "" {
		if open {
			return nil
		}
		return newAPIError(http.StatusForbidden, transports.CodeForbidden,
			"admin endpoint disabled: listen on a loopback address or set --admin-token")
	}
	got, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if !ok || subtle.ConstantTimeCompare([]byte(got), []byte(token)) != 1 {
		return newAPIError(http.StatusUnauthorized, transports.CodeForbidden, "admin endpoint needs Authorization: Bearer <token>")
	}
	return nil
}
