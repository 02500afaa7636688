package bench

// SSEH2 is the result key of SSE measured over HTTP/2 (--sse-http 2): the
// same SSE transport, its clients multiplexing many streams on each TCP
// connection.
const SSEH2 = "sse-h2"
