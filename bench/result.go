package bench

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"time"
)

// Result is one scenario run: the JSON written to results/<scenario>-<date>.json.
// Field names are a public interface (scripts read them).
type Result struct {
	Scenario    string    `json:"scenario"`
	Config      Config    `json:"config"`
	Env         Env       `json:"env"`
	StartedAt   time.Time `json:"started_at"`
	EndedAt     time.Time `json:"ended_at"`
	Interrupted bool      `json:"interrupted"`
	// ServerMode says where the server came from: "spawned: fresh server per
	// transport" or "target: <urls>" (one server for both transports, run
	// one after the other).
	ServerMode string `json:"server_mode"`
	// Deployment, when the --target servers are the nodes of one
	// deployment on a shared broker, names the nodes, the broker and its
	// Redis version (cluster.go): subscribers are spread over the nodes and
	// each event is published through one node, the nodes in turn.
	Deployment *Deployment                 `json:"deployment,omitempty"`
	Transports map[string]*TransportResult `json:"transports"`
	// Floor is the machine's floor measured on the same workload in the
	// same run (fanout and sweep, unless --floor=false): plain TCP, one
	// write per delivery, no transport (see floor.go). It has a
	// TransportResult's shape; "server" figures are the floor writer
	// process's, "loadgen" figures its readers' (and this process's). With
	// several steps it is the last step's (fanout) or the best sustained
	// one's (sweep); every step's is in Sweep. Each transport's VsFloor
	// divides its figures by the floor's of the same step.
	Floor *TransportResult `json:"floor,omitempty"`
	// Sweep holds every step of a fanout run over several subscriber
	// counts (--subscribers 100,1000; Transports is the last step) or of
	// the sweep scenario's rising rate (Transports holds, per transport,
	// its highest step that met the limit, else its first step).
	Sweep []SweepStep `json:"sweep,omitempty"`
	// Saturation is the sweep scenario's verdict per transport and for
	// "floor".
	Saturation map[string]*Saturation `json:"saturation,omitempty"`
	Notes      []string               `json:"notes,omitempty"`

	// Hazards is the hazards scenario's outcome (Transports is empty).
	Hazards *HazardsResult `json:"hazards,omitempty"`
}

// SweepStep is one step of a sweep: one subscriber count of a fanout
// sweep, or one rate of the sweep scenario (a transport that already failed
// the limit is absent from the later steps).
type SweepStep struct {
	Subscribers int                         `json:"subscribers"`
	Rate        float64                     `json:"rate,omitempty"` // events/s per topic
	Transports  map[string]*TransportResult `json:"transports"`
	Floor       *TransportResult            `json:"floor,omitempty"`

	// Payload is the compression scenario's payload kind.
	Payload string `json:"payload,omitempty"`
}

// Saturation is one transport's (or the floor's) outcome of the sweep
// scenario: the rate rose step by step at a fixed subscriber count until a
// step missed the limit (p99 latency from schedule above --sweep-p99, or
// fewer deliveries than expected).
type Saturation struct {
	Subscribers int `json:"subscribers"`
	// MaxSustainedDeliveriesPerS is deliveries_per_s of the highest-rate
	// step that met the limit: p99 from schedule within it, 0 lost, every
	// expected delivery made; 0 when no step did.
	MaxSustainedDeliveriesPerS float64 `json:"max_sustained_deliveries_per_s"`
	SustainedRate              float64 `json:"sustained_rate"` // events/s per topic of that step (0: none)
	// FailedRate is the first rate that missed the limit (0: every step up
	// to --sweep-max met it); StoppedBecause says how it missed.
	FailedRate     float64 `json:"failed_rate,omitempty"`
	StoppedBecause string  `json:"stopped_because"`
	Steps          int     `json:"steps"`
}

// FloorMultiples is a transport's figures divided by the floor's of the
// same run and workload: 1.6 reads "1.6× the floor". A figure is omitted
// when either side lacks it.
type FloorMultiples struct {
	ServerCPU           float64 `json:"server_cpu,omitempty"`            // server_cpu_us_per_delivery
	LoadgenCPU          float64 `json:"loadgen_cpu,omitempty"`           // loadgen_cpu_us_per_delivery
	ServerWriteSyscalls float64 `json:"server_write_syscalls,omitempty"` // server_write_syscalls_per_delivery
	LatencyP50          float64 `json:"latency_p50,omitempty"`           // latency_ms.p50
	LatencyP99          float64 `json:"latency_p99,omitempty"`           // latency_ms.p99
}

