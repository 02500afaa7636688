package bench

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"sync"
	"syscall"
	"time"
)

// Floor names the floor in results and worker specs. It is a measurement
// instrument, not a transport: the plainest code that moves the same
// workload across the same machine.
//
// Each fanout step (and each sweep step) runs it after the transports, on
// the same subscriber count, topics, rate, event size and duration: a writer
// process (RunFloorServer, `loadgen floor-server`, measured from /proc like a
// spawned demo server) that writes each event's wire JSON plus a newline to
// each of its N TCP connections with one write(2) apiece, and readers in
// worker processes (RunFloorReader, `loadgen floor-reader`) that parse those
// records and account them through the same Sub as the transports' clients
// (seq, loss, latency from ts and from the schedule). What a transport costs
// above it — per delivery in CPU on either side, write syscalls, and in
// latency — is what the transport, its libraries and HTTP add; the floor
// itself is the kernel's TCP and the Go runtime's netpoller on this machine.
// It always runs on this machine's loopback, also when --target points
// elsewhere.
const Floor = "floor"

// floorMultiples divides a transport's figures by the floor's (nil when the
// floor has none of them).
func floorMultiples(tr, floor *TransportResult) *FloorMultiples {
	if tr == nil || floor == nil {
		return nil
	}
	m := &FloorMultiples{
		ServerCPU:           ratio(tr.ServerCPUUsPerDelivery, floor.ServerCPUUsPerDelivery),
		LoadgenCPU:          ratio(tr.LoadgenCPUUsPerDelivery, floor.LoadgenCPUUsPerDelivery),
		ServerWriteSyscalls: ratio(tr.ServerWriteSyscallsPerDelivery, floor.ServerWriteSyscallsPerDelivery),
	}
	if tr.LatencyMS.Count > 0 && floor.LatencyMS.Count > 0 {
		m.LatencyP50 = ratio(tr.LatencyMS.P50, floor.LatencyMS.P50)
		m.LatencyP99 = ratio(tr.LatencyMS.P99, floor.LatencyMS.P99)
	}
	if *m == (FloorMultiples{}) {
		return nil
	}
	return m
}

// ratio is a / b to 3 significant digits (0 unless both are positive).
func ratio(a, b float64) float64 {
	if a <= 0 || b <= 0 {
		return 0
	}
	return roundSig(a/b, 3)
}

// setVsFloor sets every transport's VsFloor against floor.
func setVsFloor(ts map[string]*TransportResult, floor *TransportResult) {
	for _, tr := range ts {
		tr.VsFloor = floorMultiples(tr, floor)
	}
}

