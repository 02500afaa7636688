package transports

import (
	"errors"
	"fmt"
	"net/http"
)

// A CloseReason says why the server ends a stream, or refuses one, and how
// each transport shows it. All reasons the server can give are in
// [CloseReasons]; this file is the one table of them. The transports read
// their behaviour from it (the WebSocket close code, the SSE end or
// status), and a test checks the README's close table and the transports'
// package docs against it.
type CloseReason struct {
	Code  string // stable machine name, also the error frame code where one is sent
	Text  string // WebSocket close reason text and error message
	Retry bool   // whether a client should reconnect (and resume)

	// WSStatus is the WebSocket close code.
	WSStatus int

	// SSEEnd is how a running SSE stream ends for this reason.
	SSEEnd SSEEnd
	// SSEStatus is the HTTP status of an SSE stream request the reason
	// refuses before its stream starts, or 0 when it never refuses one:
	// 200 is a text/event-stream response whose one frame carries retry:
	// and an error frame, and then ends, so that an EventSource retries
	// (on any other status it gives up for good); 204 No Content has no
	// body and makes an EventSource stop; any other status has a JSON
	// error body.
	SSEStatus int
	// SSE says in words what an SSE client sees, for docs: SSEText of
	// SSEEnd and SSEStatus, filled in by the table.
	SSE string
}

// SSEEnd is how the SSE transport ends a running stream for a reason.
type SSEEnd int

const (
	// SSENoEnd: the reason never ends a running SSE stream (it refuses a
	// request before its stream starts, or does not arise on SSE).
	SSENoEnd SSEEnd = iota
	// SSEEndResponse: the response ends cleanly (its final chunk is
	// written); EventSource reconnects after retry: with Last-Event-ID.
	SSEEndResponse
	// SSECut: the connection is cut without the response's end, so that
	// nothing more is written behind a backlog the client did not read;
	// EventSource reconnects as after a network failure.
	SSECut
)

// Error implements error so that a reason can be a Subscriber's close cause.
func (r *CloseReason) Error() string { return r.Code + ": " + r.Text }

// SSEText describes SSEEnd and SSEStatus in words (the SSE field):
// "response ends", "connection cut", the refusal's status and body, both
// joined by "; before the stream starts: ", or "not applicable".
func (r *CloseReason) SSEText() string {
	var end string
	switch r.SSEEnd {
	case SSEEndResponse:
		end = "response ends"
	case SSECut:
		end = "connection cut"
	}
	var refusal string
	switch r.SSEStatus {
	case 0:
	case http.StatusOK:
		refusal = "200 text/event-stream with retry: and one error frame"
	case http.StatusNoContent:
		refusal = "204 No Content"
	default:
		refusal = fmt.Sprintf("%d with a JSON error body", r.SSEStatus)
	}
	switch {
	case end != "" && refusal != "":
		return end + "; before the stream starts: " + refusal
	case end != "":
		return end
	case refusal != "":
		return refusal
	}
	return "not applicable"
}