// HoldRSS is the server's RSS over the connect scenario's hold: flat means
// idle connections cost nothing more as time passes.
type HoldRSS struct {
	StartBytes int64 `json:"start_bytes"` // when the ramp ended and the hold began
	EndBytes   int64 `json:"end_bytes"`   // at the end of the hold, every connection still open
	// GrowthBytesPerConn is (end − start) / connections open at the end.
	GrowthBytesPerConn float64 `json:"growth_bytes_per_conn"`
}

// TransportResult is everything measured for one transport in one run.
// Fields a scenario does not measure are zero or omitted.
type TransportResult struct {
	// NotSupported says why the target could not run the scenario on this
	// transport ("not supported by target: …"); every figure is then
	// absent, never a silent zero.
	NotSupported string `json:"not_supported,omitempty"`

	// Delivery latency (receive − the event's ts), all deliveries.
	LatencyMS Percentiles `json:"latency_ms"`
	// Latency from the publisher's schedule (receive − intended publish
	// time): includes the publish request and any server stall, so it is
	// free of coordinated omission.
	LatencyFromScheduleMS Percentiles `json:"latency_from_schedule_ms"`

	Expected       uint64  `json:"expected"`
	Delivered      uint64  `json:"delivered"`
	Lost           uint64  `json:"lost"`
	Duplicates     uint64  `json:"duplicates"`
	OutOfOrder     uint64  `json:"out_of_order"`
	Resets         uint64  `json:"resets"`
	DeliveriesPerS float64 `json:"deliveries_per_s"`
	// CrossNodeDeliveries counts, when the targets are the nodes of one
	// deployment (Result.Deployment), the deliveries to a subscriber on
	// another node than the one the event was published through.
	CrossNodeDeliveries uint64 `json:"cross_node_deliveries,omitempty"`

	Connections Connections `json:"connections"`
	ConnectMS   Percentiles `json:"connect_ms"`

	// Server process figures, where measured (a spawned server is read
	// from /proc, a target from its /api/stats).
	ServerRSSBytes       int64   `json:"server_rss_bytes,omitempty"`        // at peak
	ServerRSSBeforeBytes int64   `json:"server_rss_before_bytes,omitempty"` // before the clients connected
	ServerBytesPerConn   float64 `json:"server_bytes_per_conn,omitempty"`   // connect: (at the end of the hold − before) / connections open then
	ServerCPUPercent     float64 `json:"server_cpu_pct,omitempty"`          // mean over the measurement, 100 = one core
	// Where a connection's memory goes (connect, when /api/stats says): Go
	// heap in use and goroutines, per connection, at the end of the hold
	// (every connection open) against the baseline before the clients.
	ServerHeapBytesPerConn  float64 `json:"server_heap_bytes_per_conn,omitempty"`
	ServerGoroutinesPerConn float64 `json:"server_goroutines_per_conn,omitempty"`
	// Goroutine stacks per connection ("stacks_bytes" of /api/stats), the
	// same way.
	ServerStacksBytesPerConn float64 `json:"server_stacks_bytes_per_conn,omitempty"`
	ServerGoroutines         int     `json:"server_goroutines,omitempty"` // at the end, when /api/stats says
	// ServerRSSHold is RSS at the start and at the end of the connect
	// scenario's hold.
	ServerRSSHold *HoldRSS `json:"server_rss_hold,omitempty"`
	// LoadgenCPUPercent is the load generator's own CPU (every worker and
	// the parent), mean over the measurement: near 100 × cores, it, not the
	// server, limits the figures.
	LoadgenCPUPercent float64 `json:"loadgen_cpu_pct,omitempty"`
	// MachineCPUPercent is every process's CPU on this machine (/proc/stat),
	// mean over the phase: well above server + loadgen means something else
	// was running and the figures are noisy.
	MachineCPUPercent float64 `json:"machine_cpu_pct,omitempty"`

	// Cost per delivery (fanout and sweep), over the publishing phase: from
	// the publisher's first event until every subscriber had every event
	// (or the drain gave up; CostWindowS long), divided by Delivered.
	// Omitted where not measured.
	//
	// ServerCPUUsPerDelivery is the server's utime+stime (/proc of a
	// spawned server, "cpu" of /api/stats for a target); it includes the
	// server's handling of the publish requests (one per event, 1/N per
	// delivery). LoadgenCPUUsPerDelivery is every load generator process:
	// this one (which also publishes) and each worker.
	// ServerWriteSyscallsPerDelivery is the delta of syscw in
	// /proc/<pid>/io (spawned servers only: a --target has no pid here);
	// below 1 means several deliveries went out in one write.
	// ServerAllocsPerDelivery is the delta of the server's
	// /gc/heap/allocs:objects ("allocs_objects" of /api/stats). All four
	// include what else the process did meanwhile (a /api/stats request a
	// second, heartbeats).
	ServerCPUUsPerDelivery         float64 `json:"server_cpu_us_per_delivery,omitempty"`
	LoadgenCPUUsPerDelivery        float64 `json:"loadgen_cpu_us_per_delivery,omitempty"`
	ServerWriteSyscallsPerDelivery float64 `json:"server_write_syscalls_per_delivery,omitempty"`
	ServerAllocsPerDelivery        float64 `json:"server_allocs_per_delivery,omitempty"`
	CostWindowS                    float64 `json:"cost_window_s,omitempty"`
	// VsFloor is this transport's figures as multiples of the floor's
	// (Result.Floor or the step's), when the floor ran.
	VsFloor *FloorMultiples `json:"vs_floor,omitempty"`
	// Wire is the bytes on the wire per delivered event, counted at the
	// clients' sockets (fanout, sweep; wire.go).
	Wire *WireResult `json:"wire,omitempty"`
	// ServerBytesPerSubscriber is (peak server RSS − RSS before the
	// clients) / subscribers (fanout).
	ServerBytesPerSubscriber float64 `json:"server_bytes_per_subscriber,omitempty"`

	Reconnect *Reconnect   `json:"reconnect,omitempty"`
	Tasks     *TasksResult `json:"tasks,omitempty"`
	Publisher *Publisher   `json:"publisher,omitempty"`

	DurationS  float64    `json:"duration_s"`            // measured phase
	LatencyCDF []CDFPoint `json:"latency_cdf,omitempty"` // for the CDF chart
	LatencyHDR string     `json:"latency_hdr,omitempty"` // the full histogram, V2 base64, µs
	Series     []Sample   `json:"series,omitempty"`      // one sample a second
	Server     *Server    `json:"server,omitempty"`
}

