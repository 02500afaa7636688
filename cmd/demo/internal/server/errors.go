package server

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"

	"github.com/labstack/echo/v4"

	"github.com/twinstream/twinstream/transports"
)

// apiError is an HTTP error answered with a JSON ErrorFrame body.
type apiError struct {
	status     int
	frame      transports.ErrorFrame
	retryAfter int // seconds; 0 = no Retry-After header
}

func (e *apiError) Error() string { return fmt.Sprintf("%d %s", e.status, e.frame.Error()) }

func newAPIError(status int, code, msg string) *apiError {
	return &apiError{status: status, frame: transports.NewErrorFrame(code, msg)}
}

// invalid is a 400 invalid_message error naming bad fields.
func invalid(msg string, fields map[string]string) *apiError {
	e := newAPIError(http.StatusBadRequest, transports.CodeInvalidMessage, msg)
	e.frame.Fields = fields
	return e
}

// frameError is a 400 for an ErrorFrame produced by a parser.
func frameError(f transports.ErrorFrame) *apiError {
	return &apiError{status: http.StatusBadRequest, frame: f}
}

// codeForStatus maps Echo's own HTTP errors (404, 405, 413, ...) to codes.
func codeForStatus(status int) string {
	switch status {
	case http.StatusNotFound:
		return transports.CodeNotFound
	case http.StatusForbidden, http.StatusUnauthorized:
		return transports.CodeForbidden
	case http.StatusRequestEntityTooLarge:
		return transports.CodeMessageTooBig
	case http.StatusServiceUnavailable, http.StatusTooManyRequests:
		return transports.CodeUnavailable
	}
	if status >= 500 {
		return transports.CodeInternal
	}
	return transports.CodeInvalidMessage
}

// handleError is the Echo HTTPErrorHandler: every error becomes a JSON
// ErrorFrame, including Echo's 404 and 405 (which keeps its Allow header).
func (s *Server) handleError(err error, c echo.Context) {
	if c.Response().Committed {
		return
	}
	var (
		ae *apiError
		he *echo.HTTPError
	)
	switch {
	case errors.As(err, &ae):
	case errors.As(err, &he):
		if he.Code == http.StatusMethodNotAllowed && c.Path() == pageRoute && !pagePath(c.Request().URL.Path) {
			// Only the page's catch-all matched: there is no such resource.
			c.Response().Header().Del("Allow")
			he = echo.ErrNotFound
		}
		msg := http.StatusText(he.Code)
		if m, ok := he.Message.(string); ok && m != "" {
			msg = m
		}
		ae = newAPIError(he.Code, codeForStatus(he.Code), msg)
	default:
		s.log.Error("request failed", "method", c.Request().Method, "path", c.Request().URL.Path, "err", err)
		ae = newAPIError(http.StatusInternalServerError, transports.CodeInternal, "internal error")
	}
	if ae.retryAfter > 0 {
		c.Response().Header().Set("Retry-After", strconv.Itoa(ae.retryAfter))
	}
	if c.Request().Method == http.MethodHead {
		_ = c.NoContent(ae.status)
		return
	}
	if err := c.JSONBlob(ae.status, ae.frame.JSON()); err != nil {
		s.log.Debug("error response not written", "err", err)
	}
}

// readBody reads a request body of at most limit bytes; larger bodies are
// a 413 message_too_big.
func readBody(c echo.Context, limit int64) ([]byte, error) {
	r := c.Request()
	tooBig := newAPIError(http.StatusRequestEntityTooLarge, transports.CodeMessageTooBig,
		fmt.Sprintf("request body is larger than %d bytes", limit))
	if r.ContentLength > limit {
		return nil, tooBig
	}
	b, err := io.ReadAll(http.MaxBytesReader(c.Response(), r.Body, limit))
	if te := bodyRead(c, err); te != nil {
		return nil, te // Hardening.BodyTimeout (guard.go)
	}
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return nil, tooBig
		}
		return nil, invalid("reading request body: "+err.Error(), nil)
	}
	return b, nil
}
