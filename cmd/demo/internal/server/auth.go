package server

import (
	"net/http"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/twinstream/twinstream/cmd/demo/internal/auth"
	"github.com/twinstream/twinstream/transports"
	"github.com/twinstream/twinstream/transports/chat"
)

// Identity with Hardening.AuthSecret set (package auth has the token):
//
//   - GET /ws, GET /sse, POST /api/messages: client_id comes from the
//     token's sub alone. A request with a valid token gets client_id = sub
//     (a client_id parameter naming anyone else: 403); one without a token
//     is anonymous and may not give a client_id (401), so it follows public
//     topics only (transports.CanSubscribe keeps client:* from it) and
//     cannot send chat messages. An invalid token is a 401, never silently
//     anonymous: a client should renew it.
//   - POST /api/topics/:topic/events into a client:* topic, or of a
//     join/leave event, needs a publisher token ("pub": true): 403 without.
//   - Task streams are public (their ids are unguessable) and take no token.
//
// Without AuthSecret nothing is checked: any client may claim any
// client_id and publish anything but the task and reserved kinds.

// identityKey is where identify keeps the request's auth.Identity.
const identityKey = "twinstream.identity"

// identityRoutes take their client_id from the token.
var identityRoutes = map[string]bool{"/ws": true, "/sse": true, "/api/messages": true}

// identify checks the request's token, when authentication is on and the
// route cares, and rewrites client_id to the token's sub.
func (s *Server) identify(c echo.Context) error {
	route := c.Path()
	if s.verifier == nil || !(identityRoutes[route] || route == "/api/topics/:topic/events") {
		return nil
	}
	r := c.Request()
	q := r.URL.Query()
	claimed := q.Get("client_id")
	tok := auth.FromRequest(r)
	if tok == "" {
		if claimed != "" && identityRoutes[route] {
			return newAPIError(http.StatusUnauthorized, transports.CodeForbidden,
				"client_id comes from a signed token: send Authorization: Bearer <token> (or ?token=, or the token cookie)")
		}
		return nil
	}
	id, err := s.verifier.Verify(tok)
	if err != nil {
		return newAPIError(http.StatusUnauthorized, transports.CodeForbidden, err.Error())
	}
	c.Set(identityKey, id)
	if !identityRoutes[route] {
		return nil
	}
	if claimed != "" && claimed != id.ClientID {
		return newAPIError(http.StatusForbidden, transports.CodeForbidden,
			"client_id "+claimed+" is not the token's ("+id.ClientID+")")
	}
	q.Set("client_id", id.ClientID)
	q.Del(auth.TokenParam)
	r.URL.RawQuery = q.Encode()
	return nil
}

// mayPublish says whether the request may publish an event of kind into
// topic through the API: with authentication on, personal topics and
// presence kinds need a publisher token.
func (s *Server) mayPublish(c echo.Context, topic, kind string) error {
	if s.verifier == nil {
		return nil
	}
	if !strings.HasPrefix(topic, transports.ClientTopicPrefix) && kind != chat.KindJoin && kind != chat.KindLeave {
		return nil
	}
	if id, ok := c.Get(identityKey).(auth.Identity); ok && id.Publisher {
		return nil
	}
	return newAPIError(http.StatusForbidden, transports.CodeForbidden,
		"publishing into client:* topics and join/leave events needs a publisher token (\"pub\": true)")
}
