// Package redisbroker is a transports.Broker on Redis: the hubs of several
// processes share every topic's seq, history and epoch, and each publish
// reaches the subscribers of every node.
//
// # Data
//
// Per topic, on the shard the topic hashes to (see Shard):
//
//	<prefix>:{<topic>}:m   hash: e = the topic's epoch, s = its latest seq
//	<prefix>:{<topic>}:h   stream: the history, entry id <seq>-0, field d = the event
//	<prefix>:<topic>       pub/sub channel: "<epoch>\n<seq>\n" + the event
//
// One Lua script per publish (publish.lua) increments s, appends to the
// stream (XADD … MAXLEN ~ history), refreshes both TTLs and PUBLISHes, so a
// topic's seq is contiguous across every node and the stream and the
// channel carry events in seq order. A topic whose meta hash is missing
// (never published, expired, or lost in a Redis restart without
// persistence) gets a new epoch when a publish or a read first touches it;
// a hub that followed the old epoch then resets its subscribers
// (transports.ResetEpochChanged). history.lua reads the stream after a
// cursor with the epoch and bounds.
//
// An event is sent as "<ts µs>\n<kind>\n<except>\n<data>" and encoded into
// its wire form once per node that receives it.
//
// # Pub/sub
//
// Each shard has one pub/sub connection per node (not one per client),
// subscribed to the channels of the topics the node's hub follows. A
// reconnect (go-redis resubscribes by itself) is reported to the hub
// (Resubscribed), which catches its topics up from the stream; so does a
// delivery that skips ahead.
package redisbroker

import (
	"context"
	"crypto/rand"
	_ "embed"
	"encoding/base32"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/twinstream/twinstream/transports"
)

// Defaults of Config.
const (
	DefaultPrefix  = "twinstream"
	DefaultMetaTTL = 24 * time.Hour
)

// Config configures a Broker. Only Shards is required.
type Config struct {
	// Shards are the Redis instances; topics are spread over them by a
	// consistent hash of the topic name (Shard). Parse URLs with ParseURL.
	Shards []*redis.Options
	// History is how many events each topic keeps: the hub's
	// HubConfig.History (0 means transports.DefaultHistory; negative keeps
	// none, though the latest event is kept for snapshots).
	History int
	// HistoryTTL expires a topic's history that long after its last
	// publish. 0 means transports.DefaultTopicTTL (1h).
	HistoryTTL time.Duration
	// MetaTTL expires a topic's seq and epoch that long after its last
	// publish or read (the topic then starts over under a new epoch).
	// 0 means DefaultMetaTTL (24h); it is at least HistoryTTL.
	MetaTTL time.Duration
	// Prefix starts every key and channel name. Default "twinstream".
	Prefix string
	// Logger receives debug records (pub/sub reconnects); nil is silent.
	Logger *slog.Logger
}

// Broker is a transports.Broker on one or more Redis instances. Give it to
// one hub (HubConfig.Broker); Close it after the hub. Safe for concurrent
// use.
type Broker struct {
	cfg    Config
	keep   int // events kept per topic (>= 0)
	shards []*shard
	log    *slog.Logger

	mu      sync.Mutex
	handler transports.BrokerHandler
	closed  bool

	stats counters // Stats (stats.go)
}

var _ transports.Broker = (*Broker)(nil)

var (
	//go:embed publish.lua
	publishSrc    string
	publishScript = redis.NewScript(publishSrc)
	//go:embed history.lua
	historySrc    string
	historyScript = redis.NewScript(historySrc)
)

