package redisbroker

import (
	"context"
	"errors"
	"net"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/twinstream/twinstream/transports"
)

// receiveTimeout is how long the pub/sub reader waits before it pings the
// connection (a silent dead connection shows as a failed ping).
const receiveTimeout = 10 * time.Second

// shard is one Redis instance: a client for scripts and one pub/sub
// connection, read by one goroutine.
type shard struct {
	b      *Broker
	index  int
	client *redis.Client
	ps     *redis.PubSub
	ctl    string // a channel always subscribed, so the connection is always in subscribe mode

	mu        sync.Mutex
	subs      map[string]int             // channel → subscriptions (Subscribe minus Unsubscribe)
	confirmed map[string]bool            // channel → Redis confirmed the subscription
	waiting   map[string][]chan struct{} // channel → Subscribes waiting for its confirmation
	running   bool
	done      chan struct{} // closed when the reader returns
	stop      context.CancelFunc
}

func newShard(b *Broker, i int, c *redis.Client) *shard {
	return &shard{b: b, index: i, client: c, ctl: b.cfg.Prefix + "._", subs: map[string]int{},
		confirmed: map[string]bool{}, waiting: map[string][]chan struct{}{}, done: make(chan struct{})}
}

// start opens the pub/sub connection (lazily: go-redis dials on first use
// and redials after a failure) and starts the reader.
func (s *shard) start() {
	ctx, cancel := context.WithCancel(context.Background())
	s.mu.Lock()
	s.ps = s.client.Subscribe(ctx, s.ctl)
	s.stop, s.running = cancel, true
	s.mu.Unlock()
	go s.read(ctx) // owner: the broker; Close cancels ctx, closes ps and waits for done
}

// read is the shard's pub/sub reader: it hands messages to the hub in the
// order Redis sent them and reports resubscriptions after a reconnect.
func (s *shard) read(ctx context.Context) {
	defer close(s.done)
	failures := 0
	for {
		msg, err := s.ps.ReceiveTimeout(ctx, receiveTimeout)
		if ctx.Err() != nil {
			return
		}
		if err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				_ = s.ps.Ping(ctx) // its answer (or failure) comes through ReceiveTimeout
				continue
			}
			failures++
			if failures == 1 {
				s.b.log.Warn("redis pub/sub connection lost", "shard", s.index, "err", err)
			}
			select { // go-redis redials on the next receive
			case <-ctx.Done():
				return
			case <-time.After(transports.Backoff{Initial: 50 * time.Millisecond, Max: time.Second}.Delay(failures)):
			}
			continue
		}
		if failures > 0 {
			s.b.stats.reconnects.Add(1)
			s.b.log.Info("redis pub/sub connection back", "shard", s.index, "after_failures", failures)
			failures = 0
		}
		switch m := msg.(type) {
		case *redis.Subscription:
			if m.Kind == "subscribe" {
				s.confirm(m.Channel)
			}
		case *redis.Message:
			topic := s.b.topicOf(m.Channel)
			if topic == "" || m.Channel == s.ctl {
				continue
			}
			epoch, e, err := decodePush(topic, m.Payload)
			if err != nil {
				s.b.log.Debug("redis message dropped", "err", err)
				continue
			}
			s.handler().Deliver(epoch, e)
		}
	}
}

func (s *shard) handler() transports.BrokerHandler {
	s.b.mu.Lock()
	defer s.b.mu.Unlock()
	return s.b.handler
}

// confirm records Redis's confirmation of a subscription: it releases the
// Subscribes waiting for it; a confirmation nobody waits for is a
// resubscription after a reconnect, which the hub catches up from.
func (s *shard) confirm(channel string) {
	s.mu.Lock()
	waiters := s.waiting[channel]
	delete(s.waiting, channel)
	followed := s.subs[channel] > 0
	again := followed && s.confirmed[channel] && len(waiters) == 0
	if followed {
		s.confirmed[channel] = true
	}
	s.mu.Unlock()
	for _, w := range waiters {
		close(w)
	}
	if again {
		s.handler().Resubscribed(s.b.topicOf(channel))
	}
}

// subscribe counts a subscription to channel and, for the first, subscribes
// and waits for Redis to confirm it: events published from then on are
// received.
func (s *shard) subscribe(ctx context.Context, channel string) error {
	s.mu.Lock()
	if !s.running {
		s.mu.Unlock()
		return errors.New("redisbroker: not running (Run was not called, or Close was)")
	}
	s.subs[channel]++
	if s.confirmed[channel] {
		s.mu.Unlock()
		return nil
	}
	w := make(chan struct{})
	first := len(s.waiting[channel]) == 0
	s.waiting[channel] = append(s.waiting[channel], w)
	s.mu.Unlock()
	var err error
	if first {
		err = s.ps.Subscribe(ctx, channel)
	}
	if err == nil {
		select {
		case <-w:
			return nil
		case <-ctx.Done():
			err = ctx.Err()
		}
	}
	s.mu.Lock()
	list := s.waiting[channel]
	for i, x := range list {
		if x == w {
			s.waiting[channel] = append(list[:i:i], list[i+1:]...)
			break
		}
	}
	if len(s.waiting[channel]) == 0 {
		delete(s.waiting, channel)
	}
	s.mu.Unlock()
	_ = s.unsubscribe(channel)
	return unavailable("subscribe", err)
}

// unsubscribe undoes one subscribe; the last one unsubscribes from Redis.
func (s *shard) unsubscribe(channel string) error {
	s.mu.Lock()
	if s.subs[channel]--; s.subs[channel] > 0 {
		s.mu.Unlock()
		return nil
	}
	delete(s.subs, channel)
	delete(s.confirmed, channel)
	running := s.running
	s.mu.Unlock()
	if !running {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	// go-redis forgets the channel even when Redis cannot be told: it will
	// not resubscribe to it after a reconnect.
	if err := s.ps.Unsubscribe(ctx, channel); err != nil {
		return unavailable("unsubscribe", err)
	}
	return nil
}

// close stops the reader and closes the connections.
func (s *shard) close() error {
	s.mu.Lock()
	running := s.running
	s.running = false
	s.mu.Unlock()
	var errs []error
	if running {
		s.stop()
		errs = append(errs, s.ps.Close())
		<-s.done
	}
	errs = append(errs, s.client.Close())
	return errors.Join(errs...)
}
