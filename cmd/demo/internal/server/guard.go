package server

import (
	"errors"
	"math"
	"net/http"
	"os"
	"sync/atomic"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/twinstream/twinstream/cmd/demo/internal/auth"
	"github.com/twinstream/twinstream/transports"
)

// guards is the server's state for Hardening: who may come in, how often,
// and as whom.
type guards struct {
	names    atomic.Pointer[map[string]bool] // the listener's host:port names (origin.go), set by Start
	verifier *auth.Verifier                  // nil: no authentication
	publish  *transports.IPRate              // Hardening.PublishRate; nil: none
}

// initGuards sets up Hardening: the verifier, the publish rate and the
// limiter's new-connection rate.
func (s *Server) initGuards() error {
	h := s.cfg.Hardening
	if h.AuthSecret != "" {
		v, err := auth.NewVerifier([]byte(h.AuthSecret))
		if err != nil {
			return err
		}
		s.verifier = v
	}
	s.publish = transports.NewIPRate(h.PublishRate)
	s.limiter.Rate = transports.NewIPRate(h.ConnRate)
	return nil
}

// Routes the guard treats apart.
var (
	// streamRoutes hold a Limiter slot of their own (the transports'), for
	// as long as the stream lasts.
	streamRoutes = map[string]bool{"/ws": true, "/sse": true, "/ws/tasks/:id": true, "/sse/tasks/:id": true}
	// publishRoutes spend a token of Hardening.PublishRate.
	publishRoutes = map[string]bool{"/api/topics/:topic/events": true, "/api/messages": true}
)

// guard is the middleware of Hardening, in the order a request meets it:
// a POST a foreign page could have sent is refused (sameSite: 403, 415);
// a request that is not a stream holds a slot of the connection limiter
// while it runs (over --max-conns or --max-conns-per-ip: 429) and a POST
// body must arrive within BodyTimeout (408, see readBody); a publish
// spends a token of its IP's PublishRate (429 with Retry-After); and, with
// authentication on, the request's token is checked and its client_id
// set from it (identify).
func (s *Server) guard(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		r := c.Request()
		route := c.Path()
		if r.Method == http.MethodPost {
			if err := s.sameSite(r); err != nil {
				return err
			}
		}
		ip := transports.RemoteIP(r)
		if !streamRoutes[route] {
			release, err := s.limiter.Hold(ip)
			if err != nil {
				e := newAPIError(http.StatusTooManyRequests, transports.CodeTooManyConnections,
					"too many requests and connections open from this address, try again later")
				e.retryAfter = 1
				return e
			}
			defer release()
			if r.Method == http.MethodPost {
				// Ignored error: a writer without deadlines (a test's
				// recorder) simply has none.
				_ = http.NewResponseController(c.Response()).SetReadDeadline(time.Now().Add(s.cfg.BodyTimeout))
			}
		}
		if publishRoutes[route] {
			if ok, wait := s.publish.Allow(ip); !ok {
				e := newAPIError(http.StatusTooManyRequests, transports.CodeRateLimited,
					"too many publishes from this address, slow down (see Retry-After)")
				e.retryAfter = max(1, int(math.Ceil(wait.Seconds())))
				return e
			}
		}
		if err := s.identify(c); err != nil {
			return err
		}
		return next(c)
	}
}

// bodyRead is readBody's end of BodyTimeout: a body read to its end
// lifts the deadline (the handler that runs after must not meet it), and a
// read that met it is a 408.
func bodyRead(c echo.Context, err error) error {
	if err == nil {
		_ = http.NewResponseController(c.Response()).SetReadDeadline(time.Time{})
		return nil
	}
	if errors.Is(err, os.ErrDeadlineExceeded) {
		return newAPIError(http.StatusRequestTimeout, transports.CodeInvalidMessage, "request body not received in time")
	}
	return nil
}
