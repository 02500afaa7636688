package bench

import "time"

// WireResult is what a transport's clients received on their sockets, per
// delivered event (fanout, sweep): counted at the socket by every
// worker's wireMeter and classified by what the bytes carry (wiretap.go).
// The payload is the event's JSON text; everything else a delivery costs
// on the wire is itemized next to it. Connection setup (TLS handshake,
// response head, the first frames) and heartbeats are kept apart: they
// cost per connection and per minute, not per event.
type WireResult struct {
	// PayloadBytesPerEvent is the mean event JSON (0 when every event was
	// compressed: see CompressedPerEvent).
	PayloadBytesPerEvent float64 `json:"payload_bytes_per_event"`
	// BytesPerEvent is every byte received at the socket, less setup,
	// heartbeats and control frames, per delivered event: payload,
	// framing, chunked encoding, id: lines, HTTP/2 frames, TLS records.
	BytesPerEvent float64 `json:"bytes_per_event"`
	// Per delivered event: WebSocket frame headers or SSE "data: " and
	// line ends; chunk-size lines; SSE id: lines; HTTP/2 frame headers and
	// flow control; TLS record overhead; compressed payloads (permessage-
	// deflate messages, gzip bodies).
	FramingPerEvent    float64 `json:"framing_per_event"`
	ChunkedPerEvent    float64 `json:"chunked_per_event,omitempty"`
	IDLinesPerEvent    float64 `json:"id_lines_per_event,omitempty"`
	H2FramingPerEvent  float64 `json:"h2_framing_per_event,omitempty"`
	TLSPerEvent        float64 `json:"tls_per_event,omitempty"`
	CompressedPerEvent float64 `json:"compressed_per_event,omitempty"`
	// HeartbeatBytes is every heartbeat byte received (WebSocket ping
	// frames and app-level pings; SSE comment lines), and per connection
	// and minute of the measurement.
	HeartbeatBytes              uint64  `json:"heartbeat_bytes"`
	HeartbeatBytesPerConnMinute float64 `json:"heartbeat_bytes_per_conn_minute"`
	// SetupBytesPerConn is, per TCP connection, the TLS handshake and the
	// response heads (an HTTP/2 connection carries many streams' heads)
	// and control frames such as subscribed and retry:.
	SetupBytesPerConn float64 `json:"setup_bytes_per_conn"`
	// UpstreamBytesPerEvent is what the clients sent (requests, pongs,
	// masks, HTTP/2 WINDOW_UPDATEs, TLS), per delivered event.
	UpstreamBytesPerEvent float64 `json:"upstream_bytes_per_event"`
	// TCPConnections is how many the clients opened, TCPConnectionsPeak
	// the most open at once (summed over worker processes).
	TCPConnections     uint64    `json:"tcp_connections"`
	TCPConnectionsPeak uint64    `json:"tcp_connections_peak"`
	Totals             WireCount `json:"totals"`
}

// wireResult turns the workers' counts into per-event figures over
// delivered events and a measurement of elapsed.
func wireResult(n WireCount, delivered uint64, elapsed time.Duration) *WireResult {
	w := &WireResult{Totals: n, HeartbeatBytes: n.Heartbeat, TCPConnections: n.Conns, TCPConnectionsPeak: n.ConnsPeak}
	per := func(v uint64) float64 {
		if delivered == 0 {
			return 0
		}
		return round3(float64(v) / float64(delivered))
	}
	if n.Events > 0 {
		w.PayloadBytesPerEvent = round3(float64(n.Payload) / float64(n.Events))
	}
	var tlsRecords uint64
	if n.RxSocket > n.TLSHandshake+n.Plain {
		tlsRecords = n.RxSocket - n.TLSHandshake - n.Plain
	}
	streamed := n.Payload + n.Framing + n.Chunked + n.IDLines + n.H2Framing + n.Compressed + tlsRecords
	w.BytesPerEvent = per(streamed)
	w.FramingPerEvent, w.ChunkedPerEvent, w.IDLinesPerEvent = per(n.Framing), per(n.Chunked), per(n.IDLines)
	w.H2FramingPerEvent, w.TLSPerEvent, w.CompressedPerEvent = per(n.H2Framing), per(tlsRecords), per(n.Compressed)
	w.UpstreamBytesPerEvent = per(n.TxSocket)
	if n.Conns > 0 {
		w.SetupBytesPerConn = round3(float64(n.TLSHandshake+n.Head+n.Control) / float64(n.Conns))
		if m := elapsed.Minutes(); m > 0 && n.ConnsPeak > 0 {
			w.HeartbeatBytesPerConnMinute = round3(float64(n.Heartbeat) / float64(n.ConnsPeak) / m)
		}
	}
	return w
}
