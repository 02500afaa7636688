package server

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"

	"github.com/labstack/echo/v4"

	"github.com/twinstream/twinstream/cmd/demo/internal/tasks"
	"github.com/twinstream/twinstream/transports"
)

// createTask: POST /api/tasks → 201 task, 400 invalid input, 503 queue full
// or (with --redis) Redis not answering.
func (s *Server) createTask(c echo.Context) error {
	body, err := readBody(c, s.cfg.MaxBody)
	if err != nil {
		return err
	}
	spec, ierr := tasks.ParseSpec(body)
	if ierr != nil {
		f := transports.NewErrorFrame(ierr.Code, ierr.Message)
		f.Fields = ierr.Fields
		return frameError(f)
	}
	t, err := s.runner.Submit(c.Request().Context(), spec)
	switch {
	case errors.Is(err, tasks.ErrQueueFull):
		e := newAPIError(http.StatusServiceUnavailable, transports.CodeUnavailable, "task queue is full, retry later")
		e.retryAfter = 1
		return e
	case errors.Is(err, tasks.ErrClosed):
		e := newAPIError(http.StatusServiceUnavailable, transports.CodeUnavailable, "server shutting down")
		e.retryAfter = 5
		return e
	case err != nil:
		return storeError(err)
	}
	c.Response().Header().Set("Location", "/api/tasks/"+t.ID)
	return c.JSONBlob(http.StatusCreated, t.JSON())
}

// storeError answers a task store or queue that failed: only the Redis
// ones can (the in-memory ones do not fail), so 503 unavailable with
// Retry-After, as for a publish the broker could not make.
func storeError(err error) error {
	e := newAPIError(http.StatusServiceUnavailable, transports.CodeUnavailable, "tasks unavailable: "+err.Error())
	e.retryAfter = 1
	return e
}

// getTask: GET /api/tasks/:id → task or 404.
func (s *Server) getTask(c echo.Context) error {
	t, err := s.store.Get(c.Request().Context(), c.Param("id"))
	if errors.Is(err, tasks.ErrNotFound) {
		return newAPIError(http.StatusNotFound, transports.CodeNotFound, fmt.Sprintf("no task %q", c.Param("id")))
	}
	if err != nil {
		return storeError(err)
	}
	return c.JSONBlob(http.StatusOK, t.JSON())
}

// listTasks: GET /api/tasks?status=running&limit=50 → {"tasks":[...]},
// newest first.
func (s *Server) listTasks(c echo.Context) error {
	var q tasks.Query
	fields := map[string]string{}
	for name := range c.QueryParams() {
		if name != "status" && name != "limit" {
			fields[name] = "unknown parameter; want status, limit"
		}
	}
	if v := c.QueryParam("status"); v != "" {
		q.Status = tasks.Status(v)
		if !q.Status.Valid() {
			fields["status"] = "must be queued, running, completed or failed"
		}
	}
	if v := c.QueryParam("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > tasks.MaxListLimit {
			fields["limit"] = fmt.Sprintf("must be an integer between 1 and %d", tasks.MaxListLimit)
		}
		q.Limit = n
	}
	if len(fields) > 0 {
		return invalid("bad query", fields)
	}
	list, err := s.store.List(c.Request().Context(), q)
	if err != nil {
		return storeError(err)
	}
	return c.JSON(http.StatusOK, struct {
		Tasks []tasks.Task `json:"tasks"`
	}{list})
}

// resolveTask is the transports.Resolver of both /ws/tasks/:id and
// /sse/tasks/:id: it names the task's topic, and transports.ResolveSingle
// adds the rest (the snapshot first, the end after the terminal event, the
// resume cursor from Last-Event-ID / last_event_id).
func (s *Server) resolveTask(r *http.Request) (transports.Stream, error) {
	id := r.PathValue("id")
	topic := tasks.Topic(id)
	notFound := fmt.Errorf("no task %q: %w", id, transports.ReasonNotFound)
	if transports.ValidTopic(topic) != nil {
		return transports.Stream{}, notFound
	}
	t, err := s.store.Get(r.Context(), id)
	if errors.Is(err, tasks.ErrNotFound) {
		return transports.Stream{}, notFound
	}
	if err != nil {
		return transports.Stream{}, err
	}
	s.restoreTopic(r.Context(), t)
	return transports.Stream{Topics: []string{topic}}, nil
}

// restoreTopic re-publishes a finished task's final state when the hub has
// forgotten its topic (idle topics expire after the hub's TopicTTL), so a
// late subscriber still gets a snapshot and the end of the stream instead of
// silence. A resuming client then sees a cursor_ahead reset first.
func (s *Server) restoreTopic(ctx context.Context, t tasks.Task) {
	if !t.Status.Terminal() || s.hub.Latest(t.Topic()) != nil {
		return
	}
	s.restoreMu.Lock()
	defer s.restoreMu.Unlock()
	if s.hub.Latest(t.Topic()) != nil {
		return
	}
	if _, err := s.hub.Publish(ctx, t.Topic(), string(t.Status), t.JSON()); err != nil {
		s.log.Debug("task topic not restored", "id", t.ID, "err", err)
	}
}