// floorOne measures the floor on a fanout step's workload (with the
// configured topics, size and duration).
func (r *Runner) floorOne(ctx context.Context, st fanoutStep) (*TransportResult, error) {
	c := r.Config
	n, rate := st.n, st.rate
	label := fmt.Sprintf(st.label, Floor)
	w, err := r.startFloorWriter(ctx)
	if err != nil {
		return nil, err
	}
	defer w.stop(10 * time.Second)
	topics := topicNames("floor", c.Topics)
	streams := make([]StreamSpec, len(topics))
	for i, t := range topics {
		streams[i] = StreamSpec{Path: t, Topics: []string{t}}
	}
	specs := r.specs(Floor, nil, streams, n, func(s *WorkerSpec) { s.Targets = []string{w.addr} })
	ph, err := r.startPhase(ctx, label, nil, specs)
	if err != nil {
		return nil, err
	}
	defer ph.close()
	if w.pid > 0 {
		ph.setLocalServer(w.pid)
	}
	if !ph.waitFor(ctx, r.connectTimeout(n), func(p Progress) bool { return p.Settled >= n }) && ctx.Err() == nil {
		fmt.Fprintf(r.logw(), "[%s] not every reader connected in time; measuring those that did\n", label)
	}
	est := ph.totals().Established
	deadline := time.Now().Add(15 * time.Second)
	for ctx.Err() == nil && time.Now().Before(deadline) {
		if m, err := w.ask(ctx, floorCmd{Op: "conns"}, "conns"); err != nil || m.Conns >= est {
			break
		}
		sleepCtx(ctx, 100*time.Millisecond)
	}
	sleepCtx(ctx, 200*time.Millisecond)

	events := eventsFor(rate, c.Duration.D())
	pub := &Publisher{Scheduled: events * len(topics)}
	ph.mu.Lock()
	ph.status = func() string { return fmt.Sprintf("floor writer: %d events per topic scheduled", events) }
	ph.mu.Unlock()
	before := ph.markCosts(ctx)
	start := time.Now()
	var published floorMsg
	if ctx.Err() == nil {
		published, err = w.publish(ctx, floorCmd{Op: "publish", Topics: topics, Rate: rate, Size: c.Size, Events: events},
			c.Duration.D()+c.Drain.D()+time.Minute)
		if err != nil {
			return nil, err
		}
	}
	pub.Published, pub.Errors, pub.MaxLagMS = published.Published, 0, published.MaxLagMS
	if published.WriteErrors > 0 {
		pub.LastError = fmt.Sprintf("%d writes failed (their connections were dropped)", published.WriteErrors)
	}
	drain := c.Drain.D()
	if ctx.Err() != nil {
		drain = 0
	}
	windows := published.Windows
	drain = max(drain-ph.waitDelivered(ctx, expectedDeliveries(ph.specs, windows), drain), 0)
	after := ph.markCosts(context.WithoutCancel(ctx))
	results, ferr := ph.finish(windows, drain)
	tr, merr := ph.merge(results)
	tr.setCosts(before, after)
	tr.Publisher = pub
	tr.Server = &Server{URL: "tcp://" + w.addr, PID: w.pid, Bin: "loadgen floor-server", Affinity: Affinity(w.pid)}
	if w.pid == 0 {
		tr.Server = &Server{URL: "tcp://" + w.addr, Bin: "in-process floor writer (its CPU is the load generator's)"}
	}
	end := lastDelivery(results, start)
	tr.DurationS = round3(end.Sub(start).Seconds())
	if tr.DurationS > 0 {
		tr.DeliveriesPerS = round3(float64(tr.Delivered) / tr.DurationS)
	}
	return tr, cmpErr(ferr, merr)
}

// floorWriter is the parent's end of the floor writer: a process (pid set)
// or, in-process, a goroutine.
type floorWriter struct {
	addr string
	pid  int
	cmd  *exec.Cmd

	mu    sync.Mutex // serialises writes to in
	in    io.WriteCloser
	enc   *json.Encoder
	msgs  chan floorMsg
	ended chan struct{} // closed when its output ended
}

