package bench

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"math"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"
)

// procSample is a server process's resource use at one moment.
type procSample struct {
	At          time.Time
	RSS         int64   // bytes
	CPUSeconds  float64 // user + system, cumulative
	Goroutines  int     // from /api/stats only
	HeapBytes   int64   // from /api/stats only ("heap_bytes")
	StacksBytes int64   // goroutine stacks, from /api/stats only ("stacks_bytes")
	// Allocs is the heap objects allocated since the process started, from
	// /api/stats only ("allocs_objects", the runtime's
	// /gc/heap/allocs:objects); 0 when the server does not say.
	Allocs uint64
	Conns  map[string]int
}

// readWriteSyscalls is a local process's write syscalls so far: syscw of
// /proc/<pid>/io (write, writev, pwrite… on any file descriptor; sendmsg
// and sendto are not counted, and Go's net.Conn.Write is a write).
func readWriteSyscalls(pid int) (uint64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/io", pid))
	if err != nil {
		return 0, err
	}
	for line := range strings.SplitSeq(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "syscw:"); ok {
			return strconv.ParseUint(strings.TrimSpace(v), 10, 64)
		}
	}
	return 0, fmt.Errorf("bench: no syscw in /proc/%d/io", pid)
}

// envOf reads the named variables of a local process's environment
// (/proc/<pid>/environ, as it was when the process started); ok false when
// it cannot be read. A variable that is not set is "".
func envOf(pid int, names ...string) (vals []string, ok bool) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/environ", pid))
	if err != nil {
		return nil, false
	}
	vals = make([]string, len(names))
	for kv := range strings.SplitSeq(string(b), "\x00") {
		k, v, _ := strings.Cut(kv, "=")
		for i, n := range names {
			if k == n {
				vals[i] = v
			}
		}
	}
	return vals, true
}

// cpuPercent is the CPU use between two samples (100 = one core).
func cpuPercent(a, b procSample) float64 {
	dt := b.At.Sub(a.At).Seconds()
	if dt <= 0 || a.At.IsZero() {
		return 0
	}
	return round3((b.CPUSeconds - a.CPUSeconds) / dt * 100)
}

// readProc samples a local process from /proc.
func readProc(pid int) (procSample, error) {
	s := procSample{At: time.Now()}
	statm, err := os.ReadFile(fmt.Sprintf("/proc/%d/statm", pid))
	if err != nil {
		return s, err
	}
	f := strings.Fields(string(statm))
	if len(f) < 2 {
		return s, fmt.Errorf("bench: odd /proc/%d/statm", pid)
	}
	pages, err := strconv.ParseInt(f[1], 10, 64)
	if err != nil {
		return s, err
	}
	s.RSS = pages * int64(os.Getpagesize())
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return s, err
	}
	// Fields after the command name, which is in parentheses and may hold spaces.
	rest := string(stat)
	if i := strings.LastIndexByte(rest, ')'); i >= 0 {
		rest = rest[i+1:]
	}
	g := strings.Fields(rest)
	if len(g) < 13 {
		return s, fmt.Errorf("bench: odd /proc/%d/stat", pid)
	}
	// g[0] is field 3 (state); utime and stime are fields 14 and 15.
	ut, _ := strconv.ParseFloat(g[11], 64)
	st, _ := strconv.ParseFloat(g[12], 64)
	s.CPUSeconds = (ut + st) / clockTicks
	return s, nil
}

// clockTicks is USER_HZ, 100 on every Linux platform Go supports.
const clockTicks = 100

// metricsClient reads a server's JSON figures: GET /api/stats (the demo's;
// its /metrics is Prometheus text), else GET /metrics.
type metricsClient struct {
	http *http.Client
	base string
	path string // default /api/stats, else /metrics
}

// read fetches the server's JSON figures (/api/stats, else /metrics, or
// path) and picks out what loadgen needs. It reads the
// fields by name wherever they sit in the JSON, outermost first:
// "rss_bytes", "cpu": {"total_s"} (or "cpu_seconds"), "goroutines",
// "heap_bytes", "stacks_bytes", "allocs_objects" (cumulative heap objects
// allocated), "connections": {"ws":N,"sse":M}; so any server that speaks our
// wire format and exports those names can be measured.
func (m metricsClient) read(ctx context.Context) (procSample, error) {
	if m.path != "" {
		return m.readPath(ctx, m.path)
	}
	// The demo serves its JSON figures at /api/stats (its /metrics is
	// Prometheus text); other servers of the wire format may serve them
	// at /metrics.
	s, err := m.readPath(ctx, "/api/stats")
	if err != nil {
		if s2, err2 := m.readPath(ctx, "/metrics"); err2 == nil {
			return s2, nil
		}
	}
	return s, err
}

