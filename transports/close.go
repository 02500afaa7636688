package transports

import "errors"

// A CloseReason says why the server ends a stream, and how each transport
// shows it. All reasons the server can give are in [CloseReasons]; this file
// is the one table of them.
type CloseReason struct {
	Code     string // stable machine name, also the error frame code where one is sent
	WSStatus int    // WebSocket close code
	Text     string // WebSocket close reason text and error message
	SSE      string // what an SSE client sees
	Retry    bool   // whether a client should reconnect (and resume)
}

// Error implements error so that a reason can be a Subscriber's close cause.
func (r *CloseReason) Error() string { return r.Code + ": " + r.Text }

// The reasons a stream ends. WebSocket codes 1000–1013 are RFC 6455 / IANA
// codes; 4000–4999 are twinstream's own.
var (
	// ReasonDone: the stream is complete (a task reached completed/failed).
	ReasonDone = &CloseReason{"done", 1000, "stream complete", "response ends; a reconnect gets 204 No Content so EventSource stops", false}
	// ReasonShutdown: the server is shutting down.
	ReasonShutdown = &CloseReason{"shutdown", 1001, "server shutting down", "response ends; EventSource reconnects after retry", true}
	// ReasonMessageTooBig: a client frame exceeded the read limit.
	ReasonMessageTooBig = &CloseReason{CodeMessageTooBig, 1009, "message over the read limit", "not applicable (POST bodies over the limit get 413 JSON)", false}
	// ReasonDropped: an operator dropped the transport's connections (admin endpoint).
	ReasonDropped = &CloseReason{"dropped", 1012, "dropped by server, reconnect and resume", "response ends; EventSource reconnects with Last-Event-ID", true}
	// ReasonTooManyConnections: a global or per-IP connection limit was hit.
	ReasonTooManyConnections = &CloseReason{CodeTooManyConnections, 1013, "too many connections, try again later", "200 text/event-stream with retry: and an error frame, then the response ends, so EventSource retries later (503 would make it give up for good)", true}
	// ReasonIdleTimeout: the peer did not answer heartbeats in time.
	ReasonIdleTimeout = &CloseReason{"idle_timeout", 4000, "heartbeat timeout", "not applicable (a dead SSE peer shows as a failed write)", true}
	// ReasonNotFound: the requested task or stream does not exist.
	ReasonNotFound = &CloseReason{CodeNotFound, 4004, "not found", "404 with a JSON error body", false}
	// ReasonSlowConsumer: the client did not read fast enough and its queue filled.
	ReasonSlowConsumer = &CloseReason{CodeSlowConsumer, 4008, "client too slow, reconnect and resume", "response ends; EventSource reconnects with Last-Event-ID", true}
	// ReasonBadRequest: the connect request was malformed (bad cursor, bad topic).
	ReasonBadRequest = &CloseReason{CodeInvalidMessage, 4400, "bad request", "400 with a JSON error body", false}
	// ReasonInternal: something failed on the server side.
	ReasonInternal = &CloseReason{CodeInternal, 1011, "internal error", "500 with a JSON error body before the stream starts; the response ends after", true}
)

// CloseReasons lists every reason, for documentation and tests.
var CloseReasons = []*CloseReason{
	ReasonDone, ReasonShutdown, ReasonMessageTooBig, ReasonDropped,
	ReasonTooManyConnections, ReasonIdleTimeout, ReasonNotFound,
	ReasonSlowConsumer, ReasonBadRequest, ReasonInternal,
}

// ReasonOf returns the CloseReason in err's chain, or nil.
func ReasonOf(err error) *CloseReason {
	var r *CloseReason
	if errors.As(err, &r) {
		return r
	}
	return nil
}

// ReasonFor returns the CloseReason in err's chain, or ReasonInternal when
// err carries none: what a connection shows when it ends because of err.
func ReasonFor(err error) *CloseReason {
	if r := ReasonOf(err); r != nil {
		return r
	}
	return ReasonInternal
}

// Errors returned by the hub.
var (
	ErrClosed            = errors.New("transports: hub closed")
	ErrAlreadySubscribed = errors.New("transports: already subscribed")
	ErrNotSubscribed     = errors.New("transports: not subscribed")
	ErrInvalidTopic      = errors.New("transports: invalid topic")
	ErrInvalidData       = errors.New("transports: event data must be a JSON object")
	ErrEnded             = errors.New("transports: stream already ended")
)