// startFloorWriter starts the floor writer and waits for its address.
func (r *Runner) startFloorWriter(ctx context.Context) (*floorWriter, error) {
	w := &floorWriter{msgs: make(chan floorMsg, 16), ended: make(chan struct{})}
	var out io.ReadCloser
	if r.Config.InProcess {
		inR, inW := io.Pipe()
		outR, outW := io.Pipe()
		w.in, out = inW, outR
		go func() { // owner: the writer handle; ends when stop closes in
			err := RunFloorServer(context.WithoutCancel(ctx), inR, outW)
			_ = inR.CloseWithError(io.EOF)
			outW.CloseWithError(err)
		}()
	} else {
		argv := r.floorCommand("floor-server")
		cmd := exec.Command(argv[0], argv[1:]...)
		cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
		cmd.Stderr = prefixWriter(r.logw(), "floor writer: ")
		in, err := cmd.StdinPipe()
		if err != nil {
			return nil, err
		}
		stdout, err := cmd.StdoutPipe()
		if err != nil {
			return nil, err
		}
		if err := cmd.Start(); err != nil {
			return nil, fmt.Errorf("bench: starting the floor writer: %w", err)
		}
		w.cmd, w.in, out, w.pid = cmd, in, stdout, cmd.Process.Pid
	}
	w.enc = json.NewEncoder(w.in)
	go func() { // owner: the writer handle; ends when the writer's output ends
		defer close(w.ended)
		defer close(w.msgs)
		sc := bufio.NewScanner(out)
		sc.Buffer(make([]byte, 64<<10), 16<<20)
		for sc.Scan() {
			var m floorMsg
			if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
				m = floorMsg{Type: "error", Error: fmt.Sprintf("bad floor writer output: %v", err)}
			}
			w.msgs <- m
		}
		if w.cmd != nil {
			_ = w.cmd.Wait()
		}
	}()
	m, err := w.next(ctx, 30*time.Second)
	if err == nil && (m.Type != "listening" || m.Addr == "") {
		err = fmt.Errorf("bench: the floor writer said %+v, not where it listens", m)
	}
	if err != nil {
		w.stop(5 * time.Second)
		return nil, err
	}
	w.addr = m.Addr
	return w, nil
}

// floorCommand is the argv that runs loadgen's hidden subcommand sub
// (floor-server, floor-reader): Runner.FloorCommand, or this executable.
func (r *Runner) floorCommand(sub string) []string {
	if len(r.FloorCommand) > 0 {
		return append(append([]string(nil), r.FloorCommand...), sub)
	}
	exe, err := os.Executable()
	if err != nil {
		exe = os.Args[0]
	}
	return []string{exe, sub}
}

var errFloorGone = errors.New("bench: the floor writer exited")

// next returns the writer's next message.
func (w *floorWriter) next(ctx context.Context, timeout time.Duration) (floorMsg, error) {
	select {
	case m, ok := <-w.msgs:
		if !ok {
			return m, errFloorGone
		}
		if m.Type == "error" {
			return m, fmt.Errorf("bench: floor writer: %s", m.Error)
		}
		return m, nil
	case <-time.After(timeout):
		return floorMsg{}, errors.New("bench: the floor writer did not answer in time")
	case <-ctx.Done():
		return floorMsg{}, ctx.Err()
	}
}

func (w *floorWriter) send(c floorCmd) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.enc.Encode(c)
}

// ask sends c and waits for the answer of type want.
func (w *floorWriter) ask(ctx context.Context, c floorCmd, want string) (floorMsg, error) {
	if err := w.send(c); err != nil {
		return floorMsg{}, err
	}
	for {
		m, err := w.next(ctx, 30*time.Second)
		if err != nil || m.Type == want {
			return m, err
		}
	}
}

// publish runs a publish and waits for its outcome. When ctx ends first
// the writer is told to stop, and what it wrote until then is returned.
func (w *floorWriter) publish(ctx context.Context, c floorCmd, timeout time.Duration) (floorMsg, error) {
	if err := w.send(c); err != nil {
		return floorMsg{}, err
	}
	m, err := w.next(ctx, timeout)
	if ctx.Err() != nil {
		_ = w.send(floorCmd{Op: "stop"})
		m, err = w.next(context.Background(), 30*time.Second)
	}
	if err == nil && m.Type != "published" {
		err = fmt.Errorf("bench: the floor writer answered %+v to publish", m)
	}
	return m, err
}

// stop closes the writer's stdin, which ends it; a process that does not
// exit within timeout is killed.
func (w *floorWriter) stop(timeout time.Duration) {
	w.mu.Lock()
	_ = w.in.Close()
	w.mu.Unlock()
	go func() { // owner: stop; ends when the writer's output ends (drains what it still says)
		for range w.msgs {
		}
	}()
	select {
	case <-w.ended:
	case <-time.After(timeout):
		if w.cmd != nil && w.cmd.Process != nil {
			_ = w.cmd.Process.Kill()
		}
		<-w.ended
	}
}