// readPath reads the JSON figures at path.
func (m metricsClient) readPath(ctx context.Context, path string) (procSample, error) {
	s := procSample{At: time.Now()}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, m.base+path, nil)
	if err != nil {
		return s, err
	}
	resp, err := m.http.Do(req)
	if err != nil {
		return s, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return s, err
	}
	if resp.StatusCode != http.StatusOK {
		return s, fmt.Errorf("bench: GET %s: %s", path, resp.Status)
	}
	var v any
	if err := json.Unmarshal(body, &v); err != nil {
		return s, fmt.Errorf("bench: GET %s: %w", path, err)
	}
	walkMetrics(v, &s)
	return s, nil
}

func walkMetrics(v any, s *procSample) {
	obj, ok := v.(map[string]any)
	if !ok {
		return
	}
	for k, x := range obj {
		switch k {
		case "rss_bytes":
			if n, ok := x.(float64); ok && s.RSS == 0 {
				s.RSS = int64(n)
			}
		case "cpu_seconds":
			if n, ok := x.(float64); ok && s.CPUSeconds == 0 {
				s.CPUSeconds = n
			}
		case "cpu":
			if m, ok := x.(map[string]any); ok && s.CPUSeconds == 0 {
				if n, ok := m["total_s"].(float64); ok {
					s.CPUSeconds = n
				}
			}
		case "goroutines":
			if n, ok := x.(float64); ok && s.Goroutines == 0 {
				s.Goroutines = int(n)
			}
		case "heap_bytes":
			if n, ok := x.(float64); ok && s.HeapBytes == 0 {
				s.HeapBytes = int64(n)
			}
		case "stacks_bytes":
			if n, ok := x.(float64); ok && s.StacksBytes == 0 {
				s.StacksBytes = int64(n)
			}
		case "allocs_objects":
			if n, ok := x.(float64); ok && s.Allocs == 0 {
				s.Allocs = uint64(n)
			}
		case "connections":
			if m, ok := x.(map[string]any); ok && s.Conns == nil {
				conns := map[string]int{}
				for t, n := range m {
					if f, ok := n.(float64); ok {
						conns[t] = int(f)
					}
				}
				if len(conns) > 0 {
					s.Conns = conns
				}
			}
		}
	}
	for _, k := range slices.Sorted(maps.Keys(obj)) {
		walkMetrics(obj[k], s)
	}
}

// systemCPU reads the machine's busy CPU time so far from /proc/stat, in
// seconds summed over cores (ok false when unavailable).
func systemCPU() (busy float64, ok bool) {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0, false
	}
	line, _, _ := strings.Cut(string(b), "\n")
	f := strings.Fields(line)
	if len(f) < 5 || f[0] != "cpu" {
		return 0, false
	}
	var total, idle float64
	for i, v := range f[1:] {
		n, _ := strconv.ParseFloat(v, 64)
		if i >= 8 { // guest time is already counted in user
			break
		}
		total += n
		if i == 3 || i == 4 { // idle, iowait
			idle += n
		}
	}
	return (total - idle) / clockTicks, true
}

// costMark is what the per-delivery figures are diffed from: the server's
// resource use and the load generator's CPU at one moment.
type costMark struct {
	at         time.Time
	server     procSample // summed over the targets (or the floor writer)
	haveServer bool
	// syscw is the servers' write syscalls so far; haveSyscw is false
	// unless every server is a local process whose /proc/<pid>/io reads.
	syscw     uint64
	haveSyscw bool
	loadgen   float64 // CPU seconds: this process and every worker process
}

// setCosts fills tr's per-delivery figures from marks a and b (a before
// the first event, b after the last delivery). Figures that a mark lacks,
// or that went backwards (a restarted server), stay zero (omitted).
func (tr *TransportResult) setCosts(a, b costMark) {
	d := tr.Delivered
	tr.CostWindowS = round3(b.at.Sub(a.at).Seconds())
	if d == 0 {
		return
	}
	if a.haveServer && b.haveServer {
		tr.ServerCPUUsPerDelivery = perDelivery((b.server.CPUSeconds-a.server.CPUSeconds)*1e6, d)
		if a.server.Allocs > 0 && b.server.Allocs >= a.server.Allocs {
			tr.ServerAllocsPerDelivery = perDelivery(float64(b.server.Allocs-a.server.Allocs), d)
		}
	}
	if a.haveSyscw && b.haveSyscw && b.syscw >= a.syscw {
		tr.ServerWriteSyscallsPerDelivery = perDelivery(float64(b.syscw-a.syscw), d)
	}
	tr.LoadgenCPUUsPerDelivery = perDelivery((b.loadgen-a.loadgen)*1e6, d)
}

// perDelivery is total ÷ deliveries to 4 significant digits (0 when either
// is not positive).
func perDelivery(total float64, deliveries uint64) float64 {
	if total <= 0 || deliveries == 0 {
		return 0
	}
	return roundSig(total/float64(deliveries), 4)
}

// roundSig rounds v to n significant digits.
func roundSig(v float64, n int) float64 {
	if v == 0 || math.IsInf(v, 0) || math.IsNaN(v) {
		return v
	}
	scale := math.Pow(10, float64(n-1)-math.Floor(math.Log10(math.Abs(v))))
	return math.Round(v*scale) / scale
}