// Connections counts clients: attempted (started), established (connected
// at least once), failed (never connected, or lost during a hold that should
// have kept them), peak (most connected at once, sampled every second).
type Connections struct {
	Attempted   int            `json:"attempted"`
	Established int            `json:"established"`
	Failed      int            `json:"failed"`
	Peak        int            `json:"peak"`
	HeldS       float64        `json:"held_s,omitempty"`
	Failures    map[string]int `json:"failures,omitempty"` // by cause
	// Reconnects counts connections re-established after the server or the
	// network ended one; Disconnects says why they ended, by cause.
	Reconnects  int            `json:"reconnects"`
	Disconnects map[string]int `json:"disconnects,omitempty"`
}

// Reconnect is what happened after the server dropped every connection.
// Times are from the drop (the admin request, or the restart) until each
// client's next connection was established.
type Reconnect struct {
	Mode       string  `json:"mode"` // "drop" or "restart"
	Dropped    int     `json:"dropped"`
	Back       int     `json:"back"`
	NotBack    int     `json:"not_back"`
	P50MS      float64 `json:"p50_ms"`
	P90MS      float64 `json:"p90_ms"`
	P99MS      float64 `json:"p99_ms"`
	MaxMS      float64 `json:"max_ms"`
	Lost       uint64  `json:"lost"`
	Duplicates uint64  `json:"duplicates"`
	// PeakPer100ms is the most reconnections in one 100 ms bucket: a herd
	// shows as one tall bucket, jitter spreads it.
	PeakPer100ms int `json:"peak_per_100ms"`
	// PeakPerS is PeakPer100ms × 10: the peak rate at which the server
	// accepted the reconnections.
	PeakPerS int `json:"peak_accepts_per_s"`
	// ListenOverflows and ListenDrops are the machine's TcpExt
	// ListenOverflows and ListenDrops (nstat, /proc/net/netstat) over the
	// storm: connections the kernel refused because the accept queue was
	// full, which clients retry after a SYN timeout (~1 s): the waves of a
	// slow herd.
	ListenOverflows uint64 `json:"listen_overflows"`
	ListenDrops     uint64 `json:"listen_drops"`
	// DropPaceMS is how long the server spread the drop over (0: at once).
	DropPaceMS int64    `json:"drop_pace_ms"`
	Timeline   []Bucket `json:"timeline,omitempty"`
}

// Bucket is one 100 ms bucket of the reconnect timeline.
type Bucket struct {
	TMS        int     `json:"t_ms"`
	Reconnects int     `json:"reconnects"`
	BackPct    float64 `json:"back_pct"` // cumulative
}

// TasksResult is the tasks scenario's outcome per transport.
type TasksResult struct {
	Tasks      int         `json:"tasks"`
	Watchers   int         `json:"watchers_per_task"`
	EndToEndMS Percentiles `json:"end_to_end_ms"` // POST /api/tasks → terminal event, per watcher
	Completed  int         `json:"completed"`
	Failed     int         `json:"failed"`
	Unfinished int         `json:"unfinished"` // watchers that saw no terminal event
	Consistent bool        `json:"consistent"` // every watcher of a task saw the same final event
	Mismatches int         `json:"mismatches"`
}

