package server

import (
	"crypto/subtle"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/pprof"
	"strings"
	"time"

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

// adminDrop: POST /api/admin/drop?transport=ws|sse|all[&pace=500ms] kicks
// every connection of a transport with close reason "dropped" (WebSocket
// 1012; SSE response ends) so clients reconnect and resume → {"dropped":N}.
// With pace, the kicks are spread in batches over that time (a paced
// drain: the clients do not all come back in one instant); the answer
// comes after the last batch.
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
	var pace time.Duration
	if p := c.QueryParam("pace"); p != "" {
		d, err := time.ParseDuration(p)
		if err != nil || d < 0 || d > time.Minute {
			return invalid("bad pace", map[string]string{"pace": "must be a duration from 0 to 1m, e.g. 500ms"})
		}
		pace = d
	}
	n := s.hub.DropPaced(c.Request().Context(), tr, pace)
	s.log.Info("admin drop", "transport", c.QueryParam("transport"), "dropped", n, "pace", pace, "remote", c.Request().RemoteAddr)
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

// servePprof serves net/http/pprof (/debug/pprof/…) on Config.PprofAddr, a
// listener of its own with its own ServeMux: the profiles are never
// reachable through the API's address, and http.DefaultServeMux (where
// importing net/http/pprof also registers them) is served nowhere. With no
// PprofAddr it does nothing. stop closes the listener and every profile
// request in flight; Run calls it on shutdown.
func (s *Server) servePprof() (stop func(), err error) {
	if s.cfg.PprofAddr == "" {
		return func() {}, nil
	}
	ln, err := net.Listen("tcp", s.cfg.PprofAddr)
	if err != nil {
		return nil, fmt.Errorf("pprof: listening on %s: %w", s.cfg.PprofAddr, err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index) // and every named profile: heap, goroutine, allocs…
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	// No WriteTimeout: /debug/pprof/profile?seconds=N answers after N seconds.
	hs := &http.Server{Handler: mux, ReadHeaderTimeout: DefaultHeaderTimeout}
	done := make(chan struct{})
	go func() { // owner: stop; ends when the listener closes
		defer close(done)
		if err := hs.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
			s.log.Warn("pprof listener failed", "err", err)
		}
	}()
	s.log.Info("pprof", "url", "http://"+ln.Addr().String()+"/debug/pprof/")
	return func() {
		_ = hs.Close()
		<-done
	}, nil
}