// New connects to the shards lazily (the first command dials) and returns a
// Broker. It fails only on a bad configuration.
func New(cfg Config) (*Broker, error) {
	if len(cfg.Shards) == 0 {
		return nil, errors.New("redisbroker: no shards")
	}
	if cfg.History == 0 {
		cfg.History = transports.DefaultHistory
	}
	if cfg.HistoryTTL <= 0 {
		cfg.HistoryTTL = transports.DefaultTopicTTL
	}
	if cfg.MetaTTL <= 0 {
		cfg.MetaTTL = DefaultMetaTTL
	}
	cfg.MetaTTL = max(cfg.MetaTTL, cfg.HistoryTTL)
	if cfg.Prefix == "" {
		cfg.Prefix = DefaultPrefix
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	b := &Broker{cfg: cfg, keep: max(cfg.History, 0), log: cfg.Logger}
	for i, o := range cfg.Shards {
		o := *o
		// A publish is not idempotent: a retry after a lost reply would
		// publish twice. The hub retries reads itself.
		o.MaxRetries = -1
		c := redis.NewClient(&o)
		c.AddHook(b.stats.hook()) // round trips and errors (stats.go)
		b.shards = append(b.shards, newShard(b, i, c))
	}
	return b, nil
}

// ParseURL reads redis://[user:pass@]host:port/db (rediss:// for TLS).
func ParseURL(u string) (*redis.Options, error) {
	if !strings.HasPrefix(u, "redis://") && !strings.HasPrefix(u, "rediss://") {
		return nil, fmt.Errorf("redis URL %q: want redis://[user:pass@]host:port/db or rediss://…", u)
	}
	o, err := redis.ParseURL(u)
	if err != nil {
		return nil, fmt.Errorf("redis URL %q: %w", u, err)
	}
	return o, nil
}

// Shard returns the index of the shard that holds topic among n: a jump
// consistent hash (Lamping and Veach) of the topic name's FNV-1a hash, so
// that adding a shard moves only about 1/n of the topics.
func Shard(topic string, n int) int {
	if n <= 1 {
		return 0
	}
	h := uint64(14695981039346656037) // FNV-1a 64
	for i := 0; i < len(topic); i++ {
		h ^= uint64(topic[i])
		h *= 1099511628211
	}
	var b, j int64 = -1, 0
	for j < int64(n) {
		b = j
		h = h*2862933555777941757 + 1
		j = int64(float64(b+1) * (float64(int64(1)<<31) / float64((h>>33)+1)))
	}
	return int(b)
}

func (b *Broker) shardFor(topic string) *shard { return b.shards[Shard(topic, len(b.shards))] }

func (b *Broker) metaKey(topic string) string    { return b.cfg.Prefix + ":{" + topic + "}:m" }
func (b *Broker) historyKey(topic string) string { return b.cfg.Prefix + ":{" + topic + "}:h" }
func (b *Broker) channel(topic string) string    { return b.cfg.Prefix + ":" + topic }

// topicOf is the topic of a channel name, or "".
func (b *Broker) topicOf(channel string) string {
	t, ok := strings.CutPrefix(channel, b.cfg.Prefix+":")
	if !ok {
		return ""
	}
	return t
}

// newEpoch names an epoch: 8 random base32 characters.
func newEpoch() string {
	var r [5]byte
	_, _ = rand.Read(r[:])
	return strings.ToLower(base32.StdEncoding.EncodeToString(r[:]))
}

// unavailable wraps a Redis error as transports.ErrUnavailable.
func unavailable(what string, err error) error {
	return fmt.Errorf("%w: redis %s: %w", transports.ErrUnavailable, what, err)
}

func seconds(d time.Duration) string { return strconv.FormatInt(int64(max(d/time.Second, 1)), 10) }

// Publish implements transports.Broker.
func (b *Broker) Publish(ctx context.Context, m transports.Message) (*transports.Event, error) {
	s := b.shardFor(m.Topic)
	body := encodeBody(m)
	res, err := publishScript.Run(ctx, s.client,
		[]string{b.metaKey(m.Topic), b.historyKey(m.Topic)},
		body, max(b.keep, 1), seconds(b.cfg.HistoryTTL), seconds(b.cfg.MetaTTL), newEpoch(), b.channel(m.Topic),
	).Slice()
	if err != nil {
		return nil, unavailable("publish", err)
	}
	if len(res) != 2 {
		return nil, fmt.Errorf("redisbroker: publish script returned %v", res)
	}
	seq, ok := res[0].(int64)
	if !ok || seq < 1 {
		return nil, fmt.Errorf("redisbroker: publish script returned seq %v", res[0])
	}
	e := transports.NewEvent(m.Topic, uint64(seq), m.Kind, m.Data, time.UnixMicro(m.Time.UnixMicro()))
	e.Except = m.Except
	return e, nil
}

// History implements transports.Broker.
func (b *Broker) History(ctx context.Context, topic string, after uint64) (transports.History, error) {
	s := b.shardFor(topic)
	res, err := historyScript.Run(ctx, s.client,
		[]string{b.metaKey(topic), b.historyKey(topic)},
		strconv.FormatUint(after, 10), b.keep, newEpoch(), seconds(b.cfg.MetaTTL),
	).Slice()
	if err != nil {
		return transports.History{}, unavailable("history", err)
	}
	return decodeHistory(topic, res)
}

// Subscribe implements transports.Broker.
func (b *Broker) Subscribe(ctx context.Context, topic string) error {
	return b.shardFor(topic).subscribe(ctx, b.channel(topic))
}

// Unsubscribe implements transports.Broker.
func (b *Broker) Unsubscribe(topic string) error {
	return b.shardFor(topic).unsubscribe(b.channel(topic))
}

// Run implements transports.Broker: it starts each shard's pub/sub reader.
func (b *Broker) Run(h transports.BrokerHandler) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.handler != nil || b.closed {
		return
	}
	b.handler = h
	for _, s := range b.shards {
		s.start()
	}
}

// Ping checks every shard, for health checks: nil when all answer.
func (b *Broker) Ping(ctx context.Context) error {
	var errs []error
	for _, s := range b.shards {
		if err := s.client.Ping(ctx).Err(); err != nil {
			errs = append(errs, fmt.Errorf("redis %s: %w", s.client.Options().Addr, err))
		}
	}
	return errors.Join(errs...)
}

// Close implements transports.Broker: it stops the readers and closes the
// connections.
func (b *Broker) Close() error {
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		return nil
	}
	b.closed = true
	b.mu.Unlock()
	var errs []error
	for _, s := range b.shards {
		errs = append(errs, s.close())
	}
	return errors.Join(errs...)
}
