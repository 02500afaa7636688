// Package bench is twinstream's measurement engine, shared by cmd/loadgen
// and the go test benchmarks: it runs the same workload over WebSocket and
// SSE and reports both side by side.
//
// # Accounting
//
// Every client owns a Sub: one SeqTracker per topic and server epoch, which
// keeps only the lowest and highest seq received and the gaps between, so
// loss, duplicates and reordering are exact at any length. The open-loop
// publisher sends round(rate × duration) events per topic, each at its due
// time in a request of its own (many in flight when the server is slow, so
// the workload does not shrink with the server's speed), and records the
// seq range each server assigned (a Window: the lowest and highest seq
// answered; a failed request assigns none); at the end every subscriber is
// expected to hold every seq of its windows once.
// Delivery latency (receive time − the event's ts) and latency from the
// publisher's schedule (free of coordinated omission) go into HDR
// histograms in microseconds, sharded to keep thousands of receivers off
// one lock (Recorder).
//
// # Processes
//
// A process may open at most 20,000 files on the reference machine, so a
// Runner spreads each transport's clients over worker processes (loadgen
// worker; RunWorker; the floor's readers are loadgen floor-reader)
// driven over stdin/stdout with one JSON message a line
// (proto.go), and over loopback source addresses 127.0.0.2… so that no
// address runs out of ephemeral ports. Workers send progress once a second
// and, at the end, their encoded histograms and counts, which the parent
// merges. A worker observes its clients' HTTP round trips (the WebSocket
// handshake is one too): connect time, connection count and failure causes
// come from there, the same way for both transports.
//
// # Scenarios
//
// fanout, sweep, connect, reconnect and tasks (see Runner.Run) each run one
// transport at a time against a fresh spawned demo server (or the same
// --target servers), sampling the server's RSS and CPU from /proc (or its
// /api/stats), the load generator's own CPU and the whole machine's, so a
// reader can tell when the machine, not the server, set the figures.
// sweep is fanout at a fixed subscriber count with the rate rising step by
// step (Config.SweepRates) until a step's p99 latency from schedule passes
// Config.SweepP99 or it delivers fewer events than expected; the last step
// that met the limit gives each transport's highest sustained deliveries/s
// (Result.Saturation).
//
// # Cost per delivery
//
// Every fanout (and sweep) step measures what one delivery costs over its
// publishing phase, from just before the first event until the workers
// report every expected delivery (or deliveries stall for 5 s, or the
// drain passes), before the clients disconnect: the server's utime+stime
// (/proc/<pid>/stat of a spawned server, /api/stats "cpu" of a target), the
// CPU of every load generator process (this one, which publishes, and each
// worker, from /proc), the server's write syscalls (syscw of
// /proc/<pid>/io; spawned servers only) and its heap allocations (the Go
// runtime's /gc/heap/allocs:objects, "allocs_objects" of /api/stats), each
// divided by the deliveries (TransportResult.ServerCPUUsPerDelivery and
// the rest).
//
// # The floor
//
// A figure without its floor is half a figure. After the transports, every
// fanout and sweep step runs the same workload on the plainest code that
// can carry it (Floor; floor.go): a writer process of its own
// (RunFloorServer, `loadgen floor-server`, measured from /proc like a
// spawned server) that encodes each event once, as the transports' wire
// JSON plus a newline, and writes it to each of its N TCP connections with
// one write(2) apiece, no queue, no batching; and readers in worker
// processes (RunFloorReader, `loadgen floor-reader`, the worker protocol)
// that parse the records in place and account them through the same Sub
// as the transports' clients. Result.Floor (and each SweepStep.Floor)
// holds its figures; each transport's VsFloor divides its own by them, so
// a report reads "WS server: 1.6× floor". The floor always runs on this
// machine's loopback, also with --target; Config.NoFloor (--floor=false)
// skips it.
//
// # Targets
//
// A target is a server of a kind (--target KIND=URL; TargetKinds): its
// adapter (adapter.go) says what a scenario can do there, publishes, counts
// and drops connections, and gives the workers the client side of its
// protocol (clientProto: each connection's URL and first message, where the
// events are in what arrives). twinstream servers speak the wire format;
// Centrifugo v6 (centrifugo.go) and any server a target file describes
// (TargetFile, custom.go) get the load generator's stamp in each payload
// ({"lg_ts","lg_i","pad"}, stamp.go), which the clients account like a seq
// and a ts. Their clients are always the lean ones. A scenario a target
// cannot run is TransportResult.NotSupported, never zeros. Config.Spawn
// runs Centrifugo or the seed-style FastAPI server (bench/peers/fastapi)
// fresh per transport like the demo (peers.go), and PeersSuite
// (`loadgen peers`) compares them side by side.
//
// Package bench/report renders results as Markdown with SVG charts.
package bench
