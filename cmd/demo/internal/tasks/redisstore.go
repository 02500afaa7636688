package tasks

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/redis/go-redis/v9"
)

// DefaultRedisPrefix prefixes every key RedisStore writes.
const DefaultRedisPrefix = "twinstream:"

// RedisStore is the Store of several processes: task state in one Redis,
// so GET /api/tasks/:id and a stream's snapshot answer on every node,
// whichever process runs the task. It is bounded like MemStore (the oldest
// finished tasks beyond MaxFinished are deleted) and, like MemStore, lists
// in creation order. Every operation is one round trip (a Lua script where
// it touches several keys), so concurrent writers never leave the indexes
// out of step. Safe for concurrent use.
//
// Keys, under the prefix (default "twinstream:"):
//
//	task:<id>             hash: json (the Task), status, order
//	tasks                 sorted set of ids by creation order
//	tasks:<status>        the same, one per status
//	tasks:finished        ids of finished tasks by finish order (eviction)
//	tasks:seq             the order counter
//
// The scripts name keys they compute (task:<id> of evicted tasks), so the
// store needs one Redis instance, not a Cluster: the first --redis.
type RedisStore struct {
	rdb    redis.UniversalClient
	prefix string
	max    int
}

var (
	_ Store   = (*RedisStore)(nil)
	_ Counter = (*RedisStore)(nil)
)

// RedisStoreConfig configures a RedisStore.
type RedisStoreConfig struct {
	// Prefix of every key. Default DefaultRedisPrefix ("twinstream:").
	Prefix string
	// MaxFinished bounds the finished tasks kept. Default
	// DefaultMaxFinished (10,000).
	MaxFinished int
}

// NewRedisStore returns a store on rdb. It does not own rdb: closing it is
// the caller's business.
func NewRedisStore(rdb redis.UniversalClient, cfg RedisStoreConfig) *RedisStore {
	if cfg.Prefix == "" {
		cfg.Prefix = DefaultRedisPrefix
	}
	if cfg.MaxFinished <= 0 {
		cfg.MaxFinished = DefaultMaxFinished
	}
	return &RedisStore{rdb: rdb, prefix: cfg.Prefix, max: cfg.MaxFinished}
}

// statuses in the order of the status keys passed to the scripts.
var statuses = [...]Status{StatusQueued, StatusRunning, StatusCompleted, StatusFailed}

func (s *RedisStore) taskKey(id string) string { return s.prefix + "task:" + id }

// keys are the index keys every script gets, in this order: all, seq,
// finished, then one per status.
func (s *RedisStore) keys() []string {
	k := []string{s.prefix + "tasks", s.prefix + "tasks:seq", s.prefix + "tasks:finished"}
	for _, st := range statuses {
		k = append(k, s.prefix+"tasks:"+string(st))
	}
	return k
}

// putScript stores a task unless the stored one is finished, moves it
// between the status indexes, and evicts the oldest finished tasks past the
// bound. KEYS: task hash, then keys(). ARGV: id, json, status, max
// finished, task key prefix. Returns 1 if stored, 0 if the task had ended.
var putScript = redis.NewScript(`
local old = redis.call('HGET', KEYS[1], 'status')
if old == 'completed' or old == 'failed' then return 0 end
local idx = {queued = KEYS[5], running = KEYS[6], completed = KEYS[7], failed = KEYS[8]}
local id, status = ARGV[1], ARGV[3]
local order = redis.call('HGET', KEYS[1], 'order')
if not order then
  order = redis.call('INCR', KEYS[3])
  redis.call('ZADD', KEYS[2], order, id)
end
redis.call('HSET', KEYS[1], 'json', ARGV[2], 'status', status, 'order', order)
if old and old ~= status and idx[old] then redis.call('ZREM', idx[old], id) end
redis.call('ZADD', idx[status], order, id)
if status == 'completed' or status == 'failed' then
  redis.call('ZADD', KEYS[4], redis.call('INCR', KEYS[3]), id)
  local over = redis.call('ZCARD', KEYS[4]) - tonumber(ARGV[4])
  if over > 0 then
    for i, gone in ipairs(redis.call('ZPOPMIN', KEYS[4], over)) do
      if i % 2 == 1 then
        redis.call('DEL', ARGV[5] .. gone)
        redis.call('ZREM', KEYS[2], gone)
        redis.call('ZREM', KEYS[7], gone)
        redis.call('ZREM', KEYS[8], gone)
      end
    end
  end
end
return 1
`)

