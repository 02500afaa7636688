package server

import (
	"context"
	"encoding/json"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/twinstream/twinstream/cmd/demo/internal/tasks"
	"github.com/twinstream/twinstream/transports"
	"github.com/twinstream/twinstream/transports/redisbroker"
)

// promMetrics is GET /metrics: the Prometheus text format, from a registry
// of the server's own (no global one). Counters that change on every
// delivery (deliveries, their lag, resets written) are updated by the hub's
// Written hook; everything else is read from Stats snapshots when scraped
// (collect), so a scrape costs what the snapshots cost and the publish
// path pays nothing for it.
//
// Every metric is named twinstream_*, besides the Go runtime's go_* and the
// process's process_* (CPU, RSS, open files).
type promMetrics struct {
	s   *Server
	reg *prometheus.Registry

	deliveries *prometheus.CounterVec   // by transport
	lag        *prometheus.HistogramVec // by transport
	resets     *prometheus.CounterVec   // by reason
	// per transport, resolved once: Written runs on every batch
	byTransport map[string]transportMetrics
}

type transportMetrics struct {
	deliveries prometheus.Counter
	lag        prometheus.Observer
}

// lagBuckets span 0.5 ms to 16 s, doubling.
var lagBuckets = prometheus.ExponentialBuckets(0.0005, 2, 16)

func newPromMetrics(s *Server) *promMetrics {
	m := &promMetrics{
		s:   s,
		reg: prometheus.NewRegistry(),
		deliveries: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "twinstream_deliveries_total",
			Help: "Events written to stream connections (snapshots, resets and replays included), by transport.",
		}, []string{"transport"}),
		lag: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "twinstream_delivery_lag_seconds",
			Help:    "From an event's publish time (its ts) to the end of the write that carried it to a connection, by transport; snapshots are not counted.",
			Buckets: lagBuckets,
		}, []string{"transport"}),
		resets: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "twinstream_resets_total",
			Help: "Reset events written to connections (a resume that could not be exact), by reason.",
		}, []string{"reason"}),
		byTransport: map[string]transportMetrics{},
	}
	for _, tr := range []string{"ws", "sse"} {
		m.byTransport[tr] = transportMetrics{deliveries: m.deliveries.WithLabelValues(tr), lag: m.lag.WithLabelValues(tr)}
	}
	m.reg.MustRegister(m.deliveries, m.lag, m.resets, (*promCollector)(m),
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// written is HubConfig.Written: it counts the events of a batch and
// observes their lag.
func (m *promMetrics) written(transport string, items []transports.Item, at time.Time) {
	tm, ok := m.byTransport[transport]
	if !ok {
		tm = transportMetrics{deliveries: m.deliveries.WithLabelValues(transport), lag: m.lag.WithLabelValues(transport)}
	}
	n := 0
	for i := range items {
		e := items[i].Event
		if e == nil {
			continue
		}
		n++
		switch e.Kind {
		case transports.KindSnapshot: // carries the state's old ts
		case transports.KindReset:
			var d transports.ResetData
			_ = json.Unmarshal(e.Data, &d)
			m.resets.WithLabelValues(d.Reason).Inc()
		default:
			tm.lag.Observe(at.Sub(e.Time).Seconds())
		}
	}
	tm.deliveries.Add(float64(n))
}

// handler serves the registry.
func (m *promMetrics) handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{ErrorLog: promLog{m.s}, ErrorHandling: promhttp.ContinueOnError})
}

type promLog struct{ s *Server }

func (l promLog) Println(v ...any) { l.s.log.Warn("metrics", "err", v) }

// promCollector reads the hub's, the limiter's and the tasks' snapshots at
// each scrape.
type promCollector promMetrics

