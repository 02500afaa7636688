package server

import (
	"fmt"
	"strings"
)

// Roles of a node (--role). The names are a public interface.
const (
	// RoleAll serves streams and the API and runs task workers (the
	// default; without --redis the only role).
	RoleAll = "all"
	// RoleEdge serves streams and the API; its POST /api/tasks enqueues
	// into Redis and worker processes run the tasks. Needs --redis.
	RoleEdge = "edge"
	// RoleWorker runs task workers only and serves nothing but /healthz
	// and /metrics. Needs --redis.
	RoleWorker = "worker"
)

// Roles lists the roles, in the order the flag's help names them.
var Roles = []string{RoleAll, RoleEdge, RoleWorker}

// role returns Config.Role with its default.
func (c Config) role() string {
	if c.Role == "" {
		return RoleAll
	}
	return c.Role
}

// servesStreams reports whether the node serves streams and the API.
func (c Config) servesStreams() bool { return c.role() != RoleWorker }

// runsWorkers reports whether the node runs task workers.
func (c Config) runsWorkers() bool { return c.role() != RoleEdge }

// validateRole checks Config.Role against Config.Redis.
func (c Config) validateRole(bad func(flag, format string, a ...any)) {
	switch r := c.role(); r {
	case RoleAll:
	case RoleEdge, RoleWorker:
		if len(c.Redis) == 0 {
			bad("role", "%s needs --redis: its tasks are run (or come) through the Redis queue", r)
		}
	default:
		bad("role", "%q is not a role; want %s", r, strings.Join(Roles, ", "))
	}
}

// roleText describes the node's role for the start-up log.
func (c Config) roleText() string {
	switch c.role() {
	case RoleEdge:
		return "edge: streams and API, tasks run by workers elsewhere"
	case RoleWorker:
		return fmt.Sprintf("worker: %d task workers, /healthz and /metrics only", c.Workers)
	}
	if len(c.Redis) == 0 {
		return fmt.Sprintf("all: streams, API and %d task workers, in memory", c.Workers)
	}
	return fmt.Sprintf("all: streams, API and %d task workers on Redis", c.Workers)
}