// listScript returns the JSON of the newest tasks of an index. KEYS: the
// index. ARGV: limit, task key prefix.
var listScript = redis.NewScript(`
local out = {}
for _, id in ipairs(redis.call('ZREVRANGE', KEYS[1], 0, tonumber(ARGV[1]) - 1)) do
  local j = redis.call('HGET', ARGV[2] .. id, 'json')
  if j then out[#out + 1] = j end
end
return out
`)

// Put implements Store. It fails with ErrFinished, storing nothing, when
// the stored task has already finished.
func (s *RedisStore) Put(ctx context.Context, t Task) error {
	if !t.Status.Valid() {
		return fmt.Errorf("tasks: storing task %s: invalid status %q", t.ID, t.Status)
	}
	keys := append([]string{s.taskKey(t.ID)}, s.keys()...)
	n, err := putScript.Run(ctx, s.rdb, keys, t.ID, t.JSON(), string(t.Status), s.max, s.prefix+"task:").Int()
	if err != nil {
		return fmt.Errorf("tasks: storing task %s in redis: %w", t.ID, err)
	}
	if n == 0 {
		return ErrFinished
	}
	return nil
}

// Get implements Store.
func (s *RedisStore) Get(ctx context.Context, id string) (Task, error) {
	b, err := s.rdb.HGet(ctx, s.taskKey(id), "json").Bytes()
	if errors.Is(err, redis.Nil) {
		return Task{}, ErrNotFound
	}
	if err != nil {
		return Task{}, fmt.Errorf("tasks: reading task %s from redis: %w", id, err)
	}
	var t Task
	if err := json.Unmarshal(b, &t); err != nil {
		return Task{}, fmt.Errorf("tasks: decoding task %s: %w", id, err)
	}
	return t, nil
}

// List implements Store.
func (s *RedisStore) List(ctx context.Context, q Query) ([]Task, error) {
	limit := q.Limit
	if limit <= 0 {
		limit = DefaultListLimit
	}
	limit = min(limit, MaxListLimit)
	index := s.prefix + "tasks"
	if q.Status != "" {
		if !q.Status.Valid() {
			return []Task{}, nil
		}
		index += ":" + string(q.Status)
	}
	raw, err := listScript.Run(ctx, s.rdb, []string{index}, limit, s.prefix+"task:").StringSlice()
	if err != nil && !errors.Is(err, redis.Nil) {
		return nil, fmt.Errorf("tasks: listing tasks in redis: %w", err)
	}
	out := make([]Task, 0, len(raw))
	for _, j := range raw {
		var t Task
		if err := json.Unmarshal([]byte(j), &t); err != nil {
			return nil, fmt.Errorf("tasks: decoding listed task: %w", err)
		}
		out = append(out, t)
	}
	return out, nil
}

// Count implements Counter: one ZCARD per status, in one round trip.
func (s *RedisStore) Count(ctx context.Context) (map[Status]int, error) {
	cmds := make([]*redis.IntCmd, len(statuses))
	_, err := s.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		for i, st := range statuses {
			cmds[i] = p.ZCard(ctx, s.prefix+"tasks:"+string(st))
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("tasks: counting tasks in redis: %w", err)
	}
	out := make(map[Status]int, len(statuses))
	for i, st := range statuses {
		out[st] = int(cmds[i].Val())
	}
	return out, nil
}
