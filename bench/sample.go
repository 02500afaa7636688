package bench

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"
)

// procSample is a server process's resource use at one moment.
type procSample struct {
	At         time.Time
	RSS        int64   // bytes
	CPUSeconds float64 // user + system, cumulative
	Goroutines int     // from /metrics only
	HeapBytes  int64   // from /metrics only ("heap_bytes")
	Conns      map[string]int
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

// metricsClient reads a server's GET /metrics.
type metricsClient struct {
	http *http.Client
	base string
}

// read fetches /metrics and picks out what loadgen needs. It reads the
// fields by name wherever they sit in the JSON, outermost first:
// "rss_bytes", "cpu": {"total_s"} (or "cpu_seconds"), "goroutines",
// "connections": {"ws":N,"sse":M}; so any server that speaks our wire
// format and exports those names can be measured.
func (m metricsClient) read(ctx context.Context) (procSample, error) {
	s := procSample{At: time.Now()}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, m.base+"/metrics", nil)
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
		return s, fmt.Errorf("bench: GET /metrics: %s", resp.Status)
	}
	var v any
	if err := json.Unmarshal(body, &v); err != nil {
		return s, fmt.Errorf("bench: GET /metrics: %w", err)
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
