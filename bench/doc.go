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
// worker; RunWorker) driven over stdin/stdout with one JSON message a line
// (proto.go), and over loopback source addresses 127.0.0.2… so that no
// address runs out of ephemeral ports. Workers send progress once a second
// and, at the end, their encoded histograms and counts, which the parent
// merges. A worker observes its clients' HTTP round trips (the WebSocket
// handshake is one too): connect time, connection count and failure causes
// come from there, the same way for both transports.
//
// # Scenarios
//
// fanout, connect, reconnect and tasks (see Runner.Run) each run one
// transport at a time against a fresh spawned demo server (or the same
// --target servers), sampling the server's RSS and CPU from /proc (or its
// /metrics), the load generator's own CPU and the whole machine's, so a
// reader can tell when the machine, not the server, set the figures.
//
// Package bench/report renders results as Markdown with SVG charts.
package bench