// The reasons a stream ends. WebSocket codes 1000–1013 are RFC 6455 / IANA
// codes; 4000–4999 are twinstream's own.
var (
	// ReasonDone: the stream is complete (a task reached its terminal
	// event). Over SSE a request for a stream that has already ended gets
	// 204, so EventSource stops.
	ReasonDone = reason(CloseReason{Code: "done", Text: "stream complete", WSStatus: 1000,
		SSEEnd: SSEEndResponse, SSEStatus: http.StatusNoContent})
	// ReasonShutdown: the server is shutting down.
	ReasonShutdown = reason(CloseReason{Code: "shutdown", Text: "server shutting down", Retry: true, WSStatus: 1001,
		SSEEnd: SSEEndResponse, SSEStatus: http.StatusOK})
	// ReasonMessageTooBig: a client frame exceeded the read limit (an SSE
	// client sends nothing on its stream).
	ReasonMessageTooBig = reason(CloseReason{Code: CodeMessageTooBig, Text: "message over the read limit", WSStatus: 1009})
	// ReasonDropped: an operator dropped the transport's connections (admin endpoint).
	ReasonDropped = reason(CloseReason{Code: "dropped", Text: "dropped by server, reconnect and resume", Retry: true, WSStatus: 1012,
		SSEEnd: SSEEndResponse})
	// ReasonTooManyConnections: a global or per-IP connection limit was
	// hit. Over SSE the answer is 200 with retry:, because an EventSource
	// gives up for good on 503.
	ReasonTooManyConnections = reason(CloseReason{Code: CodeTooManyConnections, Text: "too many connections, try again later", Retry: true, WSStatus: 1013,
		SSEStatus: http.StatusOK})
	// ReasonIdleTimeout: the peer did not answer heartbeats in time (an SSE
	// peer never speaks: a dead one shows as a failed write).
	ReasonIdleTimeout = reason(CloseReason{Code: "idle_timeout", Text: "heartbeat timeout", Retry: true, WSStatus: 4000})
	// ReasonNotFound: the requested task or stream does not exist.
	ReasonNotFound = reason(CloseReason{Code: CodeNotFound, Text: "not found", WSStatus: 4004,
		SSEStatus: http.StatusNotFound})
	// ReasonSlowConsumer: the client did not read fast enough and its queue filled.
	ReasonSlowConsumer = reason(CloseReason{Code: CodeSlowConsumer, Text: "client too slow, reconnect and resume", Retry: true, WSStatus: 4008,
		SSEEnd: SSECut})
	// ReasonBadRequest: the connect request was malformed (bad cursor, bad topic).
	ReasonBadRequest = reason(CloseReason{Code: CodeInvalidMessage, Text: "bad request", WSStatus: 4400,
		SSEStatus: http.StatusBadRequest})
	// ReasonRateLimited: the client went over a rate limit: commands on a
	// WebSocket past the grace (each refused command got a rate_limited
	// error frame first), or new connections from its IP. Over SSE a new
	// stream over the limit gets 200 with retry:, as for too many
	// connections; API requests over theirs get 429 with Retry-After.
	ReasonRateLimited = reason(CloseReason{Code: CodeRateLimited, Text: "rate limit exceeded, slow down", Retry: true, WSStatus: 4029,
		SSEStatus: http.StatusOK})
	// ReasonInvalidUTF8: a text frame, or the reason of a close frame, was
	// not valid UTF-8 (RFC 6455 §8.1; an SSE client sends nothing on its
	// stream).
	ReasonInvalidUTF8 = reason(CloseReason{Code: "invalid_utf8", Text: "invalid UTF-8", WSStatus: 1007})
	// ReasonUnavailable: a service the stream needs does not answer (the
	// broker: Redis down), so the stream cannot start now. Over SSE the
	// answer is 200 with retry:, so that an EventSource comes back later.
	ReasonUnavailable = reason(CloseReason{Code: CodeUnavailable, Text: "temporarily unavailable, try again later", Retry: true, WSStatus: 4503,
		SSEStatus: http.StatusOK})
	// ReasonInternal: something failed on the server side.
	ReasonInternal = reason(CloseReason{Code: CodeInternal, Text: "internal error", Retry: true, WSStatus: 1011,
		SSEEnd: SSEEndResponse, SSEStatus: http.StatusInternalServerError})
)

// CloseReasons lists every reason, for documentation and tests.
var CloseReasons = []*CloseReason{
	ReasonDone, ReasonShutdown, ReasonMessageTooBig, ReasonDropped,
	ReasonTooManyConnections, ReasonIdleTimeout, ReasonNotFound,
	ReasonSlowConsumer, ReasonBadRequest, ReasonInternal,
	ReasonRateLimited, ReasonInvalidUTF8, ReasonUnavailable,
}

// reason completes a table entry: its SSE field from the typed ones.
func reason(r CloseReason) *CloseReason {
	r.SSE = r.SSEText()
	return &r
}

// ReasonOf returns the CloseReason in err's chain, or nil.
func ReasonOf(err error) *CloseReason {
	var r *CloseReason
	if errors.As(err, &r) {
		return r
	}
	return nil
}

// ReasonFor returns what a connection shows when it ends, or a request is
// refused, because of err: the CloseReason in err's chain; for the hub's
// errors, ReasonDone (ErrEnded: the stream had already ended),
// ReasonShutdown (ErrClosed), ReasonBadRequest (ErrInvalidTopic) or
// ReasonUnavailable (ErrUnavailable: the broker does not answer); and
// ReasonInternal for any other error. Both transports' error paths use it.
func ReasonFor(err error) *CloseReason {
	if r := ReasonOf(err); r != nil {
		return r
	}
	switch {
	case errors.Is(err, ErrEnded):
		return ReasonDone
	case errors.Is(err, ErrClosed):
		return ReasonShutdown
	case errors.Is(err, ErrInvalidTopic):
		return ReasonBadRequest
	case errors.Is(err, ErrUnavailable):
		return ReasonUnavailable
	}
	return ReasonInternal
}

// Errors returned by the hub.
var (
	ErrClosed            = errors.New("transports: hub closed")
	ErrAlreadySubscribed = errors.New("transports: already subscribed")
	ErrTooManyTopics     = errors.New("transports: too many topics on one connection")
	ErrNotSubscribed     = errors.New("transports: not subscribed")
	ErrInvalidTopic      = errors.New("transports: invalid topic")
	ErrInvalidData       = errors.New("transports: event data must be a JSON object")
	ErrEnded             = errors.New("transports: stream already ended")
)