// Publisher describes the open-loop publisher. Each scheduled publish
// starts at its due time in its own goroutine (at most 256 requests in
// flight per target and topic), so a slow server delays answers, not the
// schedule; a fanout run publishes exactly Scheduled events.
type Publisher struct {
	// Scheduled is round(rate × duration) × topics × targets for a run of
	// fixed length (fanout); 0 when publishing until stopped (reconnect).
	Scheduled int    `json:"scheduled,omitempty"`
	Published int    `json:"published"` // answered with a seq
	Errors    int    `json:"errors"`    // failed requests (no seq assigned)
	LastError string `json:"last_error,omitempty"`
	Skipped   int    `json:"skipped,omitempty"` // ticks skipped while the server restarted
	// InFlight is the requests still unanswered when sampled (0 at the
	// end); PeakInFlight the most at once, over all topics; WaitedForSlot
	// counts publishes that found 256 in flight on their topic and waited.
	InFlight      int `json:"in_flight,omitempty"`
	PeakInFlight  int `json:"peak_in_flight,omitempty"`
	WaitedForSlot int `json:"waited_for_slot,omitempty"`
	// RequestMS is the publish request latency measured from the publish's
	// scheduled time to the server's answer. The publisher is open-loop,
	// so this is free of coordinated omission (a wait for a free slot is
	// included).
	RequestMS Percentiles `json:"request_ms"`
	MaxLagMS  float64     `json:"max_lag_ms"` // furthest a request started behind its schedule
}

// Sample is one point of the time series (one a second).
type Sample struct {
	TS             float64 `json:"t_s"`
	Connections    int     `json:"connections"`
	Failed         int     `json:"failed"`
	DeliveriesPerS float64 `json:"deliveries_per_s"`
	P99MS          float64 `json:"p99_ms"`
	ServerRSSBytes int64   `json:"server_rss_bytes,omitempty"`
	ServerCPUPct   float64 `json:"server_cpu_pct,omitempty"`
	LoadgenCPUPct  float64 `json:"loadgen_cpu_pct,omitempty"`
	SystemCPUPct   float64 `json:"machine_cpu_pct,omitempty"`
}

// Server identifies the server measured.
type Server struct {
	URL string `json:"url"`
	// Kind is the target kind (twinstream, centrifugo, custom) and Name
	// a custom target file's name; Version what the binary says of itself.
	Kind     string   `json:"kind,omitempty"`
	Name     string   `json:"name,omitempty"`
	Version  string   `json:"version,omitempty"`
	PID      int      `json:"pid,omitempty"`
	Bin      string   `json:"bin,omitempty"`
	Args     []string `json:"args,omitempty"`
	Affinity string   `json:"affinity,omitempty"` // Cpus_allowed_list
}

// WriteJSON writes r, indented, to path (creating its directory).
func (r *Result) WriteJSON(path string) error {
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return fmt.Errorf("bench: encoding result: %w", err)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	return os.WriteFile(path, append(b, '\n'), 0o644)
}

// ReadResult reads a result file.
func ReadResult(path string) (*Result, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var r Result
	if err := json.Unmarshal(b, &r); err != nil {
		return nil, fmt.Errorf("bench: %s: %w", path, err)
	}
	if r.Scenario == "" || r.Transports == nil {
		return nil, fmt.Errorf("bench: %s: not a loadgen result (no scenario or transports)", path)
	}
	return &r, nil
}

// DefaultPath is results/<scenario>-<date>.json under dir.
func DefaultPath(dir, scenario string, t time.Time) string {
	return filepath.Join(dir, fmt.Sprintf("%s-%s.json", scenario, t.UTC().Format("20060102-150405")))
}

// Duration is a time.Duration that encodes as a string ("60s") in JSON and
// decodes from a string or a number of nanoseconds.
type Duration time.Duration

// MarshalJSON implements json.Marshaler.
func (d Duration) MarshalJSON() ([]byte, error) { return json.Marshal(time.Duration(d).String()) }

// UnmarshalJSON implements json.Unmarshaler.
func (d *Duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err == nil {
		v, err := time.ParseDuration(s)
		if err != nil {
			return err
		}
		*d = Duration(v)
		return nil
	}
	var n int64
	if err := json.Unmarshal(b, &n); err != nil {
		return fmt.Errorf("bench: duration must be a string like \"60s\": %s", b)
	}
	*d = Duration(n)
	return nil
}

// D returns the time.Duration.
func (d Duration) D() time.Duration { return time.Duration(d) }