var (
	descConnections = prometheus.NewDesc("twinstream_connections",
		"Open stream connections, by transport.", []string{"transport"}, nil)
	descConnects = prometheus.NewDesc("twinstream_connects_total",
		"Stream connections served, by transport.", []string{"transport"}, nil)
	descDisconnects = prometheus.NewDesc("twinstream_disconnects_total",
		"Stream connections ended, by transport and close reason (gone: the peer left or a write failed).", []string{"transport", "reason"}, nil)
	descSubscriptions = prometheus.NewDesc("twinstream_subscriptions",
		"Topic subscriptions of open connections.", nil, nil)
	descTopics = prometheus.NewDesc("twinstream_topics",
		"Topics the hub holds.", nil, nil)
	descPublished = prometheus.NewDesc("twinstream_events_published_total",
		"Events published through this node.", nil, nil)
	descEnqueued = prometheus.NewDesc("twinstream_events_enqueued_total",
		"Events queued for this node's connections (one per connection per event).", nil, nil)
	descQueued = prometheus.NewDesc("twinstream_queue_depth",
		"Items waiting in connections' queues, all connections together.", nil, nil)
	descQueuedMax = prometheus.NewDesc("twinstream_queue_depth_max",
		"Items waiting in the longest connection queue.", nil, nil)
	descSlow = prometheus.NewDesc("twinstream_slow_consumer_closes_total",
		"Connections closed because they did not read fast enough.", nil, nil)
	descResumes = prometheus.NewDesc("twinstream_resumes_total",
		"Subscriptions that resumed from a cursor.", nil, nil)
	descLimiter = prometheus.NewDesc("twinstream_limiter_open",
		"Slots held in the connection limiter.", nil, nil)
	descBrokerTrips = prometheus.NewDesc("twinstream_broker_round_trips_total",
		"Requests to the broker's Redis: commands and pipelines, not the pub/sub stream (0 for the in-memory hub).", nil, nil)
	descBrokerErrors = prometheus.NewDesc("twinstream_broker_errors_total",
		"Failed requests to the broker.", nil, nil)
	descReconnects = prometheus.NewDesc("twinstream_redis_pubsub_reconnects_total",
		"Times the Redis pub/sub connection was established again.", nil, nil)
	descTasks = prometheus.NewDesc("twinstream_tasks",
		"Tasks in the store, by status (with Redis: the whole deployment's).", []string{"status"}, nil)
	descTaskQueue = prometheus.NewDesc("twinstream_task_queue_depth",
		"Tasks waiting for a worker (with Redis: the whole deployment's, retries included).", nil, nil)
	descTaskRunning = prometheus.NewDesc("twinstream_tasks_running",
		"Tasks this process's workers run now.", nil, nil)
	descTaskWorkers = prometheus.NewDesc("twinstream_task_workers",
		"Task workers of this process (0 for --role edge).", nil, nil)
	descSubmitted = prometheus.NewDesc("twinstream_tasks_submitted_total",
		"Tasks accepted by this node's POST /api/tasks.", nil, nil)
	descRejected = prometheus.NewDesc("twinstream_tasks_rejected_total",
		"Tasks refused because the task queue was full.", nil, nil)
	descFinished = prometheus.NewDesc("twinstream_tasks_finished_total",
		"Tasks this process's workers ended, by status.", []string{"status"}, nil)
	descRetried = prometheus.NewDesc("twinstream_task_retries_total",
		"Attempts of this process's workers that continued a task another attempt had left.", nil, nil)
)

var promDescs = []*prometheus.Desc{
	descConnections, descConnects, descDisconnects, descSubscriptions, descTopics, descPublished,
	descEnqueued, descQueued, descQueuedMax, descSlow, descResumes, descLimiter, descBrokerTrips,
	descBrokerErrors, descReconnects, descTasks, descTaskQueue, descTaskRunning, descTaskWorkers,
	descSubmitted, descRejected, descFinished, descRetried,
}

// Describe implements prometheus.Collector.
func (c *promCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range promDescs {
		ch <- d
	}
}

// Collect implements prometheus.Collector.
func (c *promCollector) Collect(ch chan<- prometheus.Metric) {
	s := c.s
	gauge := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
	}
	counter := func(d *prometheus.Desc, v uint64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v), labels...)
	}
	hs := s.hub.Stats()
	for _, tr := range []string{"ws", "sse"} {
		gauge(descConnections, float64(hs.Connections[tr]), tr)
		counter(descConnects, hs.Connects[tr], tr)
	}
	for tr, byReason := range hs.Disconnects {
		for reason, n := range byReason {
			counter(descDisconnects, n, tr, reason)
		}
	}
	g := s.hub.Gauges()
	gauge(descSubscriptions, float64(g.Subscriptions))
	gauge(descQueued, float64(g.Queued))
	gauge(descQueuedMax, float64(g.QueuedMax))
	gauge(descTopics, float64(hs.Topics))
	counter(descPublished, hs.Published)
	counter(descEnqueued, hs.Enqueued)
	counter(descSlow, hs.SlowClosed)
	counter(descResumes, hs.Resumes)
	gauge(descLimiter, float64(s.limiter.Open()))

	var bc redisbroker.Stats // zero for the in-memory hub
	if s.broker != nil {
		bc = s.broker.Stats()
	}
	counter(descBrokerTrips, bc.RoundTrips)
	counter(descBrokerErrors, bc.Errors)
	counter(descReconnects, bc.PubSubReconnects)

	ts := s.runner.Stats()
	gauge(descTaskQueue, float64(ts.Queued))
	gauge(descTaskRunning, float64(ts.Running))
	gauge(descTaskWorkers, float64(ts.Workers))
	counter(descSubmitted, ts.Submitted)
	counter(descRejected, ts.Rejected)
	counter(descFinished, ts.Completed, string(tasks.StatusCompleted))
	counter(descFinished, ts.Failed, string(tasks.StatusFailed))
	counter(descRetried, ts.Retried)
	if counts, ok := s.store.(tasks.Counter); ok {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		if byStatus, err := counts.Count(ctx); err == nil {
			for st, n := range byStatus {
				gauge(descTasks, float64(n), string(st))
			}
		} else {
			ch <- prometheus.NewInvalidMetric(descTasks, err)
		}
	}
}
