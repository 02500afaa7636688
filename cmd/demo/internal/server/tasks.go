package server

import (
	"context"
	"errors"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/twinstream/twinstream/cmd/demo/internal/tasks"
)

// initTasks builds the task executor and store. Without --redis: in this
// process, in memory (tasks.Runner, tasks.MemStore). With --redis: a
// tasks.Queue on the first Redis, state in a tasks.RedisStore there, shared
// by every node; this process runs Config.Workers workers unless its role
// is edge.
func (s *Server) initTasks() error {
	log := s.cfg.Logger.With("component", "tasks")
	if len(s.cfg.Redis) == 0 {
		s.store = tasks.NewMemStore(0)
		s.runner = tasks.NewRunner(tasks.RunnerConfig{
			Publisher: s.hub, Store: s.store, Workers: s.cfg.Workers, QueueSize: s.cfg.TaskQueue, Logger: log,
		})
		return nil
	}
	opts, err := RedisOptions(s.cfg.Redis[0])
	if err != nil {
		return err
	}
	rdb := redis.NewClient(opts)
	store := tasks.NewRedisStore(rdb, tasks.RedisStoreConfig{})
	workers := 0
	if s.cfg.runsWorkers() {
		workers = s.cfg.Workers
	}
	q, err := tasks.NewQueue(tasks.QueueConfig{
		Redis: rdb, Publisher: s.hub, Store: store, Workers: workers, MaxPending: s.cfg.TaskQueue, Logger: log,
	})
	if err != nil {
		_ = rdb.Close()
		return err
	}
	s.store, s.runner = store, &redisTasks{Queue: q, rdb: rdb}
	return nil
}

// tasksEndOnShutdown reports whether Shutdown ends running tasks (in
// memory: they fail with a terminal event the task streams deliver) or
// hands them back to the Redis queue, for another worker to continue.
func (s *Server) tasksEndOnShutdown() bool { return len(s.cfg.Redis) == 0 }

// redisTasks is the Queue with the Redis client it owns.
type redisTasks struct {
	*tasks.Queue
	rdb redis.UniversalClient

	mu      sync.Mutex
	version string // redis_version of INFO server, once read
}

// redisVersion returns the Redis's version (INFO server, asked within
// 250 ms until it answers once), or "".
func (r *redisTasks) redisVersion() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.version == "" {
		ctx, cancel := context.WithTimeout(context.Background(), 250*time.Millisecond)
		defer cancel()
		info, _ := r.rdb.Info(ctx, "server").Result()
		for line := range strings.SplitSeq(info, "\n") {
			if v, ok := strings.CutPrefix(strings.TrimSpace(line), "redis_version:"); ok {
				r.version = v
			}
		}
	}
	return r.version
}

// nodeInfo is the node part of /api/stats.
func (s *Server) nodeInfo() NodeInfo {
	n := NodeInfo{Role: s.cfg.role(), Broker: "memory"}
	if len(s.cfg.Redis) > 0 {
		n.Broker, n.RedisShards = "redis", len(s.cfg.Redis)
		if r, ok := s.runner.(*redisTasks); ok {
			n.RedisVersion = r.redisVersion()
		}
	}
	return n
}

// Shutdown stops the queue, then closes its Redis client.
func (r *redisTasks) Shutdown(ctx context.Context) error {
	return errors.Join(r.Queue.Shutdown(ctx), r.rdb.Close())
}
