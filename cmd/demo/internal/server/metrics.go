package server

import (
	"net/http"
	"runtime"
	"runtime/metrics"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/twinstream/twinstream/cmd/demo/internal/tasks"
	"github.com/twinstream/twinstream/transports"
)

// Metrics is the body of GET /api/stats (GET /metrics is the Prometheus
// text format, prometheus.go). Its shape is a stable interface (the load
// generator reads it); fields are only ever added.
type Metrics struct {
	TS      int64   `json:"ts"`       // sample time, unix µs
	UptimeS float64 `json:"uptime_s"` // seconds since New

	// Connections counts open stream connections by transport ("ws",
	// "sse") plus "total".
	Connections map[string]int `json:"connections"`
	// Limiter is the shared connection limiter: open slots and caps.
	Limiter LimiterMetrics `json:"limiter"`
	// Hub holds the hub's counters (topics, published, enqueued, slow_closed).
	Hub transports.Stats `json:"hub"`
	// Tasks holds the task runner's counters.
	Tasks tasks.RunnerStats `json:"tasks"`
	// Node says what this node is: its role and its broker (the load
	// generator names a deployment's nodes, broker and Redis version).
	Node NodeInfo `json:"node"`

	Goroutines int    `json:"goroutines"`
	RSSBytes   int64  `json:"rss_bytes"`  // resident set size (VmRSS); 0 where unknown
	HeapBytes  uint64 `json:"heap_bytes"` // Go heap in use by objects
	// StacksBytes is the memory of goroutine stacks
	// (/memory/classes/heap/stacks:bytes): with HeapBytes and Goroutines it
	// shows where a connection's memory goes.
	StacksBytes uint64 `json:"stacks_bytes"`
	// AllocsObjects counts heap objects allocated since the process started
	// (/gc/heap/allocs:objects, cumulative); the load generator diffs two
	// samples to get allocations per delivery.
	AllocsObjects uint64 `json:"allocs_objects"`
	GCCycles      uint64 `json:"gc_cycles"`
	// CPU is the process's CPU time so far; the load generator diffs two
	// samples to get utilisation.
	CPU CPUMetrics `json:"cpu"`
}

// NodeInfo describes a node of a deployment.
type NodeInfo struct {
	Role   string `json:"role"`   // all, edge or worker (--role)
	Broker string `json:"broker"` // "memory" (the in-memory hub: one node) or "redis"
	// RedisShards is how many Redis instances the streams use (--redis).
	RedisShards int `json:"redis_shards,omitempty"`
	// RedisVersion is the first Redis's (INFO server), "" until it
	// answered once.
	RedisVersion string `json:"redis_version,omitempty"`
}

// LimiterMetrics describes the connection limiter.
type LimiterMetrics struct {
	Open  int `json:"open"`
	Max   int `json:"max"`    // 0 = no cap
	PerIP int `json:"per_ip"` // 0 = no cap
}

// CPUMetrics is user and system CPU time in seconds.
type CPUMetrics struct {
	UserS   float64 `json:"user_s"`
	SystemS float64 `json:"system_s"`
	TotalS  float64 `json:"total_s"`
}

// Collect samples the server's metrics.
func (s *Server) Collect() Metrics {
	now := time.Now()
	hs := s.hub.Stats()
	m := Metrics{
		TS:          now.UnixMicro(),
		UptimeS:     now.Sub(s.started).Seconds(),
		Connections: map[string]int{"ws": 0, "sse": 0},
		Limiter:     LimiterMetrics{Open: s.limiter.Open(), Max: s.cfg.MaxConns, PerIP: s.cfg.MaxConnsPerIP},
		Hub:         hs,
		Tasks:       s.runner.Stats(),
		Node:        s.nodeInfo(),
		Goroutines:  runtime.NumGoroutine(),
		RSSBytes:    rssBytes(),
	}
	total := 0
	for tr, n := range hs.Connections {
		m.Connections[tr] = n
		total += n
	}
	m.Connections["total"] = total
	// runtime/metrics, not runtime.ReadMemStats: it does not stop the world.
	samples := []metrics.Sample{
		{Name: "/memory/classes/heap/objects:bytes"}, {Name: "/gc/cycles/total:gc-cycles"},
		{Name: "/memory/classes/heap/stacks:bytes"}, {Name: "/gc/heap/allocs:objects"},
	}
	metrics.Read(samples)
	for i, dst := range []*uint64{&m.HeapBytes, &m.GCCycles, &m.StacksBytes, &m.AllocsObjects} {
		if samples[i].Value.Kind() == metrics.KindUint64 {
			*dst = samples[i].Value.Uint64()
		}
	}
	m.CPU.UserS, m.CPU.SystemS = cpuSeconds()
	m.CPU.TotalS = m.CPU.UserS + m.CPU.SystemS
	return m
}

// apiStats: GET /api/stats.
func (s *Server) apiStats(c echo.Context) error {
	c.Response().Header().Set("Cache-Control", "no-store")
	return c.JSON(http.StatusOK, s.Collect())
}
