package bench

// The worker protocol: the parent writes one JSON command a line to a
// worker's stdin, the worker writes one JSON message a line to its stdout.
// A worker whose stdin closes stops its clients and exits.
//
//	parent → worker: {"op":"start","spec":{...}}
//	                 {"op":"mark","t_ns":...}             (reconnect: the drop happened now)
//	                 {"op":"hold"}                        (connect: from now on a lost connection is a failure)
//	                 {"op":"finish","windows":[...],"drain":"10s"}
//	worker → parent: {"type":"progress",...} once a second
//	                 {"type":"result","result":{...}}     (answer to finish)
//	                 {"type":"error","error":"..."}

// Worker operations.
const (
	opStart  = "start"
	opMark   = "mark"
	opHold   = "hold"
	opFinish = "finish"
)

// Worker message types.
const (
	msgProgress = "progress"
	msgResult   = "result"
	msgError    = "error"
)

// WorkerSpec tells a worker which clients to run. Client i (global index,
// First ≤ i < First+Count) connects to Targets[i % len(Targets)] + the path
// of Streams[(i / len(Targets)) % len(Streams)], from SourceIPs[i %
// len(SourceIPs)] when given. With PinnedStreams, client i follows
// Streams[i % len(Streams)] on that stream's own Target.
type WorkerSpec struct {
	Worker    int          `json:"worker"`
	Transport string       `json:"transport"`
	Targets   []string     `json:"targets"`
	Streams   []StreamSpec `json:"streams"`
	// PinnedStreams: each stream lives on one target (tasks).
	PinnedStreams bool     `json:"pinned_streams,omitempty"`
	First         int      `json:"first"`
	Count         int      `json:"count"`
	SourceIPs     []string `json:"source_ips,omitempty"`
	// ConnectRate paces first connections (per second, this worker); 0 is
	// unpaced. MaxDialing bounds first handshakes in flight (default 256).
	ConnectRate float64 `json:"connect_rate"`
	MaxDialing  int     `json:"max_dialing"`
	// Backoff is the client's reconnect schedule.
	Backoff BackoffConfig `json:"backoff"`
	// NoReconnect stops a client after its first failure or disconnect
	// (connect scenario: every such client is a failure).
	NoReconnect bool `json:"no_reconnect"`
	// HandshakeTimeout bounds one connection attempt (default 30s).
	HandshakeTimeout Duration `json:"handshake_timeout"`
	// CPUProfile, when set, is a file the worker writes its CPU profile to
	// (pprof), for finding where the load generator's time goes.
	CPUProfile string `json:"cpu_profile,omitempty"`
	// ProgressEvery is the progress interval (default 1s).
	ProgressEvery Duration `json:"progress_every"`
	// HTTP2 runs SSE clients over HTTP/2 (an https target): many streams
	// per TCP connection (wiredial.go). WSCompression is the WebSocket
	// clients' permessage-deflate mode (ws.ParseCompression's names; ""
	// is off). Gzip makes SSE clients accept gzip.
	HTTP2         bool   `json:"http2,omitempty"`
	WSCompression string `json:"ws_compression,omitempty"`
	Gzip          bool   `json:"gzip,omitempty"`
	// Adapters, when set, has one entry per target: how the clients of
	// a target that is not twinstream speak to it (nil entries are
	// twinstream servers). Such clients are always lean clients.
	Adapters []*AdapterSpec `json:"adapters,omitempty"`
	// Client picks the subscriber client: ClientProduct (the default) runs
	// the transports' Go clients, ws.Client and sse.Client; ClientLean runs
	// bench's minimal clients (lean.go), which check and account every
	// delivery the same way at a fraction of the CPU. fanout and connect
	// measure the server and may use ClientLean; reconnect and tasks measure
	// the product clients' own behaviour and keep ClientProduct.
	Client string `json:"client,omitempty"`
}

// Subscriber clients a worker can run (WorkerSpec.Client).
const (
	ClientProduct = "product" // the transports' Go clients ("" means this too)
	ClientLean    = "lean"    // bench's minimal clients
)

// StreamSpec is one stream clients open: a path with query (such as
// "/sse?topic=bench-0" or "/ws/tasks/42") and the topics it follows.
type StreamSpec struct {
	Path   string   `json:"path"`
	Topics []string `json:"topics"`
	Target int      `json:"target,omitempty"` // with PinnedStreams
}

type command struct {
	Op      string      `json:"op"`
	Spec    *WorkerSpec `json:"spec,omitempty"`
	TNS     int64       `json:"t_ns,omitempty"`
	Windows []Window    `json:"windows,omitempty"`
	Drain   Duration    `json:"drain,omitempty"`
}

type message struct {
	Type     string        `json:"type"`
	Progress *Progress     `json:"progress,omitempty"`
	Result   *WorkerResult `json:"result,omitempty"`
	Error    string        `json:"error,omitempty"`
	worker   int
}

// Progress is a worker's state, sent once a second.
type Progress struct {
	Worker      int     `json:"worker"`
	TNS         int64   `json:"t_ns"`
	Attempted   int     `json:"attempted"`   // clients started
	Connected   int     `json:"connected"`   // connected now
	Established int     `json:"established"` // connected at least once
	Failed      int     `json:"failed"`      // clients counted as failed
	Settled     int     `json:"settled"`     // established or given up
	Back        int     `json:"back"`        // reconnected since the mark
	Ended       int     `json:"ended"`       // streams that ended normally
	Deliveries  uint64  `json:"deliveries"`
	WindowHDR   string  `json:"window_hdr,omitempty"` // latencies since the previous progress
	CPUSeconds  float64 `json:"cpu_s"`                // the worker process's CPU time so far
}

// WorkerResult is a worker's final account.
type WorkerResult struct {
	Worker      int            `json:"worker"`
	Clients     int            `json:"clients"`
	Attempted   int            `json:"attempted"`
	Established int            `json:"established"`
	Failed      int            `json:"failed"`
	Peak        int            `json:"peak"`
	Failures    map[string]int `json:"failures,omitempty"`
	Disconnects map[string]int `json:"disconnects,omitempty"`
	Reconnects  int            `json:"reconnects"`
	ConnectHDR  string         `json:"connect_hdr"`
	LatencyHDR  string         `json:"latency_hdr"`
	ScheduleHDR string         `json:"schedule_hdr"`
	Deliveries  uint64         `json:"deliveries"`
	LastNS      int64          `json:"last_ns"` // latest delivery, unix ns
	Tally       Tally          `json:"tally"`
	// BackNS is, per client, unix ns of its first connection after the
	// mark (0: not back).
	BackNS []int64 `json:"back_ns,omitempty"`
	// Finals is, per client, the last event it received (tasks).
	Finals []Final `json:"finals,omitempty"`
	// Drained says whether every client reached the end of every window
	// before the drain timeout.
	Drained bool `json:"drained"`
	// Wire is what the clients' sockets received and sent, classified
	// (wiretap.go).
	Wire *WireCount `json:"wire,omitempty"`
}

// Final is the last event one client received, and whether its stream
// ended normally.
type Final struct {
	Stream int    `json:"stream"`
	Kind   string `json:"kind"`
	Seq    uint64 `json:"seq"`
	Data   string `json:"data"` // sha256 of the data, hex, first 16 chars
	// Status is data.status of a snapshot (the task's state when the
	// client connected); empty for other kinds.
	Status string `json:"status,omitempty"`
	AtNS   int64  `json:"at_ns"`
	Ended  bool   `json:"ended"`
}
