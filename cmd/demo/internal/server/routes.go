package server

import (
	"fmt"
	"net/http"
	"runtime/debug"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/twinstream/twinstream/cmd/demo/internal/web"
)

// routes builds the Echo application. Deliberately absent: Echo's Timeout
// middleware (it breaks Flush and Hijack) and gzip (it buffers SSE frames);
// tests guard both.
func (s *Server) routes() *echo.Echo {
	e := echo.New()
	e.HideBanner, e.HidePort = true, true
	e.HTTPErrorHandler = s.handleError
	e.Use(s.accessLog, s.recoverPanic, s.guard) // guard.go: origins, limits, identity
	e.GET("/healthz", s.healthz)
	e.GET("/metrics", echo.WrapHandler(s.prom.handler()))
	if !s.cfg.servesStreams() { // --role worker: nothing else
		return e
	}

	e.POST("/api/tasks", s.createTask)
	e.GET("/api/tasks", s.listTasks)
	e.GET("/api/tasks/:id", s.getTask)
	e.POST("/api/messages", s.postMessage)
	e.POST("/api/topics/:topic/events", s.publishEvent)
	e.POST("/api/admin/drop", s.adminDrop)

	e.GET("/ws", echo.WrapHandler(s.ws))
	e.GET("/sse", echo.WrapHandler(s.sse))
	e.GET("/ws/tasks/:id", s.taskStream(s.wsTasks.Stream(s.resolveTask)))
	e.GET("/sse/tasks/:id", s.taskStream(s.sseTasks.Stream(s.resolveTask)))

	e.GET("/api/stats", s.apiStats)

	// The page and its assets (/, /app.js, /style.css, ...). Echo's final
	// ":file" parameter also matches deeper paths; those get JSON errors.
	web := echo.WrapHandler(web.Handler())
	page := func(c echo.Context) error {
		if !pagePath(c.Request().URL.Path) {
			return echo.ErrNotFound
		}
		return web(c)
	}
	for _, p := range []string{"/", pageRoute} {
		e.GET(p, page)
		e.HEAD(p, page)
	}
	return e
}

// pageRoute is the route of the page's files.
const pageRoute = "/:file"

// pagePath reports whether p can name one of the page's files: "/" or a
// single path segment.
func pagePath(p string) bool { return !strings.Contains(p[min(1, len(p)):], "/") }

// accessLog logs each request at debug level when it ends (for streams:
// when the stream ends).
func (s *Server) accessLog(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		start := time.Now()
		err := next(c)
		if err != nil {
			c.Error(err) // write the error response now so its status is logged
		}
		r := c.Request()
		s.log.Debug("request", "method", r.Method, "path", r.URL.Path, "status", c.Response().Status,
			"bytes", c.Response().Size, "duration", time.Since(start), "remote", r.RemoteAddr)
		return nil
	}
}

// recoverPanic turns a handler panic into a 500 JSON error (and a log
// record) instead of a dropped connection. http.ErrAbortHandler is re-raised:
// it is how a handler aborts a response on purpose.
func (s *Server) recoverPanic(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) (err error) {
		defer func() {
			if v := recover(); v != nil {
				if v == http.ErrAbortHandler {
					panic(v)
				}
				s.log.Error("handler panic", "method", c.Request().Method, "path", c.Request().URL.Path,
					"panic", v, "stack", string(debug.Stack()))
				err = fmt.Errorf("panic: %v", v)
			}
		}()
		return next(c)
	}
}

// taskStream adapts a transport's task stream handler: the Echo path
// parameter becomes the request's path value "id" (read by resolveTask),
// and the stream is tracked for graceful shutdown.
func (s *Server) taskStream(h http.Handler) echo.HandlerFunc {
	return func(c echo.Context) error {
		r := c.Request()
		r.SetPathValue("id", c.Param("id"))
		if s.taskStreams.Enter() { // never closed: shutdown waits for task streams, it does not refuse them
			defer s.taskStreams.Leave()
		}
		h.ServeHTTP(c.Response(), r)
		return nil
	}
}
